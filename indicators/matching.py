"""Matching the area names in statistical tables to DOPA codes.

Tables from NSO, OAE and others name provinces in Thai or English, with or without จังหวัด /
อำเภอ / เขต / ตำบล / แขวง, with other spacing and with older romanisations. A name is matched after
normalising (geothai's rules: case, spaces, dots, hyphens and the level word do not count), then
through a short list of known variants. A name that still does not match is reported, never
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import geothai
from geothai import normalize
from geothai.abolished import abolished_areas

from core.areas import CDD_REGIONS

# Spellings seen in official tables that normalising alone does not reconcile.
PROVINCE_VARIANTS: dict[str, str] = {
    "กรุงเทพฯ": "10", "กรุงเทพ": "10", "กทม": "10", "bangkokmetropolis": "10",
    "krungthepmahanakhon": "10",
    "อยุธยา": "14", "ayutthaya": "14", "ayudhya": "14", "phranakhonsiayudhya": "14",
    "bungkan": "38", "buengkarn": "38", "nongbualumphu": "39", "srisaket": "33",
    "korat": "30", "khorat": "30", "samutprakarn": "11", "samutsakorn": "74",
    "samutsongkram": "75", "trad": "23", "phattalung": "93", "phatthalung": "93",
}


@dataclass(frozen=True)
class Match:
    name: str
    code: str | None
    how: str  # "code", "name", "variant" or "unmatched"


def _province_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for p in geothai.provinces():
        keys[normalize(p.name_th)] = p.code
        keys[normalize(p.name_en)] = p.code
    return keys


def match_province(name: str) -> Match:
    text = str(name).strip()
    if text.isdigit() and geothai.province(text.zfill(2)):
        return Match(text, text.zfill(2), "code")
    key = normalize(text)
    keys = _province_keys()
    if key in keys:
        return Match(text, keys[key], "name")
    variant = PROVINCE_VARIANTS.get(key) or PROVINCE_VARIANTS.get(text)
    if variant:
        return Match(text, variant, "variant")
    return Match(text, None, "unmatched")


def match_region(name: str) -> Match:
    key = normalize(str(name)).removeprefix("ภาค")
    for r in CDD_REGIONS.values():
        if key in (normalize(r.name_th).removeprefix("ภาค"), normalize(r.name_en), r.code):
            return Match(str(name), r.code, "name")
    return Match(str(name), None, "unmatched")


@cache
def _abolished_codes() -> frozenset[str]:
    return frozenset(a.code for a in abolished_areas())


def check_code(code: str, level: str) -> Match:
    """A DOPA code in use, or one DOPA abolished (the boundary files still draw those)."""
    text = str(code).strip().removesuffix(".0")
    lookup = {"province": geothai.province, "district": geothai.district,
              "subdistrict": geothai.subdistrict}[level]
    length = {"province": 2, "district": 4, "subdistrict": 6}[level]
    text = text.zfill(length) if text.isdigit() else text
    if lookup(text) is not None:
        return Match(str(code), text, "code")
    if len(text) == length and text in _abolished_codes():
        return Match(str(code), text, "abolished")
    return Match(str(code), None, "unmatched")
