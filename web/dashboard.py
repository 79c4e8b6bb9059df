"""Area dashboards (issue 14): ``/dashboard`` for the country, a province, district or
subdistrict, the ``/api/areas/{level}/{code}/summary`` JSON/CSV behind it, and the Open Graph
image a LINE or Facebook share shows (drawn here with Pillow and the vendored Sarabun font).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from PIL import Image, ImageDraw

from core.areas import cdd_region
from core.errors import BadParameter
from core.values import safe_row
from gis import summary as gs
from indicators.themes import themes
from web.choices import area_choices
from web.dashboard_compare import compare_with
from web.params import Param, accept
from web.services import engine
from web.share_images import OG_SIZE, draw_text

dashboard = Blueprint("dashboard", __name__)


def page_area(args: Any) -> tuple[str, str]:
    """The area a dashboard link names: the most detailed of ``village`` (8 digits: the
    subdistrict's and the หมู่ที่), ``subdistrict``, ``district``, ``province``, ``region`` (one
    of CDD's four; a child code must agree with a parent given beside it)."""
    chosen: tuple[str, str] = ("country", "")
    region = args.get("region", "")
    if region:
        chosen = ("region", gs.parse_area("region", region).code)
    for level in ("province", "district", "subdistrict", "village"):
        code = args.get(level, "")
        if code == "":
            continue
        ref = gs.parse_area(level, code)
        if chosen[0] == "region":  # a province named beside its region must lie in it
            if cdd_region(ref.code[:2]) != chosen[1]:
                raise BadParameter(f"{level} {ref.code} is not in region {chosen[1]}")
        elif chosen[1] and not ref.code.startswith(chosen[1]):
            raise BadParameter(f"{level} {ref.code} is not in {chosen[0]} {chosen[1]}")
        chosen = (ref.level, ref.code)
    return chosen


def query_for(level: str, code: str) -> dict[str, str]:
    return {} if level == "country" else {level: code}


def summary_for(level: str, code: str) -> dict[str, Any]:
    """The area's summary, cross-filtered when the link chose a bar (``filter``), narrowed to
    a theme when it names one (``theme``)."""
    raw, theme = request.args.get("filter", ""), request.args.get("theme", "")
    chosen = gs.theme_named(theme) if theme else None
    if raw:
        summary = gs.filtered_summary(engine(), level, code, gs.parse_filter(raw))
    else:
        summary = gs.area_summary(engine(), level, code)
    return gs.themed(summary, chosen) if chosen else summary


@dashboard.get("/dashboard")
def page() -> ResponseReturnValue:
    level, code = page_area(request.args)
    summary = summary_for(level, code)
    area = summary["area"]
    kept = {k: request.args[k] for k in ("filter", "theme") if request.args.get(k)}
    permalink = url_for("dashboard.page", _external=True, **query_for(level, code), **kept)
    og_image = url_for("dashboard.og_image", level=level, code=code or "TH", _external=True)
    share = {
        "line": "https://social-plugins.line.me/lineit/share?" + urlencode({"url": permalink}),
        "facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": permalink}),
        "email": "mailto:?" + urlencode({"subject": f"cddgis: {area['name_th']}",
                                          "body": permalink}).replace("+", "%20"),
    }
    config = {"level": level, "code": code, "summary": summary}
    return render_template("dashboard.html", summary=summary, area=area, config=config,
                           permalink=permalink, og_image=og_image, share=share,
                           compare=compare_with(level, code),
                           themes=themes().values(), area_query=query_for(level, code),
                           sample=summary["sample"], **area_choices())


F_SUMMARY = Param("f", "Output format: json, csv (one row per number) or xlsx.",
                  enum=("json", "csv", "xlsx"), default="json")
FILTER = Param("filter", "A chart's bar chosen (cross-filter): layer:field:value, e.g. "
               "khok-nong-na:model_level:HLM; that layer's numbers count only those features.",
               max_length=300, example="khok-nong-na:model_level:HLM")
THEME = Param("theme", "A dashboard theme (indicators/themes.json): only its layers and "
              "indicators.", max_length=64, example="community-economy")
SUMMARY_PARAMS = [F_SUMMARY, FILTER, THEME]


