"""Staff accounts: the CLI, sign-in with CSRF, throttling shared by app processes, sessions that
end on expiry, sign-out and password change, and API tokens (issue 11)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine, text

from core.errors import BadParameter
from gis import accounts
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.staff import PASSWORD, add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_accounts")


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB, empty=True))


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner_engine: Engine):
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def fresh(owner_engine: Engine) -> Engine:
    """No accounts and no recorded failures before each test."""
    with owner_engine.begin() as conn:
        conn.execute(text("TRUNCATE accounts, api_tokens, sign_in_failures CASCADE"))
    return owner_engine


def _cli(cluster: ClusterInfo, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "CDDGIS_OWNER_DATABASE_URL": cluster.url(database=DB, role="owner"),
           "DATABASE_URL": cluster.url(database=DB, role="app")}
    return subprocess.run([sys.executable, "-m", "cddgis.cli", "users", *args], input=stdin,
                          capture_output=True, text=True, env=env, check=False)


def test_cli_adds_lists_disables_and_issues_tokens(cluster: ClusterInfo, fresh: Engine) -> None:
    added = _cli(cluster, "add", "Admin.One", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    editor = _cli(cluster, "add", "cm-office", "--role", "editor", "--province", "50",
                  "--layer", "khok-nong-na", "--approve", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert editor.returncode == 0, editor.stderr
    listed = _cli(cluster, "list").stdout
    assert "admin.one" in listed and "cm-office" in listed and "50" in listed
    assert "khok-nong-na" in listed and "approve" in listed
    planner = _cli(cluster, "add", "planner", "--role", "editor", "--indicators",
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert planner.returncode == 0, planner.stderr
    assert accounts.require_account(fresh, "planner").may_manage_indicators
    assert not accounts.require_account(fresh, "cm-office").may_manage_indicators
    assert "indicators" in _cli(cluster, "list").stdout

    # The password is hashed with argon2id, never stored as given.
    with fresh.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM accounts WHERE name='admin.one'")
                              ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    token = _cli(cluster, "token", "cm-office", "--label", "sync").stdout.strip()
    assert token.startswith("cddgis_")
    assert accounts.account_for_token(fresh, token).name == "cm-office"
    with fresh.connect() as conn:
        digest = conn.execute(text("SELECT token_sha256 FROM api_tokens")).scalar_one()
    assert digest == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept

    assert _cli(cluster, "disable", "cm-office").returncode == 0
    assert accounts.account_for_token(fresh, token) is None  # a disabled account's token dies


def test_cli_refuses_bad_input_and_changes_nothing(cluster: ClusterInfo, fresh: Engine) -> None:
    no_stdin = _cli(cluster, "add", "someone", "--role", "editor")
    assert no_stdin.returncode == 2 and "--password-stdin" in no_stdin.stderr
    short = _cli(cluster, "add", "someone", "--role", "editor", "--password-stdin",
                 stdin="short\n")
    assert short.returncode == 2 and "10" in short.stderr
    bad_name = _cli(cluster, "add", "ผู้ใช้ หนึ่ง", "--role", "editor", "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert bad_name.returncode == 2 and "a-z" in bad_name.stderr
    assert _cli(cluster, "add", "twice", "--role", "editor", "--password-stdin",
                stdin=PASSWORD + "\n").returncode == 0
    again = _cli(cluster, "add", "TWICE", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert [a.name for a in accounts.list_accounts(fresh)] == ["twice"]
    missing = _cli(cluster, "passwd", "nobody", "--password-stdin", stdin=PASSWORD + "\n")
    assert missing.returncode == 2 and "no account" in missing.stderr


def test_a_scope_that_matches_nothing_is_refused(cluster: ClusterInfo, fresh: Engine) -> None:
    """Issue 24: `--province เชียงใหม่` used to be stored as given, so the account read
    "editor: เชียงใหม่" and saw no features; a misspelt layer likewise."""
    by_name = _cli(cluster, "add", "cm-by-name", "--role", "editor", "--province", "เชียงใหม่",
                   "--province", "Nan", "--password-stdin", stdin=PASSWORD + "\n")
    assert by_name.returncode == 0, by_name.stderr
    assert accounts.require_account(fresh, "cm-by-name").provinces == {"50", "55"}

    misspelt = _cli(cluster, "add", "cm-typo", "--role", "editor", "--province", "เชียงใหมม",
                    "--password-stdin", stdin=PASSWORD + "\n")
    assert misspelt.returncode == 2
    assert "unknown province 'เชียงใหมม'" in misspelt.stderr and "ไม่รู้จักจังหวัด" in misspelt.stderr
    bad_layer = _cli(cluster, "add", "cm-layer", "--role", "editor", "--layer", "khok-nong-naa",
                     "--password-stdin", stdin=PASSWORD + "\n")
    assert bad_layer.returncode == 2 and "unknown layer 'khok-nong-naa'" in bad_layer.stderr
    assert [a.name for a in accounts.list_accounts(fresh)] == ["cm-by-name"]

    with pytest.raises(BadParameter, match="99"):
        accounts.update_account(fresh, "cm-by-name", provinces=["99"])
    assert accounts.require_account(fresh, "cm-by-name").provinces == {"50", "55"}


def test_sign_in_sign_out_and_pages_need_it(staff_app, fresh: Engine) -> None:
    add_account(fresh, "officer", provinces=["50"], display_name="สพจ.เชียงใหม่")
    client = staff_app.test_client()
    home = client.get("/staff/")
    assert home.status_code == 302 and "/staff/sign-in?next=/staff/" in home.headers["Location"]

    answer = sign_in(client, "Officer")  # names are case-insensitive
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/staff/")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    page = client.get("/staff/")
    assert page.status_code == 200 and "สพจ.เชียงใหม่" in page.text
    assert page.headers["Cache-Control"] == "no-store"

    out = client.post("/staff/sign-out", data={"csrf_token": csrf_token(page.text)})
    assert out.status_code == 302
    assert client.get("/staff/").status_code == 302


def test_sign_out_ends_the_session_on_the_server(staff_app, fresh: Engine) -> None:
    """Before: a cookie copied before sign-out went on working for its full lifetime."""
    add_account(fresh, "officer")
    client, phone = staff_app.test_client(), staff_app.test_client()
    sign_in(client, "officer")
    sign_in(phone, "officer")
    copied = client.get_cookie("cddgis_session").value
    page = client.get("/staff/")
    assert page.status_code == 200
    assert client.post("/staff/sign-out",
                       data={"csrf_token": csrf_token(page.text)}).status_code == 302

    thief = staff_app.test_client()
    thief.set_cookie("cddgis_session", copied)
    assert thief.get("/staff/").status_code == 302  # the copy is refused
    assert phone.get("/staff/").status_code == 200  # the other session goes on


def test_wrong_password_unknown_name_and_csrf(staff_app, fresh: Engine) -> None:
    add_account(fresh, "officer")
    client = staff_app.test_client()
    wrong = sign_in(client, "officer", "not the password")
    unknown = sign_in(client, "nobody", PASSWORD)
    for answer in (wrong, unknown):  # one message: it must not tell which names exist
        assert answer.status_code == 401
        assert "ชื่อบัญชีหรือรหัสผ่านไม่ถูกต้อง" in answer.text and "password is wrong" in answer.text

    missing = client.post("/staff/sign-in", data={"name": "officer", "password": PASSWORD})
    forged = client.post("/staff/sign-in", data={"name": "officer", "password": PASSWORD,
                                                 "csrf_token": "forged"})
    for answer in (missing, forged):
        assert answer.status_code == 400 and "reload the page" in answer.text
    assert client.get("/staff/").status_code == 302  # nobody signed in


def test_nul_in_a_form_is_a_400_naming_the_field(staff_app, fresh: Engine) -> None:
    """PostgreSQL cannot store or compare text with NUL; before, a NUL in the sign-in name
    reached the database and the answer was a 503 saying the database was unreachable."""
    add_account(fresh, "officer")
    client = staff_app.test_client()
    answer = sign_in(client, "officer\x00", PASSWORD)
    assert answer.status_code == 400, answer.text
    assert "name" in answer.text and "NUL" in answer.text
    assert sign_in(client, "officer", PASSWORD).status_code == 302  # nothing else changed


def test_throttle_is_shared_by_app_processes(settings: Settings, cluster: ClusterInfo,
                                            staff_app, fresh: Engine) -> None:
    add_account(fresh, "officer")
    other_process = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    first, second = staff_app.test_client(), other_process.test_client()
    for client in (first, second, first, second, first):
        assert sign_in(client, "officer", "guess guess guess").status_code == 401
    held = sign_in(second, "officer")  # the right password, same address, other process
    assert held.status_code == 429, held.text
    retry = int(held.headers["Retry-After"])  # 5 s after the latest failure, less time spent
    # At most the 5 s of the schedule (less however long this machine took since).
    assert 0 < retry <= 5 and f"wait {retry} seconds" in held.text, held.text
    _age_failures(fresh, seconds=6)  # the delay passes
    assert sign_in(second, "officer").status_code == 302


def _age_failures(engine: Engine, *, seconds: int) -> None:
    """As if the recorded failures happened ``seconds`` earlier (no test waits for a clock)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE sign_in_failures SET at = at - make_interval(secs => :s)"),
                     {"s": seconds})


