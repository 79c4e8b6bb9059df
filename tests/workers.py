"""Names of what a test makes, per pytest-xdist worker, so `pytest -n 2` runs tests side by side
on one cluster: ``db_name("cddgis_test_x")`` is ``cddgis_test_x_gw0`` in worker gw0, and
``cddgis_test_x`` in a run without workers."""

from __future__ import annotations

import os

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_suffix() -> str:
    return f"_{WORKER}" if WORKER else ""


def db_name(base: str) -> str:
    """``base`` with this worker's suffix (once: a name that has it already is kept)."""
    suffix = worker_suffix()
    return base if not suffix or base.endswith(suffix) else base + suffix
