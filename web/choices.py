"""The region and province choices every page with an area filter offers."""

from __future__ import annotations

from dataclasses import asdict

from core.areas import CDD_REGIONS
from gis import boundaries as bq
from web.services import engine


def area_choices() -> dict[str, list[dict[str, object]]]:
    """``regions`` (CDD's four) and ``provinces`` (sorted the Thai way), for templates."""
    return {"regions": [asdict(r) for r in CDD_REGIONS.values()],
            "provinces": bq.area_names(engine(), bq.COLLECTIONS["provinces"])}
