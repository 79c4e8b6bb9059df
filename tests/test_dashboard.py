"""Area dashboards (issue 14): the summary API's numbers against direct SQL, its bad input, CSV,
the page's HTML and the Open Graph share image."""

from __future__ import annotations

import csv
import io
from html import unescape

import pytest
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy import Engine, text

from gis import summary as gs
from layers.definitions import LAYERS
from tests.test_new_layer import WELLS, wells  # noqa: F401 (a sixth layer, declared in a test)
from web import dashboard as wd
from web import share_images as si


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


@pytest.mark.parametrize(("level", "code", "column"), [
    ("country", "TH", None), ("province", "50", "province_code"),
    ("district", "5001", "district_code"), ("subdistrict", "500101", "subdistrict_code")])
def test_layer_counts_equal_sql(client, engine, level, code, column):
    body = client.get(f"/api/areas/{level}/{code}/summary").get_json()
    where = f"AND {column} = :code" if column else ""
    for layer in body["layers"]:
        expected = count(engine, f"SELECT count(*) FROM layer_features WHERE layer = :layer "
                                 f"{where}", layer=layer["id"], code=code)
        assert layer["count"] == expected, layer["id"]
        total = count(engine, "SELECT count(*) FROM layer_features WHERE layer = :layer",
                      layer=layer["id"])
        assert layer["country_count"] == total
    assert [x["id"] for x in body["layers"]] == list(LAYERS)


def test_province_children_categories_and_rank(client, engine):
    body = client.get("/api/areas/province/50/summary").get_json()
    assert body["area"]["name_th"] == "เชียงใหม่"
    assert [p["level"] for p in body["area"]["parents"]] == ["country"]
    assert len(body["children"]) == count(
        engine, "SELECT count(*) FROM districts WHERE province_code = '50'")
    plots = next(x for x in body["layers"] if x["id"] == "khok-nong-na")
    # every child's count is the SQL count for that district
    per_district = {r[0]: r[1] for r in _rows(engine, """
        SELECT district_code, count(*) FROM layer_features
        WHERE layer = 'khok-nong-na' AND province_code = '50' GROUP BY 1""")}
    for child in body["children"]:
        assert child["counts"]["khok-nong-na"] == per_district.get(child["code"], 0)
    # categories: model level and budget year add up to the count; size classes too
    cats = {c["field"]: c for c in plots["categories"]}
    assert set(cats) >= {"model_level", "budget_year", "plot_size_rai", "land_title"}
    for field in ("model_level", "budget_year", "plot_size_rai"):
        assert sum(v["count"] for v in cats[field]["values"]) == plots["count"], field
    hlm = next(v for v in cats["model_level"]["values"] if v["value"] == "HLM")
    assert hlm["count"] == count(engine, """
        SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na'
        AND province_code = '50' AND properties->>'model_level' = 'HLM'""")
    assert hlm["label_th"] == "ระดับครัวเรือน (HLM)"
    # rank among the 77 provinces
    higher = count(engine, """
        SELECT count(*) FROM (SELECT province_code, count(*) AS n FROM layer_features
        WHERE layer = 'khok-nong-na' GROUP BY 1) t WHERE n > :n""", n=plots["count"])
    assert plots["rank"] == higher + 1 and plots["of"] == 77


def test_indicators_rank_and_series(client, engine):
    body = client.get("/api/areas/province/50/summary").get_json()
    income = next(i for i in body["indicators"] if i["id"] == "nso-household-income")
    years = [s["year"] for s in income["series"]]
    assert years == sorted(years) and income["year"] == max(
        s["year"] for s in income["series"] if s["value"] is not None)
    value = _rows(engine, """SELECT value FROM indicator_values WHERE indicator_id =
        'nso-household-income' AND area_code = '50' AND year = :y""", y=income["year"])[0][0]
    assert income["value"] == pytest.approx(value)
    higher = count(engine, """SELECT count(*) FROM indicator_values WHERE indicator_id =
        'nso-household-income' AND year = :y AND value > :v""", y=income["year"], v=value)
    assert income["rank"] == higher + 1
    assert body["population"] is not None and body["population"]["value"] > 0


