"""The boundary pipeline against real PostGIS and the real HDX files."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyproj
import pytest
import shapely
from shapely import wkb
from shapely.geometry import Polygon
from sqlalchemy import Engine, text

from boundaries.load import BoundaryLoadError, LoadReport
from cddgis.cli import main as cli
from gis.boundary_store import load_boundaries
from gis.db import engine_for
from tests.datasets import make_dataset
from tests.templates import Loaded

NAKHON_PATHOM = "73"


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _counts(engine: Engine) -> dict[str, int]:
    return {t: _scalar(engine, f"SELECT count(*) FROM {t}")
            for t in ("provinces", "districts", "subdistricts")}


def _issues(engine: Engine, load_id: int, kind: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, detail FROM boundary_issues WHERE load_id = :id AND kind = :kind"),
            {"id": load_id, "kind": kind}).all()
    return dict(rows)


# -- the real, full load (session fixture) ----------------------------------------------------

@pytest.fixture
def engine(boundary_load: Loaded) -> Engine:
    """The database the real load wrote (conftest's ``boundary_load``: a load made this run, not
    the kept template), so ``loaded.load_id`` names its rows."""
    return boundary_load.engine


def test_full_load_has_every_unit(loaded: LoadReport, engine: Engine) -> None:
    assert loaded.counts == {"province": 77, "district": 928, "subdistrict": 7425}
    assert _counts(engine) == {"provinces": 77, "districts": 928, "subdistricts": 7425}


def test_thai_names_are_decoded_and_official(loaded: LoadReport, engine: Engine) -> None:
    # The files declare nothing (GDAL would read them as Latin-1); we must find UTF-8.
    assert loaded.encodings == {"province": "utf-8", "district": "utf-8", "subdistrict": "utf-8"}
    assert _scalar(engine, "SELECT name_th FROM provinces WHERE code = '10'") == "กรุงเทพมหานคร"
    assert _scalar(engine, "SELECT name_th FROM provinces WHERE code = '50'") == "เชียงใหม่"
    # The file truncates this name (DBF field width) and omits เขต; the registry's is stored.
    row = _scalar(engine, "SELECT source_name_th || '|' || name_th FROM districts "
                          "WHERE code = '1008'")
    assert row == "ป้อมปราบศัตรูพ่า|เขตป้อมปราบศัตรูพ่าย"
    assert _scalar(engine, "SELECT count(*) FROM provinces WHERE name_th !~ '^[ก-๙ ]+$'") == 0


def test_registry_differences_are_flagged_not_dropped(loaded: LoadReport, engine: Engine) -> None:
    not_in_registry = _issues(engine, loaded.load_id, "not_in_registry")
    assert set(not_in_registry) == {"104701", "105001", "530306"}
    assert "104702" in not_in_registry["104701"]  # the successor codes are named
    kept = _scalar(engine, "SELECT count(*) FROM subdistricts WHERE NOT in_registry")
    assert kept == 3
    missing = _issues(engine, loaded.load_id, "missing_geometry")
    assert {"104702", "104703", "530407"} <= set(missing)
    assert len(missing) == 14


def test_every_geometry_is_valid_and_repairs_are_reported(loaded: LoadReport,
                                                          engine: Engine) -> None:
    for table in ("provinces", "districts", "subdistricts"):
        for column in ("geom", "geom_lod1", "geom_lod2", "geom_lod3"):
            bad = _scalar(engine, f"SELECT count(*) FROM {table} "
                                  f"WHERE NOT ST_IsValid({column}) OR ST_IsEmpty({column})")
            assert bad == 0, f"{table}.{column}"
    repaired = _issues(engine, loaded.load_id, "geometry_repaired")
    assert "8403" in repaired and "Self-intersection" in repaired["8403"]


def test_area_is_geodesic_km2(engine: Engine, loaded: LoadReport) -> None:
    geod = pyproj.Geod(ellps="WGS84")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, area_km2, ST_AsBinary(geom) FROM provinces "
                                 "WHERE code IN ('10', '50', '96')")).all()
    for code, area_km2, geom in rows:
        expected = abs(geod.geometry_area_perimeter(wkb.loads(bytes(geom)))[0]) / 1e6
        assert area_km2 == pytest.approx(expected, rel=1e-3), code
    bangkok = _scalar(engine, "SELECT area_km2 FROM provinces WHERE code = '10'")
    assert 1450 < bangkok < 1700  # official figure: 1,568.7 km²


def test_regions_follow_both_schemes(loaded: LoadReport, engine: Engine) -> None:
    with engine.connect() as conn:
        cdd = dict(conn.execute(text(
            "SELECT region, count(*) FROM provinces GROUP BY region")).all())
        nesdb = dict(conn.execute(text(
            "SELECT region_nesdb, count(*) FROM provinces GROUP BY region_nesdb")).all())
    assert cdd == {"central": 26, "north": 17, "northeast": 20, "south": 14}
    assert nesdb == {"central": 22, "north": 9, "northeast": 20, "east": 7, "west": 5,
                     "south": 14}
    assert _scalar(engine, "SELECT region FROM districts WHERE code = '6001'") == "north"


def test_simplified_subdistricts_still_share_edges(loaded: LoadReport, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT ST_AsBinary(geom), ST_AsBinary(geom_lod1), ST_AsBinary(geom_lod2),
                   ST_AsBinary(geom_lod3)
            FROM subdistricts WHERE province_code = '50'
        """)).all()
    full, *lods = ([wkb.loads(bytes(r[i])) for r in rows] for i in range(4))
    assert shapely.coverage_is_valid(full)  # the source is a clean coverage here
    vertices = [int(shapely.get_num_coordinates(g).sum()) for g in (full, *lods)]
    assert vertices == sorted(vertices, reverse=True)  # each level is coarser
    assert vertices[3] < 0.6 * vertices[0]
    union_full = shapely.union_all(full)
    for simplified in lods:
        assert shapely.coverage_is_valid(simplified)  # no overlaps, edges still shared
        # no gaps: the union of the simplified parts covers (nearly) the same land
        union_simple = shapely.union_all(simplified)
        assert union_simple.symmetric_difference(union_full).area < 0.02 * union_full.area
        assert _holes(union_simple) <= _holes(union_full)  # no slivers opened between units


