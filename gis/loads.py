"""Whether a loader's inputs changed since it last loaded (``cddgis load … --if-changed``).

Each loader's fingerprint (``core.inputs.fingerprint``) covers its code, followed through its
imports, and its data files by name, size and modification time; ``loaded_inputs`` (migration
0016) keeps the one it last loaded from. A loader runs again when the fingerprints differ or
its table is empty, so ``make run`` with nothing new starts in seconds, and a new data release
or a changed loader is loaded without a flag to remember.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from core.inputs import code_files, data_files, fingerprint


@dataclass(frozen=True)
class Loader:
    name: str
    modules: tuple[str, ...]
    """The module that loads (its project imports are followed)."""
    folders: tuple[str, ...]
    """Its input folders under the data folder."""
    table: str
    """A table the load fills: empty means "not loaded", whatever was recorded."""


LOADERS = {loader.name: loader for loader in (
    Loader("boundaries", ("gis.boundary_store",), ("boundaries", ""), "provinces"),
    Loader("villages", ("gis.village_store",), ("points",), "villages"),
    Loader("indicators", ("gis.indicator_store",), ("indicators",), "indicators"),
    # The sample is placed at real village positions (or subdistricts without them).
    Loader("sample", ("gis.samples",), ("points",), "layer_features"),
)}


def current(loader: Loader, data_dir: Path) -> str:
    data_dir = data_dir.resolve()
    return fingerprint(code_files(loader.modules), data_files(data_dir, loader.folders),
                       data_dir)


def up_to_date(engine: Engine, loader: Loader, data_dir: Path) -> bool:
    """True when the table has rows and the recorded fingerprint is today's."""
    with engine.connect() as conn:
        recorded = conn.execute(text(
            "SELECT fingerprint FROM loaded_inputs WHERE loader = :name"),
            {"name": loader.name}).scalar()
        if recorded is None:
            return False
        filled = conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {loader.table})")).scalar()
    return bool(filled) and recorded == current(loader, data_dir)


def record(engine: Engine, loader: Loader, data_dir: Path) -> None:
    """After a load that succeeded: what it was made from."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO loaded_inputs (loader, fingerprint) VALUES (:name, :fingerprint)
            ON CONFLICT (loader) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                                               loaded_at = now()
        """), {"name": loader.name, "fingerprint": current(loader, data_dir)})
