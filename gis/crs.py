"""The coordinate reference systems the API can answer in (OGC API - Features Part 2).

Stored geometry is EPSG:4326 with longitude first (CRS84). ``EPSG:4326`` proper is latitude first,
so it is answered with the axes flipped; the UTM zones that cover Thailand (47N, 48N) and Web
Mercator are answered in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

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