@dashboard.get("/api/areas/<level>/<code>/summary")
def summary_api(level: str, code: str) -> ResponseReturnValue:
    """What the page shows, as JSON (default) or CSV (``f=csv``: one row per number)."""
    accept(SUMMARY_PARAMS)
    fmt = F_SUMMARY.choice() or "json"
    summary = summary_for(level, code)
    name = f"cddgis-{level}-{code or 'TH'}.{fmt}"
    attachment = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO()
        # Category values come from imported files: a formula there must not run in Excel.
        csv.writer(out).writerows(safe_row(row) for row in summary_rows(summary))
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers=attachment)
    if fmt == "xlsx":
        return Response(summary_xlsx(summary), headers=attachment, mimetype=XLSX)
    return summary


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def summary_xlsx(summary: dict[str, Any]) -> bytes:
    """The CSV's rows as a workbook (numbers stay numbers in Excel)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(summary["area"]["code"] or "TH")
    for row in summary_rows(summary):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """Every number of the summary in one long table (the CSV and XLSX downloads)."""
    rows: list[list[Any]] = []
    rows.append(["section", "layer", "field", "code", "label_th", "label_en", "year", "value"])
    area = summary["area"]
    rows.append(["area", "", "area_km2", area["code"], area["name_th"], area["name_en"], "",
                 area["area_km2"]])
    if summary["population"]:
        p = summary["population"]
        rows.append(["population", "", "population", area["code"], "ประชากร", "Population",
                     p["year"] or "", p["value"]])
    for layer in summary["layers"]:
        rows.append(["layer", layer["id"], "count", area["code"], layer["title_th"],
                     layer["title_en"], "", layer["count"]])
        rows.append(["layer", layer["id"], "country_count", "", layer["title_th"],
                     layer["title_en"], "", layer["country_count"]])
        for cat in layer["categories"]:
            for v in cat["values"]:
                rows.append(["category", layer["id"], cat["field"], v["value"] or "",
                             v["label_th"], v["label_en"], "", v["count"]])
        for m in layer["added_by_month"]:
            rows.append(["added", layer["id"], "month", m["month"], "เพิ่มในเดือน",
                         "added in month", "", m["count"]])
    for child in summary["children"]:
        for lid, n in child["counts"].items():
            rows.append(["child", lid, "count", child["code"], child["name_th"],
                         child["name_en"], "", n])
    for near in summary["nearby"]:
        rows.append(["nearby", near["layer"], "distance_km", near["id"], near["name"], "", "",
                     near["distance_km"]])
    for ind in summary["indicators"]:
        for s in ind["series"]:
            rows.append(["indicator", "", ind["id"], area["code"], ind["title_th"],
                         ind["title_en"], s["year"] or "", s["value"]])
    return rows


# ---- the Open Graph image ---------------------------------------------------------------------

def og_lines(summary: dict[str, Any]) -> list[tuple[str, int, int]]:
    """What the share image says, line by line (text, size, weight): the area's name first."""
    area = summary["area"]
    parents = " › ".join(p["name_th"] for p in area["parents"][1:])
    lines = [(area["name_th"], 72, 700), (area["name_en"], 40, 400)]
    if parents:
        lines.append((parents, 32, 400))
    lines.append(("", 16, 400))
    for layer in summary["layers"]:
        lines.append((f"{layer['count']:,}  {layer['title_th']}", 30, 400))
    return lines


def og_png(summary: dict[str, Any]) -> bytes:
    """A 1200×630 PNG (what LINE and Facebook show beside a shared link)."""
    image = Image.new("RGB", OG_SIZE, "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, OG_SIZE[0], 18), fill="#15803d")
    draw_text(draw, (60, 40), "cddgis · กรมการพัฒนาชุมชน — แดชบอร์ดพื้นที่", 28, 700, "#15803d")
    y = 90
    for value, size, weight in og_lines(summary):
        draw_text(draw, (60, y), value, size, weight)
        y += int(size * 1.45)
    if summary["sample"]:
        draw_text(draw, (60, OG_SIZE[1] - 50), "ข้อมูลตัวอย่าง — sample data", 24, 400,
                  "#92400e")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


@dashboard.get("/dashboard/og/<level>/<code>.png")
def og_image(level: str, code: str) -> ResponseReturnValue:
    summary = gs.area_summary(engine(), level, "" if code == "TH" else code)
    response = Response(og_png(summary), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
