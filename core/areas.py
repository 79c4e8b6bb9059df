"""DOPA areas without a database: the regions a province belongs to, and name keys for search.

Two region schemes are in use: the four regions of CDD's own reports, and the six-region geographic
division (National Geographical Committee, used by NESDB in its regional plans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Display geometries, coarsest last, matched to what a screen pixel covers: district view
# (zoom ~11), province view (zoom ~8), national view (zoom ~6). Tolerances are in degrees
# (0.001 deg is about 110 m). On already-simplified sources the finer levels change little.
LEVELS_OF_DETAIL: dict[int, float] = {1: 0.001, 2: 0.005, 3: 0.02}


@dataclass(frozen=True)
class Region:
    code: str
    name_th: str
    name_en: str


CDD_REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("central", "ภาคกลาง", "Central"),
        Region("north", "ภาคเหนือ", "North"),
        Region("northeast", "ภาคตะวันออกเฉียงเหนือ", "Northeast"),
        Region("south", "ภาคใต้", "South"),
    )
}

NESDB_REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("north", "ภาคเหนือ", "North"),
        Region("northeast", "ภาคตะวันออกเฉียงเหนือ", "Northeast"),
        Region("central", "ภาคกลาง", "Central"),
        Region("east", "ภาคตะวันออก", "East"),
        Region("west", "ภาคตะวันตก", "West"),
        Region("south", "ภาคใต้", "South"),
    )
}


def _codes(*spans: tuple[int, int] | int) -> list[str]:
    out: list[str] = []
    for span in spans:
        lo, hi = (span, span) if isinstance(span, int) else span
        out.extend(f"{c:02d}" for c in range(lo, hi + 1))
    return out


_NESDB: dict[str, str] = {
    **dict.fromkeys(_codes((10, 19), 26, (60, 62), (64, 67), (72, 75)), "central"),
    **dict.fromkeys(_codes((20, 25), 27), "east"),
    **dict.fromkeys(_codes((30, 49)), "northeast"),
    **dict.fromkeys(_codes((50, 58)), "north"),
    **dict.fromkeys(_codes(63, 70, 71, 76, 77), "west"),
    **dict.fromkeys(_codes((80, 86), (90, 96)), "south"),
}

# CDD's four regions fold East and West into Central and the lower North into North.
_CDD: dict[str, str] = {
    code: {"east": "central", "west": "central"}.get(region, region)
    for code, region in _NESDB.items()
}
_CDD.update(dict.fromkeys(_codes((60, 67)), "north"))


def cdd_region(province_code: str) -> str | None:
    return _CDD.get(province_code)


def nesdb_region(province_code: str) -> str | None:
    return _NESDB.get(province_code)


# What people type before a village name; "บ้าน" is part of most village names, so it is not
# required either way.
_VILLAGE_PREFIX = re.compile(r"^(?:หมู่บ้าน|บ้าน|ชุมชน|ban|moo\s*\d+)\s*", re.IGNORECASE)


def village_key(name: str) -> str:
    """The form places are searched by: no prefix, no spaces, lower case."""
    return re.sub(r"[\s.'-]", "", _VILLAGE_PREFIX.sub("", name.strip())).lower()
