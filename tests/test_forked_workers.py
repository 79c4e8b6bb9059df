"""No database connection crosses a fork, and a dry run never leaves a row (issue 25, item 0).

`cddgis serve` once opened a connection in the gunicorn master; both workers inherited its
socket, so one worker's COMMIT committed the other's dry run into the public layer. These tests
fork as gunicorn does, make the database refuse to commit a dry run, cancel a running check,
and run real uploads on `cddgis serve --workers 2`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, text

from core.errors import InternalError
from gis import upload_jobs as jobs
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import PostgisLayerStore
from gis.locate import locate
from gis.settings import Settings
from layers.definitions import LAYERS
from layers.importer import Carried, FeatureRow, ImportReport
from tests.staff import PASSWORD, add_account, csrf_token, reset_workspace
from tests.workers import db_name

ROOT = Path(__file__).resolve().parent.parent
LAYER = "learning-centers"
HEADER = "รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"


def _rows(prefix: str, count: int) -> str:
    """``count`` learning centres around Chiang Mai city (province 50), keys ``prefix-N``."""
    return HEADER + "".join(
        f"{prefix}-{i},ศูนย์ {prefix} {i},2564,{18.70 + (i % 300) * 0.001:.4f},"
        f"{98.90 + (i // 300) * 0.001:.4f}\n" for i in range(count))


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_forked_child_never_uses_its_parents_connection(db_url: str) -> None:
    engine = engine_for(db_url)
    parent = _backend_pid(engine)  # the connection is back in the pool: a fork inherits it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        try:
            answer = str(_backend_pid(engine))
        except BaseException as exc:  # any failure is the parent's to report
            answer = f"error: {exc!r}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(child, 0)
    assert answer.isdigit(), answer
    assert int(answer) != parent, "the child used the PostgreSQL session its parent pooled"
    with engine.connect() as conn:  # the child left the parent's session open
        alive = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                             {"pid": parent}).scalar_one()
    assert alive == 1, "the child closed the session its parent pooled"


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database("cddgis_test_forks"))


@pytest.fixture
def fresh(owner_engine: Engine) -> Engine:
    return reset_workspace(owner_engine, LAYER)


def _count(engine: Engine, like: str = "%") -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM layer_features WHERE layer = :l AND key LIKE :k"),
            {"l": LAYER, "k": like}).scalar_one()


def test_the_database_refuses_to_commit_a_dry_run(fresh: Engine) -> None:
    """What the other worker's COMMIT did: commit a dry run's open transaction. PostgreSQL
    refuses it (migration 0012) and nothing the dry run wrote stays."""
    report = ImportReport(layer=LAYER, source_file="check.csv", sha256="", mode="dry-run",
                          file_problems=[], rows=[])
    carried = Carried(public=frozenset({"budget_year"}), personal=frozenset(), name=True,
                      given=False)
    writer = PostgisLayerStore(fresh).begin(report, source_path="check.csv", sample=False,
                                            carried=carried)
    place = locate(fresh, [(98.99, 18.79)])[0]
    writer.write([FeatureRow("DRY-1", "ศูนย์ทดลอง", {"budget_year": 2564}, {}, 98.99, 18.79,
                             (None, None, None), place)])
    with pytest.raises(InternalError) as refused:  # a 500 with an error id: our own bug
        writer.transaction.commit()
    assert "a dry run is never committed" in str(refused.value.__cause__)
    writer.conn.close()
    assert _count(fresh) == 0
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layer_imports")).scalar_one() == 0
    with pytest.raises(ValueError, match="never committed"):  # nor through the writer's API
        PostgisLayerStore(fresh).begin(report, source_path="check.csv", sample=False,
                                       carried=carried).finish(report, commit=True)


def test_cancel_stops_a_running_check(fresh: Engine, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is held as it starts reading rows (the job is ``checking``), cancelled, and
    must stop at its first progress report: it does not read the rest of the file, and
    writes nothing."""
    account = add_account(fresh, "cancel-officer", provinces=["50"], layers=[LAYER])
    path = tmp_path / "big.csv"
    path.write_text(_rows("CANCEL", 20_000), encoding="utf-8")
    job = jobs.create_job(fresh, account, LAYER, file_name="big.csv", stored_name="x/big.csv",
                          kind="csv", size=path.stat().st_size, rows_estimate=20_000)
    started, release = threading.Event(), threading.Event()
    checking = jobs._JobStore.checking

    def held(store: jobs._JobStore, report: ImportReport) -> None:
        checking(store, report)
        started.set()
        assert release.wait(120), "the test never released the check"

    monkeypatch.setattr(jobs._JobStore, "checking", held)
    locate = jobs._JobStore.locate
    batches: list[int] = []

    def counted(store: jobs._JobStore, points: list[tuple[float, float]]) -> list:
        batches.append(len(points))  # each batch of rows read is located first
        return locate(store, points)

    monkeypatch.setattr(jobs._JobStore, "locate", counted)
    check = threading.Thread(target=jobs.run_check,
                             args=(fresh, job, path, LAYERS[LAYER], account))
    check.start()
    assert started.wait(120), "the check never started"  # the job is 'checking' now
    with fresh.begin() as conn:  # what the Cancel button does to a running check
        conn.execute(text("UPDATE upload_jobs SET status = 'cancelled' WHERE id = :id"),
                     {"id": job})
    release.set()
    check.join(timeout=120)
    assert not check.is_alive(), "the check went on after Cancel"
    got = jobs.get_job(fresh, job)
    assert got is not None
    assert got["status"] == "cancelled"
    assert len(batches) == 1, batches  # stopped at its first batch, not after 10
    assert _count(fresh) == 0
    with fresh.connect() as conn:  # a check that ran to its end records its dry run
        assert conn.execute(text("SELECT count(*) FROM layer_imports")).scalar_one() == 0