def _from(client, address: str):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_guessing_cannot_lock_the_owner_out(staff_app, fresh: Engine) -> None:
    """Before: five wrong passwords locked the name for everyone, even against the right
    password, and one more every few minutes kept it locked."""
    add_account(fresh, "officer")
    guesser = _from(staff_app.test_client(), "203.0.113.9")
    for _ in range(8):
        answer = sign_in(guesser, "officer", "guess guess guess")
        assert answer.status_code in (401, 429)
        _age_failures(fresh, seconds=3600)  # the guesser waits out every delay
    owner = _from(staff_app.test_client(), "198.51.100.4")
    assert sign_in(owner, "officer").status_code == 302  # the owner, from elsewhere: in
    # The guesser, even with the right password, waits; the delay grew with each failure.
    with fresh.begin() as conn:
        conn.execute(text("UPDATE sign_in_failures SET at = now()"))
    held = sign_in(guesser, "officer")
    assert held.status_code == 429
    retry = int(held.headers["Retry-After"])
    # 40 s after the eighth failure: more than the 20 s after the seventh, so it grew.
    assert 20 < retry <= 40 and "วินาที" in held.text and f"wait {retry} seconds" in held.text


def test_delays_grow_and_are_per_name_and_address(fresh: Engine) -> None:
    add_account(fresh, "officer")
    waits = []
    for _ in range(9):
        with pytest.raises(accounts.SignInRefused) as wrong:
            accounts.sign_in(fresh, "officer", "guess guess guess", address="203.0.113.9")
        assert wrong.value.retry_after == 0  # the guess was tested, not held back
        waits.append(accounts.wait_seconds(fresh, "officer", "203.0.113.9"))
        _age_failures(fresh, seconds=waits[-1])
    # 5 s after the fifth failure, doubling (less the moments the test itself took).
    expected = [0, 0, 0, 0, 5, 10, 20, 40, 80]
    assert all(e / 2 < w <= e if e else w == 0 for w, e in zip(waits, expected, strict=True)), \
        waits
    with fresh.begin() as conn:
        conn.execute(text("UPDATE sign_in_failures SET at = now()"))
    with pytest.raises(accounts.SignInRefused) as held:  # even the right password waits
        accounts.sign_in(fresh, "officer", PASSWORD, address="203.0.113.9")
    assert 77 < held.value.retry_after <= 80
    # Another name from the same address, and the same name from another address: no wait.
    add_account(fresh, "colleague")
    assert accounts.sign_in(fresh, "colleague", PASSWORD, address="203.0.113.9").name == \
        "colleague"
    assert accounts.sign_in(fresh, "officer", PASSWORD, address="192.0.2.1").name == "officer"


