"""The test databases' templates, kept in the local cluster between runs.

Three templates, each a complete database that tests copy in about a second
(``CREATE DATABASE … TEMPLATE``):

* ``cddgis_test_tpl_<hash>_empty``: migrated, no data;
* ``cddgis_test_tpl_<hash>_bnd``: plus the national boundaries;
* ``cddgis_test_tpl_<hash>_full``: plus the sample layers, the villages and the indicator tables
  (what the session database ``cddgis_test`` serves).

``<hash>`` (12 hex digits) is the SHA-256 of everything the recipe reads (``recipe_inputs``):
the data files under ``boundaries/``, ``indicators/`` and ``points/`` of the data folder, the
migrations, this file, and the source of every project module the loaders import (followed
from ``LOADERS`` through their imports, so a change in, say, ``layers/importer.py`` or
``gis/bulk.py`` rebuilds the templates). A template counts only once its build finished: the
build writes a marker (a comment on each database) last, so a build that died half-way is
dropped and redone. Templates with another hash are dropped.

Two pytest-xdist workers may start together: the build runs under a PostgreSQL advisory lock,
so one builds and the other waits for it, then finds the templates complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from sqlalchemy import Engine

from core.inputs import ROOT, code_files, data_files, fingerprint
from gis.boundary_store import load_boundaries
from gis.cluster import ClusterInfo, create_database
from gis.db import engine_for
from gis.indicator_store import load_catalog
from gis.migrate import upgrade
from gis.samples import load_samples
from gis.village_store import load_villages

PREFIX = "cddgis_test_tpl_"
DATA_FOLDERS = ("boundaries", "indicators", "points")
# The modules whose code makes the templates; their project imports are followed.
LOADERS = ("gis.migrate", "gis.models", "gis.cluster", "gis.boundary_store", "gis.samples",
           "gis.village_store", "gis.indicator_store")
LOCK_KEY = 0x6364_6467  # "cddg": the advisory lock around a build
COMPLETE = "cddgis test template, complete: "


@dataclass(frozen=True)
class Loaded:
    """A real load's report and an engine on the database it loaded into (conftest's
    ``boundary_load`` and ``indicator_load``)."""
    report: Any
    engine: Engine


@dataclass(frozen=True)
class Templates:
    empty: str
    boundaries: str
    full: str

    @property
    def names(self) -> tuple[str, str, str]:
        return self.empty, self.boundaries, self.full


def recipe_inputs(data_dir: Path) -> tuple[set[Path], set[Path]]:
    """Every file whose content the templates depend on: (code, data)."""
    code = code_files(LOADERS) | set((ROOT / "gis" / "migrations").rglob("*.py"))
    code.add(Path(__file__).resolve())
    code.add(ROOT / "indicators" / "catalog.json")  # the catalogue's declarations are data
    return code, data_files(data_dir, DATA_FOLDERS)


def recipe_hash(data_dir: Path) -> str:
    code, data = recipe_inputs(data_dir)
    return fingerprint(code, data, data_dir, content=True)[:12]


def _connect(cluster: ClusterInfo):
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                            password=cluster.superuser_password, dbname="postgres")
    conn.autocommit = True
    return conn


def _complete(cur, name: str, key: str) -> bool:
    cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = %s", (name,))
    row = cur.fetchone()
    return row is not None and row[0] == COMPLETE + key


def ensure_templates(cluster: ClusterInfo, data_dir: Path) -> Templates:
    """The three templates for the current recipe, built if missing or incomplete."""
    key = recipe_hash(data_dir)
    templates = Templates(f"{PREFIX}{key}_empty", f"{PREFIX}{key}_bnd", f"{PREFIX}{key}_full")
    conn = _connect(cluster)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            try:
                if not all(_complete(cur, name, key) for name in templates.names):
                    _build(cur, cluster, data_dir, templates, key)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    finally:
        conn.close()
    return templates


def _build(cur, cluster: ClusterInfo, data_dir: Path, templates: Templates, key: str) -> None:
    # Older recipes' templates, and this recipe's if a build died half-way.
    cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                (PREFIX.replace("_", r"\_") + "%",))
    for (name,) in cur.fetchall():
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))

    upgrade(create_database(cluster, templates.empty))

    engine = engine_for(create_database(cluster, templates.boundaries, template=templates.empty))
    load_boundaries(engine, data_dir)
    engine.dispose()  # a template may have no connections while it is copied

    engine = engine_for(create_database(cluster, templates.full, template=templates.boundaries))
    reports = load_samples(engine, data_dir)
    failed = [r.summary() for r in reports if not r.committed]
    if failed or not reports:
        raise AssertionError(f"The sample layers did not load: {failed or 'no layer'}")
    if load_villages(engine, data_dir).loaded == 0:
        raise AssertionError("No village was loaded from the data folder")
    if not load_catalog(engine, data_dir):
        raise AssertionError("No indicator table was loaded from the data folder")
    engine.dispose()

    # Last: the marker that says each template is complete.
    for name in templates.names:
        cur.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(COMPLETE + key)))

