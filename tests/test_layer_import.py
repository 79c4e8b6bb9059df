"""The layer importer on real-world-shaped files, against real PostGIS with the real boundaries.

Every bad file must give its reason (naming the row) and leave the database exactly as it was.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from openpyxl import Workbook
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import Engine, text

from cddgis.cli import main as cli
from gis.db import engine_for
from gis.layer_store import import_file
from layers.definitions import LAYERS
from layers.importer import ImportReport

KNN = LAYERS["khok-nong-na"]
LC = LAYERS["learning-centers"]
HEADER = ["รหัสแปลง", "หมู่ที่", "ขนาดแปลง (ไร่)", "ชื่อเจ้าของแปลง", "ระดับโมเดล", "เอกสารสิทธิ์",
          "ปีงบประมาณ", "จังหวัด", "ละติจูด", "ลองจิจูด"]
# Real places: Chiang Mai old city, Lamphun town, the Gulf of Thailand, Vientiane (Laos).
CHIANG_MAI = (18.7883, 98.9853)
LAMPHUN = (18.5790, 99.0087)
GULF = (10.5, 101.0)
VIENTIANE = (17.9667, 102.6000)


def plot(key: str, lat_lon: tuple[float, float], *, size: object = 3, level: str = "HLM",
         province: str = "เชียงใหม่", owner: str = "นายสมชาย ใจดี") -> list[object]:
    return [key, 3, size, owner, level, "โฉนด", 2564, province, lat_lon[0], lat_lon[1]]


def write_csv(path: Path, rows: list[list[object]], *, header: list[str] = HEADER,
              encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def db(copy_database: Callable[..., str]) -> Engine:
    """A database of its own, with the real boundaries, so imports here touch nothing else."""
    return engine_for(copy_database("cddgis_test_import"))


@pytest.fixture(autouse=True)
def empty_layers(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(text("DELETE FROM layer_features"))


def fingerprint(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        return conn.execute(text("""
            SELECT count(*), coalesce(md5(string_agg(
                layer || key || properties::text || personal::text || ST_AsText(geom), '|'
                ORDER BY layer, key)), '')
            FROM layer_features
        """)).one()


def refused(engine: Engine, path: Path, **kwargs: object) -> ImportReport:
    """Imports a bad file and checks that nothing changed."""
    before = fingerprint(engine)
    report = import_file(engine, kwargs.pop("layer", KNN), path, **kwargs)
    assert not report.committed
    assert fingerprint(engine) == before
    return report


def reasons(report: ImportReport, row: int) -> str:
    found = [r for r in report.rows if r.row == row]
    assert found, f"no row {row} in the report"
    return "; ".join(found[0].errors + found[0].warnings)


def test_thai_csv_commits_and_keeps_personal_data_apart(tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / "plots.csv", [plot("A1", CHIANG_MAI), plot("A2", LAMPHUN,
                                                                            province="ลำพูน")])
    report = import_file(db, KNN, path)
    assert report.committed and report.inserted == 2 and report.counts()["error"] == 0
    with db.connect() as conn:
        props, personal, province = conn.execute(text(
            "SELECT properties, personal, province_code FROM layer_features WHERE key = 'A1'"
        )).one()
    assert personal == {"owner_name": "นายสมชาย ใจดี"}
    assert "owner_name" not in props
    assert props["model_level"] == "HLM" and props["land_title"] == "chanot"
    assert province == "50"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp874"])
def test_bom_and_thai_windows_encodings(encoding: str, tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / f"{encoding}.csv", [plot("E1", CHIANG_MAI)], encoding=encoding)
    report = import_file(db, KNN, path)
    assert report.committed, report.summary()
    with db.connect() as conn:
        owner = conn.execute(text("SELECT personal->>'owner_name' FROM layer_features")).scalar()
    assert owner == "นายสมชาย ใจดี"


def test_xlsx_with_english_headers(tmp_path: Path, db: Engine) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Center ID", "Name", "Place", "Budget year", "Ready", "Phone", "Latitude",
                  "Longitude"])
    sheet.append(["LC-1", "ศูนย์เรียนรู้ฯ บ้านหนองบัว", "ต.ศรีภูมิ", 2563, "พร้อม", 812345678,
                  *CHIANG_MAI])
    book.save(tmp_path / "centers.xlsx")
    report = import_file(db, LC, tmp_path / "centers.xlsx")
    assert report.committed, report.summary()
    with db.connect() as conn:
        props = conn.execute(text("SELECT properties FROM layer_features")).scalar()
    assert props["ready"] is True and props["budget_year"] == 2563
    assert props["phone"] == "0812345678"  # Excel dropped the leading zero; we put it back


@pytest.mark.parametrize("form", ["geojson", "shapefile", "gpkg"])
def test_gis_formats(form: str, tmp_path: Path, db: Engine) -> None:
    frame = gpd.GeoDataFrame(
        {"center_id": ["G1", "G2"], "name": ["ศูนย์เรียนรู้ฯ บ้านแม่ริม", "ศูนย์เรียนรู้ฯ บ้านสันทราย"]},
        geometry=[Point(CHIANG_MAI[1], CHIANG_MAI[0]), Point(LAMPHUN[1], LAMPHUN[0])], crs=4326)
    if form == "geojson":
        path = tmp_path / "c.geojson"
        pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    elif form == "gpkg":
        path = tmp_path / "c.gpkg"
        pyogrio.write_dataframe(frame.to_crs(32647), path, driver="GPKG")  # UTM 47N inside
    else:
        pyogrio.write_dataframe(frame, tmp_path / "c.shp", encoding="cp874")
        path = tmp_path / "c.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for part in tmp_path.glob("c.*"):
                if part.suffix != ".zip":
                    zf.write(part, part.name)
    report = import_file(db, LC, path)
    assert report.committed, report.summary()
    with db.connect() as conn:
        rows = dict(conn.execute(text(
            "SELECT key, name || ' ' || district_code FROM layer_features")).all())
    assert rows == {"G1": "ศูนย์เรียนรู้ฯ บ้านแม่ริม 5001", "G2": "ศูนย์เรียนรู้ฯ บ้านสันทราย 5101"}


def test_swapped_coordinates_are_corrected_with_a_warning(tmp_path: Path, db: Engine) -> None:
    swapped = (CHIANG_MAI[1], CHIANG_MAI[0])
    report = import_file(db, KNN, write_csv(tmp_path / "s.csv", [plot("S1", swapped)]))
    assert report.committed
    assert "latitude and longitude were swapped" in reasons(report, 2)
    with db.connect() as conn:
        assert conn.execute(text("SELECT province_code FROM layer_features")).scalar() == "50"


def test_points_in_the_sea_or_in_laos_are_errors(tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / "out.csv", [plot("O1", CHIANG_MAI), plot("O2", GULF),
                                           plot("O3", VIENTIANE)])
    report = refused(db, path)
    assert "lies outside Thailand" in reasons(report, 3)
    assert "lies outside Thailand" in reasons(report, 4)
    assert report.rows[0].status == "ok"


def test_valid_only_commits_the_good_rows(tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / "mixed.csv", [plot("V1", CHIANG_MAI), plot("V2", GULF)])
    report = import_file(db, KNN, path, valid_only=True)
    assert report.committed and report.inserted == 1
    with db.connect() as conn:
        assert conn.execute(text("SELECT array_agg(key) FROM layer_features")).scalar() == ["V1"]


def test_wrong_province_is_warned_not_dropped(tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / "w.csv", [plot("W1", LAMPHUN, province="เชียงใหม่")])
    report = import_file(db, KNN, path)
    assert report.committed
    assert "stated province 50 but the point lies in 51 (ลำพูน)" in reasons(report, 2)
    with db.connect() as conn:
        given, actual = conn.execute(text(
            "SELECT given_province_code, province_code FROM layer_features")).one()
    assert (given, actual) == ("50", "51")


def test_duplicates_by_id_and_by_name_nearby(tmp_path: Path, db: Engine) -> None:
    path = write_csv(tmp_path / "d.csv", [plot("D1", CHIANG_MAI), plot("D1", LAMPHUN)])
    report = refused(db, path)
    assert "duplicate plot_id 'D1': same as row 2" in reasons(report, 3)

    near = (CHIANG_MAI[0] + 0.0001, CHIANG_MAI[1])  # about 11 m north
    centers = tmp_path / "n.csv"
    write_csv(centers, [["N1", "ศูนย์เรียนรู้ฯ บ้านดอย", *CHIANG_MAI],
                        ["N2", "ศูนย์เรียนรู้ฯ บ้านดอย", *near]],
              header=["รหัสศูนย์", "ชื่อศูนย์", "ละติจูด", "ลองจิจูด"])
    report = import_file(db, LC, centers)
    assert report.committed
    assert "possible duplicate: same name" in reasons(report, 3)


def test_missing_required_column(tmp_path: Path, db: Engine) -> None:
    header = [h for h in HEADER if h != "ระดับโมเดล"]
    rows = [[v for h, v in zip(HEADER, plot("M1", CHIANG_MAI), strict=True) if h != "ระดับโมเดล"]]
    report = refused(db, write_csv(tmp_path / "m.csv", rows, header=header))
    assert "missing required column(s): ระดับโมเดล / Model level" in report.file_problems[0]


def test_missing_value_bad_number_bad_choice_long_text(tmp_path: Path, db: Engine) -> None:
    rows = [plot("", CHIANG_MAI), plot("B2", CHIANG_MAI, size="สามไร่"),
            plot("B3", CHIANG_MAI, level="ใหญ่"), plot("B4", CHIANG_MAI, owner="ก" * 1500),
            plot("B5", CHIANG_MAI, size=9999)]
    report = refused(db, write_csv(tmp_path / "b.csv", rows))
    assert "รหัสแปลง: ไม่มีค่า (ต้องกรอก) / missing (required)" in reasons(report, 2)
    assert "ขนาดแปลง (ไร่): 'สามไร่' is not a number" in reasons(report, 3)
    assert "ระดับโมเดล: 'ใหญ่' ไม่ใช่ค่าที่รับได้ / is not one of the allowed values" in reasons(report, 4)
    assert "1,500 characters long; at most 1,000" in reasons(report, 5)
    assert "9999 is above the largest allowed (500)" in reasons(report, 6)


def test_control_characters_are_row_errors_and_nothing_is_written(tmp_path: Path,
                                                                  db: Engine) -> None:
    """A NUL byte in a CSV cell past the file's first bytes (or any other control character
    but tab and line breaks) is an error naming the row and the column; PostgreSQL cannot store
    NUL in text, and before, the import failed in the database, not in the report. (GDAL reads
    a GeoJSON "\u0000" as the end of the string, so GIS files never bring one.)"""
    # 60 good rows first: a NUL in the first 4 kB makes the file "not a text file" instead.
    rows = [plot(f"N{i}", CHIANG_MAI) for i in range(60)]
    rows += [plot("NUL", CHIANG_MAI, owner="นาย\x00สมชาย"),
             plot("ESC", CHIANG_MAI, owner="นาย\x1bสมชาย"), plot("N99", CHIANG_MAI)]
    path = write_csv(tmp_path / "nul.csv", rows)
    assert path.read_bytes().index(b"\x00") > 4096
    report = refused(db, path)
    assert "ชื่อเจ้าของแปลง" in reasons(report, 62) and "U+0000" in reasons(report, 62)
    assert "U+001B" in reasons(report, 63)
    assert report.rows[0].status == "ok"


def test_empty_and_header_only_files(tmp_path: Path, db: Engine) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert refused(db, tmp_path / "empty.csv").file_problems == [
        "ไฟล์ empty.csv ว่างเปล่า / empty.csv is empty"]
    header_only = write_csv(tmp_path / "header.csv", [])
    assert "no data rows" in refused(db, header_only).file_problems[0]


def test_files_that_are_not_what_their_name_says(tmp_path: Path, db: Engine) -> None:
    book = Workbook()
    book.active.append(["a"])
    book.save(tmp_path / "real.xlsx")
    (tmp_path / "sheet.csv").write_bytes((tmp_path / "real.xlsx").read_bytes())
    report = refused(db, tmp_path / "sheet.csv")
    assert report.file_problems == [
        "sheet.csv มีนามสกุล .csv แต่เนื้อหาเป็น an Excel workbook (XLSX) เปลี่ยนชื่อให้ตรงกับเนื้อหา / "
        "sheet.csv is named .csv but holds an Excel workbook (XLSX); rename it to match what it is"]
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    assert "is not a text file" in refused(db, tmp_path / "photo.csv").file_problems[0]


def test_projected_coordinates(tmp_path: Path, db: Engine) -> None:
    to_utm = Transformer.from_crs(4326, 32647, always_xy=True)
    easting, northing = to_utm.transform(CHIANG_MAI[1], CHIANG_MAI[0])
    path = write_csv(tmp_path / "utm.csv", [plot("U1", (northing, easting))])
    report = refused(db, path)
    assert "coordinates look projected (UTM metres)" in reasons(report, 2)
    report = import_file(db, KNN, path, crs="EPSG:32647")
    assert report.committed, report.summary()
    with db.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM layer_features")).one()
    assert x == pytest.approx(CHIANG_MAI[1], abs=1e-5) and y == pytest.approx(CHIANG_MAI[0],
                                                                              abs=1e-5)


def test_reimport_updates_by_natural_key_and_every_import_is_recorded(tmp_path: Path,
                                                                      db: Engine) -> None:
    first = import_file(db, KNN, write_csv(tmp_path / "1.csv", [plot("R1", CHIANG_MAI)]))
    second = import_file(db, KNN, write_csv(tmp_path / "2.csv", [plot("R1", CHIANG_MAI,
                                                                      size=7)]))
    assert (first.inserted, second.inserted, second.updated) == (1, 0, 1)
    dry = import_file(db, KNN, write_csv(tmp_path / "3.csv", [plot("R2", CHIANG_MAI)]),
                      dry_run=True)
    assert not dry.committed
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*), max((properties->>'plot_size_rai')::float) "
                                 "FROM layer_features")).one() == (1, 7.0)
        recorded = conn.execute(text(
            "SELECT mode, committed, rows_total, length(file_sha256) FROM layer_imports "
            "WHERE id IN (:a, :b, :c) ORDER BY id"),
            {"a": first.import_id, "b": second.import_id, "c": dry.import_id}).all()
    assert recorded == [("all-or-nothing", True, 1, 64), ("all-or-nothing", True, 1, 64),
                        ("dry-run", False, 1, 64)]


def test_cli_exit_status_and_report(tmp_path: Path, db: Engine,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url.render_as_string(hide_password=False))
    bad = write_csv(tmp_path / "bad.csv", [plot("C1", CHIANG_MAI), plot("C2", GULF)])
    report_path = tmp_path / "report.csv"
    assert cli(["import", "khok-nong-na", str(bad), "--report", str(report_path)]) == 1
    assert "NOT committed: the database is unchanged" in capsys.readouterr().out
    lines = report_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,key,status,reasons" and lines[1] == "2,C1,ok,"
    assert lines[2].startswith("3,C2,error,") and "outside Thailand" in lines[2]
    assert cli(["import", "khok-nong-na", str(bad), "--valid-only"]) == 0
    assert cli(["import", "no-such-layer", str(bad)]) == 2
