"""Everything cddgis knows about one area, for the dashboard and ``/api/areas/…/summary``.

A handful of statements, not one per card: the area and its parents, its children, every layer's
counts (country, area, siblings, children — one ``GROUPING SETS`` scan), every layer's categories
(one ``UNION ALL`` built from the layer declarations, so a new layer needs no code here) and the
imported indicators at the area's level (values, ranks and means in one window query).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from core.areas import CDD_REGIONS
from core.errors import BadParameter, NotFound
from core.schema import Field, Layer
from gis.versioned import VersionedCache
from indicators.themes import Theme, themes
from layers.definitions import LAYERS

LEVELS = ("country", "region", "province", "district", "subdistrict", "village")
CODE_LENGTH = {"country": 0, "province": 2, "district": 4, "subdistrict": 6, "village": 8}
"""DOPA code lengths; a region (CDD's four) is named, not coded, and its provinces rank among
the country's 77 as before (the region is a dashboard of its own, not a parent in ranks)."""
TABLE = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}
CHILD = {"country": "province", "region": "province", "province": "district",
         "district": "subdistrict", "subdistrict": "village", "village": None}
PARENT = {"country": None, "region": "country", "province": "country", "district": "province",
          "subdistrict": "district", "village": "subdistrict"}
VILLAGE_FIELD = "village_no"
"""A layer with a หมู่ที่ field of this name places its points in villages: the village's code
is DOPA's, the subdistrict's six digits and the หมู่ที่ in two (50010103: หมู่ 3 of 500101)."""
VILLAGE_NAME_FIELD = "village_name"
FEATURE_COLUMN = {"region": "region", "province": "province_code", "district": "district_code",
                  "subdistrict": "subdistrict_code",
                  "village": f"(subdistrict_code || lpad(properties->>'{VILLAGE_FIELD}', 2, '0'))"}
LEVEL_LABELS = {"country": ("ประเทศ", "Country"), "region": ("ภาค", "Region"),
                "province": ("จังหวัด", "Province"),
                "district": ("อำเภอ/เขต", "District"), "subdistrict": ("ตำบล/แขวง", "Subdistrict"),
                "village": ("หมู่บ้าน", "Village")}
NEARBY = 5
"""How many of each layer's nearest points a village dashboard lists."""
COUNTRY = {"level": "country", "code": "", "name_th": "ประเทศไทย", "name_en": "Thailand"}
TOP_VALUES = 12
"""A choice field with more values (tree species) shows the commonest and "others"."""
NICE_STEPS = (1, 2, 5)
ADDITIVE = frozenset({"population", "oae-rice-area-planted", "oae-rice-production",
                      "osm-poi-count"})
"""Imported indicators whose country figure is the sum of the provinces' (the rest: the mean)."""


@dataclass(frozen=True)
class AreaRef:
    level: str
    code: str