def _holes(geom: shapely.Geometry) -> int:
    parts = getattr(geom, "geoms", [geom])
    return sum(len(p.interiors) for p in parts)


# -- reloads and bad input, in a database of their own ------------------------------------------

@pytest.fixture
def scratch_engine(copy_database: Callable[..., str]) -> Iterator[Engine]:
    engine = engine_for(copy_database("cddgis_test_loader", empty=True))
    yield engine
    engine.dispose()


def test_cp874_shapefile_declaring_utf8_is_read_as_thai(tmp_path: Path, data_dir: Path,
                                                       scratch_engine: Engine) -> None:
    folder = make_dataset(data_dir, tmp_path / "cp874", {NAKHON_PATHOM}, encoding="cp874",
                          declared="UTF-8")
    report = load_boundaries(scratch_engine, folder)
    assert report.encodings["subdistrict"] == "cp874"
    assert report.counts == {"province": 1, "district": 7, "subdistrict": 106}
    assert _scalar(scratch_engine,
                   "SELECT source_name_th FROM provinces WHERE code = '73'") == "นครปฐม"
    assert _scalar(scratch_engine,
                   "SELECT source_name_th FROM subdistricts WHERE code = '730101'") \
        == "พระปฐมเจดีย์"


@pytest.mark.parametrize("form", ["geojson", "gpkg"])
def test_geojson_and_geopackage_load_the_same(form: str, tmp_path: Path, data_dir: Path,
                                              scratch_engine: Engine) -> None:
    folder = make_dataset(data_dir, tmp_path / form, {NAKHON_PATHOM}, form=form)
    report = load_boundaries(scratch_engine, folder)
    assert report.counts == {"province": 1, "district": 7, "subdistrict": 106}
    assert _scalar(scratch_engine, "SELECT name_en FROM districts WHERE code = '7301'") \
        == "Mueang Nakhon Pathom"