# ---- `cddgis serve --workers 2`, as `make run` serves ----------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_workers(owner_engine: Engine, cluster: ClusterInfo, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real CLI on a free port with two gunicorn workers (four threads each)."""
    port = _free_port()
    owner_url = owner_engine.url.render_as_string(hide_password=False)
    env = {**os.environ,
           "DATABASE_URL": cluster.url(database=db_name("cddgis_test_forks"), role="app"),
           "CDDGIS_OWNER_DATABASE_URL": owner_url, "PORT": str(port), "HOST": "127.0.0.1",
           "CDDGIS_TILES": "none", "CDDGIS_COOKIE_SECURE": "0",
           "CDDGIS_STATE_DIR": str(tmp_path_factory.mktemp("serve-state"))}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cddgis"), "serve", "--workers", "2",
         "--threads", "4", "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    booted = threading.Event()

    def read_output() -> None:  # gunicorn says when each worker has booted
        assert server.stdout is not None
        for line in server.stdout:
            output.append(line)
            if sum("Booting worker" in seen for seen in output) >= 2:
                booted.set()
        booted.set()  # the server ended: the check below says how

    threading.Thread(target=read_output, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert booted.wait(120) and server.poll() is None, "".join(output)
        # The app was built in the master before it forked: a booted worker answers at once.
        assert requests.get(base + "/api/health", timeout=30).status_code == 200, output
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


def _signed_in(base: str, name: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/staff/sign-in", timeout=30)
    answer = session.post(base + "/staff/sign-in", timeout=30, data={
        "name": name, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert answer.ok and "/staff/sign-in" not in answer.url, answer.text[:500]
    return session


def _upload(session: requests.Session, base: str, name: str, content: str) -> int:
    form = session.get(base + "/staff/upload", timeout=30)
    answer = session.post(base + "/staff/upload", timeout=60, data={
        "layer": LAYER, "csrf_token": csrf_token(form.text)},
        files={"file": (name, content.encode("utf-8"), "text/csv")})
    assert answer.ok, answer.text[:500]
    found = re.search(r"/staff/upload/(\d+)$", answer.url)
    assert found, answer.url
    return int(found.group(1))


def _settled(session: requests.Session, base: str, job: int, waiting: tuple[str, ...]) -> dict:
    """The job's status once it has left ``waiting`` (polled, as tests/test_staff_uploads.py
    does: the loop ends as soon as the status changes; the deadline only bounds it)."""
    deadline = time.monotonic() + 300  # bounded: a job that never ends fails loudly
    while True:
        status = session.get(f"{base}/staff/upload/{job}/status", timeout=30).json()
        if status["status"] not in waiting:
            return status
        assert time.monotonic() < deadline, status


def _commit(session: requests.Session, base: str, job: int) -> dict:
    page = session.get(f"{base}/staff/upload/{job}", timeout=30)
    answer = session.post(f"{base}/staff/upload/{job}/commit", timeout=30, data={
        "mode": "all-or-nothing", "csrf_token": csrf_token(page.text)})
    assert answer.ok, answer.text[:500]
    return _settled(session, base, job, ("committing",))


def test_dry_runs_and_commits_on_two_workers_leave_exactly_the_committed_rows(
        fresh: Engine, two_workers: str) -> None:
    base = two_workers
    add_account(fresh, "fork-officer", provinces=["50"], layers=[LAYER])
    session = _signed_in(base, "fork-officer")
    big = [_upload(session, base, f"check-{n}.csv", _rows(f"DRY{n}", 6_000)) for n in range(2)]

    def small_commit(n: int) -> dict:
        own = _signed_in(base, "fork-officer")
        job = _upload(own, base, f"small-{n}.csv", _rows(f"OK{n}", 40))
        checked = _settled(own, base, job, ("queued", "checking"))
        assert checked["status"] == "checked", checked
        return _commit(own, base, job)

    with ThreadPoolExecutor(max_workers=6) as pool:
        committed = list(pool.map(small_commit, range(6)))
    assert [c["status"] for c in committed] == ["committed"] * 6, committed
    for job in big:
        checked = _settled(session, base, job, ("queued", "checking"))
        assert checked["status"] == "checked", checked
        assert checked["would_insert"] == 6_000
    for job in big:  # Cancel after a check: nothing of it is in the layer
        page = session.get(f"{base}/staff/upload/{job}", timeout=30)
        assert session.post(f"{base}/staff/upload/{job}/cancel", timeout=30, data={
            "csrf_token": csrf_token(page.text)}).ok
    assert _count(fresh, "DRY%") == 0, "a dry run left rows in the public layer"
    assert _count(fresh, "OK%") == 6 * 40
    with fresh.connect() as conn:
        leaked = conn.execute(text("SELECT count(*) FROM layer_imports "
                                   "WHERE mode = 'dry-run' AND committed")).scalar_one()
    assert leaked == 0