def test_rank_shares_ties_and_says_so_when_all_are_equal():
    """Issue 23, item 3: sixteen districts all at 0 are not "1st of 16"."""
    assert gs.rank_among([0] * 16, 0) == {"rank": None, "tied": 16, "of": 16, "all_equal": True}
    assert gs.rank_among([5, 3, 3, 1], 3) == {"rank": 2, "tied": 2, "of": 4, "all_equal": False}
    assert gs.rank_among([5, 3, 3, 1], 5)["rank"] == 1
    assert gs.rank_among([], 0)["rank"] is None


def test_district_share_is_of_its_province_and_rank_handles_ties(client, engine):
    """A district card says its share of the province (not 0.07 % of the country), ranks among
    the province's districts with ties shared, and gives no rank when all of them are equal."""
    with engine.connect() as conn:
        # a layer and a province whose districts all hold none of it
        layer, district = conn.execute(text("""
            SELECT l.id, min(d.code) FROM unnest(CAST(:ids AS text[])) l(id)
            CROSS JOIN districts d
            WHERE NOT EXISTS (SELECT 1 FROM layer_features f WHERE f.layer = l.id
                              AND f.province_code = d.province_code)
            GROUP BY l.id ORDER BY 1 LIMIT 1"""), {"ids": list(LAYERS)}).one()
    body = client.get(f"/api/areas/district/{district}/summary").get_json()
    empty = next(x for x in body["layers"] if x["id"] == layer)
    siblings = count(engine, "SELECT count(*) FROM districts WHERE province_code = :p",
                     p=district[:2])
    assert (empty["rank"], empty["all_equal"], empty["of"], empty["tied"]) == (
        None, True, siblings, siblings)
    assert body["ranked_among"]["level_en"] == "District"
    assert body["ranked_among"]["parent_th"] == body["area"]["parents"][-1]["name_th"]

    body = client.get("/api/areas/district/5001/summary").get_json()
    for item in body["layers"]:
        in_province = count(engine, "SELECT count(*) FROM layer_features WHERE layer = :l "
                                    "AND province_code = '50'", l=item["id"])
        assert item["parent_count"] == in_province, item["id"]
        assert item["parent_share"] == (pytest.approx(item["count"] / in_province)
                                        if in_province else None)
        per_district = [r[0] for r in _rows(engine, """
            SELECT count(f.key) FROM districts d LEFT JOIN layer_features f
              ON f.district_code = d.code AND f.layer = :l
            WHERE d.province_code = '50' GROUP BY d.code""", l=item["id"])]
        equal = sum(1 for n in per_district if n == item["count"])
        assert item["tied"] == equal, item["id"]
        if equal == len(per_district):
            assert item["rank"] is None
        else:
            assert item["rank"] == 1 + sum(1 for n in per_district if n > item["count"])


def test_province_counts_per_people(client):
    body = client.get("/api/areas/province/50/summary").get_json()
    people = body["population"]["value"]
    plots = next(x for x in body["layers"] if x["id"] == "khok-nong-na")
    assert plots["per_people"] == pytest.approx(plots["count"] * 10_000 / people)


def test_region_is_a_dashboard_of_its_own(client, engine):
    """Issue 23: choosing ภาคเหนือ shows the north, not the country with a shorter list."""
    body = client.get("/api/areas/region/north/summary").get_json()
    assert (body["area"]["name_th"], body["level_en"]) == ("ภาคเหนือ", "Region")
    assert [p["level"] for p in body["area"]["parents"]] == ["country"]
    provinces = [r[0] for r in _rows(engine, "SELECT code FROM provinces WHERE region = 'north' "
                                             "ORDER BY code")]
    assert [c["code"] for c in body["children"]] == provinces and len(provinces) == 17
    assert body["area"]["area_km2"] == pytest.approx(count(
        engine, "SELECT sum(area_km2)::int FROM provinces WHERE region = 'north'"), abs=1)
    per_region = {r[0]: r[1] for r in _rows(engine, """
        SELECT region, count(*) FROM layer_features WHERE layer = 'khok-nong-na' GROUP BY 1""")}
    plots = next(x for x in body["layers"] if x["id"] == "khok-nong-na")
    assert plots["count"] == per_region["north"]
    assert plots["of"] == 4 and plots["rank"] == 1 + sum(
        1 for n in per_region.values() if n > per_region["north"])
    assert body["ranked_among"]["parent_en"] == "Thailand"
    for child in body["children"]:  # each province's count, by SQL
        assert child["counts"]["khok-nong-na"] == count(
            engine, "SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na' "
                    "AND province_code = :p", p=child["code"])
    # the provinces' tables summed (a count) or averaged (a rate) over the region
    population = body["population"]
    latest = _rows(engine, """SELECT year, sum(value) FROM indicator_values v
        JOIN provinces p ON p.code = v.area_code WHERE indicator_id = 'population'
        AND p.region = 'north' GROUP BY 1 ORDER BY 1 DESC LIMIT 1""")[0]
    assert (population["year"], population["value"]) == (latest[0], pytest.approx(latest[1]))
    income = next(i for i in body["indicators"] if i["id"] == "nso-household-income")
    assert income["aggregate"] == "mean" and income["of"] == 4
    assert income["value"] == pytest.approx(_rows(engine, """SELECT avg(value) FROM
        indicator_values v JOIN provinces p ON p.code = v.area_code WHERE p.region = 'north'
        AND indicator_id = 'nso-household-income' AND year = :y""", y=income["year"])[0][0])