def parse_area(level: str, code: str) -> AreaRef:
    """Checks a level and a DOPA code of its shape (``country`` takes no code, or ``TH``)."""
    if level not in LEVELS:
        raise BadParameter(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    if level == "country":
        if code not in ("", "th", "TH", "all"):
            raise BadParameter(f"the country's code is TH; got {code!r}")
        return AreaRef("country", "")
    if level == "region":
        if code not in CDD_REGIONS:
            raise BadParameter(f"region must be one of {', '.join(CDD_REGIONS)}; got {code!r}")
        return AreaRef("region", code)
    n = CODE_LENGTH[level]
    if len(code) != n or not code.isascii() or not code.isdigit():
        raise BadParameter(f"{level} must be a {n}-digit DOPA code; got {code!r}")
    return AreaRef(level, code)


def range_edges(field: Field) -> list[float]:
    """Bucket edges for a range field: 1-2-5 steps across its declared range (sizes of plots,
    girths of trees spread over orders of magnitude, so equal steps would put all in one)."""
    low = field.minimum if field.minimum is not None else 0.0
    high = field.maximum if field.maximum is not None else 1000.0
    edges = [low]
    exponent = math.floor(math.log10(low)) if low > 0 else 0
    while edges[-1] < high:
        for step in NICE_STEPS:
            edge = step * 10.0 ** exponent
            if edges[-1] < edge < high:
                edges.append(edge)
        exponent += 1
        if 10.0 ** exponent >= high:
            break
    edges.append(high)
    return edges


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 1 else f"{x:g}"


def category_fields(layer: Layer) -> list[Field]:
    """The fields a layer's charts break it down by: its public choice and range filters."""
    return [f for f in layer.filter_fields if f.filter in ("choice", "range")]


def _choice_label(field: Field, value: str | None) -> tuple[str, str]:
    if value is None:
        return "ไม่ระบุ", "Not stated"
    if field.type == "bool":
        return ("ใช่", "Yes") if value == "true" else ("ไม่ใช่", "No")
    for c in field.choices:
        if c.value == value:
            return c.label_th, c.label_en
    return value, value


def _area(conn: Connection, ref: AreaRef) -> dict[str, Any]:
    if ref.level == "country":
        km2 = conn.execute(text("SELECT sum(area_km2) FROM provinces")).scalar_one()
        return {**COUNTRY, "area_km2": km2, "siblings": None, "parents": []}
    if ref.level == "village":
        return _village(conn, ref)
    if ref.level == "region":
        region = CDD_REGIONS[ref.code]
        km2 = conn.execute(text("SELECT sum(area_km2) FROM provinces WHERE region = :code"),
                           {"code": ref.code}).scalar_one()
        return {"level": "region", "code": ref.code, "name_th": region.name_th,
                "name_en": region.name_en, "area_km2": km2, "region": ref.code,
                "siblings": len(CDD_REGIONS), "parents": [dict(COUNTRY)]}
    table = TABLE[ref.level]
    joins = {"province": "", "district": "JOIN provinces p ON p.code = a.province_code",
             "subdistrict": "JOIN provinces p ON p.code = a.province_code "
                            "JOIN districts d ON d.code = a.district_code"}[ref.level]
    parents = {"province": "NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, "
                           "NULL::text",
               "district": "p.code, p.name_th, p.name_en, NULL::text, NULL::text, NULL::text",
               "subdistrict": "p.code, p.name_th, p.name_en, d.code, d.name_th, d.name_en",
               }[ref.level]
    peers = ("TRUE" if ref.level == "province"
             else f"s.{FEATURE_COLUMN[PARENT[ref.level] or 'province']} = "
                  f"a.{FEATURE_COLUMN[PARENT[ref.level] or 'province']}")
    row = conn.execute(text(f"""
        SELECT a.code AS area_code, a.name_th AS area_th, a.name_en AS area_en, a.area_km2,
               a.region, {parents},
               (SELECT count(*) FROM {table} s WHERE {peers}) AS siblings
        FROM {table} a {joins} WHERE a.code = :code
    """), {"code": ref.code}).first()
    if row is None:
        raise NotFound(f"ไม่พบ{LEVEL_LABELS[ref.level][0]}รหัส {ref.code} — "
                       f"no {ref.level} with code {ref.code}")
    chain = [dict(COUNTRY)]
    if row[5]:
        chain.append({"level": "province", "code": row[5], "name_th": row[6], "name_en": row[7]})
    if row[8]:
        chain.append({"level": "district", "code": row[8], "name_th": row[9], "name_en": row[10]})
    return {"level": ref.level, "code": row.area_code, "name_th": row.area_th,
            "name_en": row.area_en, "area_km2": row.area_km2, "region": row.region,
            "siblings": row.siblings, "parents": chain}


def _children(conn: Connection, ref: AreaRef) -> list[dict[str, Any]]:
    child = CHILD[ref.level]
    if child is None:
        return []
    if child == "village":
        return _villages(conn, ref)
    where = "TRUE" if ref.level == "country" else f"{FEATURE_COLUMN[ref.level]} = :code"
    rows = conn.execute(text(f"""
        SELECT code, name_th, name_en, area_km2 FROM {TABLE[child]} WHERE {where} ORDER BY code
    """), {"code": ref.code}).all()
    return [{"code": r.code, "name_th": r.name_th, "name_en": r.name_en,
             "area_km2": r.area_km2, "counts": {}} for r in rows]


def _counts(conn: Connection, ref: AreaRef) -> list[Any]:
    """Per layer: the country's count, the area's siblings' (the area among them) and its
    children's, in one scan of layer_features."""
    params: dict[str, object] = {"code": ref.code}
    if ref.level == "country":
        sibling, in_area = "NULL::text", "TRUE"
    else:
        column = FEATURE_COLUMN[ref.level]
        parent = PARENT[ref.level]
        in_parent = ("TRUE" if parent == "country"
                     else f"{FEATURE_COLUMN[parent or 'province']} = :parent")
        params["parent"] = ref.code[:CODE_LENGTH[parent or "country"]]
        sibling = f"CASE WHEN {in_parent} THEN {column} END"
        in_area = f"{column} = :code"
    child = CHILD[ref.level]
    child_expr = f"CASE WHEN {in_area} THEN {FEATURE_COLUMN[child]} END" if child else "NULL::text"
    return list(conn.execute(text(f"""
        SELECT layer, {sibling} AS sibling, {child_expr} AS child,
               GROUPING({sibling}, {child_expr}) AS g,
               count(*) AS n, bool_or(sample) AS sample,
               count(*) FILTER (WHERE {in_area}) AS in_area
        FROM layer_features
        GROUP BY GROUPING SETS ((layer), (layer, {sibling}), (layer, {child_expr}))
    """), params).all())


def _added_by_month(conn: Connection, ref: AreaRef) -> dict[str, list[dict[str, Any]]]:
    """Per layer, how many of the area's features were added each month (Thai time; the month
    as B.E. year and month): the trend of the data itself, from when each feature was stored."""
    where = "TRUE" if ref.level == "country" else f"{FEATURE_COLUMN[ref.level]} = :code"
    rows = conn.execute(text(f"""
        SELECT layer, date_trunc('month', created_at AT TIME ZONE 'Asia/Bangkok') AS month,
               count(*) AS n
        FROM layer_features WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2
    """), {"code": ref.code}).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.layer, []).append(
            {"month": f"{r.month.year + 543}-{r.month.month:02d}", "count": r.n})
    return out


