"""The indicator API: catalogue, values per area (JSON or CSV, optionally classified), and the
area geometry a choropleth draws."""

from __future__ import annotations

import csv
import hashlib
import io

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from core.values import safe_row
from gis import choropleth as ch
from gis import indicators as gi
from web.params import (
    DISTRICT,
    PROVINCE,
    REGION,
    SUBDISTRICT,
    BadParameter,
    Param,
    breaks_param,
    code_param,
    format_param,
    int_param,
    region_param,
)
from web.params import reject_unknown as _reject_unknown
from web.services import engine

indicators_api = Blueprint("indicators_api", __name__)

LEVEL = Param("level", "Area level the values are per.", enum=tuple(gi.LEVELS),
              default="province")
YEAR = Param("year", "Year (B.E.); default: the indicator's latest.", type="integer",
             minimum=2400, maximum=2700)
COMPARE = Param("compare", "Another year (B.E.): values become the change since it.",
                type="integer", minimum=2400, maximum=2700)
F_VALUES = Param("f", "Output format.", enum=("json", "csv"), default="json")
F_CATALOGUE = Param("f", "Output format.", enum=("json",), default="json")
CLASSIFY = Param("classify", "Classification method (mapclassify).",
                 enum=("quantiles", "equal_interval", "fisher_jenks", "std_mean", "manual"))
K = Param("k", "Number of classes.", type="integer", default=5, minimum=2, maximum=9)
SCHEME = Param("scheme", "ColorBrewer scheme (default YlOrRd, RdBu for a change).",
               enum=tuple(ch.SEQUENTIAL + ch.DIVERGING))
BREAKS = Param("breaks", "Manual class breaks (classify=manual), comma-separated.",
               type="array", items={"type": "number"})
CATALOGUE_PARAMS = [F_CATALOGUE]
VALUES_PARAMS = [LEVEL, YEAR, COMPARE, REGION, PROVINCE, DISTRICT, SUBDISTRICT, F_VALUES,
                 CLASSIFY, K, SCHEME, BREAKS]
AREA_LEVEL = Param("level", "Area level of the boundaries.", enum=tuple(gi.AREA_LEVELS),
                   default="province")
AREAS_PARAMS = [AREA_LEVEL, REGION, PROVINCE, DISTRICT]
VALUE_PARAMS = {p.name for p in VALUES_PARAMS}


def _scope() -> dict[str, str | None]:
    scope = {"region": region_param(), "province": code_param("province", 2),
             "district": code_param("district", 4)}
    if scope["province"] and scope["district"] and \
            not scope["district"].startswith(scope["province"]):
        raise BadParameter(f"{scope['district']} is not inside {scope['province']}")
    subdistrict = code_param("subdistrict", 6)
    if subdistrict:  # a village table's scope: the subdistrict's villages
        if request.args.get("level") != "village":
            raise BadParameter("subdistrict is a scope for level=village only")
        for parent in ("province", "district"):
            code = scope[parent]
            if code and not subdistrict.startswith(code):
                raise BadParameter(f"subdistrict {subdistrict} is not inside {parent} {code}")
        scope["subdistrict"] = subdistrict
    return scope


def _level(levels: tuple[str, ...] = gi.LEVELS) -> str:
    level = request.args.get("level") or "province"
    if level not in levels:
        raise BadParameter(f"level must be one of {', '.join(levels)}; got {level!r}")
    return level


@indicators_api.get("/indicators")
def catalogue() -> ResponseReturnValue:
    _reject_unknown({p.name for p in CATALOGUE_PARAMS})
    format_param(("json",))
    return jsonify(indicators=[i.as_dict() for i in gi.catalogue(engine())])


def _year(name: str) -> int | None:
    raw = request.args.get(name)
    if not raw:
        return None
    return int_param(name, 0, 2400, 2700)


