"""Staff accounts in PostgreSQL: argon2id passwords, hashed API tokens, sign-in throttling.

Throttling counts failures in the database (``sign_in_failures``), so every app process and
replica sees the same count and a lock-out holds however requests are spread.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, text

from cddgis.core.accounts import ROLES, Account, check_name, normalise_name
from cddgis.core.errors import BadParameter, Conflict, NotFound

# argon2-cffi's defaults are RFC 9106's second recommendation (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()
# A hash of a throwaway password: an unknown name costs the same time as a wrong password,
# so timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("cddgis: no such account")

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cddgis_"


@dataclass(frozen=True)
class Throttle:
    """How many failures lock what, for how long (minutes)."""

    per_name: int = 5
    per_address: int = 30
    window_minutes: int = 15


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadParameter(
            f"รหัสผ่านต้องยาวอย่างน้อย {MIN_PASSWORD_LENGTH} ตัวอักษร / a password needs at least "
            f"{MIN_PASSWORD_LENGTH} characters")


_COLUMNS = ("id, name, role, provinces, layers, can_approve, can_personal, display_name, "
            "disabled, session_epoch")


def _account(row: Any) -> Account:
    (id_, name, role, provinces, layers, can_approve, can_personal, display_name, disabled,
     epoch) = row
    return Account(id=id_, name=name, role=role,
                   provinces=None if provinces is None else frozenset(provinces),
                   layers=None if layers is None else frozenset(layers),
                   can_approve=can_approve, can_personal=can_personal,
                   display_name=display_name, disabled=disabled, session_epoch=epoch)


def create_account(engine: Engine, name: str, *, role: str, password: str | None,
                   provinces: Iterable[str] | None = None, layers: Iterable[str] | None = None,
                   can_approve: bool = False, can_personal: bool = False,
                   display_name: str | None = None) -> Account:
    """A new account; 409 when the name is taken. Empty ``provinces``/``layers`` mean all."""
    name = _checked_name(name)
    if role not in ROLES:
        raise BadParameter(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    password_hash = hash_password(password) if password is not None else None
    provinces_list = sorted(set(provinces)) if provinces else None
    layers_list = sorted(set(layers)) if layers else None
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            INSERT INTO accounts (name, role, provinces, layers, can_approve, can_personal,
                                  display_name, password_hash)
            VALUES (:name, :role, :provinces, :layers, :approve, :personal, :display,
                    :hash)
            ON CONFLICT (name) DO NOTHING
            RETURNING {_COLUMNS}
        """), {"name": name, "role": role, "provinces": provinces_list, "layers": layers_list,
               "approve": can_approve, "personal": can_personal, "display": display_name,
               "hash": password_hash}).first()
    if row is None:
        raise Conflict(f"มีบัญชีชื่อ {name} แล้ว / an account named {name!r} already exists")
    return _account(row)


def _checked_name(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise BadParameter(str(exc)) from exc


def find_account(engine: Engine | Connection, name: str) -> Account | None:
    sql = text(f"SELECT {_COLUMNS} FROM accounts WHERE name = :name")
    params = {"name": normalise_name(name)}
    if isinstance(engine, Connection):
        row = engine.execute(sql, params).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(sql, params).first()
    return _account(row) if row else None


def get_account(engine: Engine, account_id: int) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT {_COLUMNS} FROM accounts WHERE id = :id"),
                           {"id": account_id}).first()
    return _account(row) if row else None


def require_account(engine: Engine, name: str) -> Account:
    account = find_account(engine, name)
    if account is None:
        raise NotFound(f"ไม่พบบัญชี {name} / no account named {name!r}")
    return account


def list_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {_COLUMNS} FROM accounts ORDER BY name")).all()
    return [_account(r) for r in rows]


def update_account(engine: Engine, name: str, **changes: Any) -> Account:
    """Changes role, scope or rights (keys: role, provinces, layers, can_approve,
    can_personal, display_name, disabled). Disabling ends the account's sessions and tokens
    stop working at once (both check ``disabled``)."""
    allowed = {"role", "provinces", "layers", "can_approve", "can_personal", "display_name",
               "disabled"}
    unknown = set(changes) - allowed
    if unknown:
        raise BadParameter(f"cannot change {', '.join(sorted(unknown))}")
    if "role" in changes and changes["role"] not in ROLES:
        raise BadParameter(f"role must be one of {', '.join(ROLES)}")
    for key in ("provinces", "layers"):
        if key in changes:
            changes[key] = sorted(set(changes[key])) if changes[key] else None
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    bump = ", session_epoch = session_epoch + 1" if changes.get("disabled") else ""
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            UPDATE accounts SET {sets}{bump}, updated_at = now() WHERE name = :name
            RETURNING {_COLUMNS}
        """), {**changes, "name": normalise_name(name)}).first()
    if row is None:
        raise NotFound(f"ไม่พบบัญชี {name} / no account named {name!r}")
    return _account(row)


def set_password(engine: Engine, name: str, password: str) -> Account:
    """A new password; every existing session of the account ends (session_epoch + 1)."""
    password_hash = hash_password(password)
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            UPDATE accounts SET password_hash = :hash, session_epoch = session_epoch + 1,
                   updated_at = now()
            WHERE name = :name RETURNING {_COLUMNS}
        """), {"hash": password_hash, "name": normalise_name(name)}).first()
    if row is None:
        raise NotFound(f"ไม่พบบัญชี {name} / no account named {name!r}")
    return _account(row)


