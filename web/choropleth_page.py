"""The planners' choropleth page, and its standalone HTML export."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from gis import choropleth as ch
from gis import indicators as gi
from web.choices import area_choices
from web.indicators_api import VALUE_PARAMS, compute_values
from web.maps import VENDORED_CSS, VENDORED_JS, page_map, plain_map, render
from web.params import BadParameter
from web.services import engine, settings

choropleth = Blueprint("choropleth", __name__)
STATIC = Path(__file__).parent / "static"
DEFAULT_INDICATOR = "nso-household-income"  # what a planner most often opens with
METHOD_LABELS = {
    "quantiles": "ควอนไทล์ — Quantiles",
    "equal_interval": "ช่วงเท่ากัน — Equal interval",
    "fisher_jenks": "Natural breaks (Fisher-Jenks)",
    "std_mean": "ส่วนเบี่ยงเบนมาตรฐาน — Standard deviation",
    "manual": "กำหนดเอง — Manual breaks",
}


@choropleth.get("/choropleth")
def page() -> ResponseReturnValue:
    fmap = plain_map(settings())
    # The map draws areas with boundaries: a village-only table (points, no polygons) is in
    # the API and on the village dashboards, not (yet) on this map.
    catalogue = [i.as_dict() for i in gi.catalogue(engine())
                 if set(i.levels) & set(gi.AREA_LEVELS)]
    ids = [i["id"] for i in catalogue]
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in ids else ids[0]
    return render_template(
        "choropleth.html", fmap=fmap, indicators=catalogue, default_indicator=default,
        **area_choices(),
        methods=METHOD_LABELS, sequential=ch.SEQUENTIAL, diverging=ch.DIVERGING)


def number(x: float | None, signed: bool = False, digits: int | None = None) -> str:
    """A number as the pages write it (common.js formatNumber): thousands separators, decimals
    only where they carry meaning, 3 significant digits below 1 (a rate of 0.0021 per km² is
    not "0.00"), and + or − on a change."""
    if x is None:
        return "—"
    a = abs(x)
    if a == 0:
        text = "0"
    elif digits is not None:
        text = f"{x:,.0f}" if a >= 10 ** digits else _significant(x, digits)
    elif a >= 1000:
        text = f"{x:,.0f}"
    elif a >= 10:
        text = f"{x:,.1f}".rstrip("0").rstrip(".")
    elif a >= 1:
        text = f"{x:,.2f}".rstrip("0").rstrip(".")
    else:
        text = _significant(x, 3)
    text = text.replace("-", "\u2212")
    return f"+{text}" if signed and x > 0 else text


def _significant(x: float, digits: int) -> str:
    text = f"{float(f'{x:.{digits}g}'):,.{max(0, digits + 8)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def bounds(values: list[float], signed: bool = False) -> list[str]:
    """Labels for class bounds that tell neighbours apart (never "0 – 0")."""
    distinct = len(set(values))
    for digits in (None, 3, 4, 5, 6, 8, 10):
        labels = [number(v, signed, digits) for v in values]
        if len(set(labels)) == distinct:
            return labels
    return [repr(v) for v in values]


def _inline_assets() -> dict[str, list[str]]:
    """The vendored Leaflet JS and CSS, to put inside the export so the file works on its own
    (its map is made without asset links: ``page_map(asset_url=None)``)."""
    def read(paths: dict[str, str]) -> list[str]:
        return [(STATIC / path).read_text(encoding="utf-8") for path in paths.values()]
    return {"scripts": read(VENDORED_JS), "styles": read(VENDORED_CSS)}


def _legend_labels(body: dict[str, Any]) -> list[str]:
    legend = body["classification"]["legend"]
    labels = bounds([b for c in legend for b in (c["lower"], c["upper"])],
                    body["measure"] == "change")
    return [f"{labels[2 * i]} – {labels[2 * i + 1]}" + (f" ({c['note']})" if c.get("note") else "")
            for i, c in enumerate(legend)]


def _shown(v: dict[str, Any], body: dict[str, Any], unit: str) -> str:
    """A tooltip's value; a change gives both years and the % change, as the page's table."""
    if body["measure"] != "change":
        return f"{number(v['value'])} {unit}"
    pct = "" if v.get("change_pct") is None else f", {number(v['change_pct'], True)} %"
    return (f"{body['compare']}: {number(v['value_compare'])} → {body['year']}: "
            f"{number(v['value_year'])} {unit} ({number(v['value'], True)}{pct})")


@choropleth.get("/choropleth/export.html")
def export() -> ResponseReturnValue:
    """The current view as one HTML file (map, legend, source) with Leaflet inside it."""
    import folium  # with the first export, not at start-up (web/folium_map.py says why)

    indicator_id = request.args.get("indicator", "")
    if not request.args.get("classify"):
        raise BadParameter("classify (a classification method) is required for the export")
    _, values = compute_values(indicator_id, VALUE_PARAMS | {"indicator"})
    body: dict[str, Any] = values
    geo = json.loads(ch.areas_geojson(engine(), body["level"], body.get("region"),
                                      body.get("province"), body.get("district")))
    by_code = {v["code"]: v for v in body["values"]}
    unit = body["indicator"]["unit"]
    for feature in geo["features"]:
        v = by_code.get(feature["properties"]["code"], {})
        value = v.get("value")
        # Folium's GeoJsonTooltip puts these in with innerHTML: escape them here.
        feature["properties"].update({
            "name_th": escape(v.get("name_th", "")),
            "shown": "ไม่มีข้อมูล / no data" if value is None else escape(_shown(v, body, unit)),
            "color": v.get("color", ch.NO_DATA_COLOR)})
    fmap = page_map(settings(), asset_url=None)
    layer = folium.GeoJson(
        geo, style_function=lambda f: {"fillColor": f["properties"]["color"], "color": "#fff",
                                       "weight": 0.5, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(["name_th", "shown"], labels=False))
    layer.add_to(fmap)
    bounds: Any = layer.get_bounds()  # [[south, west], [north, east]]; None only when empty
    fmap.fit_bounds(bounds)
    indicator = body["indicator"]
    title = f"{indicator['title_th']} / {indicator['title_en']}"
    if body.get("year"):
        title += f" พ.ศ. {body['year']}" + (f" เทียบกับ {body['compare']}"
                                            if body.get("compare") else "")
    root: Any = fmap.get_root()  # a branca Figure (typed as a plain Element)
    root.html.add_child(folium.Element(
        render_template("choropleth_legend.html", body=body, title=title,
                        labels=_legend_labels(body))))
    rendered = render(fmap)
    html = render_template("choropleth_export.html", fmap=rendered, title=title,
                           **_inline_assets())
    name = f"{indicator['id']}-{body['level']}-{body.get('year') or 'all'}.html"
    return Response(html, mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
