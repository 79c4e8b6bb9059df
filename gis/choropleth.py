"""Classifying indicator values for a choropleth (mapclassify) and the areas to draw.

Geometry for a level comes from the precomputed display levels of detail, rounded to the
precision the view needs; neighbours were simplified as one coverage, and a shared vertex rounds
the same way on both sides, so borders still meet. The result is cached per boundary load.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from branca.utilities import color_brewer
from sqlalchemy import Engine, text

from core.errors import BadParameter

METHODS = ("quantiles", "equal_interval", "fisher_jenks", "std_mean", "manual")
SEQUENTIAL = ("YlOrRd", "YlGnBu", "Greens", "Blues", "Purples", "OrRd", "RdPu", "BuGn")
DIVERGING = ("RdBu", "BrBG", "PiYG", "RdYlGn")
NO_DATA_COLOR = "#d1d5db"
FISHER_JENKS_SAMPLE = 600
MAX_BREAKS = 8  # k - 1 for the 9 classes ColorBrewer has colours for


class ClassificationError(BadParameter):
    """Classification parameters that cannot work (unknown method or scheme, bad breaks)."""


@dataclass(frozen=True)
class Classes:
    method: str
    bins: list[float]       # upper bound of each class, increasing; the last is the maximum
    lower: float            # lower bound of the first class (the minimum)
    colors: list[str]
    counts: list[int]
    classes: list[int | None]  # per value; None for no data
    no_data: int
    notes: list[str] = field(default_factory=list)  # per class, e.g. "−1 SD – +1 SD"
    diverging: bool = False  # colours centred on 0: a change with gains and losses

    def legend(self) -> list[dict[str, object]]:
        lowers = [self.lower, *self.bins[:-1]]
        notes = self.notes or [""] * len(self.bins)
        out: list[dict[str, object]] = []
        for lo, hi, n, c, note in zip(lowers, self.bins, self.counts, self.colors, notes,
                                      strict=True):
            item: dict[str, object] = {"lower": lo, "upper": hi, "count": n, "color": c}
            if note:
                item["note"] = note
            out.append(item)
        return out


def _tidy(bins: list[float], lo: float, hi: float) -> list[float]:
    """Upper bounds that increase and lie within the data: a bound below the minimum would make
    an empty class whose range runs backwards (std_mean's mean − 2 SD on skewed data gave
    "13,497.2 – 11,124.66 (0)"), and every bound past the maximum collapses into the maximum."""
    inside = sorted({float(b) for b in bins if lo <= b < hi})
    return [*inside, float(hi)]


def _ramp(scheme: str, n: int) -> list[str]:
    """``n`` colours of a ColorBrewer scheme (ColorBrewer has none for fewer than 3)."""
    colors = color_brewer(scheme, max(n, 3))
    if n < 3:  # the darkest of a sequential scheme; a diverging one's two ends
        colors = colors[-n:] if scheme in SEQUENTIAL else [colors[0], colors[-1]][:n]
    return colors[:n]


def _sd_notes(bins: list[float], mean: float, sd: float) -> list[str]:
    """Each class's place in standard deviations from the mean, from its bounds."""
    def edge(value: float) -> str:
        return "" if sd == 0 else f"{(value - mean) / sd:+.1f} SD".replace("-", "−")
    notes = []
    lowers = [None, *bins[:-1]]
    for i, (lo, hi) in enumerate(zip(lowers, bins, strict=True)):
        last = i == len(bins) - 1
        left = "ต่ำสุด min" if lo is None else edge(lo)
        right = "สูงสุด max" if last else edge(hi)
        notes.append(f"{left} – {right}")
    return notes


