"""Issue 25, item 7: every format streams, archives over the limits are refused before a row is
read, the duplicate checks stay near-linear, and an import holds no transaction while it checks.

No database here: the importer runs against an in-memory LayerStore, and the readers alone.
Nothing is timed: work and laziness are counted.
"""

from __future__ import annotations

import csv
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pyogrio.raw
import pytest
import shapely

from core import readers
from core.readers import FileProblem, open_table
from layers import importer
from layers.definitions import LAYERS
from layers.importer import Carried, Existing, FeatureRow, ImportReport, Placement, import_file

LC = LAYERS["learning-centers"]
HEADERS = ["รหัสศูนย์", "ชื่อศูนย์", "ละติจูด", "ลองจิจูด"]
CHIANG_MAI = (18.7883, 98.9853)


def _frame(n: int, thai_from: int = 0) -> gpd.GeoDataFrame:
    names = ["centre" if i < thai_from else f"ศูนย์เรียนรู้ {i}" for i in range(n)]
    return gpd.GeoDataFrame(
        {"code": [f"K{i}" for i in range(n)], "name": names},
        geometry=shapely.points([98.98 + i * 1e-4 for i in range(n)], [18.78] * n), crs=4326)


def _shapefile_zip(tmp_path: Path, n: int, thai_from: int = 0,
                   extra: dict[str, bytes] | None = None) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(_frame(n, thai_from), folder / "c.shp", encoding="cp874")
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, part.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of the rows fails the test: refusals must come from metadata alone."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rows were read")
    monkeypatch.setattr(pyogrio, "read_dataframe", refuse)
    monkeypatch.setattr(pyogrio.raw, "open_arrow", refuse)
    monkeypatch.setattr(pyogrio.raw, "read", refuse)


# -- archives refused up front ----------------------------------------------------------------

def test_a_shapefile_whose_dbf_claims_too_many_records_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(_frame(3), folder / "c.shp", encoding="cp874")
    dbf = bytearray((folder / "c.dbf").read_bytes())
    struct.pack_into("<I", dbf, 4, 2_000_000)  # the header's record count
    (folder / "c.dbf").write_bytes(bytes(dbf))
    path = tmp_path / "claims.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    monkeypatch.delenv("CDDGIS_IMPORT_MAX_ROWS", raising=False)
    _no_reading(monkeypatch)
    with pytest.raises(FileProblem) as refused:
        open_table(path)
    message = str(refused.value)
    assert "2,000,000 rows" in message and "1,000,000" in message, message
    assert "CDDGIS_IMPORT_MAX_ROWS" in message and "แถว" in message, message


def test_a_zip_expanding_past_the_limit_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _shapefile_zip(tmp_path, 3, extra={"notes.txt": bytes(3 * 2**20)})
    monkeypatch.setenv("CDDGIS_IMPORT_MAX_EXPANDED_MB", "2")
    _no_reading(monkeypatch)
    with pytest.raises(FileProblem) as refused:
        open_table(path)
    message = str(refused.value)
    assert "expands to 3 MB" in message and "at most 2 MB" in message, message
    assert "CDDGIS_IMPORT_MAX_EXPANDED_MB" in message and "เกินขีดจำกัด" in message, message


def test_a_geopackage_with_too_many_features_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.gpkg"
    pyogrio.write_dataframe(_frame(150), path)
    monkeypatch.setenv("CDDGIS_IMPORT_MAX_ROWS", "100")
    monkeypatch.setattr(pyogrio.raw, "open_arrow", lambda *a, **k: pytest.fail("rows read"))
    monkeypatch.setattr(pyogrio, "read_dataframe", lambda *a, **k: pytest.fail("rows read"))
    with pytest.raises(FileProblem, match=r"150 rows: at most 100 rows .*CDDGIS_IMPORT_MAX_ROWS"):
        open_table(path)


