"""Areas side by side (issue 23, item 3): ``/dashboard/compare?areas=province:50,province:55``
and ``/api/areas/compare`` — up to four areas of any levels, each number beside the others with
its share of the parent area, per 10,000 people and its rank (ties shared, said among what).

Every number comes from the areas' own summaries (``gis.summary.area_summary``, kept per data
version), so a comparison never disagrees with the areas' dashboards.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core.areas import CDD_REGIONS, cdd_region
from core.errors import BadParameter, NotFound
from gis import summary as gs
from web.choices import area_choices
from web.params import Param, accept
from web.services import engine

dashboard_compare = Blueprint("dashboard_compare", __name__)

COMPARE_MAX = 4
"""Four areas fit side by side on a laptop and in a printed A4 table."""
AREAS = Param("areas", "Up to four areas side by side, comma-separated level:code "
              "(country:TH, region:north, province:50, district:5001, subdistrict:500101, "
              "village:50010103).", type="array", max_length=200,
              example="province:50,province:55")
ADD = Param("add", "One more area (level:code) to put beside those in areas (the page's form).",
            max_length=40)
COMPARE_PARAMS = [AREAS]


def parse_areas(raw: str | None, add: str | None = None) -> list[gs.AreaRef]:
    """The areas named, in order, each once; a bad one is a 400 naming ``areas``."""
    tokens = [t.strip() for t in (raw or "").split(",") if t.strip()]
    if add and add.strip():
        tokens.append(add.strip())
    refs: list[gs.AreaRef] = []
    for token in tokens:
        level, sep, code = token.partition(":")
        if not sep:
            raise BadParameter(f"areas: {token!r} is not level:code (e.g. province:50)")
        try:
            ref = gs.parse_area(level, "" if level == "country" and code in ("TH", "th") else code)
        except BadParameter as exc:
            raise BadParameter(f"areas: {exc}") from None
        if ref not in refs:
            refs.append(ref)
    if not refs:
        raise BadParameter("areas: name one to four areas, e.g. areas=province:50,province:55")
    if len(refs) > COMPARE_MAX:
        raise BadParameter(f"areas: at most {COMPARE_MAX} areas side by side; got {len(refs)}")
    return refs


def token(ref: gs.AreaRef) -> str:
    return f"{ref.level}:{ref.code or 'TH'}"


def comparison(refs: list[gs.AreaRef]) -> dict[str, Any]:
    """The areas' numbers, one row per measure and one cell per area (None where an area has
    no such number)."""
    summaries = []
    for ref in refs:
        try:
            summaries.append(gs.area_summary(engine(), ref.level, ref.code))
        except NotFound as exc:
            raise BadParameter(f"areas: {exc}") from None
    areas = [{"token": token(ref), "level": ref.level, "code": ref.code,
              "name_th": s["area"]["name_th"], "name_en": s["area"]["name_en"],
              "level_th": s["level_th"], "level_en": s["level_en"],
              "ranked_among": s["ranked_among"], "sample": s["sample"],
              "population": s["population"], "area_km2": s["area"]["area_km2"],
              "per_people": s["per_people"]}
             for ref, s in zip(refs, summaries, strict=True)]
    layers = [{"id": layer["id"], "title_th": layer["title_th"], "title_en": layer["title_en"],
               "color": layer["color"],
               "cells": [next(x for x in s["layers"] if x["id"] == layer["id"]) for s in summaries]}
              for layer in summaries[0]["layers"]]
    for row in layers:
        row["cells"] = [{k: c[k] for k in ("count", "share", "parent_share", "per_people",
                                           "rank", "of", "tied", "all_equal")}
                        for c in row["cells"]]
    indicators: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(summaries):
        for ind in s["indicators"]:
            row = indicators.setdefault(ind["id"], {
                "id": ind["id"], "title_th": ind["title_th"], "title_en": ind["title_en"],
                "unit": ind["unit"], "cells": [None] * len(summaries)})
            row["cells"][i] = {k: ind[k] for k in ("value", "year", "rank", "of", "tied",
                                                   "all_equal", "aggregate")}
    return {"areas": areas, "layers": layers, "indicators": list(indicators.values()),
            "sample": any(s["sample"] for s in summaries)}


def compare_with(level: str, code: str) -> str:
    """The comparison a dashboard offers: the area beside the one above it (a province beside
    its region, a district beside its province); the country: its four regions."""
    if level == "country":
        areas = ",".join(f"region:{code}" for code in CDD_REGIONS)  # no query on every page
    elif level == "province":
        areas = f"province:{code},region:{cdd_region(code)}"
    elif level == "region":
        areas = f"region:{code},country:TH"
    else:
        parent = gs.PARENT[level]
        areas = f"{level}:{code},{parent}:{code[:gs.CODE_LENGTH[parent or 'country']]}"
    return url_for("dashboard_compare.page", areas=areas)


@dashboard_compare.get("/dashboard/compare")
def page() -> ResponseReturnValue:
    accept([AREAS, ADD])
    refs = parse_areas(AREAS.raw(), ADD.raw())
    body = comparison(refs)
    tokens = [a["token"] for a in body["areas"]]
    for a in body["areas"]:
        a["dashboard"] = url_for("dashboard.page", **({} if a["level"] == "country"
                                                      else {a["level"]: a["code"]}))
        rest = [t for t in tokens if t != a["token"]]
        a["remove"] = url_for("dashboard_compare.page", areas=",".join(rest)) if rest else None
    permalink = url_for("dashboard_compare.page", areas=",".join(tokens), _external=True)
    return render_template("dashboard_compare.html", body=body, tokens=",".join(tokens),
                           full=len(tokens) >= COMPARE_MAX, permalink=permalink,
                           sample=body["sample"], **area_choices())


@dashboard_compare.get("/api/areas/compare")
def api() -> ResponseReturnValue:
    """The page's numbers as JSON."""
    accept(COMPARE_PARAMS)
    if request.args.get("areas") is None:
        raise BadParameter("areas is required, e.g. areas=province:50,province:55")
    return comparison(parse_areas(AREAS.raw()))
