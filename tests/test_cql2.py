"""Part 3: queryables and CQL2 filters (text and JSON), compiled to parameterised SQL, checked
against direct counts in the database; personal and unknown properties are refused alike."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import cql2
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text


def _get(client: FlaskClient, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _matched(client: FlaskClient, collection: str, cql: str, lang: str = "cql2-text") -> int:
    body = _get(client, f"/api/collections/{collection}/items?limit=1&filter-lang={lang}"
                        f"&filter={quote(cql)}")
    return body["numberMatched"]


def _count(engine: Engine, where: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features WHERE {where}"),
                            params).scalar_one()


def test_queryables_are_json_schema_typed_from_the_declaration(client: FlaskClient) -> None:
    response = client.get("/api/collections/khok-nong-na/queryables")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    doc = response.get_json(force=True)
    props = doc["properties"]
    assert props["plot_size_rai"]["type"] == "number"
    assert props["budget_year"]["type"] == "integer"
    assert props["model_level"]["enum"] == ["HLM", "CLM"]
    assert props["geometry"]["x-ogc-role"] == "primary-geometry"
    assert "owner_name" not in props  # personal data is not queryable
    trees = _get(client, "/api/collections/plant-genetics-trees/queryables")["properties"]
    assert trees["recorded_on"] == {"type": "string", "format": "date",
                                    "title": "วันที่บันทึก / Date recorded"}
    for collection in ("provinces", "districts", "subdistricts", "learning-centers",
                       "volunteer-centers", "otop-tourism-villages"):
        assert "geometry" in _get(client, f"/api/collections/{collection}/queryables")[
            "properties"]
    links = _get(client, "/api/collections/khok-nong-na")["links"]
    assert any(link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables"
               for link in links)


def test_basic_and_advanced_comparisons_match_the_database(client: FlaskClient,
                                                          engine: Engine) -> None:
    kn = "layer = 'khok-nong-na'"
    size = "(properties->>'plot_size_rai')::numeric"
    cases = [
        ("plot_size_rai > 5", f"{kn} AND {size} > 5"),
        ("plot_size_rai BETWEEN 1 AND 3", f"{kn} AND {size} BETWEEN 1 AND 3"),
        ("model_level IN ('CLM') AND budget_year = 2564",
         f"{kn} AND properties->>'model_level' = 'CLM' AND properties->>'budget_year' = '2564'"),
        ("province_code = '50' OR province_code = '57'", f"{kn} AND province_code IN ('50', '57')"),
        ("NOT (land_title = 'chanot')",
         f"{kn} AND NOT (properties->>'land_title' = 'chanot')"),
        ("village_name LIKE 'บ้าน%'", f"{kn} AND properties->>'village_name' LIKE 'บ้าน%'"),
        ("land_title IS NULL", f"{kn} AND properties->>'land_title' IS NULL"),
    ]
    for cql, where in cases:
        expected = _count(engine, where)
        assert expected > 0 or "IS NULL" in cql, cql
        assert _matched(client, "khok-nong-na", cql) == expected, cql


def test_spatial_filters_with_bbox_and_wkt(client: FlaskClient, engine: Engine) -> None:
    box = "ST_MakeEnvelope(98.8, 18.6, 99.2, 19.0, 4326)"
    expected = _count(engine, f"layer = 'khok-nong-na' AND ST_Intersects(geom, {box})")
    assert expected > 0
    assert _matched(client, "khok-nong-na",
                    "S_INTERSECTS(geometry, BBOX(98.8, 18.6, 99.2, 19.0))") == expected
    wkt = "POLYGON((98.8 18.6, 99.2 18.6, 99.2 19.0, 98.8 19.0, 98.8 18.6))"
    assert _matched(client, "khok-nong-na", f"S_WITHIN(geometry, {wkt})") == expected
    # Areas too: the districts a point lies in.
    assert _matched(client, "districts", "S_INTERSECTS(geometry, POINT(98.9853 18.7883))") == 1
    as_json = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              {"bbox": [98.8, 18.6, 99.2, 19.0]}]}
    assert _matched(client, "khok-nong-na", json.dumps(as_json), "cql2-json") == expected


def test_cql2_json_and_temporal_on_dates(client: FlaskClient, engine: Engine) -> None:
    expected = _count(engine, "layer = 'plant-genetics-trees' AND "
                              "(properties->>'recorded_on')::date > '2020-01-01'")
    assert expected > 0
    assert _matched(client, "plant-genetics-trees",
                    "recorded_on > DATE('2020-01-01')") == expected
    assert _matched(client, "plant-genetics-trees",
                    "T_AFTER(recorded_on, DATE('2020-01-01'))") == expected
    as_json = {"op": "t_after", "args": [{"property": "recorded_on"}, {"date": "2020-01-01"}]}
    assert _matched(client, "plant-genetics-trees", json.dumps(as_json), "cql2-json") == expected
    areas = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "region"}, "north"]},
        {"op": ">", "args": [{"property": "area_km2"}, 10000]}]}
    north_big = _matched(client, "provinces", json.dumps(areas), "cql2-json")
    assert 0 < north_big < 17


@pytest.mark.parametrize(("collection", "cql", "message"), [
    ("khok-nong-na", "owner_name = 'x'", "unknown property 'owner_name'"),
    ("khok-nong-na", "owner_name LIKE '%'", "unknown property 'owner_name'"),
    ("khok-nong-na", "nonsense_field = 1", "unknown property 'nonsense_field'"),
    ("khok-nong-na", "plot_size_rai = 'big'", "plot_size_rai is number"),
    ("khok-nong-na", "plot_size_rai >", "filter is not valid cql2-text"),
    ("khok-nong-na", "model_level LIKE 5", "model_level"),
    ("provinces", "S_INTERSECTS(name_th, BBOX(1,2,3,4))", "needs the geometry"),
    ("khok-nong-na", "plot_id'; DROP TABLE layer_features; --", "filter is not valid"),
])
def test_bad_filters_are_a_clear_400(client: FlaskClient, collection: str, cql: str,
                                     message: str) -> None:
    response = client.get(f"/api/collections/{collection}/items?filter={quote(cql)}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.get_json()["description"]


def test_personal_fields_cannot_be_filtered_sorted_or_selected(client: FlaskClient) -> None:
    for query in ("filter=" + quote("owner_name IS NOT NULL"),
                  "filter-lang=cql2-json&filter=" + quote(json.dumps(
                      {"op": "isNull", "args": [{"property": "owner_name"}]})),
                  "sortby=owner_name", "properties=owner_name"):
        response = client.get(f"/api/collections/khok-nong-na/items?{query}")
        assert response.status_code == 400, query
        assert "owner_name" in response.get_json()["description"]


def test_filter_json_syntax_error(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items?filter-lang=cql2-json&filter={")
    assert response.status_code == 400
    assert "filter is not valid cql2-json" in response.get_json()["description"]


def test_cql2_as_the_standard_writes_it(client: FlaskClient, engine: Engine) -> None:
    """Issue 21, item 2: the standard's JSON ``between``, lower-case keywords and functions,
    the function form of the temporal operators, and a 6-number BBOX."""
    size = "(properties->>'plot_size_rai')::numeric"
    between = _count(engine, f"layer = 'khok-nong-na' AND {size} BETWEEN 1 AND 3")
    assert between > 0
    standard = {"op": "between", "args": [{"property": "plot_size_rai"}, 1, 3]}
    assert _matched(client, "khok-nong-na", json.dumps(standard), "cql2-json") == between
    assert _matched(client, "khok-nong-na", "plot_size_rai between 1 and 3") == between
    after = _count(engine, "layer = 'plant-genetics-trees' AND "
                           "(properties->>'recorded_on')::date > '2020-01-01'")
    assert after > 0
    for cql in ("recorded_on > date('2020-01-01')", "T_AFTER(recorded_on, DATE('2020-01-01'))",
                "t_after(recorded_on, date('2020-01-01'))",
                "T_AFTER(recorded_on, TIMESTAMP('2020-01-01T00:00:00Z'))",
                "T_INTERSECTS(recorded_on, INTERVAL('2020-01-01T00:00:01Z', '..'))",
                "T_DURING(INTERVAL(recorded_on, recorded_on), INTERVAL('2020-01-01', '..'))"):
        assert _matched(client, "plant-genetics-trees", cql) == after, cql
    # A date is the instant of its midnight (UTC): the trees of 2020-01-01 are before 05:30.
    on_the_day = _count(engine, "layer = 'plant-genetics-trees' AND "
                                "(properties->>'recorded_on')::date <= '2020-01-01'")
    assert _matched(client, "plant-genetics-trees",
                    "T_BEFORE(recorded_on, TIMESTAMP('2020-01-01T05:30:00Z'))") == on_the_day
    box = "ST_MakeEnvelope(98.8, 18.6, 99.2, 19.0, 4326)"
    inside = _count(engine, f"layer = 'khok-nong-na' AND ST_Intersects(geom, {box})")
    as_json = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              {"bbox": [98.8, 18.6, -10, 99.2, 19.0, 10]}]}
    assert _matched(client, "khok-nong-na", json.dumps(as_json), "cql2-json") == inside
    assert _matched(client, "khok-nong-na",
                    "s_intersects(geometry, bbox(98.8, 18.6, 99.2, 19.0))") == inside


@pytest.mark.parametrize(("lang", "cql", "message"), [
    ("cql2-json", json.dumps({"op": "s_intersects", "args": [
        {"property": "geometry"}, {"bbox": [1, 2, 3, 4, 5]}]}), "BBOX takes 4 numbers"),
    ("cql2-json", json.dumps({"op": "between", "args": [{"property": "area_km2"}, 1]}),
     "filter is not valid cql2-json"),
    ("cql2-json", json.dumps({"op": "=", "args": [{"property": "name_en"}]}),
     "filter is not valid cql2-json"),
    ("cql2-json", json.dumps({"op": "=", "args": [{"op": "casei", "args": [
        {"property": "name_en"}]}, {"op": "casei", "args": ["bangkok"]}]}),
     "CASEI is not supported here"),
    ("cql2-json", json.dumps({"op": "=", "args": [{"property": "name_en"},
                                                  {"date": "2020-13-45"}]}), "is not a date"),
    ("cql2-json", "{", "not JSON at line 1, column 2"),
    ("cql2-text", "name_en = ", "cannot read on from line 1, column 11"),
    ("cql2-text", "name_en LIKE casei('bang%')", "needs a quoted text pattern"),
    ("cql2-text", "area_km2 > (code + 1)", "+ is not supported here"),
])
def test_filter_errors_are_in_our_words(client: FlaskClient, lang: str, cql: str,
                                        message: str) -> None:
    """Thai first, English beside it, naming filter; never the parser's exception text."""
    response = client.get(f"/api/collections/provinces/items?filter-lang={lang}"
                          f"&filter={quote(cql)}")
    assert response.status_code == 400, response.get_data(as_text=True)
    description = response.get_json()["description"]
    assert message in description and description.startswith("filter")
    assert re.search("[\u0e00-\u0e7f]", description), description  # Thai
    for internal in ("__init__", "subscriptable", "object", "Traceback", "Token(", "-->"):
        assert internal not in description, description