def _categories(conn: Connection, ref: AreaRef, layers: list[Layer] | None = None,
                extra: str = "TRUE", extra_params: dict[str, object] | None = None,
                ) -> dict[tuple[str, str], list[Any]]:
    """Counts per category of every layer's choice and range fields, in the area: one
    statement, its parts generated from the declarations (field names are declared, never
    user input). ``extra``: a further condition (a cross-filter, ``LayerFilter.sql``)."""
    parts: list[str] = []
    params: dict[str, object] = {"code": ref.code, **(extra_params or {})}
    where = "TRUE" if ref.level == "country" else f"{FEATURE_COLUMN[ref.level]} = :code"
    where = f"{where} AND {extra}"
    for i, layer in enumerate(layers if layers is not None else LAYERS.values()):
        values = []
        for j, field in enumerate(category_fields(layer)):
            value = f"properties->>'{field.name}'"
            if field.filter == "range":
                params[f"e{i}_{j}"] = range_edges(field)[1:-1]
                value = f"width_bucket(({value})::float8, CAST(:e{i}_{j} AS float8[]))::text"
            values.append(f"('{field.name}', {value})")
        if not values:
            continue
        params[f"l{i}"] = layer.id
        # one scan per layer: each row counted once per field it is broken down by
        parts.append(f"SELECT CAST(:l{i} AS text) AS layer, v.field, v.key, count(*) AS n "
                     f"FROM layer_features CROSS JOIN LATERAL (VALUES {', '.join(values)}) "
                     f"AS v(field, key) WHERE layer = :l{i} AND {where} GROUP BY 2, 3")
    out: dict[tuple[str, str], list[Any]] = {}
    if not parts:
        return out
    for row in conn.execute(text(" UNION ALL ".join(parts)), params):
        out.setdefault((row.layer, row.field), []).append(row)
    return out


