"""The app's import job runner (``gis.upload_jobs.JobRunner``), shared by the staff upload
(``web/staff_uploads.py``) and the import API's large files (``web/api_write.py``): one pool
per app process, sized and limited by the settings (CDDGIS_IMPORT_WORKERS,
CDDGIS_IMPORT_JOB_TIMEOUT_S, CDDGIS_IMPORT_QUEUE_PER_ACCOUNT), and where uploaded files wait.

The pool is made on first use, in the process that uses it: a gunicorn worker forked from the
master never inherits one.
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Engine

from gis.db import engine_for
from gis.upload_jobs import JobRunner
from web.services import engine, settings

_KEY = "cddgis.import_jobs"
_LOCK = threading.Lock()


def runner() -> JobRunner:
    """This app's runner (made once, on first use)."""
    extensions = current_app.extensions
    with _LOCK:
        if _KEY not in extensions:
            s = settings()
            extensions[_KEY] = JobRunner(workers=s.import_workers,
                                         timeout_s=s.import_job_timeout_s,
                                         queued_per_account=s.import_queue_per_account)
    return extensions[_KEY]


def import_engine() -> Engine:
    """The app's database role without the web statement timeout: an import of a large file is
    long, legitimate work (the same URL, so the same least-privileged role); the job's own time
    limit bounds it instead."""
    url = engine().url.render_as_string(hide_password=False)
    return engine_for(url)


def submit(fn: Any, *args: Any) -> Future[None]:
    """Runs ``fn(import_engine, *args, timeout_s=…)`` on the runner."""
    return runner().submit(fn, import_engine(), *args)


def uploads_dir() -> Path:
    """Where uploaded files wait for their job (PDPA retention: ``gis.personal.purge_uploads``)."""
    return settings().state_dir / "uploads"


def new_upload_folder() -> Path:
    """A private folder of its own for one uploaded file."""
    folder = uploads_dir() / secrets.token_hex(12)
    folder.mkdir(parents=True, mode=0o700)
    return folder