# --- The OGC's own example expressions (tests/cql2_examples/README.md) -------------------------

EXAMPLES = Path(__file__).parent / "cql2_examples"
CQL2_CONF = "http://www.opengis.net/spec/cql2/1.0/conf/"
LC, TREES, PROVINCES = "learning-centers", "plant-genetics-trees", "provinces"
INTERVAL = {"starts_at": "recorded_on", "ends_at": "recorded_on"}
# Each example's collection, and its properties renamed to that collection's queryables of the
# same type (the expressions are otherwise sent as the OGC wrote them).
ADAPTED: dict[str, tuple[str, dict[str, str]]] = {
    "clause6_02a": (LC, {"city": "name"}),
    "clause6_02d": (TREES, {"updated": "recorded_on"}),
    "clause6_03": (LC, {}),
    "clause7_01": (LC, {}),
    "clause7_02": (TREES, {"depth": "girth_cm"}),
    "clause7_03a": (LC, {"cityName": "name"}),
    "clause7_03b": (LC, {"category": "budget_year"}),
    "clause7_07": (PROVINCES, {}),
    "clause7_10": (PROVINCES, {"road": "geometry"}),
    "clause7_12": (TREES, {"event_time": "recorded_on"}),
    "clause7_13": (TREES, {"touchdown": "recorded_on", "liftOff": "recorded_on"}),
    "clause7_16": (LC, {}),
    "clause7_17": (TREES, {}),
    "example01": (LC, {"landsat:scene_id": "center_id"}),
    "example02": (TREES, {"eo:instrument": "species_scientific"}),
    "example03": (LC, {"landsat:wrs_path": "province_code"}),
    "example04": (TREES, {"eo:cloud_cover": "height_m", "landsat:wrs_row": "girth_cm",
                          "landsat:wrs_path": "girth_cm"}),
    "example05a": (TREES, {"eo:cloud_cover": "height_m"}),
    "example05b": (TREES, {"eo:cloud_cover": "height_m"}),
    "example06a": (TREES, {"eo:cloud_cover": "height_m", "landsat:wrs_row": "girth_cm",
                           "landsat:wrs_path": "girth_cm"}),
    "example06b": (TREES, {"eo:cloud_cover": "height_m", "landsat:wrs_row": "girth_cm",
                           "landsat:wrs_path": "girth_cm"}),
    "example07": (TREES, {"eo:instrument": "species_scientific", "footprint": "geometry"}),
    "example08": (LC, {"beamMode": "name", "swathDirection": "center_id",
                       "polarization": "province_code", "footprint": "geometry"}),
    **{f"example{n:02d}": (LC, {"floors": "budget_year", "swimming_pool": "ready",
                            "material": "name", "owner": "name", "taxes": "budget_year"})
       for n in range(9, 20)},
    "example20": (TREES, {"built": "recorded_on"}),
    "example21": (TREES, {"built": "recorded_on"}),
    "example22": (TREES, INTERVAL),
    "example23": (LC, {"location": "geometry"}),
    "example24": (PROVINCES, {}),
    "example25": (LC, {"floors": "budget_year"}),
    **{f"example{n}": (LC, {}) for n in ("29", "30", "35", "36", "36-alt01")},
    **{f"example{n}": (TREES, {"value": "girth_cm"})
       for n in ("31", "32", "33", "34", "37", "38", "38-alt01", "39", "44", "44-alt01")},
    **{f"example{n}": (TREES, {"value": "species_scientific"})
       for n in ("40", "40-alt01", "41", "42", "42-alt01")},
    "example43": (TREES, {"name": "species_th", "value": "girth_cm"}),
    "example43-alt01": (TREES, {"name": "species_th", "value": "girth_cm"}),
    **{f"example{n}": (PROVINCES, {}) for n in ("45", "46", "46-alt01", "47", "48", "49",
                                                "49-alt01", "50", "51", "52")},
    **{f"example{n}": (TREES, {"updated_at": "recorded_on", **INTERVAL})
       for n in ("53", "54", "54-alt01", *map(str, range(55, 68)), "55-alt01")},
    "example83": (LC, {}),
    "example84": (LC, {}),
}