def _category_rows(field: Field, rows: list[Any]) -> list[dict[str, Any]]:
    if field.filter == "range":
        edges = range_edges(field)
        by_bucket = {int(r.key): r.n for r in rows if r.key is not None}
        out = []
        for i in range(len(edges) - 1):
            lo, hi = edges[i], edges[i + 1]
            out.append({"value": f"{lo:g}-{hi:g}", "label_th": f"{_fmt(lo)}–{_fmt(hi)}",
                        "label_en": f"{_fmt(lo)}–{_fmt(hi)}", "count": by_bucket.get(i, 0)})
        # drop empty buckets at either end: a plot's size rarely passes 50 rai
        while out and out[-1]["count"] == 0:
            out.pop()
        while out and out[0]["count"] == 0:
            out.pop(0)
        missing = sum(r.n for r in rows if r.key is None)
        if missing:
            out.append({"value": None, "label_th": "ไม่ระบุ", "label_en": "Not stated",
                        "count": missing})
        return out
    ordered = sorted(rows, key=lambda r: (r.key is None, _sort_key(field, r.key, r.n)))
    out = []
    for r in ordered:
        th, en = _choice_label(field, r.key)
        out.append({"value": r.key, "label_th": th, "label_en": en, "count": r.n})
    if len(out) > TOP_VALUES and field.type == "text":
        rest = out[TOP_VALUES - 1:]
        out = [*out[:TOP_VALUES - 1], {"value": "__other__", "label_th": "อื่น ๆ",
                                       "label_en": "Others",
                                       "count": sum(r["count"] for r in rest)}]
    return out


def _sort_key(field: Field, key: str | None, n: int) -> tuple[Any, ...]:
    """Declared choices in their order, years and numbers ascending, free text commonest first."""
    if field.choices:
        order = [c.value for c in field.choices]
        return (order.index(key) if key in order else len(order), key or "")
    if field.type in ("year_be", "int") and key and key.lstrip("-").isdigit():
        return (int(key), "")
    if field.type == "bool":
        return (0 if key == "true" else 1, "")
    return (-n, key or "")


def _indicators(conn: Connection, ref: AreaRef) -> list[dict[str, Any]]:
    """Imported indicators at the area's level, every year: the area's value and rank among
    its siblings, the siblings' mean (the parent) and the mean of the level (the country)."""
    country = ref.level == "country"  # the provinces' figures, summed or averaged
    level = "province" if country else ref.level
    plen = CODE_LENGTH[PARENT[ref.level] or "country"]
    values = """
            SELECT v.indicator_id, v.year, v.area_code, v.value,
                   left(v.area_code, :plen) = :parent AS sibling, FALSE AS derived
            FROM indicator_values v JOIN indicators i ON i.id = v.indicator_id
            WHERE i.level = :level"""
    if ref.level == "region":  # tables kept per region, and the provinces' summed or averaged
        values += """
            UNION ALL
            SELECT v.indicator_id, v.year, p.region,
                   CASE WHEN v.indicator_id = ANY(:additive) THEN sum(v.value)
                        ELSE avg(v.value) END, TRUE, TRUE
            FROM indicator_values v JOIN indicators i ON i.id = v.indicator_id
            JOIN provinces p ON p.code = v.area_code
            WHERE i.level = 'province' GROUP BY 1, 2, 3"""
    rows = conn.execute(text(f"""
        WITH v AS ({values}
        ), r AS (
            SELECT *, CASE WHEN sibling AND value IS NOT NULL THEN
                          rank() OVER (PARTITION BY indicator_id, year, sibling, value IS NULL
                                       ORDER BY value DESC) END AS rank,
                   CASE WHEN sibling AND value IS NOT NULL THEN
                          count(*) OVER (PARTITION BY indicator_id, year, sibling, value)
                   END AS tied
            FROM v
        )
        SELECT r.indicator_id, r.year, i.title_th, i.title_en, i.unit, i.source, i.theme,
               max(r.value) FILTER (WHERE r.area_code = :code) AS value,
               max(r.rank) FILTER (WHERE r.area_code = :code) AS rank,
               max(r.tied) FILTER (WHERE r.area_code = :code) AS tied,
               count(r.value) FILTER (WHERE r.sibling) AS of,
               avg(r.value) FILTER (WHERE r.sibling) AS parent_mean,
               avg(r.value) AS level_mean, sum(r.value) AS level_sum,
               bool_or(r.derived) AS derived
        FROM r JOIN indicators i ON i.id = r.indicator_id
        GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2 NULLS FIRST
    """), {"plen": plen, "parent": ref.code[:plen], "level": level, "code": ref.code,
           "additive": sorted(ADDITIVE)}).all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        item = out.setdefault(r.indicator_id, {
            "id": r.indicator_id, "title_th": r.title_th, "title_en": r.title_en,
            "unit": r.unit, "source": r.source, "theme": r.theme, "series": []})
        value = r.value
        if country:  # a count adds up; a rate or an average does not
            value = r.level_sum if r.indicator_id in ADDITIVE else r.level_mean
        all_equal = r.tied is not None and r.tied == r.of
        item["series"].append({"year": r.year, "value": value,
                               "rank": None if all_equal else r.rank, "of": r.of,
                               "tied": r.tied, "all_equal": all_equal,
                               "parent_mean": None if country else r.parent_mean,
                               "level_mean": r.level_mean})
        item["aggregate"] = (("sum" if r.indicator_id in ADDITIVE else "mean")
                             if country or r.derived else None)
    result = []
    for item in out.values():
        with_value = [s for s in item["series"] if s["value"] is not None]
        latest = with_value[-1] if with_value else item["series"][-1]
        item.update(year=latest["year"], value=latest["value"], rank=latest["rank"],
                    of=latest["of"], tied=latest["tied"], all_equal=latest["all_equal"])
        result.append(item)
    return result