def classify(values: list[float | None], method: str, k: int, scheme: str,
             breaks: list[float] | None = None, centre: float | None = None) -> Classes:
    """Classes, colours and counts. ``centre`` (0 for a change between years) centres a
    diverging scheme on it when values fall on both sides; when they all fall on one side, the
    colours are that side's half of the scheme (light at the centre), so small gains never look
    like losses."""
    if method not in METHODS:
        raise ClassificationError(f"method must be one of {', '.join(METHODS)}")
    if scheme not in SEQUENTIAL + DIVERGING:
        raise ClassificationError(f"scheme must be one of {', '.join(SEQUENTIAL + DIVERGING)}")
    # Imported on first use: mapclassify brings scipy and scikit-learn (~2 s), which would
    # otherwise delay every start of the app; `cddgis serve` loads it once the workers are up.
    import mapclassify

    present = np.array([v for v in values if v is not None], dtype=float)
    no_data = sum(1 for v in values if v is None)
    if present.size == 0:
        return Classes(method, [], 0.0, [], [], [None] * len(values), no_data)
    distinct = np.unique(present).size
    if method == "manual":
        if not breaks:
            raise ClassificationError("manual classes need breaks=a,b,c (increasing)")
        if len(breaks) > MAX_BREAKS:
            raise ClassificationError(f"breaks takes at most {MAX_BREAKS} numbers")
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(breaks)):
            raise ClassificationError("breaks must increase")
        bins = list(breaks)
        if bins[-1] < present.max():
            bins.append(float(present.max()))
        classifier = mapclassify.UserDefined(present, bins)
    elif method == "std_mean":
        classifier = mapclassify.StdMean(present)
    elif method == "fisher_jenks" and present.size > FISHER_JENKS_SAMPLE:
        # Exact Fisher-Jenks is O(n²) in mapclassify's pure-Python path (no numba here): 7,425
        # subdistricts would take about a minute. Take the breaks from an evenly spaced sample
        # of the sorted values (deterministic, unlike FisherJenksSampled), classify them all.
        k = max(1, min(k, distinct))
        ordered = np.sort(present)
        sample = ordered[np.linspace(0, ordered.size - 1, FISHER_JENKS_SAMPLE).astype(int)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample_bins = list(mapclassify.FisherJenks(sample, k=k).bins)
        sample_bins[-1] = float(present.max())
        classifier = mapclassify.UserDefined(present, sorted(set(sample_bins)))
    else:
        k = max(1, min(k, distinct))
        cls = {"quantiles": mapclassify.Quantiles, "equal_interval": mapclassify.EqualInterval,
               "fisher_jenks": mapclassify.FisherJenks}[method]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Numba not installed": expected, and handled
            classifier = cls(present, k=k)
    lo, hi = float(present.min()), float(present.max())
    bins = _tidy([float(b) for b in classifier.bins], lo, hi)
    both_sides = centre is not None and scheme in DIVERGING and lo < centre < hi
    if centre is not None and both_sides and centre not in bins:
        bins = sorted([*bins, float(centre)])
    if bins != [float(b) for b in classifier.bins]:
        classifier = mapclassify.UserDefined(present, bins)
        bins = [float(b) for b in classifier.bins]
    counts = [int(c) for c in classifier.counts]
    n = len(bins)
    if centre is not None and scheme in DIVERGING:
        below = sum(1 for b in bins if b <= centre) if both_sides else (n if hi <= centre else 0)
        above = n - below
        half = max(below, above)
        ramp = _ramp(scheme, 2 * half)
        colors = ramp[half - below:half] + ramp[half:half + above]
    else:
        colors = _ramp(scheme, n)
    notes = (_sd_notes(bins, float(present.mean()), float(present.std()))
             if method == "std_mean" else [])
    it = iter(int(c) for c in classifier.yb)
    classes = [None if v is None else next(it) for v in values]
    return Classes(method, bins, lo, colors, counts, classes, no_data, notes, both_sides)


def ranks(values: list[float | None]) -> list[int | None]:
    """1 for the highest value; ties share a rank (1, 2, 2, 4)."""
    present = sorted((v for v in values if v is not None), reverse=True)
    first: dict[float, int] = {}
    for i, v in enumerate(present, start=1):
        first.setdefault(v, i)
    return [None if v is None else first[v] for v in values]


# -- geometry -------------------------------------------------------------------------------

LOD = {  # (level, scoped?) -> (geometry column, decimal digits)
    ("region", False): ("geom_lod3", 3), ("region", True): ("geom_lod3", 3),
    ("province", False): ("geom_lod3", 3), ("province", True): ("geom_lod2", 4),
    ("district", False): ("geom_lod3", 3), ("district", True): ("geom_lod1", 4),
    ("subdistrict", False): ("geom_lod3", 3), ("subdistrict", True): ("geom_lod1", 4),
}


def current_load(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM boundary_loads")).scalar_one()


def areas_geojson(engine: Engine, level: str, region: str | None, province: str | None,
                  district: str | None) -> str:
    """The areas of a level in a scope as GeoJSON text, cached per boundary load."""
    return _areas_geojson(engine, current_load(engine), level, region, province, district)


@lru_cache(maxsize=64)
def _areas_geojson(engine: Engine, load_id: int, level: str, region: str | None,
                   province: str | None, district: str | None) -> str:
    column, digits = LOD[(level, bool(province or district))]
    if level == "region":
        sql = f"""
            SELECT json_build_object('type', 'Feature', 'id', region,
                'geometry', ST_AsGeoJSON(ST_Union({column}), {digits})::json,
                'properties', json_build_object('code', region))::text
            FROM provinces WHERE (CAST(:region AS text) IS NULL OR region = :region)
            GROUP BY region ORDER BY region
        """
    else:
        table = {"province": "provinces", "district": "districts",
                 "subdistrict": "subdistricts"}[level]
        where = ["(CAST(:region AS text) IS NULL OR region = :region)"]
        if province:
            where.append("code LIKE :province || '%'")
        if district:
            where.append("code LIKE :district || '%'")
        sql = f"""
            SELECT json_build_object('type', 'Feature', 'id', code,
                'geometry', ST_AsGeoJSON({column}, {digits})::json,
                'properties', json_build_object('code', code, 'name_th', name_th,
                                                'name_en', name_en))::text
            FROM {table} WHERE {" AND ".join(where)} ORDER BY code
        """
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"region": region, "province": province,
                                        "district": district}).scalars().all()
    return '{"type":"FeatureCollection","features":[' + ",".join(rows) + "]}"