def _classes(tree: object) -> set[str]:
    """The CQL2 conformance classes an expression needs, read from its CQL2 JSON form."""
    needed: set[str] = set()

    def is_property(node: object) -> bool:
        return isinstance(node, dict) and "property" in node

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            return
        op, args = node["op"].lower(), node.get("args", [])
        if op in ("and", "or", "not", "=", "<>", "<", "<=", ">", ">=", "isnull"):
            needed.add("basic-cql2")
        elif op in ("like", "between", "in"):
            needed.add("advanced-comparison-operators")
        elif op == "s_intersects" and any(isinstance(a, dict) and (
                "bbox" in a or a.get("type") == "Point") for a in args):
            needed.add("basic-spatial-functions")
        elif op == "s_intersects":
            needed.add("basic-spatial-functions-plus")
        elif op.startswith("s_"):
            needed.add("spatial-functions")
        elif op.startswith("t_"):
            needed.add("temporal-functions")
        elif op.startswith("a_"):
            needed.add("array-functions")
        elif op == "casei":
            needed.add("case-insensitive-comparison")
        elif op == "accenti":
            needed.add("accent-insensitive-comparison")
        elif op in ("+", "-", "*", "/", "^", "%", "div"):
            needed.add("arithmetic")
        else:
            needed.add("functions")
        # The basic classes want a property first and a literal after it; anything else (a
        # literal first, two literals, two properties) is the property-property class.
        if op not in ("and", "or", "not") and args and (
                not is_property(args[0]) or any(is_property(a) for a in args[1:])) and not (
                op.startswith("t_") and isinstance(args[0], dict) and "interval" in args[0]
                and all(is_property(p) for p in args[0]["interval"])):
            needed.add("property-property")
        walk(args)

    walk(tree)
    return needed