@pytest.mark.parametrize("form", ["csv", "geojson"])
def test_the_row_limit_holds_for_streamed_formats(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    path = tmp_path / f"c.{form}"
    if form == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([HEADERS] + [[f"S{i}", "x", *CHIANG_MAI]
                                                  for i in range(11)])
    else:
        pyogrio.write_dataframe(_frame(11), path, driver="GeoJSON")
    monkeypatch.setenv("CDDGIS_IMPORT_MAX_ROWS", "10")
    with pytest.raises(FileProblem, match=r"more than 10 rows.*CDDGIS_IMPORT_MAX_ROWS"):
        list(open_table(path).records)


# -- GIS formats stream -----------------------------------------------------------------------

@pytest.mark.parametrize("form", ["geojson", "shapefile", "gpkg"])
def test_gis_files_are_read_batch_by_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    if form == "shapefile":
        path = _shapefile_zip(tmp_path, 1_000, thai_from=500)  # Thai text only later on
    else:
        path = tmp_path / f"c.{form}"
        pyogrio.write_dataframe(_frame(1_000), path,
                                driver="GeoJSON" if form == "geojson" else "GPKG")
    monkeypatch.setattr(readers, "GIS_BATCH_ROWS", 100, raising=False)
    delivered: list[int] = []
    real = pyogrio.raw.open_arrow

    class Counted:
        def __init__(self, reader):
            self.reader = reader

        def __iter__(self):
            for batch in self.reader:
                delivered.append(batch.num_rows)
                yield batch

    from contextlib import contextmanager

    @contextmanager
    def counting(*args, **kwargs):
        with real(*args, **kwargs) as (meta, reader):
            yield meta, Counted(reader)

    monkeypatch.setattr(pyogrio.raw, "open_arrow", counting)
    monkeypatch.setattr(pyogrio, "read_dataframe",
                        lambda *a, **k: pytest.fail("the whole file was read at once"))
    stream = open_table(path)
    records = iter(stream.records)
    first = next(records)
    assert first.row == 1 and first.cells["code"] == "K0" and first.point is not None
    assert delivered == [100], "the first row must come from the first batch alone"
    rest = list(records)
    assert len(rest) == 999 and len(delivered) == 10
    assert rest[-1].cells["name"] == "ศูนย์เรียนรู้ 999"
    if form == "shapefile":
        assert stream.encoding == "cp874"


# -- the importer: linear duplicate checks, no transaction while checking -----------------------

class _Writer:
    def __init__(self, events: list[str]):
        self.events = events
        self.written = 0

    def write(self, rows: list[FeatureRow]) -> dict[str, Existing]:
        self.events.append("write")
        self.written += len(rows)
        return {}

    def finish(self, report: ImportReport, *, commit: bool) -> tuple[int, int, int]:
        self.events.append("commit" if commit else "rollback")
        return 1, self.written, 0


class _Store:
    """In memory: every point lies in Chiang Mai; events say what happened in which order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def locate(self, points: list[tuple[float, float]]) -> list[Placement | None]:
        self.events.append("check")
        return [Placement("500101", "5001", "50", "north", "ศรีภูมิ", 0.0)] * len(points)

    def namesakes_nearby(self, layer, rows, radius_m):
        return {}

    def record(self, report: ImportReport, *, sample: bool, message: str) -> int:
        self.events.append("record")
        return 1

    def stored_provinces(self, layer, keys):
        return {}

    def awaiting_review(self, layer, keys):
        return {}

    def begin(self, report: ImportReport, *, source_path: str, sample: bool,
              carried: Carried) -> _Writer:
        self.events.append("begin")
        return _Writer(self.events)


def _csv(tmp_path: Path, rows: list[list[object]]) -> Path:
    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *rows])
    return path


def test_every_row_is_checked_before_the_transaction_opens(tmp_path: Path) -> None:
    path = _csv(tmp_path, [[f"S{i}", f"ศูนย์ {i}", 18.78 + i * 1e-3, 98.98] for i in range(5_000)])
    store = _Store()
    report = import_file(store, LC, path)
    assert report.committed and report.inserted == 5_000, report.summary()
    first_write = store.events.index("begin")
    assert store.events[:first_write] == ["check"] * 3, store.events  # 3 batches of 2,000
    assert store.events[first_write:] == ["begin", "write", "write", "write", "commit"]


def test_an_all_or_nothing_import_with_errors_opens_no_transaction(tmp_path: Path) -> None:
    rows = [[f"S{i}", f"ศูนย์ {i}", 18.78 + i * 1e-3, 98.98] for i in range(3_000)]
    rows[0][2] = "north"  # row 2: not a number
    store = _Store()
    report = import_file(store, LC, _csv(tmp_path, rows))
    assert not report.committed and report.counts()["error"] == 1
    assert "begin" not in store.events and store.events[-1] == "record", store.events
    dry = _Store()
    report = import_file(dry, LC, _csv(tmp_path, rows), dry_run=True)
    assert dry.events[-3:] == ["write", "rollback", "record"], dry.events
    assert report.inserted == 2_999 and not report.committed


def test_one_key_at_one_place_is_checked_in_constant_state_per_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 rows of one key, one name, one place: every repeat is named a duplicate of row 2,
    and what the checks keep per key and per grid cell does not grow with the rows."""
    grids: list[importer._NameGrid] = []
    real = importer._NameGrid

    def kept(*args, **kwargs):
        grids.append(real(*args, **kwargs))
        return grids[-1]

    monkeypatch.setattr(importer, "_NameGrid", kept)
    path = _csv(tmp_path, [["S1", "ศูนย์เดียวกัน", *CHIANG_MAI]] * 20_000)
    report = import_file(_Store(), LC, path, dry_run=True)
    assert report.rows[0].status == "ok"
    assert all(r.errors == ["รหัสซ้ำกับแถวที่ 2 / duplicate center_id 'S1': same as row 2"]
               for r in report.rows[1:]), report.rows[1].errors
    (grid,) = grids
    assert sum(len(cell) for cell in grid.cells.values()) == 1


def test_a_full_grid_cell_keeps_a_bounded_number_of_rows() -> None:
    """Many keys of one name at one place: each row after the first is warned, and the cell
    remembers at most CELL_KEYS of them (compared with at most that many each)."""
    grid = importer._NameGrid(100)
    found = [grid.add("ศูนย์", f"K{i}", 98.98, 18.78, i) for i in range(5_000)]
    assert found[0] is None and all(f == 0 for f in found[1:])
    cap = getattr(grid, "CELL_KEYS", 8)
    assert max(len(cell) for cell in grid.cells.values()) <= cap
    assert getattr(grid, "compared", 0) <= 5_000 * 25 * cap
