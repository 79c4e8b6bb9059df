"""Indicators: name matching on the real tables, computed values, classes, no data, the API."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import mapclassify
import numpy as np
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gis.db import engine_for
from gis.indicator_store import load_catalog, load_table
from indicators.catalog import TABLES
from indicators.matching import match_province
from indicators.tables import (
    IndicatorImportError,
    IndicatorSpec,
    TableSpec,
    read_values,
)
from tests.templates import Loaded

NSO = {spec.file: spec for spec in TABLES}


def _get(client: FlaskClient, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize("file", [
    "nso_avg_monthly_household_income_by_province_2541_2558.csv",
    "nso_avg_monthly_household_expenditure_by_province_2549_2558.csv",
])
def test_every_nso_province_matches_in_thai_and_english(file: str, data_dir: Path) -> None:
    values, report = read_values(NSO[file], data_dir / "indicators" / file)
    assert report.rows == report.matched == 77
    assert report.unmatched == [] and report.disagreements == []
    assert len({code for _, code, _, _ in values}) == 77
    # The English column alone matches all 77 too (it spells Phatthalung "Phattalung").
    english = NSO[file].keys[1]
    english_only = TableSpec(file, "province", (english,), "s", "l", NSO[file].indicators)
    assert read_values(english_only, data_dir / "indicators" / file)[1].matched == 77


@pytest.mark.parametrize(("name", "code"), [
    ("จังหวัดเชียงใหม่", "50"), ("  Chiang  Mai ", "50"), ("CHIANG MAI", "50"), ("จ.เชียงใหม่", "50"),
    ("กรุงเทพฯ", "10"), ("Bangkok Metropolis", "10"), ("Phattalung", "93"), ("อยุธยา", "14"),
    ("Nong Bua Lamphu", "39"), ("Buriram", "31"), ("Si Sa Ket", "33"), ("Sisaket", "33"),
])
def test_tolerant_province_names(name: str, code: str) -> None:
    assert match_province(name).code == code


def test_a_table_declared_in_the_catalogue_file_loads_without_python(
        tmp_path: Path, copy_database: Callable[..., str]) -> None:
    """Issue 23, item 3: the catalogue is data (indicators/catalog.json); a new table is an
    entry in such a file, and a wrong entry is named before anything is loaded."""
    engine = engine_for(copy_database("cddgis_test_indicator_catalog", empty=True))
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "t.csv").write_text("province,value\n50,1.5\n10,2\n",
                                                    encoding="utf-8")
    table = {"file": "t.csv", "level": "province", "keys": ["province"], "source": "s",
             "licence": "l", "indicators": [{"id": "test-declared", "title_th": "ท",
                                             "title_en": "T", "unit": "u", "column": "value",
                                             "year": 2566}]}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"tables": [table]}), encoding="utf-8")
    (report,) = load_catalog(engine, tmp_path, catalog=catalog)
    assert report.matched == 2
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT area_code, value FROM indicator_values "
                                      "WHERE indicator_id = 'test-declared' AND year = 2566")
                                 ).all()) == {"50": 1.5, "10": 2.0}
    catalog.write_text(json.dumps({"tables": [{**table, "level": "tambon"}]}), encoding="utf-8")
    with pytest.raises(IndicatorImportError, match=r"table 1 \(t.csv\): level must be one of"):
        load_catalog(engine, tmp_path, catalog=catalog)
    # the repository's own declarations (indicators/catalog.json) are the tables loaded
    assert len(TABLES) == 6 and "kchch2k-level1" in {i.id for t in TABLES for i in t.indicators}


def test_a_misspelled_name_is_reported_not_guessed(tmp_path: Path,
                                                   copy_database: Callable[..., str]) -> None:
    engine = engine_for(copy_database("cddgis_test_indicator_import", empty=True))
    path = tmp_path / "typo.csv"
    path.write_text("จังหวัด,ค่า\nเชียงใหม่,1\nเชียงรายย,2\nลำพูน,3\n", encoding="utf-8")
    spec = TableSpec("typo.csv", "province", ("จังหวัด",), "test", "test",
                     (IndicatorSpec("test-typo", "ท", "T", "u", "ค่า"),))
    with pytest.raises(IndicatorImportError, match=r"row 3: no area matches 'เชียงรายย'"):
        load_table(engine, spec, path)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM indicators WHERE id = 'test-typo'")
                            ).scalar() == 0
    report = load_table(engine, spec, path, skip_unmatched=True)
    assert report.matched == 2 and report.unmatched == [(3, "เชียงรายย")]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM indicator_values "
                                 "WHERE indicator_id = 'test-typo'")).scalar() == 2
    engine.dispose()


def test_open_tables_loaded(indicator_tables: list, indicator_load: Loaded) -> None:
    by_file = {r.file: r for r in indicator_tables}
    engine = indicator_load.engine  # the database that load wrote
    assert by_file["osm_poi_density_by_subdistrict_viriyatae.csv"].matched == 7213
    assert by_file["kchch2k_village_levels_2564_by_region.csv"].matched == 4
    with engine.connect() as conn:
        years = conn.execute(text("SELECT array_agg(DISTINCT year ORDER BY year) FROM "
                                  "indicator_values WHERE indicator_id = 'nso-household-income'"
                                  )).scalar()
    assert years == [2541, 2543, 2545, 2547, 2549, 2550, 2552, 2554, 2556, 2558]


def test_computed_counts_match_direct_counts(client: FlaskClient, engine: Engine) -> None:
    body = _get(client, "/api/indicators/khok-nong-na-count/values?level=province")
    with engine.connect() as conn:
        direct = dict(conn.execute(text(
            "SELECT province_code, count(*) FROM layer_features WHERE layer = 'khok-nong-na' "
            "GROUP BY 1")).all())
        areas = dict(conn.execute(text("SELECT code, area_km2 FROM provinces")).all())
        population = dict(conn.execute(text(
            "SELECT p.region, sum(v.value) FROM indicator_values v JOIN provinces p "
            "ON p.code = v.area_code WHERE indicator_id = 'population' GROUP BY 1")).all())
        by_region = dict(conn.execute(text(
            "SELECT region, count(*) FROM layer_features WHERE layer = 'learning-centers' "
            "GROUP BY 1")).all())
    got = {v["code"]: v["value"] for v in body["values"]}
    assert len(got) == 77 and got == {c: float(direct.get(c, 0)) for c in got}
    density = _get(client, "/api/indicators/khok-nong-na-per-km2/values?level=province")
    for v in density["values"]:
        assert v["value"] == pytest.approx(direct.get(v["code"], 0) / areas[v["code"]])
    per_people = _get(client, "/api/indicators/learning-centers-per-1000-people/values"
                              "?level=region")
    for v in per_people["values"]:
        assert v["value"] == pytest.approx(by_region[v["code"]] * 1000 / population[v["code"]])
    subdistricts = _get(client, "/api/indicators/khok-nong-na-count/values?level=subdistrict"
                                "&district=5001")
    assert sum(v["value"] for v in subdistricts["values"]) == _count(
        engine, "SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na' "
                "AND district_code = '5001'")


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.mark.parametrize(("method", "make"), [
    ("quantiles", lambda y: mapclassify.Quantiles(y, k=5)),
    ("equal_interval", lambda y: mapclassify.EqualInterval(y, k=5)),
    ("fisher_jenks", lambda y: mapclassify.FisherJenks(y, k=5)),
    # StdMean's mean ± 2 SD can lie outside the data: those bounds would make empty classes
    # whose ranges run backwards, so the classes keep only the bounds inside the data (issue 15).
    ("std_mean", lambda y: mapclassify.UserDefined(
        y, [*(b for b in mapclassify.StdMean(y).bins if y.min() <= b < y.max()), y.max()])),
    ("manual", lambda y: mapclassify.UserDefined(y, [20000, 30000, float(y.max())])),
])
def test_classes_are_mapclassify_s(client: FlaskClient, method: str,
                                   make: Callable[[np.ndarray], object]) -> None:
    url = (f"/api/indicators/nso-household-income/values?level=province&year=2558"
           f"&classify={method}&k=5&breaks=20000,30000")
    body = _get(client, url)
    y = np.array([v["value"] for v in body["values"] if v["value"] is not None])
    expected = make(y)
    assert body["classification"]["bins"] == pytest.approx(list(expected.bins))
    legend = body["classification"]["legend"]
    assert [c["count"] for c in legend] == list(expected.counts)
    assert legend[0]["lower"] == pytest.approx(y.min())
    assert all(c["lower"] <= c["upper"] for c in legend)  # ascending, never reversed
    assert len({c["color"] for c in legend}) == len(legend)


def test_no_data_is_its_own_class(client: FlaskClient) -> None:
    body = _get(client, "/api/indicators/osm-poi-count/values?level=subdistrict&province=14"
                        "&classify=quantiles&k=4")
    missing = [v for v in body["values"] if v["value"] is None]
    with_data = [v for v in body["values"] if v["value"] is not None]
    assert missing, "Ayutthaya has subdistricts the OSM table lacks"
    no_data = body["classification"]["no_data"]
    assert no_data["count"] == len(missing)
    assert all(v["class"] is None and v["color"] == no_data["color"] for v in missing)
    assert no_data["color"] not in {c["color"] for c in body["classification"]["legend"]}
    assert all(v["rank"] is None for v in missing)
    assert sorted(v["rank"] for v in with_data)[0] == 1


def test_change_between_two_years(client: FlaskClient) -> None:
    base = "/api/indicators/nso-household-income/values?level=province"
    change = _get(client, f"{base}&year=2558&compare=2549&classify=quantiles&k=5")
    a = {v["code"]: v["value"] for v in _get(client, f"{base}&year=2549")["values"]}
    b = {v["code"]: v["value"] for v in _get(client, f"{base}&year=2558")["values"]}
    assert change["measure"] == "change" and change["classification"]["scheme"] == "RdBu"
    for v in change["values"]:
        if a[v["code"]] is None or b[v["code"]] is None:
            assert v["value"] is None
        else:
            assert v["value"] == pytest.approx(b[v["code"]] - a[v["code"]])
            # both years beside the change, and the % change (issue 23, item 4)
            assert (v["value_compare"], v["value_year"]) == (a[v["code"]], b[v["code"]])
            assert v["change_pct"] == pytest.approx(
                round((b[v["code"]] - a[v["code"]]) * 100 / abs(a[v["code"]]), 1))
            # rounded to the data's own precision: no float noise (-3379.300000000003)
            assert len(repr(v["value"]).split(".")[-1]) <= max(
                len(repr(x).split(".")[-1]) for x in (a[v["code"]], b[v["code"]]))


def test_change_csv_has_both_years_and_its_own_name(client: FlaskClient) -> None:
    base = "/api/indicators/nso-household-income/values?level=province&f=csv&year=2558"
    plain, change = client.get(base), client.get(base + "&compare=2549")
    assert plain.headers["Content-Disposition"] != change.headers["Content-Disposition"]
    assert "2558-change-from-2549.csv" in change.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(change.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 77
    for row in rows:
        assert "00000000" not in row["change"] and "99999999" not in row["change"], row
        if row["value_2558"] and row["value_2549"]:
            assert float(row["change"]) == pytest.approx(
                float(row["value_2558"]) - float(row["value_2549"]))
            assert row["change_pct"]


def test_catalogue_and_csv(client: FlaskClient) -> None:
    catalogue = {i["id"]: i for i in _get(client, "/api/indicators")["indicators"]}
    assert catalogue["nso-household-income"]["levels"] == ["province"]
    assert catalogue["khok-nong-na-count"]["computed"] is True
    assert "DGA" in catalogue["nso-household-income"]["licence"]
    response = client.get("/api/indicators/nso-household-income/values?level=province&f=csv")
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    # Each row says its year, unit and source (issue 15): a CSV passed on alone says what it is.
    assert lines[0] == "code,name_th,name_en,value,rank,year_be,indicator,unit,source,licence"
    assert len(lines) == 78
    assert lines[1].startswith("10,กรุงเทพมหานคร,Bangkok,")
    row = next(csv.DictReader(io.StringIO("\n".join(lines))))
    assert row["year_be"] == "2558" and row["unit"] == catalogue["nso-household-income"]["unit"]
    assert "NSO" in row["source"] or "สำนักงานสถิติ" in row["source"]


@pytest.mark.parametrize(("query", "message"), [
    ("nso-household-income/values?level=district", "available for province, not district"),
    ("nso-household-income/values?year=2500", "has no year 2500"),
    ("nso-household-income/values?level=county", "level must be one of"),
    ("nso-household-income/values?classify=magic", "method must be one of"),
    ("nso-household-income/values?classify=manual", "manual classes need breaks"),
    ("nso-household-income/values?classify=manual&breaks=3,2", "breaks must increase"),
    ("nso-household-income/values?year=2558&compare=2558", "another year"),
])
def test_bad_indicator_requests(client: FlaskClient, query: str, message: str) -> None:
    assert message in _get(client, f"/api/indicators/{query}", 400)["description"]


def test_nationwide_subdistricts_are_light_and_cached(client: FlaskClient) -> None:
    response = client.get("/api/choropleth/areas?level=subdistrict",
                          headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert len(response.data) < 2_000_000  # transferred, gzipped
    geo = json.loads(gzip.decompress(response.data))
    assert len(geo["features"]) == 7425
    again = client.get("/api/choropleth/areas?level=subdistrict",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_standalone_html_export(client: FlaskClient) -> None:
    response = client.get("/choropleth/export.html?indicator=nso-household-income&level=province"
                          "&classify=quantiles&k=5")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "attachment" in response.headers["Content-Disposition"]
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)  # Leaflet is inside the file
    assert "L.map(" in html and "รายได้เฉลี่ยต่อเดือนต่อครัวเรือน" in html
    assert "DGA Open Government Licence" in html


def test_export_of_a_change_gives_both_years(client: FlaskClient) -> None:
    response = client.get("/choropleth/export.html?indicator=nso-household-income"
                          "&level=province&year=2558&compare=2549&classify=quantiles&k=5")
    html = response.get_data(as_text=True)
    bkk = next(v for v in _get(client, "/api/indicators/nso-household-income/values?"
                                       "level=province&year=2558&compare=2549")["values"]
               if v["code"] == "10")
    shown = {json.loads(f'"{s}"') for s in re.findall(r'"shown": ?"(2549: [^"]*)"', html)}
    assert (f"2549: {bkk['value_compare']:,.0f} \u2192 2558: {bkk['value_year']:,.0f} "
            f"บาท/เดือน (baht/month) (+{bkk['value']:,.0f}, +{bkk['change_pct']} %)") in shown


def test_natural_breaks_on_many_areas_use_an_even_sample(client: FlaskClient) -> None:
    from gis.choropleth import FISHER_JENKS_SAMPLE

    body = _get(client, "/api/indicators/osm-poi-count/values?level=subdistrict"
                        "&classify=fisher_jenks&k=5")
    y = np.sort(np.array([v["value"] for v in body["values"] if v["value"] is not None]))
    assert y.size > FISHER_JENKS_SAMPLE
    sample = y[np.linspace(0, y.size - 1, FISHER_JENKS_SAMPLE).astype(int)]
    expected = list(mapclassify.FisherJenks(sample, k=5).bins)
    expected[-1] = y.max()
    assert body["classification"]["bins"] == pytest.approx(expected)
    assert sum(c["count"] for c in body["classification"]["legend"]) == y.size


def test_choropleth_page_opens_on_household_income(client: FlaskClient) -> None:
    html = client.get("/choropleth").get_data(as_text=True)
    assert '<option value="nso-household-income" selected>' in html
    assert html.count("<option value=\"khok-nong-na-count\"") == 1
