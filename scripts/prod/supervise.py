"""The production profile's supervisor (issue 25, item 5): keeps every process of the profile up.

Started, detached, by ``scripts/prod/profile.py start``, which writes it the programs as JSON on
stdin (their environment holds the database password: it never touches the disk). It starts them
in order (each one's port open before the next starts) and then watches them:

* a program that exits, for any reason, is started again on the same port after a backoff that
  doubles from ``BACKOFF_FIRST`` to ``BACKOFF_MAX`` s while it keeps failing within
  ``STABLE_AFTER`` s of starting. What is left of its process group (gunicorn's or nginx's
  workers, which outlive a killed master and hold the port) is sent SIGTERM at once (they finish
  the requests they hold) and SIGKILL after ``LEFTOVER_GRACE`` s; the new master loads the app
  meanwhile, and gunicorn and nginx retry their bind until the port is free;
* a *watched* service (the project's own PostgreSQL and its standbys, which ``pg_ctl`` runs
  detached) is checked by connecting to its port every ``WATCH_EVERY`` s, and started with its
  start command, with the same backoff, when two checks in a row fail.

SIGTERM (``production.sh stop``) stops the programs in reverse order — nginx (no new requests),
the apps (finishing theirs), the PgBouncers — each with its own signal, waits for each process
group to be gone (SIGKILL after ``STOP_GRACE`` s) and for the ports to be free, and exits. A
watched service is left running (``make db-stop`` stops the primary; ``production.sh stop``
stops the standbys once the supervisor has gone). The supervisor reaps orphans
(it is a child subreaper), so a process it stopped is never left a zombie holding a pid.

State, for ``production.sh status``: ``supervised.json`` (pids, restarts) in the profile's folder;
a line for each start, exit and restart in ``supervisor.log``. Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0
LEFTOVER_GRACE = 5.0
PORT_WAIT = 10.0
STOP_GRACE = 30.0
WATCH_EVERY = 2.0
TICK = 0.1
PR_SET_CHILD_SUBREAPER = 36


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}", flush=True)


def port_is_free(host: str, port: int) -> bool:
    """No one listens there (TIME_WAIT connections do not count: SO_REUSEADDR, as servers bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Program:
    name: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log: str = ""
    uid: int | None = None
    gid: int | None = None
    stop: str = "SIGTERM"
    host: str = "127.0.0.1"
    port: int | None = None
    watch: bool = False  # a detached service: checked on its port, started with argv
    # what the supervisor knows
    pid: int | None = None
    state: str = "new"  # new | running | waiting | watching | stopped
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    restart_at: float = 0.0
    last_exit: str = ""
    misses: int = 0
    next_check: float = 0.0

    def spawn(self) -> None:
        kwargs: dict = {}
        if self.uid is not None:
            kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
        self.pid, self.state, self.started_at = proc.pid, "running", time.monotonic()

    def backoff(self, ran: float) -> float:
        self.failures = 0 if ran >= STABLE_AFTER else self.failures + 1
        return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, self.failures - 1))

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "host": self.host, "port": self.port,
                "state": self.state,
                "restarts": self.restarts, "last_exit": self.last_exit, "watch": self.watch}


