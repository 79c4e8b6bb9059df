"""HTML pages. Thai first, English beside it."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue

from gis import boundaries as bq
from gis.regions import CDD_REGIONS
from web import engine, settings
from web.maps import base_map, render

pages = Blueprint("pages", __name__)


def _static(path: str) -> str:
    return url_for("static", filename=path)


@pages.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html")


@pages.get("/boundaries")
def boundaries() -> ResponseReturnValue:
    fmap = render(base_map(settings()), _static)
    provinces = bq.area_names(engine(), bq.COLLECTIONS["provinces"])
    regions = [asdict(r) for r in CDD_REGIONS.values()]
    return render_template("boundaries.html", fmap=fmap, provinces=provinces, regions=regions)