def _rename(tree: object, names: dict[str, str]) -> object:
    if isinstance(tree, list):
        return [_rename(item, names) for item in tree]
    if isinstance(tree, dict):
        if set(tree) == {"property"}:
            return {"property": names.get(tree["property"], tree["property"])}
        return {key: _rename(value, names) for key, value in tree.items()}
    return tree


def _rename_text(text: str, names: dict[str, str]) -> str:
    """The properties renamed in CQL2 text, outside its quoted strings."""
    if not names:
        return text
    pattern = re.compile(r'(?<![\w:"])"?(' + "|".join(map(re.escape, names)) + r')"?(?![\w:"])')
    parts = re.split(r"('(?:[^']|'')*')", text)
    return "".join(part if i % 2 else pattern.sub(lambda m: names[m.group(1)], part)
                   for i, part in enumerate(parts))


def _examples() -> list[tuple[str, str]]:
    return sorted((p.parent.name, p.name) for p in EXAMPLES.glob("*/*")
                  if p.suffix in (".txt", ".json"))


@pytest.fixture(scope="module")
def declared(client_module: FlaskClient) -> set[str]:
    conforms = _get(client_module, "/api/conformance")["conformsTo"]
    return {c.removeprefix(CQL2_CONF) for c in conforms if c.startswith(CQL2_CONF)}