def _village_layers() -> list[Layer]:
    return [layer for layer in LAYERS.values()
            if VILLAGE_FIELD in {f.name for f in layer.public_fields}]


def village_layer_ids() -> list[str]:
    """The layers whose หมู่ที่ places points in villages (the villages the dashboards know)."""
    return [layer.id for layer in _village_layers()]


def _village_name_sql() -> str:
    """The commonest village name the layers give for the หมู่ที่ (names vary in spelling)."""
    return (f"mode() WITHIN GROUP (ORDER BY nullif(properties->>'{VILLAGE_NAME_FIELD}', ''))")


def _village(conn: Connection, ref: AreaRef) -> dict[str, Any]:
    parent = _area(conn, AreaRef("subdistrict", ref.code[:6]))
    moo = int(ref.code[6:])
    layers = [layer.id for layer in _village_layers()]
    row = conn.execute(text(f"""
        SELECT count(*) AS n, {_village_name_sql()} AS name,
               ST_X(ST_Centroid(ST_Collect(geom))) AS lon,
               ST_Y(ST_Centroid(ST_Collect(geom))) AS lat
        FROM layer_features
        WHERE layer = ANY(:layers) AND subdistrict_code = :sub
          AND properties->>'{VILLAGE_FIELD}' = :moo
    """), {"layers": layers, "sub": ref.code[:6], "moo": str(moo)}).one()
    if not row.n:
        raise NotFound(f"ไม่มีข้อมูลหมู่ที่ {moo} ใน{parent['name_th']} — the layers hold "
                       f"nothing for village {moo} of subdistrict {ref.code[:6]}")
    name = f"หมู่ที่ {moo}" + (f" บ้าน{row.name.removeprefix('บ้าน')}" if row.name else "")
    parents = [*parent["parents"],
               {"level": "subdistrict", "code": parent["code"], "name_th": parent["name_th"],
                "name_en": parent["name_en"]}]
    return {"level": "village", "code": ref.code, "name_th": name,
            "name_en": f"Village no. {moo}, {parent['name_en']}", "area_km2": None,
            "region": parent["region"], "siblings": None, "parents": parents,
            "point": [row.lon, row.lat]}


def _villages(conn: Connection, ref: AreaRef) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"""
        SELECT {FEATURE_COLUMN["village"]} AS code, {_village_name_sql()} AS name
        FROM layer_features
        WHERE layer = ANY(:layers) AND subdistrict_code = :code
          AND properties->>'{VILLAGE_FIELD}' ~ '^[0-9]{{1,2}}$'
        GROUP BY 1 ORDER BY 1
    """), {"layers": [layer.id for layer in _village_layers()], "code": ref.code}).all()
    return [{"code": r.code, "name_th": f"หมู่ที่ {int(r.code[6:])}"
             + (f" บ้าน{r.name.removeprefix('บ้าน')}" if r.name else ""),
             "name_en": f"Village no. {int(r.code[6:])}", "area_km2": None, "counts": {}}
            for r in rows]


