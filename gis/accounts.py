"""Staff accounts in PostgreSQL: argon2id passwords, hashed API tokens, server-side sessions,
sign-in throttling.

Throttling counts failures in the database (``sign_in_failures``), so every app process and
replica sees the same count however requests are spread. It slows guessing without letting
anyone lock others out: failures of one name from one address make the next attempt of that
pair wait, longer after each failure (the right password from another address still signs in);
many failures from one address (any names) make every attempt from it wait a little, at most a
minute, so an office behind one NAT is slowed, never locked.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geothai
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, text

from core.accounts import ROLES, Account, check_name, normalise_name
from core.errors import BadParameter, Conflict, NotFound
from layers.definitions import LAYERS

# argon2-cffi's defaults are RFC 9106's second recommendation (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a throwaway password: an unknown name costs the same time as a wrong password,
    so timing does not tell which names exist. Made on first use, not at import: hashing is
    slow by design (~0.4 s), and every start of the app would pay it."""
    return _hasher.hash("cddgis: no such account")

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cddgis_"


@dataclass(frozen=True)
class Throttle:
    """How many failures (within ``window_hours``) are free, and the waits after them: the first
    wait, doubled after each further failure, up to the longest (seconds)."""

    pair_free: int = 5
    """Failures of one name from one address before the pair must wait."""
    pair_first_wait: int = 5
    pair_longest_wait: int = 15 * 60
    address_free: int = 30
    """Failures from one address, whatever the names, before every attempt from it waits."""
    address_first_wait: int = 1
    address_longest_wait: int = 60
    window_hours: int = 24
    """Failures older than this are forgotten, and purged."""

    def wait(self, failures: int, *, pair: bool) -> int:
        """Seconds to wait after the latest of ``failures`` before the next attempt."""
        free, first, longest = ((self.pair_free, self.pair_first_wait, self.pair_longest_wait)
                                if pair else (self.address_free, self.address_first_wait,
                                              self.address_longest_wait))
        if failures < free:
            return 0
        return min(longest, first * 2 ** min(failures - free, 30))


PURGE_BATCH = 500
"""At most this many expired failures are deleted with each new one: cheap, and still faster
than any attacker can add rows (each failure purges up to 500)."""


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadParameter(
            f"รหัสผ่านต้องยาวอย่างน้อย {MIN_PASSWORD_LENGTH} ตัวอักษร / a password needs at least "
            f"{MIN_PASSWORD_LENGTH} characters")


_COLUMNS = ("id, name, role, provinces, layers, can_approve, can_personal, display_name, "
            "disabled, session_epoch, can_indicators")


def _account(row: Any) -> Account:
    (id_, name, role, provinces, layers, can_approve, can_personal, display_name, disabled,
     epoch, can_indicators) = row
    return Account(id=id_, name=name, role=role,
                   provinces=None if provinces is None else frozenset(provinces),
                   layers=None if layers is None else frozenset(layers),
                   can_approve=can_approve, can_personal=can_personal,
                   can_indicators=can_indicators,
                   display_name=display_name, disabled=disabled, session_epoch=epoch)