@pytest.fixture(scope="module")
def every_feature(client_module: FlaskClient) -> dict[str, list[dict]]:
    return {c: _get(client_module, f"/api/collections/{c}/items?limit=10000")["features"]
            for c in (LC, TREES, PROVINCES)}


@pytest.fixture(scope="module")
def client_module(app) -> FlaskClient:
    return app.test_client()


def test_every_ogc_example_of_a_declared_class_is_accepted_and_agrees_with_cql2_rs(
        client_module: FlaskClient, declared: set[str],
        every_feature: dict[str, list[dict]]) -> None:
    """Each OGC example that needs only the classes /api/conformance declares, adapted to our
    queryables, is accepted, and returns exactly the features that the cql2 package's own
    evaluator (cql2-rs, Rust) picks from the same features' GeoJSON."""
    counts = {"text": [0, 0], "json": [0, 0]}
    problems, matched = [], 0
    for kind, name in _examples():
        raw = (EXAMPLES / kind / name).read_text(encoding="utf-8")
        tree = cql2.parse_json(raw).to_json() if kind == "json" else \
            cql2.parse_text(raw).to_json()
        if not _classes(tree) <= declared:
            continue
        counts[kind][1] += 1
        stem = name.rsplit(".", 1)[0]
        if stem not in ADAPTED:
            problems.append(f"{kind}/{name}: not adapted to a collection")
            continue
        collection, names = ADAPTED[stem]
        if kind == "json":
            sent, lang = json.dumps(_rename(tree, names)), "cql2-json"
            expr = cql2.parse_json(sent)
        else:
            # On one line: the API refuses control characters (newlines too) in any parameter.
            sent, lang = " ".join(_rename_text(raw, names).split()), "cql2-text"
            expr = cql2.parse_text(sent)
        response = client_module.get(f"/api/collections/{collection}/items?limit=10000"
                                     f"&filter-lang={lang}&filter={quote(sent)}")
        if response.status_code != 200:
            problems.append(f"{kind}/{name}: {response.status_code} "
                            f"{response.get_json()['description']}")
            continue
        counts[kind][0] += 1
        got = {f["id"] for f in json.loads(response.get_data(as_text=True))["features"]}
        expected = set()
        for feature in every_feature[collection]:
            try:
                if expr.matches(feature):
                    expected.add(feature["id"])
            except Exception:  # a null property: neither true nor false, so not selected
                pass
        matched += bool(got)
        if got != expected:
            problems.append(f"{kind}/{name}: {len(got)} returned, cql2-rs picks "
                            f"{len(expected)} ({sorted(got ^ expected)[:3]} differ)")
    print(f"accepted: text {counts['text']}, json {counts['json']}; "
          f"{matched} with at least one feature")
    assert not problems, "\n".join(problems)
    assert counts["text"][1] >= 61 and counts["json"][1] >= 55