def _village_choices(conn: Connection, ref: AreaRef,
                     children: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The village drop-down's choices: a subdistrict's villages (on its page and its
    villages' pages); none above a subdistrict, where 70,000 would not be a drop-down."""
    if ref.level == "subdistrict":
        villages = children
    elif ref.level == "village":
        villages = _villages(conn, AreaRef("subdistrict", ref.code[:6]))
    else:
        return []
    return [{"code": v["code"], "name_th": v["name_th"], "name_en": v["name_en"]}
            for v in villages]


def _nearby(conn: Connection, point: list[float]) -> list[dict[str, Any]]:
    """Each layer's nearest points to the village (ground distance), by its name field: a
    public field, so nothing personal is read."""
    rows = conn.execute(text("""
        SELECT l.layer, n.key, n.name, n.province_code, n.km FROM unnest(CAST(:layers AS text[]))
               AS l(layer)
        CROSS JOIN LATERAL (
            SELECT f.key, f.name, f.province_code,
                   ST_Distance(f.geom::geography, p.g) / 1000 AS km
            FROM layer_features f,
                 (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g) p
            WHERE f.layer = l.layer
            ORDER BY f.geom::geography <-> p.g LIMIT :n
        ) n
    """), {"layers": list(LAYERS), "lon": point[0], "lat": point[1], "n": NEARBY}).all()
    return [{"layer": r.layer, "id": r.key, "name": r.name, "distance_km": round(r.km, 2)}
            for r in rows]


AREA_SUMMARIES: VersionedCache[dict[str, Any]] = VersionedCache("area summaries",
                                                                 max_entries=256)
"""Per area: what its dashboard shows. Its counts (``_counts``) and categories
(``_categories``) scan every layer (the country's: 68 % of its dashboard, issue 26); with the
area, its children and its indicators, all of it is kept per data version (gis/versioned.py).
The country's entry is the largest (its 77 provinces, a few hundred category rows, ~100 kB);
256 hold the country, the provinces and the districts looked at most."""


def area_summary(engine: Engine, level: str, code: str) -> dict[str, Any]:
    """What the dashboard shows for one area (see the module's docstring for the queries).

    Every part depends only on the data (boundaries, layers, indicators), so the whole is
    kept per data version (``AREA_SUMMARIES``); each caller gets its own copy."""
    ref = parse_area(level, code)
    with engine.connect() as conn:
        return copy.deepcopy(AREA_SUMMARIES.get(conn, (ref.level, ref.code),
                                                lambda c: _make_summary(c, ref)))


def rank_among(peer_values: Sequence[float], value: float) -> dict[str, Any]:
    """Where ``value`` stands among ``peer_values`` (the area's own value among them), ties
    shared: sixteen districts all at 0 are not "1st of 16", they are all equal, so no rank.
    Returns rank (None when every peer is equal), tied (how many share it) and of."""
    of = len(peer_values)
    tied = sum(1 for v in peer_values if v == value)
    if of == 0 or tied == of:
        return {"rank": None, "tied": tied, "of": of, "all_equal": of > 0}
    return {"rank": 1 + sum(1 for v in peer_values if v > value), "tied": tied, "of": of,
            "all_equal": False}


def _ranked_among(ref: AreaRef, area: dict[str, Any]) -> dict[str, str] | None:
    """What a rank ranks among, said in words: "the districts of Chiang Mai" (a village's
    indicators rank among its subdistrict's villages)."""
    if ref.level == "country":
        return None
    parent = area["parents"][-1]
    label_th, label_en = LEVEL_LABELS[ref.level]
    return {"level_th": label_th, "level_en": label_en,
            "parent_th": parent["name_th"], "parent_en": parent["name_en"]}


PER_PEOPLE = 10_000
"""Per-capita counts are per 10,000 people (a province's plots are a few per 10,000)."""


def _make_summary(conn: Connection, ref: AreaRef) -> dict[str, Any]:
    area = _area(conn, ref)
    children = _children(conn, ref)
    counts = _counts(conn, ref)
    categories = _categories(conn, ref)
    indicators = _indicators(conn, ref)
    nearby = _nearby(conn, area["point"]) if ref.level == "village" else []
    added = _added_by_month(conn, ref)
    country: dict[str, int] = {}
    in_area: dict[str, int] = {}
    sample: dict[str, bool] = {}
    siblings: dict[str, dict[str, int]] = {}
    by_child: dict[str, dict[str, int]] = {}
    for r in counts:
        if r.g == 3:  # (layer)
            country[r.layer] = r.n
            in_area[r.layer] = r.in_area
            sample[r.layer] = bool(r.sample)
        elif r.g == 1 and r.sibling is not None:  # (layer, sibling)
            siblings.setdefault(r.layer, {})[r.sibling] = r.n
        elif r.g == 2 and r.child is not None:  # (layer, child)
            by_child.setdefault(r.layer, {})[r.child] = r.n
    for c in children:
        c["counts"] = {lid: by_child.get(lid, {}).get(c["code"], 0) for lid in LAYERS}
    population = next((i for i in indicators if i["id"] == "population"), None)
    people = population["value"] if population and population["value"] else None
    layers = []
    for layer in LAYERS.values():
        n = in_area.get(layer.id, 0)
        total = country.get(layer.id, 0)
        standing: dict[str, Any] = {"rank": None, "tied": None, "of": None, "all_equal": False}
        parent_count = None
        if ref.level not in ("country", "village"):
            peers = siblings.get(layer.id, {})
            # siblings with no feature are absent from the counts: they are zeros
            values = [*peers.values(), *[0] * max(0, area["siblings"] - len(peers))]
            standing = rank_among(values, n)
            parent_count = sum(peers.values())
        layers.append({
            "id": layer.id, "title_th": layer.title_th, "title_en": layer.title_en,
            "color": layer.color, "count": n, "country_count": total,
            "share": (n / total) if total else None, **standing,
            "parent_count": parent_count,
            "parent_share": (n / parent_count) if parent_count else None,
            "per_people": (n * PER_PEOPLE / people) if people else None,
            "sample": sample.get(layer.id, False),
            "added_by_month": added.get(layer.id, []),
            "categories": [{"field": f.name, "label_th": f.label_th, "label_en": f.label_en,
                            "kind": f.filter, "type": f.type,
                            "values": _category_rows(f, categories.get((layer.id, f.name), []))}
                           for f in category_fields(layer)],
        })
    return {
        "area": area,
        "level_th": LEVEL_LABELS[ref.level][0], "level_en": LEVEL_LABELS[ref.level][1],
        "child_level": CHILD[ref.level],
        "population": ({"value": population["value"], "year": population["year"],
                        "source": population["source"]} if population else None),
        "per_people": PER_PEOPLE,
        "ranked_among": _ranked_among(ref, area),
        "layers": layers,
        "children": children,
        "indicators": [i for i in indicators if i["id"] != "population"],
        "nearby": nearby,
        "villages": _village_choices(conn, ref, children),
        "sample": any(sample.values()),
    }



# ---- cross-filtering (issue 23, item 5) ------------------------------------------------------

@dataclass(frozen=True)
class LayerFilter:
    """One chart's bar or slice chosen: a layer's features with ``field`` = ``value`` (None:
    not stated; a range field's value is its bucket, e.g. ``5-10``)."""
    layer: str
    field: str
    value: str | None

    def sql(self) -> tuple[str, dict[str, object]]:
        """The condition (field names are declared, the value a bound parameter)."""
        field = next(f for f in category_fields(LAYERS[self.layer]) if f.name == self.field)
        prop = f"properties->>'{field.name}'"
        if self.value is None:
            return f"{prop} IS NULL", {}
        if field.filter == "range":
            edges = range_edges(field)
            labels = [f"{edges[i]:g}-{edges[i + 1]:g}" for i in range(len(edges) - 1)]
            return (f"width_bucket(({prop})::float8, CAST(:xf_edges AS float8[])) = :xf_bucket",
                    {"xf_edges": edges[1:-1], "xf_bucket": labels.index(self.value)})
        return f"{prop} = :xf_value", {"xf_value": self.value}


def parse_filter(raw: str) -> LayerFilter:
    """``layer:field:value`` as a dashboard link carries it; anything else is a 400 naming
    ``filter`` and saying what would do."""
    layer_id, sep, rest = raw.partition(":")
    field_name, sep2, value = rest.partition(":")
    if not sep or not sep2:
        raise BadParameter("filter must be layer:field:value, e.g. "
                           f"khok-nong-na:model_level:HLM; got {raw[:80]!r}")
    if layer_id not in LAYERS:
        raise BadParameter(f"filter: no layer {layer_id[:40]!r}; layers: {', '.join(LAYERS)}")
    fields = {f.name: f for f in category_fields(LAYERS[layer_id])}
    if field_name not in fields:
        raise BadParameter(f"filter: {layer_id} has no chart of {field_name[:40]!r}; "
                           f"fields: {', '.join(fields)}")
    if len(value) > 200:
        raise BadParameter("filter: the value is at most 200 characters")
    if value == "__other__":
        raise BadParameter("filter: 'others' stands for many values; choose one of them")
    field = fields[field_name]
    if value and field.filter == "range":
        edges = range_edges(field)
        if value not in {f"{edges[i]:g}-{edges[i + 1]:g}" for i in range(len(edges) - 1)}:
            raise BadParameter(f"filter: {value[:40]!r} is not one of {field_name}'s ranges")
    return LayerFilter(layer_id, field_name, value or None)


FILTERED: VersionedCache[dict[str, Any]] = VersionedCache("filtered layers", max_entries=256)
"""A chosen bar's numbers, per area and filter (bounded: an anonymous client cannot grow it)."""


def filtered_summary(engine: Engine, level: str, code: str,
                     flt: LayerFilter) -> dict[str, Any]:
    """The area's summary with one layer cross-filtered: that layer's count, its children's
    counts and its other charts count only the chosen features; the chosen field's own chart
    keeps every value (marked ``selected``) so another can be chosen. Ranks and shares are
    the whole layer's, so they are left out of the filtered card."""
    summary = area_summary(engine, level, code)
    ref = parse_area(level, code)
    with engine.connect() as conn:
        part = FILTERED.get(conn, (ref.level, ref.code, flt),
                            lambda c: _filtered_part(c, ref, flt))
    for layer in summary["layers"]:
        if layer["id"] != flt.layer:
            continue
        layer.update(count=part["count"], filtered_from=layer["count"], rank=None,
                     tied=None, all_equal=False, share=None, parent_share=None,
                     per_people=None)
        for cat in layer["categories"]:
            if cat["field"] == flt.field:
                cat["selected"] = flt.value
            else:
                cat["values"] = part["categories"].get(cat["field"], [])
    for child in summary["children"]:
        child["counts"][flt.layer] = part["children"].get(child["code"], 0)
    summary["filter"] = {"layer": flt.layer, "field": flt.field, "value": flt.value}
    return summary


def _filtered_part(conn: Connection, ref: AreaRef, flt: LayerFilter) -> dict[str, Any]:
    layer = LAYERS[flt.layer]
    cond, params = flt.sql()
    in_area = "TRUE" if ref.level == "country" else f"{FEATURE_COLUMN[ref.level]} = :code"
    child = CHILD[ref.level]
    child_expr = FEATURE_COLUMN[child] if child else "NULL::text"
    rows = conn.execute(text(f"""
        SELECT {child_expr} AS child, count(*) AS n FROM layer_features
        WHERE layer = :xf_layer AND {in_area} AND {cond} GROUP BY 1
    """), {"xf_layer": flt.layer, "code": ref.code, **params}).all()
    categories = _categories(conn, ref, [layer], cond, params)
    return {"count": sum(r.n for r in rows),
            "children": {r.child: r.n for r in rows if r.child is not None},
            "categories": {f.name: _category_rows(f, categories.get((layer.id, f.name), []))
                           for f in category_fields(layer) if f.name != flt.field}}


# ---- themes (issue 23, item 2) -----------------------------------------------------------------

def theme_named(theme_id: str) -> Theme:
    """A declared theme (``indicators/themes.json``); anything else is a 400 naming ``theme``."""
    declared = themes()
    if theme_id not in declared:
        raise BadParameter(f"theme must be one of {', '.join(declared)}; got {theme_id[:40]!r}")
    theme = declared[theme_id]
    unknown = [x for x in theme.layers if x not in LAYERS]
    if unknown:  # a declaration error, said plainly rather than an empty page
        raise ValueError(f"themes.json: theme {theme_id} names no layer {', '.join(unknown)}")
    return theme


def themed(summary: dict[str, Any], theme: Theme) -> dict[str, Any]:
    """The summary narrowed to a theme: its layers, and the indicators it names or that staff
    gave its id when uploading."""
    summary["layers"] = [x for x in summary["layers"] if x["id"] in theme.layers]
    summary["indicators"] = [i for i in summary["indicators"]
                             if i["id"] in theme.indicators or i.get("theme") == theme.id]
    summary["theme"] = {"id": theme.id, "title_th": theme.title_th, "title_en": theme.title_en}
    return summary