def create_account(engine: Engine, name: str, *, role: str, password: str | None,
                   provinces: Iterable[str] | None = None, layers: Iterable[str] | None = None,
                   can_approve: bool = False, can_personal: bool = False,
                   can_indicators: bool = False,
                   display_name: str | None = None) -> Account:
    """A new account; 409 when the name is taken. Empty ``provinces``/``layers`` mean all."""
    name = _checked_name(name)
    if role not in ROLES:
        raise BadParameter(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    provinces_list, layers_list = checked_scope(provinces, layers)
    password_hash = hash_password(password) if password is not None else None
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            INSERT INTO accounts (name, role, provinces, layers, can_approve, can_personal,
                                  can_indicators, display_name, password_hash)
            VALUES (:name, :role, :provinces, :layers, :approve, :personal, :indicators,
                    :display, :hash)
            ON CONFLICT (name) DO NOTHING
            RETURNING {_COLUMNS}
        """), {"name": name, "role": role, "provinces": provinces_list, "layers": layers_list,
               "approve": can_approve, "personal": can_personal,
               "indicators": can_indicators, "display": display_name,
               "hash": password_hash}).first()
    if row is None:
        raise Conflict(f"มีบัญชีชื่อ {name} แล้ว / an account named {name!r} already exists")
    return _account(row)


def checked_scope(provinces: Iterable[str] | None, layers: Iterable[str] | None
                  ) -> tuple[list[str] | None, list[str] | None]:
    """An account's scope as stored: province codes and layer ids, sorted, or None for all.

    Every path that sets a scope (the CLI, the admin page, updates) goes through here, because
    a scope that matches nothing is worse than an error: the account reads "editor:
    เชียงใหม่" and silently sees no features. A province may be given by its DOPA code or its
    Thai or English name; anything else is refused with the closest provinces named."""
    codes = sorted({_province_code(given) for given in provinces or ()})
    unknown_layers = sorted({la for la in layers or () if la not in LAYERS})
    if unknown_layers:
        raise BadParameter(
            f"ไม่รู้จักชั้นข้อมูล {', '.join(unknown_layers)} / unknown layer "
            f"{', '.join(map(repr, unknown_layers))}: one of {', '.join(LAYERS)}")
    return codes or None, sorted(set(layers or ())) or None


def _province_code(given: str) -> str:
    wanted = given.strip()
    if geothai.province(wanted) is not None:
        return wanted
    plain = wanted.removeprefix("จังหวัด").strip().casefold()
    for province in geothai.provinces():
        if plain in (province.name_th, province.name_en.casefold()):
            return str(province.code)
    near = [hit.area for hit in geothai.search(wanted, limit=10) if hit.level == "province"]
    hint = ("; ใกล้เคียง / did you mean: "
            + ", ".join(f"{p.code} {p.name_th} ({p.name_en})" for p in near[:3])) if near else ""
    raise BadParameter(f"ไม่รู้จักจังหวัด {given!r} / unknown province {given!r}: give a "
                       f"2-digit DOPA code or the province's Thai or English name{hint}")


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
    can_personal, display_name, disabled). Disabling ends the account's sessions and revokes
    its API tokens in the same transaction, so enabling it again revives neither."""
    allowed = {"role", "provinces", "layers", "can_approve", "can_personal", "can_indicators",
               "display_name", "disabled"}
    unknown = set(changes) - allowed
    if unknown:
        raise BadParameter(f"cannot change {', '.join(sorted(unknown))}")
    if "role" in changes and changes["role"] not in ROLES:
        raise BadParameter(f"role must be one of {', '.join(ROLES)}")
    if "provinces" in changes or "layers" in changes:
        provinces, layers = checked_scope(changes.get("provinces"), changes.get("layers"))
        for key, value in (("provinces", provinces), ("layers", layers)):
            if key in changes:
                changes[key] = value
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    bump = ", session_epoch = session_epoch + 1" if changes.get("disabled") else ""
    with engine.begin() as conn:
        row = conn.execute(text(f"""
            UPDATE accounts SET {sets}{bump}, updated_at = now() WHERE name = :name
            RETURNING {_COLUMNS}
        """), {**changes, "name": normalise_name(name)}).first()
        if row is not None and changes.get("disabled"):
            conn.execute(text("""
                UPDATE api_tokens SET revoked_at = now()
                WHERE account_id = :account AND revoked_at IS NULL
            """), {"account": row.id})
            conn.execute(text("DELETE FROM staff_sessions WHERE account_id = :account"),
                         {"account": row.id})
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
    """Wrong name or password (one message for both), or asked to wait ``retry_after`` seconds
    (then the password was not even checked)."""

    def __init__(self, message: str, *, retry_after: int = 0):
        super().__init__(message)
        self.retry_after = retry_after


WRONG_CREDENTIALS = ("ชื่อบัญชีหรือรหัสผ่านไม่ถูกต้อง / the account name or password is wrong")
WAIT = ("ลงชื่อเข้าใช้ผิดหลายครั้ง กรุณารอ {seconds} วินาทีแล้วลองใหม่ / too many failed "
        "sign-ins: wait {seconds} seconds and try again")

_FAILURES = text("""
    SELECT count(*) FILTER (WHERE name = :name),
           extract(epoch FROM clock_timestamp() - max(at) FILTER (WHERE name = :name)),
           count(*),
           extract(epoch FROM clock_timestamp() - max(at))
    FROM sign_in_failures
    WHERE address = :address AND at > now() - make_interval(hours => :window)
""")


def _wait(conn: Connection, key: str, address: str, throttle: Throttle) -> int:
    pair, pair_age, by_address, address_age = conn.execute(_FAILURES, {
        "name": key, "address": address, "window": throttle.window_hours}).one()
    left = 0.0
    if pair:
        left = max(left, throttle.wait(pair, pair=True) - float(pair_age))
    if by_address:
        left = max(left, throttle.wait(by_address, pair=False) - float(address_age))
    return math.ceil(left) if left > 0 else 0


def wait_seconds(engine: Engine, name: str, address: str,
                 throttle: Throttle = Throttle()) -> int:
    """How long ``address`` must wait before its next attempt to sign in as ``name``."""
    with engine.connect() as conn:
        return _wait(conn, normalise_name(name)[:64], address, throttle)


def sign_in(engine: Engine, name: str, password: str, *, address: str,
            throttle: Throttle = Throttle()) -> Account:
    """The account, if the password is right and this name and address need not wait.

    An attempt that must wait is refused before the password is checked, and is not counted
    (so it tests nothing and adds no row). Attempts from one address are serialised (an
    advisory lock on the address), so parallel requests cannot all slip under one count.
    """
    key = normalise_name(name)[:64]
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:address, 25))"),
                     {"address": address})
        wait = _wait(conn, key, address, throttle)
        row = None if wait else conn.execute(text(
            f"SELECT {_COLUMNS}, password_hash FROM accounts WHERE name = :name"),
            {"name": key}).first()
        ok = False
        if not wait:
            stored = row[-1] if row is not None and not row.disabled else None
            ok = _verify(stored, password)
            if not ok:
                _record_failure(conn, key, address, throttle)
    if wait:
        raise SignInRefused(WAIT.format(seconds=wait), retry_after=wait)
    if not ok or row is None:
        raise SignInRefused(WRONG_CREDENTIALS)
    with engine.begin() as conn:
        # Only this address's failures for the name: the owner signing in elsewhere must not
        # reset a guesser's wait.
        conn.execute(text("DELETE FROM sign_in_failures WHERE name = :name "
                          "AND address = :address"), {"name": key, "address": address})
        if _hasher.check_needs_rehash(row[-1]):
            conn.execute(text("UPDATE accounts SET password_hash = :h WHERE id = :id"),
                         {"h": _hasher.hash(password), "id": row.id})
    return _account(row[:-1])


