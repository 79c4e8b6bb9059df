"""Bad input, replayed from a corpus (``tests/bad_input/``): every request and file there has the
answer it must get. A bad request is a 400 naming the parameter (or a 404 for an id), never a
5xx; a bad file is a row error naming the row, never silent corruption or a whole-file refusal.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pyproj import Transformer
from sqlalchemy import Engine, text

from core.schema import Field
from core.values import BadValue, Converted, parse
from gis.boundary_store import load_boundaries
from gis.cluster import ClusterInfo, create_database
from gis.db import engine_for
from gis.layer_store import import_file
from gis.migrate import upgrade
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.workers import db_name
from web import create_app

CORPUS = Path(__file__).parent / "bad_input"
REQUESTS = json.loads((CORPUS / "requests.json").read_text(encoding="utf-8"))
FILES = json.loads((CORPUS / "files.json").read_text(encoding="utf-8"))
KNN = LAYERS["khok-nong-na"]
LC = LAYERS["learning-centers"]
CHIANG_MAI = (18.7883, 98.9853)


# -- requests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", REQUESTS, ids=[c["url"][:90] for c in REQUESTS])
def test_bad_requests_get_4xx_naming_the_parameter(client: FlaskClient, case: dict) -> None:
    response = client.get(case["url"])
    body = response.get_data(as_text=True)
    assert response.status_code == case["status"], body[:500]
    if "mentions" in case:
        assert case["mentions"] in json.loads(body)["description"]


def test_like_wildcards_in_searches_are_literal(client: FlaskClient) -> None:
    for q in ("%", "_", "%25", "__"):
        body = client.get(f"/api/places?q={q}").get_json()
        assert body["places"] == [], (q, body["places"][:3])
    for q in ("%", "_"):
        body = client.get(f"/api/collections/learning-centers/items?q={q}").get_json()
        assert body["numberMatched"] == 0, q
    # and real searches still work
    assert client.get("/api/places?q=เชียงใหม่").get_json()["places"]


# -- the import database ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def import_url(cluster: ClusterInfo, data_dir: Path) -> str:
    """A database of its own, with the real boundaries, so imports here touch nothing else."""
    url = create_database(cluster, db_name("cddgis_test_bad_input"), drop_first=True)
    upgrade(url)
    load_boundaries(engine_for(url), data_dir)
    return url


@pytest.fixture(scope="module")
def db(import_url: str) -> Engine:
    return engine_for(import_url)


@pytest.fixture(autouse=False)
def empty(db: Engine) -> Engine:
    with db.begin() as conn:
        conn.execute(text("DELETE FROM layer_features"))
    return db


@pytest.fixture(scope="module")
def own_client(settings: Settings, import_url: str) -> FlaskClient:
    """The app over the import database: downloads made here go back into the importer."""
    app = create_app(settings, database_url=import_url)
    app.config["TESTING"] = True
    return app.test_client()


def _reasons(report, row: int) -> tuple[str, str]:
    found = [r for r in report.rows if r.row == row]
    assert found, f"no row {row} in the report: {report.summary()}"
    return found[0].status, "; ".join(found[0].errors + found[0].warnings)


def _stored(db: Engine, layer: str) -> dict[str, dict]:
    with db.connect() as conn:
        return dict(conn.execute(text("SELECT key, properties FROM layer_features "
                                      "WHERE layer = :l"), {"l": layer}).all())


# -- files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", FILES, ids=[c["file"] for c in FILES])
def test_bad_files_get_their_answer(case: dict, empty: Engine) -> None:
    report = import_file(empty, LAYERS[case["layer"]], CORPUS / case["file"])
    assert report.committed == case["committed"], report.summary()
    for row, expected in case["rows"].items():
        status, reasons = _reasons(report, int(row))
        if expected:
            assert expected in reasons, (row, reasons)
        else:
            assert status == "ok", (row, reasons)
    stored = _stored(empty, case["layer"])
    for key, fields in case.get("stored", {}).items():
        for name, value in fields.items():
            assert stored[key][name] == value, (key, name, stored[key])


NUMBER = Field("n", "float", "จำนวน", "Number", maximum=10**9, minimum=-10**9)


@pytest.mark.parametrize(("raw", "value", "note"), [
    ("1,234", 1234, None), ("12,345.6", 12345.6, None), ("1,234,567", 1234567, None),
    ("-1,234", -1234, None), ("๑,๒๓๔", 1234, None), ("3", 3, None), ("0.5", 0.5, None),
    ("2,5", 2.5, "read as 2.5"), ("12,75", 12.75, "read as 12.75"),
])
def test_numbers_read_by_rules(raw: str, value: float, note: str | None) -> None:
    if note is None:
        assert parse(NUMBER, raw) == value
    else:
        with pytest.raises(Converted) as converted:
            parse(NUMBER, raw)
        assert converted.value.value == value and note in converted.value.note


@pytest.mark.parametrize("raw", ["1,2,3", "12,34,567", "1.234,5", "1,23.4", ",5", "1,,234"])
def test_numbers_that_cannot_be_read_safely(raw: str) -> None:
    with pytest.raises(BadValue):
        parse(NUMBER, raw)


def test_utm_with_thousands_separators_and_decimal_commas(tmp_path: Path, empty: Engine) -> None:
    easting, northing = Transformer.from_crs(4326, 32647, always_xy=True).transform(
        CHIANG_MAI[1], CHIANG_MAI[0])
    path = tmp_path / "utm.csv"
    path.write_text("\n".join([
        "รหัสศูนย์;ชื่อศูนย์;easting;northing;zone",
        f"U1;ศูนย์ ก;{easting:.1f};{northing:.1f};47".replace(".", ","),
        f"U2;ศูนย์ ข;\"{easting:,.1f}\";\"{northing:,.1f}\";47",
        "U3;ศูนย์ ค;1,2,3;2,000,000;47",
    ]) + "\n", encoding="utf-8")
    report = import_file(empty, LC, path, valid_only=True)
    assert report.committed and report.inserted == 2, report.summary()
    assert "read as" in _reasons(report, 2)[1]
    assert _reasons(report, 3)[0] == "ok"
    assert "easting/northing" in _reasons(report, 4)[1]
    with empty.connect() as conn:
        points = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM layer_features")).all()
    for x, y in points:
        assert x == pytest.approx(CHIANG_MAI[1], abs=1e-5)
        assert y == pytest.approx(CHIANG_MAI[0], abs=1e-5)


def test_dialects_tab_pipe_and_one_column(tmp_path: Path, empty: Engine) -> None:
    for sep in ("\t", "|", ";"):
        path = tmp_path / "d.csv"
        path.write_text(sep.join(["รหัสศูนย์", "ชื่อศูนย์", "ที่ตั้ง", "ละติจูด", "ลองจิจูด"]) + "\n"
                        + sep.join(["T1", "ศูนย์ 'ก', บ้านดอย", '"a, b"', "18.7883",
                                    "98.9853"]) + "\n", encoding="utf-8")
        report = import_file(empty, LC, path, dry_run=True)
        assert report.counts()["ok"] == 1, (repr(sep), report.summary())


def test_a_too_long_cell_is_that_rows_error(tmp_path: Path, empty: Engine) -> None:
    path = tmp_path / "long.csv"
    path.write_text("\n".join([
        "รหัสศูนย์,ชื่อศูนย์,ที่ตั้ง,ละติจูด,ลองจิจูด",
        "L1,ศูนย์ ก,บ้าน,18.7883,98.9853",
        "L2,ศูนย์ ข," + "ก" * 200_000 + ",18.5790,99.0087",
        "L3,ศูนย์ ค,บ้าน,18.7000,98.9500",
    ]) + "\n", encoding="utf-8")
    report = import_file(empty, LC, path, valid_only=True)
    assert report.committed and report.inserted == 2, report.summary()
    status, reasons = _reasons(report, 3)
    assert status == "error" and "200,000 characters" in reasons
    assert set(_stored(empty, LC.id)) == {"L1", "L3"}


def test_a_too_long_required_cell_is_not_also_missing(tmp_path: Path, empty: Engine) -> None:
    """One problem, one message: a required cell dropped as too long was also "missing"."""
    path = tmp_path / "long-name.csv"
    path.write_text("รหัสศูนย์,ชื่อศูนย์,ละติจูด,ลองจิจูด\n"
                    "L9," + "ก" * 200_000 + ",18.7883,98.9853\n", encoding="utf-8")
    status, reasons = _reasons(import_file(empty, LC, path, dry_run=True), 2)
    assert status == "error" and "200,000 characters" in reasons
    assert "missing" not in reasons


def test_a_month_first_date_says_day_first(tmp_path: Path, empty: Engine) -> None:
    from core.values import BadValue, parse

    field = next(f for layer in LAYERS.values() for f in layer.fields if f.type == "date")
    with pytest.raises(BadValue, match="day first, then month") as caught:
        parse(field, "03/15/2564")
    assert "วันก่อนเดือน" in str(caught.value)
    with pytest.raises(BadValue, match="not a real date"):
        parse(field, "31/02/2564")


def test_the_summary_lists_errors_before_warnings(tmp_path: Path, empty: Engine) -> None:
    """The CLI summary showed 15 warnings and hid the errors behind them."""
    path = tmp_path / "mixed.csv"
    warned = [f"W{i},ศูนย์ {i},2021,18.{7000 + i},98.9853" for i in range(20)]  # C.E. year
    broken = [f"E{i},ศูนย์ {i},ปีไหน,18.{8000 + i},98.9853" for i in range(5)]
    path.write_text("รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"
                    + "\n".join(warned + broken) + "\n", encoding="utf-8")
    summary = import_file(empty, LC, path, dry_run=True).summary()
    listed = [line for line in summary.splitlines() if line.startswith("  row ")]
    assert [line.split(": ")[1] for line in listed[:5]] == ["error"] * 5, summary


def test_zip_bombs_are_refused(tmp_path: Path, empty: Engine) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(300):
                member.write(bytes(2**20))
    report = import_file(empty, LC, path)
    assert not report.committed
    assert "expands to" in report.file_problems[0], report.file_problems


def test_many_rows_at_one_place_each_warned_once(tmp_path: Path, empty: Engine) -> None:
    rows = [["รหัสศูนย์", "ชื่อศูนย์", "ละติจูด", "ลองจิจูด"]]
    rows += [[f"S{i}", "ศูนย์เดียวกัน", *CHIANG_MAI] for i in range(400)]
    path = tmp_path / "same.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    report = import_file(empty, LC, path, dry_run=True)
    assert report.rows[0].status == "ok"
    for r in report.rows[1:]:
        assert len(r.warnings) == 1 and "possible duplicate: same name" in r.warnings[0]


# -- downloads going back in (item 3) and formulas going out (item 4) --------------------------

def test_reimporting_the_download_keeps_personal_data_and_the_sample_flag(
        tmp_path: Path, empty: Engine, own_client: FlaskClient) -> None:
    first = tmp_path / "first.csv"
    first.write_text("รหัสแปลง,ขนาดแปลง (ไร่),ชื่อเจ้าของแปลง,ระดับโมเดล,ปีงบประมาณ,หมู่ที่,ละติจูด,"
                     f"ลองจิจูด\nR1,3,นายสมชาย ใจดี,HLM,2564,4,{CHIANG_MAI[0]},{CHIANG_MAI[1]}\n",
                     encoding="utf-8")
    assert import_file(empty, KNN, first, sample=True).committed
    download = own_client.get("/api/collections/khok-nong-na/items?f=csv")
    assert download.status_code == 200
    text_ = download.get_data(as_text=True)
    assert "นายสมชาย" not in text_  # the public download leaves the owner out
    # The user edits the plot size in the download and drops the village number column.
    table = list(csv.DictReader(io.StringIO(text_.lstrip("\ufeff"))))
    table[0]["plot_size_rai"] = "7"
    edited = tmp_path / "edited.csv"
    columns = [c for c in table[0] if c != "village_no"]
    with edited.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table)

    dry = import_file(empty, KNN, edited, dry_run=True)
    assert not dry.committed and dry.updated == 1 and dry.inserted == 0, dry.summary()
    changes = "; ".join(dry.rows[0].changes)
    assert "plot_size_rai: 3 → 7" in changes
    assert "owner_name" not in changes and "village_no" not in changes
    assert "would update 1" in dry.summary()

    report = import_file(empty, KNN, edited)
    assert report.committed and report.updated == 1, report.summary()
    with empty.connect() as conn:
        props, personal, sample = conn.execute(text(
            "SELECT properties, personal, sample FROM layer_features WHERE key = 'R1'")).one()
    assert personal == {"owner_name": "นายสมชาย ใจดี"}
    assert props["plot_size_rai"] == 7 and props["village_no"] == 4
    assert sample is True


def test_csv_downloads_neutralise_formulas(tmp_path: Path, empty: Engine,
                                           own_client: FlaskClient, client: FlaskClient) -> None:
    report = import_file(empty, LC, CORPUS / "formulas.csv")
    assert report.committed, report.summary()
    body = own_client.get("/api/collections/learning-centers/items?f=csv").get_data(as_text=True)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))}
    assert set(rows) == {"'=HYPERLINK(\"http://evil.example\",\"click\")", "'@SUM(A1)"}
    first = rows["'=HYPERLINK(\"http://evil.example\",\"click\")"]
    assert first["id"] == "'=1+1" and first["place"] == "'+cmd"
    assert rows["'@SUM(A1)"]["place"] == "-2"  # a plain negative number stays a number
    assert float(first["lat"]) > 0
    out = tmp_path / "report.csv"
    report.write_csv(out)
    assert "\n2,'=1+1,ok," in out.read_text(encoding="utf-8-sig")
    # indicator values: a negative change stays a number
    change = client.get("/api/indicators/nso-household-income/values?level=province&year=2558"
                        "&compare=2556&f=csv")
    assert change.status_code == 200, change.get_data(as_text=True)[:300]
    values = [r["change"] for r in csv.DictReader(
        io.StringIO(change.get_data(as_text=True).lstrip("\ufeff")))]
    assert any(v.startswith("-") for v in values) and not any(v.startswith("'") for v in values)


# -- unbounded work (item 7) ------------------------------------------------------------------

def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_full_layer_csv_streams_in_flat_memory(cluster: ClusterInfo, settings: Settings) -> None:
    url = create_database(cluster, db_name("cddgis_test_big_csv"), drop_first=True)
    upgrade(url)
    big = engine_for(url)
    rows = 120_000
    with big.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, personal, geom, sample)
            SELECT 'khok-nong-na', 'P' || lpad(i::text, 7, '0'), 'P' || i,
                   jsonb_build_object('plot_id', 'P' || i, 'plot_size_rai', 1 + i % 50,
                                      'model_level', 'HLM', 'budget_year', 2564,
                                      'funding_source', repeat('งบเงินกู้ ', 8)),
                   jsonb_build_object('owner_name', 'นาย ' || i),
                   ST_SetSRID(ST_MakePoint(98 + (i % 1000) / 200.0, 14 + i / 20000.0), 4326),
                   false
            FROM generate_series(1, :n) AS i
        """), {"n": rows})
    app = create_app(settings, database_url=url)
    before = _rss_kb()
    peak, lines, tail = before, 0, b""
    with app.test_client() as client:
        response = client.get("/api/collections/khok-nong-na/items?f=csv", buffered=False)
        assert response.status_code == 200
        for chunk in response.response:
            data = chunk if isinstance(chunk, bytes) else chunk.encode()
            lines += data.count(b"\n")
            tail = (tail + data)[-200:]
            peak = max(peak, _rss_kb())
        response.close()
    big.dispose()
    grown_mb = (peak - before) / 1024
    print(f"CSV of {rows:,} rows: RSS grew {grown_mb:.1f} MB")
    assert lines == rows + 1  # every row, past the old 100,000 cap, and the header
    assert b"nay" not in tail and "นาย".encode() not in tail
    assert grown_mb < 50, f"RSS grew {grown_mb:.1f} MB while streaming"


def test_near_within_bounds_still_answers(client: FlaskClient) -> None:
    ok = client.get("/api/collections/learning-centers/items?near=100.5,13.75&limit=1000"
                    "&radius_km=500")
    assert ok.status_code == 200
    csv_ok = client.get("/api/collections/learning-centers/items?near=100.5,13.75&f=csv")
    assert csv_ok.status_code == 200
    assert len(csv_ok.get_data(as_text=True).strip().splitlines()) == 1001


def test_a_broken_gis_file_is_told_without_library_text_or_server_paths(
        tmp_path: Path, empty: Engine) -> None:
    """A bad zip's answer once was GDAL's own text, with the server's upload and temp paths."""
    import zipfile

    path = tmp_path / "plots.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for ending in ("shp", "shx"):
            archive.writestr(f"plots.{ending}", b"this is not a shapefile " * 40)
        archive.writestr("plots.dbf", bytes(64))  # a header that claims no records
    report = import_file(empty, LC, path, dry_run=True)
    problems = " ".join(report.file_problems)
    assert problems and "plots.zip" in problems
    assert str(tmp_path) not in problems and "/vsizip" not in problems
    assert "ไม่ได้" in problems  # said in Thai too
