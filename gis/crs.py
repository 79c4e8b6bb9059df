"""The coordinate reference systems the API can answer in (OGC API - Features Part 2).

Stored geometry is EPSG:4326 with longitude first (CRS84). ``EPSG:4326`` proper is latitude first,
so it is answered with the axes flipped; the UTM zones that cover Thailand (47N, 48N) and Web
Mercator are answered in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def epsg(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    lat_first: bool = False
    """Axis order latitude, longitude (EPSG:4326 as the EPSG register defines it)."""
    bounds: tuple[float, float, float, float] = (-180, -90, 180, 90)
    """Where coordinates in this CRS make sense (x, y order; beyond, projections fail)."""

    @property
    def projected(self) -> bool:
        return self.srid != 4326

    @property
    def digits(self) -> int:
        """Coordinate decimals: ~0.1 m in degrees, 1 cm in metres."""
        return 2 if self.projected else 6


SUPPORTED: dict[str, Crs] = {c.uri: c for c in (
    Crs(CRS84, 4326),
    Crs(epsg(4326), 4326, lat_first=True),
    Crs(epsg(32647), 32647, bounds=(-1_000_000, -9_000_000, 2_000_000, 9_000_000)),
    Crs(epsg(32648), 32648, bounds=(-1_000_000, -9_000_000, 2_000_000, 9_000_000)),
    Crs(epsg(3857), 3857, bounds=(-20_037_508.34, -20_048_966.1, 20_037_508.34, 20_048_966.1)),
)}
DEFAULT = SUPPORTED[CRS84]


def to_crs84(engine: Engine, crs: Crs, x: float, y: float) -> tuple[float, float]:
    """A point written in ``crs`` (a write's ``Content-Crs``, Part 4) as the stored CRS84
    longitude and latitude. PostGIS's own ``ST_Transform`` does it, so a point read back in
    ``crs`` (the ``crs`` parameter) gives the numbers that were written."""
    if crs.lat_first:
        return y, x
    if not crs.projected:
        return x, y
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
            ":srid), 4326) AS p"), {"x": x, "y": y, "srid": crs.srid}).one()
    return float(lon), float(lat)