def _record_failure(conn: Connection, key: str, address: str, throttle: Throttle) -> None:
    # clock_timestamp(): when the failure was known (after the hash), not when the transaction
    # began, so a wait counts from the answer the guesser got.
    conn.execute(text("INSERT INTO sign_in_failures (name, address, at) "
                      "VALUES (:name, :address, clock_timestamp())"),
                 {"name": key, "address": address})
    # Failures beyond the window count for nothing: a bounded batch of them goes with each new
    # one (ix_sign_in_failures_at), so the table stays about a window's worth of failures.
    conn.execute(text("""
        DELETE FROM sign_in_failures WHERE id IN (
            SELECT id FROM sign_in_failures
            WHERE at < now() - make_interval(hours => :window)
            ORDER BY at LIMIT :batch)
    """), {"window": throttle.window_hours, "batch": PURGE_BATCH})


def failure_count(engine: Engine, name: str, throttle: Throttle = Throttle()) -> int:
    """Failed sign-ins as ``name`` within the window, from any address (the admin page)."""
    with engine.connect() as conn:
        return conn.execute(text("""
            SELECT count(*) FROM sign_in_failures
            WHERE name = :name AND at > now() - make_interval(hours => :window)
        """), {"name": normalise_name(name), "window": throttle.window_hours}).scalar_one()


def clear_failures(engine: Engine, name: str) -> int:
    """Unlock: forgets the account's failed sign-ins from every address; how many there were."""
    account = require_account(engine, name)
    with engine.begin() as conn:
        return conn.execute(text("DELETE FROM sign_in_failures WHERE name = :name"),
                            {"name": account.name}).rowcount


def start_session(engine: Engine, account: Account, *, hours: int) -> str:
    """A new server-side session for ``account``: the random id for the cookie (only its
    SHA-256 is kept). Expired sessions of every account are purged on the way."""
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(text("""
            DELETE FROM staff_sessions WHERE id IN (
                SELECT id FROM staff_sessions WHERE expires_at < now()
                ORDER BY expires_at LIMIT :batch)
        """), {"batch": PURGE_BATCH})
        conn.execute(text("""
            INSERT INTO staff_sessions (account_id, token_sha256, epoch, expires_at)
            VALUES (:account, :digest, :epoch, now() + make_interval(hours => :hours))
        """), {"account": account.id, "digest": _token_digest(session_id),
               "epoch": account.session_epoch, "hours": hours})
    return session_id


def account_for_session(engine: Engine, session_id: str) -> Account | None:
    """The enabled account of a live session (its row exists, has not expired, and carries the
    account's current epoch), or None."""
    if len(session_id) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(text(f"""
            SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}
            FROM staff_sessions s JOIN accounts a ON a.id = s.account_id
            WHERE s.token_sha256 = :digest AND s.expires_at > now()
              AND s.epoch = a.session_epoch AND NOT a.disabled
        """), {"digest": _token_digest(session_id)}).first()
    return _account(row) if row else None


def end_session(engine: Engine, session_id: str) -> None:
    """Sign-out: the session's row goes, so no copy of its cookie works any more."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM staff_sessions WHERE token_sha256 = :digest"),
                     {"digest": _token_digest(session_id)})


def keep_session(engine: Engine, session_id: str, account: Account) -> None:
    """After this session changed the account's password: it goes on at the new epoch (every
    other session of the account ended with the old one)."""
    with engine.begin() as conn:
        conn.execute(text("""
            UPDATE staff_sessions SET epoch = :epoch
            WHERE token_sha256 = :digest AND account_id = :account
        """), {"epoch": account.session_epoch, "digest": _token_digest(session_id),
               "account": account.id})


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
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