def test_invalid_geometry_is_repaired_and_reported(tmp_path: Path, data_dir: Path,
                                                   scratch_engine: Engine) -> None:
    def plant_bowtie(frame):
        row = frame.index[frame["ADM3_PCODE"] == "TH730101"][0]
        x0, y0, x1, y1 = frame.geometry[row].bounds
        frame.loc[row, "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
        return frame

    folder = make_dataset(data_dir, tmp_path / "bowtie", {NAKHON_PATHOM},
                          edit={3: plant_bowtie})
    report = load_boundaries(scratch_engine, folder)
    repaired = _issues(scratch_engine, report.load_id, "geometry_repaired")
    assert "730101" in repaired and "Self-intersection" in repaired["730101"]
    assert _scalar(scratch_engine, "SELECT ST_IsValid(geom) AND ST_NumGeometries(geom) = 2 "
                                   "FROM subdistricts WHERE code = '730101'")


def test_unknown_code_is_kept_and_flagged(tmp_path: Path, data_dir: Path,
                                          scratch_engine: Engine) -> None:
    def recode(frame):
        frame.loc[frame["ADM3_PCODE"] == "TH730101", "ADM3_PCODE"] = "TH730199"
        return frame

    folder = make_dataset(data_dir, tmp_path / "recoded", {NAKHON_PATHOM}, edit={3: recode})
    report = load_boundaries(scratch_engine, folder)
    assert "730199" in _issues(scratch_engine, report.load_id, "not_in_registry")
    assert "730101" in _issues(scratch_engine, report.load_id, "missing_geometry")
    assert _scalar(scratch_engine, "SELECT name_th FROM subdistricts WHERE code = '730199'") \
        == "พระปฐมเจดีย์"


def test_bad_code_names_the_feature(tmp_path: Path, data_dir: Path,
                                    scratch_engine: Engine) -> None:
    def break_code(frame):
        frame.loc[2, "ADM2_PCODE"] = "TH73X3"
        return frame

    folder = make_dataset(data_dir, tmp_path / "badcode", {NAKHON_PATHOM}, edit={2: break_code})
    with pytest.raises(BoundaryLoadError, match=r"feature 3: ADM2_PCODE 'TH73X3' is not a "
                                                r"4-digit DOPA code"):
        load_boundaries(scratch_engine, folder)


def test_missing_files_say_where_to_get_them(tmp_path: Path, scratch_engine: Engine) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BoundaryLoadError) as failure:
        load_boundaries(scratch_engine, tmp_path / "empty")
    message = str(failure.value)
    assert "cod-ab-tha" in message and "cddgis load boundaries" in message
    assert "ADM1 (province)" in message


def _load_small(tmp_path: Path, data_dir: Path, engine: Engine) -> LoadReport:
    return load_boundaries(engine, make_dataset(data_dir, tmp_path / "good", {NAKHON_PATHOM}))