class Supervisor:
    def __init__(self, spec: dict):
        self.state_file = Path(spec["state"])
        self.programs = [Program(**p) for p in spec["programs"]]
        self.stopping = False
        self.leftovers: dict[int, float] = {}  # process group → when SIGKILL is due

    # -- state ---------------------------------------------------------------------------

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"supervisor": os.getpid(),
                                   "programs": [p.as_json() for p in self.programs]}, indent=1))
        tmp.chmod(0o644)
        tmp.replace(self.state_file)

    def reap(self) -> None:
        """Collects every exited child and orphan; marks the programs whose master exited."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for p in self.programs:
                if p.pid == pid and p.state == "running":
                    p.last_exit = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                                   else f"code {os.waitstatus_to_exitcode(status)}")
                    self.exited(p)

    # -- the watch -----------------------------------------------------------------------

    def exited(self, p: Program) -> None:
        now = time.monotonic()
        ran = now - p.started_at
        if self.stopping:
            p.state = "stopped"
            return
        delay = p.backoff(ran)
        p.state, p.restart_at = "waiting", now + delay
        assert p.pid is not None
        signal_group(p.pid, signal.SIGTERM)  # its workers, which outlive the master
        self.leftovers[p.pid] = now + LEFTOVER_GRACE
        say(f"{p.name} (pid {p.pid}) exited ({p.last_exit}) after {ran:.1f} s; restarting "
            f"in {delay:.1f} s")
        self.save()

    def clear_leftovers(self) -> None:
        now = time.monotonic()
        for pgid, due in list(self.leftovers.items()):
            if not group_alive(pgid):
                del self.leftovers[pgid]
            elif now >= due:
                signal_group(pgid, signal.SIGKILL)
                self.leftovers[pgid] = now + LEFTOVER_GRACE

    def tick(self, p: Program) -> None:
        now = time.monotonic()
        if p.state == "waiting" and now >= p.restart_at:
            p.restarts += 1
            try:
                p.spawn()
            except OSError as exc:
                say(f"{p.name} could not start: {exc}")
                p.last_exit = str(exc)
                p.state, p.restart_at = "waiting", now + p.backoff(0)
                return
            say(f"{p.name} started again (pid {p.pid}, restart {p.restarts})")
            self.save()
        if p.state == "watching" and now >= p.next_check:
            p.next_check = now + WATCH_EVERY
            assert p.port is not None
            if port_answers(p.host, p.port):
                p.misses = 0
                return
            p.misses += 1
            if p.misses < 2 or now < p.restart_at:
                return
            say(f"{p.name} does not answer on {p.host}:{p.port}; starting it")
            p.restarts += 1
            p.last_exit = "not answering"
            with open(p.log, "ab") as out:
                try:
                    done = subprocess.run(p.argv, env=p.env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, timeout=120).returncode
                except (OSError, subprocess.TimeoutExpired) as exc:
                    done = str(exc)
            ok = done == 0 and port_answers(p.host, p.port)
            p.failures = 0 if ok else p.failures + 1
            p.restart_at = time.monotonic() + (0 if ok else min(
                BACKOFF_MAX, BACKOFF_FIRST * 2 ** p.failures))
            say(f"{p.name}: {'started' if ok else f'start failed ({done})'}")
            self.save()

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> None:
        for p in self.programs:
            if self.stopping:
                break
            if p.watch:
                p.state = "watching"
                continue
            p.spawn()
            say(f"{p.name} started (pid {p.pid})")
            self.save()
            deadline = time.monotonic() + 60
            while p.port and not port_answers(p.host, p.port) and time.monotonic() < deadline:
                self.reap()
                if p.state != "running" or self.stopping:
                    break  # profile.py reports it, with the program's log
                time.sleep(TICK)
        self.save()

    def stop(self) -> None:
        self.stopping = True
        say("stopping")
        order = {"nginx": 0, "pgbouncer": 2}
        programs = [p for p in self.programs if not p.watch]
        for pgid in self.leftovers:  # what earlier masters left, if it is still there
            signal_group(pgid, signal.SIGKILL)
        for group in (0, 1, 2):
            # pgbouncer-replica-1 stops with the primary's pool, after the apps.
            batch = [(p, p.pid) for p in programs
                     if order.get(p.name.split("-")[0], 1) == group and p.pid]
            for p, pid in batch:
                # The master with its own signal (its workers finish what they serve); what is
                # left of a master that already exited, with SIGTERM.
                sig = getattr(signal, p.stop) if p.state == "running" else signal.SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    (os.kill if p.state == "running" else os.killpg)(pid, sig)
            deadline = time.monotonic() + STOP_GRACE
            for p, pid in batch:
                while group_alive(pid) and time.monotonic() < deadline:
                    self.reap()
                    time.sleep(TICK)
                if group_alive(pid):
                    say(f"{p.name} did not stop within {STOP_GRACE:.0f} s: SIGKILL")
                    signal_group(pid, signal.SIGKILL)
                    end = time.monotonic() + 5
                    while group_alive(pid) and time.monotonic() < end:
                        self.reap()
                        time.sleep(TICK)
                p.state = "stopped"
        end = time.monotonic() + PORT_WAIT
        for p in programs:
            while p.port and not port_is_free(p.host, p.port) and time.monotonic() < end:
                time.sleep(TICK)
        self.save()
        say("stopped")

    def run(self) -> int:
        def on_signal(signum: int, _frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            say("could not become a child subreaper; orphans go to init")
        self.start()
        while not self.stopping:
            self.reap()
            self.clear_leftovers()
            for p in self.programs:
                self.tick(p)
            time.sleep(TICK)
        self.stop()
        return 0


def main() -> int:
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()
    os.chdir(spec.get("cwd") or "/")
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