def _failures_from(engine: Engine, address: str, count: int, seconds_ago: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO sign_in_failures (name, address, at)
            SELECT 'someone-' || n, :address, now() - make_interval(secs => :ago)
            FROM generate_series(1, :count) n
        """), {"address": address, "count": count, "ago": seconds_ago})


def test_one_office_behind_a_nat_is_slowed_not_locked(staff_app, fresh: Engine) -> None:
    """Before: 30 failures from one address locked every account at that address (an office
    behind one NAT) for the whole window."""
    add_account(fresh, "officer")
    _failures_from(fresh, "192.0.2.50", 40, seconds_ago=120)
    office = _from(staff_app.test_client(), "192.0.2.50")
    assert sign_in(office, "officer").status_code == 302
    # Failures keep coming from the address: each attempt from it waits a little (at most a
    # minute), whichever name it is for, then may try again.
    _failures_from(fresh, "192.0.2.50", 1, seconds_ago=0)
    held = sign_in(_from(staff_app.test_client(), "192.0.2.50"), "officer")
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= 60
    _age_failures(fresh, seconds=61)
    assert sign_in(_from(staff_app.test_client(), "192.0.2.50"), "officer").status_code == 302


def test_old_failures_are_purged(fresh: Engine) -> None:
    _failures_from(fresh, "192.0.2.7", 50, seconds_ago=2 * 24 * 3600)
    _failures_from(fresh, "192.0.2.8", 3, seconds_ago=3600)
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(fresh, "nobody", "guess guess guess", address="192.0.2.9")
    assert sorted(set(_failure_addresses(fresh))) == ["192.0.2.8", "192.0.2.9"]
    assert len(_failure_addresses(fresh)) == 4


def test_admin_and_cli_clear_an_accounts_failures(staff_app, cluster: ClusterInfo,
                                                  fresh: Engine) -> None:
    add_account(fresh, "boss", role="admin")
    add_account(fresh, "officer")
    guesser = _from(staff_app.test_client(), "203.0.113.9")
    for _ in range(5):
        sign_in(guesser, "officer", "guess guess guess")
    assert sign_in(guesser, "officer").status_code == 429

    admin = _from(staff_app.test_client(), "192.0.2.1")
    assert sign_in(admin, "boss").status_code == 302
    page = admin.get("/staff/admin/accounts/officer")
    assert page.status_code == 200 and 'id="failures">5<' in page.text, page.text
    cleared = admin.post("/staff/admin/accounts/officer/failures",
                         data={"csrf_token": csrf_token(page.text)})
    assert cleared.status_code == 303
    after = admin.get(cleared.headers["Location"])
    assert "unlocked" in after.text and 'id="failures">0<' in after.text
    assert sign_in(guesser, "officer").status_code == 302

    for _ in range(5):
        sign_in(_from(staff_app.test_client(), "203.0.113.10"), "officer", "guess guess guess")
    unlocked = _cli(cluster, "unlock", "officer")
    assert unlocked.returncode == 0 and "5" in unlocked.stdout, unlocked.stderr
    assert _failure_addresses(fresh) == []
    missing = _cli(cluster, "unlock", "nobody")
    assert missing.returncode == 2 and "no account" in missing.stderr


def test_next_cannot_leave_the_site(staff_app, fresh: Engine) -> None:
    add_account(fresh, "officer")
    client = staff_app.test_client()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = client.get("/staff/sign-in")
        answer = client.post("/staff/sign-in?next=" + target, data={
            "name": "officer", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
        assert answer.headers["Location"] == "/staff/", target


def test_expired_session_and_password_change_end_sessions(staff_app, fresh: Engine) -> None:
    account = add_account(fresh, "officer")
    client = staff_app.test_client()
    sign_in(client, "officer")

    # A cookie signed by the app itself, but issued longer ago than the session lifetime.
    serializer = SecureCookieSessionInterface().get_signing_serializer(staff_app)
    lifetime = staff_app.permanent_session_lifetime

    class Past(type(serializer.make_signer(None))):  # type: ignore[misc]
        def get_timestamp(self) -> int:
            return int((datetime.now(UTC) - lifetime - timedelta(minutes=1))
                       .timestamp())

    serializer.signer = Past
    old = serializer.dumps({"account": account.id, "epoch": 0, "_permanent": True})
    stale = staff_app.test_client()
    stale.set_cookie("cddgis_session", old)
    assert stale.get("/staff/").status_code == 302

    # The server keeps its own expiry: a session whose row has expired is refused, whatever the
    # cookie says, and expired rows are purged when someone next signs in.
    lapsed = staff_app.test_client()
    sign_in(lapsed, "officer")
    with fresh.begin() as conn:
        conn.execute(text("UPDATE staff_sessions SET expires_at = now() - interval '1 minute' "
                          "WHERE id = (SELECT max(id) FROM staff_sessions)"))
    assert lapsed.get("/staff/").status_code == 302
    sign_in(staff_app.test_client(), "officer")
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff_sessions WHERE expires_at < now()")
                            ).scalar_one() == 0

    # Changing the password ends the other sessions, not this one.
    other = staff_app.test_client()
    sign_in(other, "officer")
    form = client.get("/staff/password")
    changed = client.post("/staff/password", data={
        "current": PASSWORD, "new": "a brand new secret", "again": "a brand new secret",
        "csrf_token": csrf_token(form.text)})
    assert changed.status_code == 302
    assert client.get("/staff/").status_code == 200
    assert other.get("/staff/").status_code == 302
    mismatch = client.post("/staff/password", data={
        "current": "a brand new secret", "new": "another secret 1", "again": "another secret 2",
        "csrf_token": csrf_token(client.get("/staff/password").text)})
    assert mismatch.status_code == 400 and "differ" in mismatch.text


def test_tokens_revoke_and_scope_rules(fresh: Engine) -> None:
    add_account(fresh, "cm", provinces=["50"], layers=["khok-nong-na"], can_approve=True)
    token = accounts.issue_token(fresh, "cm")
    account = accounts.account_for_token(fresh, token)
    assert account is not None
    assert account.may_edit("khok-nong-na", "50")
    assert not account.may_edit("khok-nong-na", "10")  # another province
    assert not account.may_edit("otop-villages", "50")  # another layer
    assert account.may_approve("khok-nong-na", "50") and not account.may_see_personal(
        "khok-nong-na")
    assert accounts.account_for_token(fresh, token + "x") is None
    assert accounts.account_for_token(fresh, "Bearer " + token) is None
    (tid,) = [t["id"] for t in accounts.list_tokens(fresh, "cm")]
    accounts.revoke_token(fresh, "cm", tid)
    assert accounts.account_for_token(fresh, token) is None


def test_reenabling_does_not_revive_old_tokens(cluster: ClusterInfo, fresh: Engine) -> None:
    """Before: disabling only hid the tokens; enabling the account brought them all back."""
    add_account(fresh, "cm")
    old = accounts.issue_token(fresh, "cm", label="sync")
    assert _cli(cluster, "disable", "cm").returncode == 0
    assert _cli(cluster, "enable", "cm").returncode == 0
    assert accounts.account_for_token(fresh, old) is None
    (listed,) = accounts.list_tokens(fresh, "cm")
    assert listed["revoked_at"] is not None  # shown as revoked on the admin page
    new = accounts.issue_token(fresh, "cm")
    assert accounts.account_for_token(fresh, new).name == "cm"


def _failure_addresses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT address FROM sign_in_failures ORDER BY id"))
                    .scalars())


def test_throttle_counts_the_client_behind_a_trusted_proxy(settings: Settings,
                                                           cluster: ClusterInfo,
                                                           fresh: Engine) -> None:
    """Behind nginx every request comes from 127.0.0.1: counting that would slow everyone
    together. With CDDGIS_PROXIES=1 the client's address is X-Forwarded-For, but only on a
    request from a trusted proxy (CDDGIS_TRUSTED_PROXIES): before, a request sent straight to an
    app port from anywhere had its forged header believed."""
    from dataclasses import replace

    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    for proxies, peer, expected in ((0, "127.0.0.1", "127.0.0.1"),
                                    (1, "127.0.0.1", "203.0.113.7"),
                                    (1, "::1", "203.0.113.7"),
                                    (1, "198.51.100.20", "198.51.100.20")):
        app = create_app(replace(settings, proxies=proxies),
                         database_url=cluster.url(database=DB, role="app"))
        client = _from(app.test_client(), peer)
        page = client.get("/staff/sign-in")
        client.post("/staff/sign-in", headers=forwarded, data={
            "name": "x", "password": "wrong password", "csrf_token": csrf_token(page.text)})
        assert _failure_addresses(fresh)[-1] == expected, (proxies, peer)


def test_trusted_proxies_setting() -> None:
    assert Settings.from_env({}).trusted_proxies == ("127.0.0.1", "::1")
    assert Settings.from_env({"CDDGIS_TRUSTED_PROXIES": " 10.0.0.5, 172.30.250.0/24 "}
                             ).trusted_proxies == ("10.0.0.5", "172.30.250.0/24")
    with pytest.raises(ValueError, match=r"CDDGIS_TRUSTED_PROXIES.*nginx-box"):
        Settings.from_env({"CDDGIS_TRUSTED_PROXIES": "127.0.0.1,nginx-box"})


def test_compose_and_production_set_the_secret_and_the_proxy() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    compose = (root / "docker-compose.yml").read_text()
    assert "CDDGIS_SECRET_KEY: ${CDDGIS_SECRET_KEY:?" in compose  # replicas must share it
    assert 'CDDGIS_PROXIES: "1"' in compose
    assert '"CDDGIS_PROXIES": "1"' in (root / "scripts/prod/profile.py").read_text()
