"""Indicator values per area: imported tables, and counts computed live from the point layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from core.areas import CDD_REGIONS
from core.errors import BadParameter, NotFound
from gis.summary import FEATURE_COLUMN, VILLAGE_FIELD, VILLAGE_NAME_FIELD, village_layer_ids
from gis.versioned import VersionedCache
from layers.definitions import LAYERS

LEVELS = ("region", "province", "district", "subdistrict", "village")
AREA_LEVELS = LEVELS[:-1]
"""The levels with boundaries, where the layers' counts are computed; a village is a point
(its DOPA code: the subdistrict's six digits and the หมู่ที่ in two), kept by staff tables."""
AREA_TABLE = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}


class IndicatorError(BadParameter):
    """A request an indicator cannot answer (wrong level, no such year)."""


class UnknownIndicator(NotFound):
    """No indicator has that id."""


@dataclass(frozen=True)
class Indicator:
    id: str
    title_th: str
    title_en: str
    unit: str
    source: str
    licence: str
    levels: tuple[str, ...]
    years: tuple[int, ...]
    computed: bool
    layer: str | None = None
    measure: str | None = None  # count, per_km2, per_1000_people

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title_th": self.title_th, "title_en": self.title_en,
                "unit": self.unit, "source": self.source, "licence": self.licence,
                "levels": list(self.levels), "years": list(self.years),
                "computed": self.computed}


@dataclass(frozen=True)
class AreaValue:
    code: str
    name_th: str
    name_en: str
    value: float | None
    district_th: str | None = None  # the parents' names: 795 subdistrict names repeat
    province_th: str | None = None


def _computed(has_population: bool) -> list[Indicator]:
    out = []
    for layer in LAYERS.values():
        common: dict[str, Any] = {
            "source": "cddgis, computed from the point layer in PostGIS",
            "licence": "as the layer", "years": (), "computed": True, "layer": layer.id}
        out.append(Indicator(f"{layer.id}-count", f"จำนวน{layer.title_th}",
                             f"{layer.title_en}: count", "แห่ง (count)", levels=AREA_LEVELS,
                             measure="count", **common))
        out.append(Indicator(f"{layer.id}-per-km2", f"{layer.title_th} ต่อ ตร.กม.",
                             f"{layer.title_en} per km²", "ต่อ ตร.กม. (per km²)",
                             levels=AREA_LEVELS,
                             measure="per_km2", **common))
        if has_population:
            out.append(Indicator(f"{layer.id}-per-1000-people",
                                 f"{layer.title_th} ต่อประชากร 1,000 คน",
                                 f"{layer.title_en} per 1,000 people",
                                 "ต่อประชากร 1,000 คน (per 1,000 people)",
                                 levels=("region", "province"), measure="per_1000_people",
                                 **common))
    return out


def catalogue(engine: Engine) -> list[Indicator]:
    """Every indicator, imported and computed.

    Asked for by the choropleth page and every values request (22 % of ``/choropleth``,
    issue 26), so kept per data version (gis/versioned.py; migration 0019 gives the indicator
    tables theirs): loading a table shows on the next request."""
    with engine.connect() as conn:
        return list(CATALOGUE.get(conn, "catalogue", _make_catalogue))


def _make_catalogue(conn: Connection) -> tuple[Indicator, ...]:
    rows = conn.execute(text("""
        SELECT i.id, i.title_th, i.title_en, i.unit, i.source, i.licence, i.level,
               coalesce(array_agg(DISTINCT v.year) FILTER (WHERE v.year IS NOT NULL),
                        '{}') AS years
        FROM indicators i LEFT JOIN indicator_values v ON v.indicator_id = i.id
        GROUP BY i.id ORDER BY i.id
    """)).all()
    imported = [Indicator(r.id, r.title_th, r.title_en, r.unit, r.source, r.licence,
                          (r.level,), tuple(sorted(r.years)), False) for r in rows]
    return tuple(imported + _computed(any(i.id == "population" for i in imported)))


CATALOGUE: VersionedCache[tuple[Indicator, ...]] = VersionedCache("indicator catalogue",
                                                                  max_entries=16)
"""One entry per database (the indicators are frozen dataclasses: shared safely)."""


def get(engine: Engine, indicator_id: str) -> Indicator:
    for indicator in catalogue(engine):
        if indicator.id == indicator_id:
            return indicator
    raise UnknownIndicator(f"no indicator {indicator_id!r}; see /api/indicators")


def _areas_sql(level: str, scope: dict[str, str | None]) -> tuple[str, dict[str, object]]:
    """SELECT code, name_th, name_en, area_km2 of the areas of ``level`` within ``scope``."""
    if level == "village":
        return _villages_sql(scope)
    if level == "region":
        regions = [r for r in CDD_REGIONS.values()
                   if scope.get("region") in (None, r.code)]
        values = ", ".join(f"('{r.code}', '{r.name_th}', '{r.name_en}')" for r in regions)
        return f"""
            SELECT r.code, r.name_th, r.name_en, sum(p.area_km2) AS area_km2,
                   NULL::text AS district_th, NULL::text AS province_th
            FROM (VALUES {values}) AS r(code, name_th, name_en)
            JOIN provinces p ON p.region = r.code
            GROUP BY r.code, r.name_th, r.name_en
        """, {}
    clauses: list[str] = ["TRUE"]
    params: dict[str, object] = {}
    if scope.get("region"):
        clauses.append("a.region = :region")
        params["region"] = scope["region"]
    for parent in ("province", "district"):
        code = scope.get(parent)
        if code:
            column = "a.code" if parent == level else f"a.{parent}_code"
            if level == "province" and parent == "district":
                column, value = "a.code", code[:2]
            else:
                value = code
            clauses.append(f"{column} = :{parent}")
            params[parent] = value
    parents = {
        "province": ("NULL::text", "NULL::text", ""),
        "district": ("NULL::text", "pp.name_th",
                     "LEFT JOIN provinces pp ON pp.code = a.province_code"),
        "subdistrict": ("dd.name_th", "pp.name_th",
                        "LEFT JOIN districts dd ON dd.code = a.district_code "
                        "LEFT JOIN provinces pp ON pp.code = a.province_code"),
    }[level]
    return f"""
        SELECT a.code, a.name_th, a.name_en, a.area_km2,
               {parents[0]} AS district_th, {parents[1]} AS province_th
        FROM {AREA_TABLE[level]} a {parents[2]} WHERE {" AND ".join(clauses)}
    """, params