@pytest.mark.parametrize(("path", "word"), [
    ("/api/areas/region/west/summary", "region must be one of"),
    ("/dashboard?region=mars", "region must be one of"),
    ("/dashboard?region=north&province=10", "province 10 is not in region north")])
def test_bad_region(client, path, word):
    response = client.get(path)
    assert response.status_code == 400 and word in response.get_data(as_text=True)


def test_region_page_and_its_province(client):
    html = client.get("/dashboard?region=north").get_data(as_text=True)
    assert "ภาคเหนือ" in html
    assert client.get("/dashboard?region=north&province=50").status_code == 200
    assert client.get("/dashboard/og/region/north.png").status_code == 200
    rows = client.get("/api/areas/region/north/summary?f=csv").get_data(as_text=True)
    assert "ภาคเหนือ" in rows


def test_added_by_month_counts_each_month_in_thai_time(engine):
    """Issue 23, item 4: the layers' own trend, from when each feature was stored."""
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("""SELECT key FROM layer_features
            WHERE layer = 'khok-nong-na' AND province_code = '50' ORDER BY key LIMIT 3"""))]
        # 2025-01-31 20:00 UTC is already February 1st in Bangkok (B.E. 2568)
        conn.execute(text("""UPDATE layer_features SET created_at = '2025-01-31 20:00+00'
            WHERE layer = 'khok-nong-na' AND key = ANY(:k)"""), {"k": keys})
        months = gs._added_by_month(conn, gs.AreaRef("province", "50"))["khok-nong-na"]
        total = conn.execute(text("""SELECT count(*) FROM layer_features
            WHERE layer = 'khok-nong-na' AND province_code = '50'""")).scalar_one()
        conn.rollback()
    assert months[0] == {"month": "2568-02", "count": 3}
    assert sum(m["count"] for m in months) == total
    assert [m["month"] for m in months] == sorted(m["month"] for m in months)


def test_range_edges_cover_the_declared_range():
    edges = gs.range_edges(LAYERS["khok-nong-na"].field("plot_size_rai"))
    assert edges[0] == 0.1 and edges[-1] == 500 and edges == sorted(edges)
    assert 1 in edges and 5 in edges and 50 in edges


@pytest.mark.parametrize(("path", "status", "word"), [
    ("/api/areas/planet/1/summary", 400, "level"),
    ("/api/areas/province/5/summary", 400, "2-digit"),
    ("/api/areas/province/๕๐/summary", 400, "2-digit"),
    ("/api/areas/district/50a1/summary", 400, "4-digit"),
    ("/api/areas/province/99/summary", 404, "99"),
    ("/api/areas/country/XX/summary", 400, "TH"),
    ("/api/areas/province/50/summary?f=xml", 400, "f must be one of json, csv, xlsx"),
    ("/dashboard?province=5", 400, "2-digit"),
    ("/dashboard?province=50&district=1001", 400, "not in"),
    ("/dashboard?subdistrict=999999", 404, "999999"),
])
def test_bad_input(client, path, status, word):
    r = client.get(path)
    assert r.status_code == status, r.data[:300]
    assert word in r.get_data(as_text=True)


def test_csv_holds_the_json_numbers(client):
    body = client.get("/api/areas/district/5001/summary").get_json()
    r = client.get("/api/areas/district/5001/summary?f=csv")
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    counts = {(x["layer"], x["field"]): int(x["value"]) for x in rows if x["section"] == "layer"}
    for layer in body["layers"]:
        assert counts[(layer["id"], "count")] == layer["count"]
    assert not any("owner" in k for row in rows for k in row.values() if k)  # PDPA