INSTANTS_TOO = ("T_AFTER", "T_BEFORE", "T_DISJOINT", "T_EQUALS", "T_INTERSECTS")
INTERVALS_ONLY = ("T_CONTAINS", "T_DURING", "T_FINISHEDBY", "T_FINISHES", "T_MEETS", "T_METBY",
                  "T_OVERLAPPEDBY", "T_OVERLAPS", "T_STARTEDBY", "T_STARTS")


def test_temporal_functions_agree_with_cql2_rs_on_real_dates(
        client_module: FlaskClient, declared: set[str],
        every_feature: dict[str, list[dict]]) -> None:
    """The class is declared, so each of its 15 functions, on instants (the five that take
    them) and intervals (open ones too), picks the trees cql2-rs picks — with dates taken from
    the data, so that equal ends (T_MEETS, T_STARTS, …) and both sides of each relation occur.
    The other ten refuse an instant, as the standard says (a client error)."""
    assert "temporal-functions" in declared
    trees = every_feature[TREES]
    dates = sorted({f["properties"]["recorded_on"] for f in trees})
    low, mid, high = dates[len(dates) // 4], dates[len(dates) // 2], dates[3 * len(dates) // 4]
    intervals = (f"INTERVAL('{low}', '{high}')", f"INTERVAL('{mid}', '..')",
                 f"INTERVAL('..', '{mid}')", f"INTERVAL('{low}', '{mid}')",
                 f"INTERVAL('{mid}', '{mid}')",
                 f"INTERVAL('{low}T00:00:00Z', '{mid}T12:00:00Z')")
    instants = (f"DATE('{mid}')", f"TIMESTAMP('{mid}T00:00:00Z')",
                f"TIMESTAMP('{mid}T12:00:00Z')")
    cases = [f"{f}({a}, {b})" for f in INSTANTS_TOO for a, b in (
        *(("recorded_on", o) for o in (*instants, *intervals)),
        *((o, "recorded_on") for o in (*instants, *intervals)))]
    cases += [f"{f}({a}, {b})" for f in INSTANTS_TOO + INTERVALS_ONLY for a, b in (
        *(("INTERVAL(recorded_on, recorded_on)", o) for o in intervals),
        *((o, "INTERVAL(recorded_on, recorded_on)") for o in intervals))]
    problems, selective = [], 0
    for cql in cases:
        response = client_module.get(f"/api/collections/{TREES}/items?limit=10000"
                                     f"&filter={quote(cql)}")
        if response.status_code != 200:
            problems.append(f"{cql}: {response.get_json()['description']}")
            continue
        got = {f["id"] for f in response.get_json()["features"]}
        expr = cql2.parse_text(cql)
        expected = {f["id"] for f in trees if expr.matches(f)}
        selective += 0 < len(got) < len(trees)
        if got != expected:
            problems.append(f"{cql}: {len(got)} returned, cql2-rs picks {len(expected)}")
    assert not problems, "\n".join(problems)
    assert selective >= len(cases) // 2, (selective, len(cases))
    for function in INTERVALS_ONLY:
        response = client_module.get(f"/api/collections/{TREES}/items?filter="
                                     f"{quote(f'{function}(recorded_on, {intervals[0]})')}")
        assert response.status_code == 400
        assert "compares intervals only" in response.get_json()["description"]