def compute_values(indicator_id: str, allowed: set[str] = VALUE_PARAMS,
                   ) -> tuple[gi.Indicator, dict[str, object]]:
    """Values (and, with ``classify``, classes) for the request's parameters.

    Shared by the values endpoint and the HTML export, which take the same parameters.
    """
    _reject_unknown(allowed)
    indicator = gi.get(engine(), indicator_id)
    level, scope = _level(), _scope()
    year = _year("year")
    if year is None and indicator.years:
        year = indicator.years[-1]
    compare = _year("compare")
    rows = gi.values(engine(), indicator, level, scope, year)
    numbers = [r.value for r in rows]
    base: dict[str, float | None] = {}
    if compare is not None:
        if compare == year:
            raise BadParameter("compare must be another year than year")
        base = {r.code: r.value for r in gi.values(engine(), indicator, level, scope, compare)}
        numbers = [_change(r.value, base.get(r.code)) for r in rows]
    ranks = ch.ranks(numbers)
    body: dict[str, object] = {
        "indicator": indicator.as_dict(), "level": level, "year": year, "compare": compare,
        "measure": "change" if compare is not None else "value",
        **{k: v for k, v in scope.items() if v},
    }
    records: list[dict[str, object]] = []
    for r, v, rank in zip(rows, numbers, ranks, strict=True):
        record: dict[str, object] = {"code": r.code, "name_th": r.name_th, "name_en": r.name_en,
                                     "value": v, "rank": rank}
        if compare is not None:  # both years beside the change, so a reader can check it
            before = base.get(r.code)
            record.update(value_year=r.value, value_compare=before,
                          change_pct=_change_pct(r.value, before))
        if level in ("district", "subdistrict"):
            record["province_th"] = r.province_th
        if level == "subdistrict":
            record["district_th"] = r.district_th
        if level == "village":  # AreaValue's district_th holds a village's subdistrict
            record.update(subdistrict_th=r.district_th, province_th=r.province_th)
        records.append(record)
    method = request.args.get("classify")
    if method:
        k = int_param("k", 5, 2, 9)
        scheme = request.args.get("scheme", "RdBu" if compare is not None else "YlOrRd")
        breaks = breaks_param()
        centre = 0.0 if compare is not None else None  # a change: gains and losses meet at 0
        classes = ch.classify(numbers, method, k, scheme, breaks, centre)
        for record, cls in zip(records, classes.classes, strict=True):
            record["class"] = cls
            record["color"] = ch.NO_DATA_COLOR if cls is None else classes.colors[cls]
        body["classification"] = {"method": method, "k": len(classes.bins), "scheme": scheme,
                                  "bins": classes.bins, "legend": classes.legend(),
                                  "diverging": classes.diverging, "centre": centre,
                                  "signs": _signs(numbers),
                                  "no_data": {"count": classes.no_data,
                                              "color": ch.NO_DATA_COLOR}}
    body["values"] = records
    return indicator, body


def _signs(numbers: list[float | None]) -> str:
    """"+" when every value is ≥ 0, "−" when every one is ≤ 0, "±" when both occur."""
    present = [n for n in numbers if n is not None]
    if all(n >= 0 for n in present):
        return "+"
    return "−" if all(n <= 0 for n in present) else "±"


def _change(value: float | None, before: float | None) -> float | None:
    """The change, rounded to the data's own precision: 27,143.1 − 30,522.4 is −3,379.3, not
    the float subtraction's −3379.300000000003."""
    if value is None or before is None:
        return None
    return round(value - before, max(_decimals(value), _decimals(before)))


def _change_pct(value: float | None, before: float | None) -> float | None:
    """The change as a percentage of the earlier year, to 0.1 %; none from a zero base."""
    if value is None or before is None or before == 0:
        return None
    return round((value - before) * 100 / abs(before), 1)


def _decimals(x: float) -> int:
    """Decimal places the stored number carries (its shortest repr), at most 6."""
    digits = repr(float(x)).split("e")[0]
    return min(6, len(digits.split(".")[1].rstrip("0"))) if "." in digits else 0


@indicators_api.get("/indicators/<indicator_id>/values")
def values(indicator_id: str) -> ResponseReturnValue:
    fmt = format_param(("json", "csv"))
    indicator, body = compute_values(indicator_id)
    if fmt == "json":
        return jsonify(body)
    classified = "classification" in body
    levelled = body["level"] in ("district", "subdistrict")
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads Thai as UTF-8 only with the BOM
    writer = csv.writer(out)
    # Every row carries its year, unit and source: a CSV passed on alone still says what it is.
    writer.writerow(["code", "name_th", "name_en"]
                    + (["district_th"] if body["level"] == "subdistrict" else [])
                    + (["province_th"] if levelled else [])
                    + [body["measure"], "rank"] + (["class"] if classified else [])
                    + ([f"value_{body['year']}", f"value_{body['compare']}", "change_pct"]
                       if body["compare"] else [])
                    + ["year_be"] + (["compare_year_be"] if body["compare"] else [])
                    + ["indicator", "unit", "source", "licence"])
    records = body["values"]
    assert isinstance(records, list)
    for r in records:
        writer.writerow(safe_row(
            [r["code"], r["name_th"], r["name_en"]]
            + ([r.get("district_th") or ""] if body["level"] == "subdistrict" else [])
            + ([r.get("province_th") or ""] if levelled else [])
            + ["" if r["value"] is None else r["value"], r["rank"] or ""]
            + ([r.get("class", "")] if classified else [])
            + ([_blank(r["value_year"]), _blank(r["value_compare"]), _blank(r["change_pct"])]
               if body["compare"] else [])
            + [body["year"] or ""] + ([body["compare"]] if body["compare"] else [])
            + [indicator.title_th, indicator.unit, indicator.source, indicator.licence]))
    name = f"{indicator.id}-{body['level']}-{body['year'] or 'all'}" + (
        f"-change-from-{body['compare']}.csv" if body["compare"] else ".csv")
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _blank(x: object) -> object:
    return "" if x is None else x


@indicators_api.get("/choropleth/areas")
def areas() -> ResponseReturnValue:
    """The areas of a level in a scope, simplified for display (a cddgis extension)."""
    _reject_unknown({p.name for p in AREAS_PARAMS})
    level, scope = _level(gi.AREA_LEVELS), _scope()
    body = ch.areas_geojson(engine(), level, scope["region"], scope["province"],
                            scope["district"])
    etag = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()
    if request.if_none_match.contains(etag):
        return Response(status=304)
    response = Response(body, mimetype="application/geo+json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