def test_xlsx_holds_the_csv_rows(client):
    from openpyxl import load_workbook

    r = client.get("/api/areas/province/50/summary?f=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(r.data), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    text_rows = list(csv.reader(io.StringIO(
        client.get("/api/areas/province/50/summary?f=csv").get_data(as_text=True)
        .lstrip("\ufeff"))))
    assert len(rows) == len(text_rows) and rows[0] == text_rows[0]
    plots = next(x for x in rows if x[0] == "layer" and x[1] == "khok-nong-na")
    assert isinstance(plots[7], int)  # a number in Excel, not text


def test_no_personal_data(client):
    raw = client.get("/api/areas/province/50/summary").get_data(as_text=True)
    assert "owner_name" not in raw and "personal" not in raw


def test_page_has_breadcrumbs_share_links_and_og(client):
    r = client.get("/dashboard?district=5001")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'property="og:image"' in html and "/dashboard/og/district/5001.png" in html
    assert "social-plugins.line.me/lineit/share?url=" in html
    assert "facebook.com/sharer/sharer.php?u=" in html
    assert "เชียงใหม่" in html and "เมืองเชียงใหม่" in html


def test_share_image_is_a_png_with_the_area_name(client):
    from PIL import features

    # Thai vowels and tone marks are placed by HarfBuzz through raqm, which needs FriBiDi
    assert features.check("raqm"), "Pillow has no raqm: apt-get install libfribidi0"
    r = client.get("/dashboard/og/province/50.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    image = Image.open(io.BytesIO(r.data))
    assert image.format == "PNG" and image.size == si.OG_SIZE
    # the drawing's input names the area first, in Thai then English
    summary = gs.area_summary(_engine(client), "province", "50")
    lines = wd.og_lines(summary)
    assert lines[0][0] == "เชียงใหม่" and lines[1][0] == "Chiang Mai"
    # and the pixels where the name goes are the name drawn in Thai (not boxes, not blank)
    name = Image.new("RGB", si.OG_SIZE, "#ffffff")
    end = si.draw_text(ImageDraw.Draw(name), (60, 90), "เชียงใหม่", 72, 700)
    box = (60, 90, end, 90 + 100)
    crop = image.convert("RGB").crop(box)
    assert ImageChops.difference(crop, name.crop(box)).getbbox() is None
    assert name.crop(box).getbbox() is not None and crop.convert("L").getextrema()[0] < 100
    # a different name draws different pixels (the comparison can fail)
    other = Image.new("RGB", si.OG_SIZE, "#ffffff")
    si.draw_text(ImageDraw.Draw(other), (60, 90), "ลำพูน", 72, 700)
    assert ImageChops.difference(crop, other.crop(box)).getbbox() is not None


def _engine(client) -> Engine:
    return client.application.extensions["cddgis.engine"]


def _rows(engine: Engine, sql: str, **params: object) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _a_village(engine: Engine) -> tuple[str, int]:
    """A subdistrict with plots, and one of its หมู่ที่."""
    row = _rows(engine, """
        SELECT subdistrict_code, (properties->>'village_no')::int FROM layer_features
        WHERE layer = 'khok-nong-na' AND province_code = '50' AND properties ? 'village_no'
        ORDER BY subdistrict_code, 2 LIMIT 1""")[0]
    return row[0], row[1]


def test_subdistrict_children_are_its_villages(client, engine):
    sub, _ = _a_village(engine)
    body = client.get(f"/api/areas/subdistrict/{sub}/summary").get_json()
    assert body["child_level"] == "village"
    expected = {f"{sub}{r[0]:02d}": r[1] for r in _rows(engine, """
        SELECT (properties->>'village_no')::int, count(*) FROM layer_features
        WHERE layer = 'khok-nong-na' AND subdistrict_code = :s GROUP BY 1""", s=sub)}
    assert {c["code"]: c["counts"]["khok-nong-na"] for c in body["children"]} == expected
    assert all(c["name_th"].startswith("หมู่ที่ ") for c in body["children"])
    # the village drop-down's choices: the subdistrict's villages, here and on a village's page
    choices = [v["code"] for v in body["villages"]]
    assert choices == [c["code"] for c in body["children"]]
    village = client.get(f"/api/areas/village/{choices[0]}/summary").get_json()
    assert [v["code"] for v in village["villages"]] == choices
    assert client.get(f"/api/areas/district/{sub[:4]}/summary").get_json()["villages"] == []


def test_village_summary_counts_and_nearby(client, engine):
    sub, moo = _a_village(engine)
    code = f"{sub}{moo:02d}"
    body = client.get(f"/api/areas/village/{code}/summary").get_json()
    assert body["area"]["name_th"].startswith(f"หมู่ที่ {moo}")
    assert [p["level"] for p in body["area"]["parents"]] == [
        "country", "province", "district", "subdistrict"]
    plots = next(x for x in body["layers"] if x["id"] == "khok-nong-na")
    assert plots["count"] == count(engine, """
        SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na'
        AND subdistrict_code = :s AND (properties->>'village_no')::int = :m""", s=sub, m=moo)
    # the nearest learning centres, nearest first, as PostGIS orders them
    lon, lat = body["area"]["point"]
    nearest = [r[0] for r in _rows(engine, """
        SELECT key FROM layer_features WHERE layer = 'learning-centers'
        ORDER BY ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)
        LIMIT 5""", x=lon, y=lat)]
    got = [n for n in body["nearby"] if n["layer"] == "learning-centers"]
    assert [n["id"] for n in got] == nearest
    assert [n["distance_km"] for n in got] == sorted(n["distance_km"] for n in got)
    page = client.get(f"/dashboard?village={code}")
    assert page.status_code == 200 and f"หมู่ที่ {moo}" in page.get_data(as_text=True)


@pytest.mark.parametrize(("path", "status"), [
    ("/api/areas/village/5001011/summary", 400),
    ("/api/areas/village/50010199/summary", 404),
    ("/dashboard?subdistrict=500101&village=50020101", 400),
])
def test_bad_village(client, path, status):
    assert client.get(path).status_code == status


def test_a_new_layer_appears_with_no_code(wells):  # noqa: F811
    _, client = wells
    answer = client.get("/api/areas/country/TH/summary")
    raw, body = answer.get_data(as_text=True), answer.get_json()
    layer = next(x for x in body["layers"] if x["id"] == WELLS.id)
    assert layer["count"] == 150 and layer["title_th"] == "บ่อน้ำชุมชน"
    cats = {c["field"]: c for c in layer["categories"]}
    assert set(cats) == {"depth_m", "kind", "working"}  # its choice and range filters
    for c in cats.values():
        assert sum(v["count"] for v in c["values"]) == 150, c["field"]
    assert {v["label_th"] for v in cats["kind"]["values"]} == {"บ่อขุด", "บ่อบาดาล"}
    assert "caretaker" not in raw and "ผู้ดูแล" not in raw  # its personal field: nowhere
    page = client.get("/dashboard?province=50").get_data(as_text=True)
    assert "บ่อน้ำชุมชน" in page


def test_cross_filter_counts_only_the_chosen_features(client, engine):
    """Issue 23, item 5: a chosen bar (model level HLM) filters that layer's card, its other
    charts and its children's counts; its own chart keeps every value, marked selected."""
    base = client.get("/api/areas/province/50/summary").get_json()
    body = client.get("/api/areas/province/50/summary?filter=khok-nong-na:model_level:HLM"
                      ).get_json()
    assert body["filter"] == {"layer": "khok-nong-na", "field": "model_level", "value": "HLM"}
    plots = next(x for x in body["layers"] if x["id"] == "khok-nong-na")
    hlm = count(engine, """SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na'
        AND province_code = '50' AND properties->>'model_level' = 'HLM'""")
    assert (plots["count"], plots["filtered_from"], plots["rank"]) == (
        hlm, next(x for x in base["layers"] if x["id"] == "khok-nong-na")["count"], None)
    cats = {c["field"]: c for c in plots["categories"]}
    assert cats["model_level"]["selected"] == "HLM"
    assert cats["model_level"]["values"] == next(
        c for c in next(x for x in base["layers"] if x["id"] == "khok-nong-na")["categories"]
        if c["field"] == "model_level")["values"]
    for field in ("budget_year", "plot_size_rai"):
        assert sum(v["count"] for v in cats[field]["values"]) == hlm, field
    per_district = {r[0]: r[1] for r in _rows(engine, """SELECT district_code, count(*)
        FROM layer_features WHERE layer = 'khok-nong-na' AND province_code = '50'
        AND properties->>'model_level' = 'HLM' GROUP BY 1""")}
    for child in body["children"]:
        assert child["counts"]["khok-nong-na"] == per_district.get(child["code"], 0)
    # the other layers are untouched
    assert [x for x in body["layers"] if x["id"] != "khok-nong-na"] == [
        x for x in base["layers"] if x["id"] != "khok-nong-na"]
    # a range bucket filters by its bounds
    size = next(c for c in cats["plot_size_rai"]["values"] if c["value"])
    ranged = client.get("/api/areas/province/50/summary?filter=khok-nong-na:plot_size_rai:"
                        f"{size['value']}").get_json()
    assert next(x for x in ranged["layers"] if x["id"] == "khok-nong-na")["count"] == next(
        v for v in next(c for c in next(x for x in base["layers"] if x["id"] == "khok-nong-na")
                        ["categories"] if c["field"] == "plot_size_rai")["values"]
        if v["value"] == size["value"])["count"]


@pytest.mark.parametrize(("value", "word"), [
    ("khok-nong-na", "filter must be layer:field:value"),
    ("wells:x:1", "filter: no layer 'wells'"),
    ("khok-nong-na:owner_name:x", "has no chart of 'owner_name'"),
    ("khok-nong-na:model_level:__other__", "choose one of them"),
    ("khok-nong-na:plot_size_rai:1-999", "is not one of plot_size_rai's ranges"),
    ("khok-nong-na:model_level:" + "x" * 201, "at most 200"),
])
def test_bad_filter(client, value, word):
    for path in ("/api/areas/province/50/summary", "/dashboard"):
        response = client.get(path, query_string={"filter": value, **(
            {"province": "50"} if path == "/dashboard" else {})})
        assert response.status_code == 400, path
        assert word in unescape(response.get_data(as_text=True)), path


def test_a_theme_narrows_the_dashboard_to_its_layers_and_tables(client):
    """Issue 23, item 2: themes are data (indicators/themes.json), like the seed's pages."""
    from indicators.themes import themes

    economy = themes()["community-economy"]
    body = client.get("/api/areas/province/50/summary?theme=community-economy").get_json()
    assert body["theme"]["title_th"] == "เศรษฐกิจชุมชน"
    assert [x["id"] for x in body["layers"]] == [x for x in LAYERS if x in economy.layers]
    assert {i["id"] for i in body["indicators"]} <= set(economy.indicators)
    assert {i["id"] for i in body["indicators"]} >= {"oae-rice-production"}
    html = client.get("/dashboard?province=50&theme=community-economy").get_data(as_text=True)
    assert 'data-theme="community-economy" aria-current="page"' in html
    assert "theme=community-economy" in html  # the breadcrumbs keep it


def test_a_staff_table_joins_a_theme_by_its_id():
    summary = {"layers": [], "indicators": [{"id": "mine", "theme": "community-strength"},
                                            {"id": "other", "theme": None}]}
    from indicators.themes import themes

    out = gs.themed(summary, themes()["community-strength"])
    assert [i["id"] for i in out["indicators"]] == ["mine"]


def test_bad_theme_and_bad_declarations(client, tmp_path):
    from indicators.themes import read_themes

    for path in ("/api/areas/province/50/summary?theme=sports", "/dashboard?theme=sports"):
        response = client.get(path)
        assert response.status_code == 400 and "theme must be one of" in unescape(
            response.get_data(as_text=True)), path
    bad = tmp_path / "themes.json"
    bad.write_text('{"themes": [{"id": "a", "title_th": "ก", "title_en": "A"},'
                   ' {"id": "a", "title_th": "ข", "title_en": "B"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="theme 2: id 'a' is declared twice"):
        read_themes(bad)
    bad.write_text('{"themes": [{"id": "a", "title_th": "", "title_en": "A", "layers": ["x"]}]}',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="theme 1: title_th is required"):
        read_themes(bad)
    bad.write_text('{"themes": [{"id": "a", "title_th": "ก", "title_en": "A", "layers": ["x"]}]}',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="no layer x"):
        read_themes(bad, layer_ids=frozenset(LAYERS))


def test_every_declared_theme_names_real_layers_and_tables(engine):
    from indicators.themes import themes

    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT id FROM indicators"))}
    for theme in themes().values():
        assert set(theme.layers) <= set(LAYERS), theme.id
        assert set(theme.indicators) <= tables, theme.id