def test_broken_file_leaves_previous_boundaries(tmp_path: Path, data_dir: Path,
                                                scratch_engine: Engine) -> None:
    first = _load_small(tmp_path, data_dir, scratch_engine)
    before = _counts(scratch_engine)
    broken = make_dataset(data_dir, tmp_path / "broken", {NAKHON_PATHOM})
    (broken / "tha_admbnda_adm3_test.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(BoundaryLoadError, match=r"tha_admbnda_adm3_test\.zip"):
        load_boundaries(scratch_engine, broken)
    assert _counts(scratch_engine) == before
    assert _scalar(scratch_engine, "SELECT max(id) FROM boundary_loads") == first.load_id


def test_failure_during_write_rolls_back(tmp_path: Path, data_dir: Path,
                                         scratch_engine: Engine) -> None:
    first = _load_small(tmp_path, data_dir, scratch_engine)
    bigger = make_dataset(data_dir, tmp_path / "two", {NAKHON_PATHOM, "12"})

    def fail(conn) -> None:
        assert conn.execute(text("SELECT count(*) FROM provinces")).scalar() == 2
        raise OSError("disk full")

    with pytest.raises(BoundaryLoadError, match="nothing was changed: disk full"):
        load_boundaries(scratch_engine, bigger, before_commit=fail)
    assert _counts(scratch_engine) == {"provinces": 1, "districts": 7, "subdistricts": 106}
    assert _scalar(scratch_engine, "SELECT max(load_id) FROM provinces") == first.load_id

    second = load_boundaries(scratch_engine, bigger)
    assert _counts(scratch_engine)["provinces"] == 2
    assert _scalar(scratch_engine, "SELECT min(load_id) FROM subdistricts") == second.load_id


def test_not_a_zip_is_a_clear_error(tmp_path: Path, data_dir: Path,
                                    scratch_engine: Engine) -> None:
    folder = make_dataset(data_dir, tmp_path / "html", {NAKHON_PATHOM})
    (folder / "tha_admbnda_adm2_test.zip").write_text("<html>404 Not Found</html>")
    with pytest.raises(BoundaryLoadError, match=r"tha_admbnda_adm2_test\.zip: cannot be read"):
        load_boundaries(scratch_engine, folder)
    assert zipfile.is_zipfile(folder / "tha_admbnda_adm1_test.zip")


def test_cli_load_reports_and_exits_nonzero_on_failure(tmp_path: Path, data_dir: Path,
                                                       scratch_engine: Engine,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", scratch_engine.url.render_as_string(hide_password=False))
    folder = make_dataset(data_dir, tmp_path / "cli", {NAKHON_PATHOM})
    assert cli(["load", "boundaries", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "provinces          1" in out and "subdistricts     106" in out
    assert cli(["load", "boundaries", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "the database was not changed" in err and "cod-ab-tha" in err
    assert cli(["load", "boundaries", str(folder), "--if-empty"]) == 0
    assert "already loaded" in capsys.readouterr().out


def test_load_if_changed_loads_only_what_changed(tmp_path: Path, data_dir: Path,
                                                 scratch_engine: Engine,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 20, item 7: `make run` with nothing new is quick (`load … --if-changed` skips),
    but a changed data file is loaded again without anyone remembering a flag."""
    import os

    from gis.loads import LOADERS, current

    monkeypatch.setenv("DATABASE_URL", scratch_engine.url.render_as_string(hide_password=False))
    folder = make_dataset(data_dir, tmp_path / "changed", {NAKHON_PATHOM})
    assert cli(["load", "boundaries", str(folder), "--if-changed"]) == 0
    assert "provinces          1" in capsys.readouterr().out  # nothing recorded yet: loads
    recorded = _scalar(scratch_engine, "SELECT fingerprint FROM loaded_inputs "
                                       "WHERE loader = 'boundaries'")
    assert recorded == current(LOADERS["boundaries"], folder)
    loaded_at = _scalar(scratch_engine, "SELECT loaded_at FROM loaded_inputs")

    assert cli(["load", "boundaries", str(folder), "--if-changed"]) == 0
    assert "nothing new" in capsys.readouterr().out
    assert _scalar(scratch_engine, "SELECT loaded_at FROM loaded_inputs") == loaded_at

    # A new release of one file (same name, new content and time): loaded again.
    one = sorted(folder.glob("*.zip"))[0]
    stat = one.stat()
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cli(["load", "boundaries", str(folder), "--if-changed"]) == 0
    assert "provinces          1" in capsys.readouterr().out
    assert _scalar(scratch_engine, "SELECT fingerprint FROM loaded_inputs") != recorded

    # An emptied table is loaded again whatever was recorded.
    with scratch_engine.begin() as conn:
        conn.execute(text("TRUNCATE provinces, districts, subdistricts CASCADE"))
    assert cli(["load", "boundaries", str(folder), "--if-changed"]) == 0
    assert _counts(scratch_engine)["provinces"] == 1

    # A load that fails records nothing: the next start tries again.
    before = _scalar(scratch_engine, "SELECT fingerprint FROM loaded_inputs")
    (folder / "tha_admbnda_adm2_test.zip").write_text("<html>404 Not Found</html>")
    assert cli(["load", "boundaries", str(folder), "--if-changed"]) == 1
    assert _scalar(scratch_engine, "SELECT fingerprint FROM loaded_inputs") == before


def test_a_database_at_the_newest_migration_is_known_without_alembic(
        scratch_engine: Engine, copy_database: Callable[..., str]) -> None:
    """Every `cddgis` command and every start checks the schema; at the newest migration that
    is one query (`gis.migrate.at_head`), on a new database Alembic migrates."""
    from gis.migrate import at_head, head_revision

    url = scratch_engine.url.render_as_string(hide_password=False)
    assert head_revision() == _scalar(scratch_engine, "SELECT version_num FROM alembic_version")
    assert at_head(url)
    with scratch_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0015'"))
    assert not at_head(url)
    with scratch_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :head"),
                     {"head": head_revision()})
    bare = copy_database("cddgis_test_no_schema", empty=True)
    bare_engine = engine_for(bare)
    with bare_engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert not at_head(bare)
    bare_engine.dispose()