def _villages_sql(scope: dict[str, str | None]) -> tuple[str, dict[str, object]]:
    """The villages the layers know in ``scope`` (as the dashboards', ``gis.summary``), named
    "หมู่ที่ 3 บ้าน…" by the commonest name the layers give; the subdistrict's name beside it."""
    clauses = ["f.layer = ANY(:village_layers)",
               f"f.properties->>'{VILLAGE_FIELD}' ~ '^[0-9]{{1,2}}$'"]
    params: dict[str, object] = {"village_layers": village_layer_ids()}
    for parent, column in (("province", "f.province_code"), ("district", "f.district_code"),
                           ("subdistrict", "f.subdistrict_code"), ("region", "f.region")):
        if scope.get(parent):
            clauses.append(f"{column} = :{parent}")
            params[parent] = scope[parent]
    return f"""
        SELECT v.code,
               'หมู่ที่ ' || right(v.code, 2)::int
                   || coalesce(' บ้าน' || regexp_replace(v.name, '^บ้าน', ''), '') AS name_th,
               'Village no. ' || right(v.code, 2)::int || coalesce(', ' || s.name_en, '')
                   AS name_en,
               NULL::float8 AS area_km2, s.name_th AS district_th, pp.name_th AS province_th
        FROM (SELECT {FEATURE_COLUMN["village"]} AS code,
                     mode() WITHIN GROUP (ORDER BY nullif(f.properties->>'{VILLAGE_NAME_FIELD}',
                                                          '')) AS name
              FROM layer_features f WHERE {" AND ".join(clauses)} GROUP BY 1) v
        LEFT JOIN subdistricts s ON s.code = left(v.code, 6)
        LEFT JOIN provinces pp ON pp.code = left(v.code, 2)
    """, params


def _layer_code_column(level: str) -> str:
    return {"region": "region", "province": "province_code", "district": "district_code",
            "subdistrict": "subdistrict_code"}[level]


def values(engine: Engine, indicator: Indicator, level: str, scope: dict[str, str | None],
           year: int | None = None) -> list[AreaValue]:
    """One value (or None: no data) for every area of ``level`` in ``scope``."""
    if level not in indicator.levels:
        raise IndicatorError(f"{indicator.id} is available for {', '.join(indicator.levels)}, "
                             f"not {level}")
    if indicator.years and year is not None and year not in indicator.years:
        raise IndicatorError(f"{indicator.id} has no year {year}; years: "
                             f"{', '.join(map(str, indicator.years))}")
    if not indicator.years and year is not None:
        raise IndicatorError(f"{indicator.id} has no years")
    areas, params = _areas_sql(level, scope)
    if indicator.computed:
        column = _layer_code_column(level)
        value = {"count": "coalesce(n.count, 0)::float8",
                 "per_km2": "coalesce(n.count, 0) / nullif(a.area_km2, 0)",
                 "per_1000_people": "coalesce(n.count, 0) * 1000.0 / nullif(pop.value, 0)",
                 }[indicator.measure or "count"]
        population = ""
        if indicator.measure == "per_1000_people":
            group = "p.region" if level == "region" else "p.code"
            population = f"""
                LEFT JOIN (SELECT {group} AS code, sum(v.value) AS value
                           FROM indicator_values v JOIN provinces p ON p.code = v.area_code
                           WHERE v.indicator_id = 'population' GROUP BY 1) pop
                       ON pop.code = a.code
            """
        sql = f"""
            SELECT a.code, a.name_th, a.name_en, {value} AS value,
                   a.district_th, a.province_th
            FROM ({areas}) a
            LEFT JOIN (SELECT {column} AS code, count(*) AS count FROM layer_features
                       WHERE layer = :layer GROUP BY 1) n ON n.code = a.code
            {population}
            ORDER BY a.code
        """
        params = {**params, "layer": indicator.layer}
    else:
        year = year if year is not None else (indicator.years[-1] if indicator.years else None)
        sql = f"""
            SELECT a.code, a.name_th, a.name_en, v.value, a.district_th, a.province_th
            FROM ({areas}) a
            LEFT JOIN indicator_values v ON v.area_code = a.code AND v.indicator_id = :id
                 AND coalesce(v.year, 0) = coalesce(CAST(:year AS int), 0)
            ORDER BY a.code
        """
        params = {**params, "id": indicator.id, "year": year}
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [AreaValue(c, th, en, None if v is None else float(v), d, p)
            for c, th, en, v, d, p in rows]
