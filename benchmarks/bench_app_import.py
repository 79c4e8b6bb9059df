"""Seconds from nothing to a built app (``import web`` + ``create_app``), which every worker
pays at start, before and after a change: run it with each checkout's code on ``PYTHONPATH``.

    for side in OLD NEW; do (cd $side && PYTHONPATH=$side .venv/bin/python \\
        benchmarks/bench_app_import.py); done

No database is touched (the URL points nowhere; the app connects on first request)."""

from __future__ import annotations

import time

started = time.perf_counter()
from gis.settings import Settings  # noqa: E402
from web import create_app  # noqa: E402

create_app(Settings.from_env(), database_url="postgresql+psycopg2://x:y@127.0.0.1:1/z")
print(f"{time.perf_counter() - started:.3f}")