class SignInRefused(Exception):
    """Wrong name or password (one message for both), or locked for a while."""

    def __init__(self, message: str, *, locked: bool = False):
        super().__init__(message)
        self.locked = locked


WRONG_CREDENTIALS = ("ชื่อบัญชีหรือรหัสผ่านไม่ถูกต้อง / the account name or password is wrong")
LOCKED = ("ลงชื่อเข้าใช้ผิดหลายครั้ง กรุณารอ {minutes} นาทีแล้วลองใหม่ / too many failed sign-ins: "
          "wait {minutes} minutes and try again")


def sign_in(engine: Engine, name: str, password: str, *, address: str,
            throttle: Throttle = Throttle()) -> Account:
    """The account, if the password is right and neither the name nor the address is locked.

    Failures are counted per name and per address over a sliding window; while locked even the
    right password is refused (that is what makes guessing slow), and the failure is recorded.
    """
    key = normalise_name(name)[:64]
    with engine.begin() as conn:
        by_name, by_address = conn.execute(text("""
            SELECT count(*) FILTER (WHERE name = :name),
                   count(*) FILTER (WHERE address = :address)
            FROM sign_in_failures
            WHERE at > now() - make_interval(mins => :window)
              AND (name = :name OR address = :address)
        """), {"name": key, "address": address, "window": throttle.window_minutes}).one()
        locked = by_name >= throttle.per_name or by_address >= throttle.per_address
        row = None if locked else conn.execute(text(
            f"SELECT {_COLUMNS}, password_hash FROM accounts WHERE name = :name"),
            {"name": key}).first()
        ok = False
        if not locked:
            stored = row[-1] if row is not None and not row.disabled else None
            ok = _verify(stored, password)
        if not ok:
            conn.execute(text("INSERT INTO sign_in_failures (name, address) "
                              "VALUES (:name, :address)"), {"name": key, "address": address})
    if locked:
        raise SignInRefused(LOCKED.format(minutes=throttle.window_minutes), locked=True)
    if not ok or row is None:
        raise SignInRefused(WRONG_CREDENTIALS)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sign_in_failures WHERE name = :name"), {"name": key})
        if _hasher.check_needs_rehash(row[-1]):
            conn.execute(text("UPDATE accounts SET password_hash = :h WHERE id = :id"),
                         {"h": _hasher.hash(password), "id": row.id})
    return _account(row[:-1])


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: Engine, name: str, *, label: str | None = None) -> str:
    """A new API token for the account, shown once; only its SHA-256 is kept."""
    account = require_account(engine, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO api_tokens (account_id, token_sha256, label)
            VALUES (:account, :digest, :label)
        """), {"account": account.id, "digest": _token_digest(token), "label": label})
    return token


def account_for_token(engine: Engine, token: str) -> Account | None:
    """The enabled account a live token belongs to, or None (unknown, revoked, disabled)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            UPDATE api_tokens t SET last_used_at = now()
            FROM accounts a
            WHERE t.token_sha256 = :digest AND t.revoked_at IS NULL
              AND a.id = t.account_id AND NOT a.disabled
            RETURNING {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}
        """), {"digest": _token_digest(token)}).first()
    return _account(row) if row else None


def list_tokens(engine: Engine, name: str) -> list[dict[str, Any]]:
    account = require_account(engine, name)
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT id, label, created_at, last_used_at, revoked_at FROM api_tokens
            WHERE account_id = :account ORDER BY id
        """), {"account": account.id}).mappings().all()
    return [dict(r) for r in rows]


def revoke_token(engine: Engine, name: str, token_id: int) -> None:
    account = require_account(engine, name)
    with engine.begin() as conn:
        done = conn.execute(text("""
            UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
            WHERE id = :id AND account_id = :account
        """), {"id": token_id, "account": account.id}).rowcount
    if not done:
        raise NotFound(f"ไม่พบโทเคน {token_id} / no token {token_id} for {name!r}")


def layer_approvals(engine: Engine) -> dict[str, bool]:
    """layer id -> whether its changes wait for approval (layers without a row: no)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT layer, requires_approval FROM layer_settings")).all()
    return {layer: required for layer, required in rows}


def set_requires_approval(engine: Engine, layer: str, required: bool) -> None:
    """Whether editors' changes to ``layer`` wait for an approver (issue 11, review)."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_settings (layer, requires_approval) VALUES (:layer, :required)
            ON CONFLICT (layer) DO UPDATE SET requires_approval = EXCLUDED.requires_approval,
                                              updated_at = now()
        """), {"layer": layer, "required": required})


def token_counts(engine: Engine) -> dict[int, int]:
    """account id -> how many live (unrevoked) API tokens it has, for the admin list."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT account_id, count(*) FROM api_tokens WHERE revoked_at IS NULL
            GROUP BY account_id
        """)).all()
    return {account_id: n for account_id, n in rows}
