"""Query parameters: parsed once, with a clear message for every way they can be wrong."""

from __future__ import annotations

import math
import re

from flask import request

from cddgis.core.areas import CDD_REGIONS, village_key
from cddgis.core.errors import BadParameter, NotFound
from cddgis.core.schema import Field, Layer
from gis.layer_queries import RangeFilter

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_NEAR_LIMIT = 1_000
MAX_RADIUS_KM = 500
MAX_BREAKS = 8


def reject_control_characters() -> None:
    """Runs before every request: NUL and other control characters are never valid text.

    PostgreSQL refuses NUL in text (an error that looked like an outage) and no name, code or
    search holds a control character, so they are refused here once, for every parameter and
    path part, before any query is built.
    """
    for name, values in request.args.lists():
        if CONTROL.search(name):
            raise BadParameter(f"parameter names must not contain control characters; got "
                               f"{name!r}")
        for value in values:
            if CONTROL.search(value):
                raise BadParameter(f"{name} must not contain control characters (such as NUL); "
                                   f"got {value!r}")
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and CONTROL.search(value):
            raise NotFound(f"no {name} {value!r}: ids never contain control characters")


def format_param(allowed: tuple[str, ...] = ("json", "geojson")) -> str:
    f = request.args.get("f", "json").lower()
    if f not in allowed:
        raise BadParameter(f"f must be one of {', '.join(allowed)}; got {f!r}")
    return f


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a whole number; got {raw!r}") from exc
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}; got {value}")
    return value


def code_param(name: str, length: int) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(rf"[0-9]{{{length}}}", raw):
        raise BadParameter(f"{name} must be a {length}-digit DOPA code (e.g. "
                           f"{'1001'[:length] if length <= 4 else '100101'}); got {raw!r}")
    return raw


def bbox_param() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadParameter("bbox must be minLon,minLat,maxLon,maxLat (4 numbers); "
                           f"got {raw!r}")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise BadParameter(f"bbox must hold 4 numbers; got {raw!r}") from exc
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise BadParameter("bbox is longitude/latitude in degrees (WGS 84); values out of range")
    if minx > maxx or miny > maxy:
        raise BadParameter("bbox minimums must not exceed its maximums")
    return minx, miny, maxx, maxy


def region_param() -> str | None:
    raw = request.args.get("region")
    if raw is None or raw == "":
        return None
    if raw not in CDD_REGIONS:
        raise BadParameter(f"region must be one of {', '.join(CDD_REGIONS)}; got {raw!r}")
    return raw


def reject_unknown(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadParameter(f"unknown parameter(s): {', '.join(unknown)}; "
                           f"allowed: {', '.join(sorted(allowed))}")


def _filter_value(f: Field, raw: str) -> object:
    """One value of a choice filter, typed as the data stores it."""
    if f.type == "enum":
        choice = f.choice(raw)
        if choice is None:
            allowed = ", ".join(c.value for c in f.choices)
            raise BadParameter(f"{f.name} must be one of {allowed}; got {raw!r}")
        return choice.value
    if f.type == "bool":
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise BadParameter(f"{f.name} must be true or false; got {raw!r}")
    if f.type in ("int", "year_be"):
        try:
            return int(raw)
        except ValueError as exc:
            raise BadParameter(f"{f.name} must be a whole number; got {raw!r}") from exc
    return raw


def _number(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a number; got {raw!r}") from exc
    if not math.isfinite(value):
        raise BadParameter(f"{name} must be a finite number; got {raw!r}")
    return value


def filter_param_names(layer: Layer) -> set[str]:
    names: set[str] = set()
    for f in layer.filter_fields:
        names |= {f"{f.name}_min", f"{f.name}_max"} if f.filter == "range" else {f.name}
    return names


def layer_filters(layer: Layer) -> tuple[dict[str, tuple[object, ...]], dict[str, RangeFilter]]:
    """The layer's attribute filters: ``field=a,b`` for choices, ``field_min``/``_max`` ranges."""
    choices: dict[str, tuple[object, ...]] = {}
    ranges: dict[str, RangeFilter] = {}
    for f in layer.filter_fields:
        if f.filter == "range":
            low, high = _number(f"{f.name}_min"), _number(f"{f.name}_max")
            if low is not None and high is not None and low > high:
                raise BadParameter(f"{f.name}_min must not exceed {f.name}_max")
            if low is not None or high is not None:
                ranges[f.name] = RangeFilter(low, high)
        else:
            raw = request.args.get(f.name)
            if raw is None or raw == "":
                continue
            values = tuple(_filter_value(f, v.strip()) for v in raw.split(",") if v.strip())
            if not values:
                raise BadParameter(f"{f.name} needs at least one value (e.g. {f.name}=a,b); "
                                   f"got {raw!r}")
            choices[f.name] = values
    return choices, ranges


def near_param() -> tuple[float, float] | None:
    raw = request.args.get("near")
    if raw is None or raw == "":
        if request.args.get("radius_km"):
            raise BadParameter("radius_km needs near=lon,lat")
        return None
    parts = raw.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError as exc:
        raise BadParameter(f"near must be lon,lat in degrees (e.g. 100.5018,13.7563); "
                           f"got {raw!r}") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadParameter(f"near is out of range: longitude -180..180, latitude -90..90; "
                           f"got {raw!r}")
    return lon, lat


def radius_param() -> float | None:
    value = _number("radius_km")
    if value is not None and not 0 < value <= MAX_RADIUS_KM:
        raise BadParameter(f"radius_km must be more than 0 and at most {MAX_RADIUS_KM} (a "
                           f"wider search is too much work for one request); got {value:g}")
    return value


def near_paging(limit: int, offset: int) -> None:
    """Nearest-first work grows with limit + offset: both are capped when near is given."""
    if limit > MAX_NEAR_LIMIT:
        raise BadParameter(f"limit must be at most {MAX_NEAR_LIMIT:,} with near (the nearest "
                           f"{MAX_NEAR_LIMIT:,} is the most one request returns); got {limit}")
    if limit + offset > MAX_NEAR_LIMIT:
        raise BadParameter(f"offset + limit must be at most {MAX_NEAR_LIMIT:,} with near; got "
                           f"offset {offset}")


def breaks_param() -> list[float] | None:
    """Manual class breaks: at most 8 finite numbers (k - 1 for at most 9 classes)."""
    raw = request.args.get("breaks")
    if not raw:
        return None
    parts = [b for b in raw.split(",") if b.strip()]
    if len(parts) > MAX_BREAKS:
        raise BadParameter(f"breaks takes at most {MAX_BREAKS} numbers (for at most "
                           f"{MAX_BREAKS + 1} classes); got {len(parts)}")
    try:
        breaks = [float(b) for b in parts]
    except ValueError as exc:
        raise BadParameter("breaks must be numbers separated by commas") from exc
    if not all(math.isfinite(b) for b in breaks):
        raise BadParameter("breaks must be finite numbers (not nan or inf)")
    return breaks


def text_param() -> str | None:
    raw = request.args.get("q")
    if raw is None or not raw.strip():
        return None
    if len(raw) > 100:
        raise BadParameter("q is at most 100 characters")
    return village_key(raw) or None
