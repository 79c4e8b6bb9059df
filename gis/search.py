"""Name search that forgives slips: a missing tone mark, a vowel typed wrong, a name typed in
English (RTGS) instead of Thai.

Each feature's name is kept in ``feature_names`` in two forms, computed when the feature is
imported (never per request):

- ``name_norm``: the Thai name as ``village_key`` has it (no บ้าน prefix, no spaces, lower case)
  with tone marks stripped, for substring matches that ignore tones;
- ``name_rtgs``: the name romanised with PyThaiNLP's Royal Institute (RTGS) engine, word by
  word, plus the declared English search fields, for ``pg_trgm`` similarity.

Similarity is measured on the romanised forms because pg_trgm sees no letters in Thai script
under the cluster's C locale, and because romanising folds tone marks and vowel length (กะ and
กา are both "ka"), which is what most slips change. A query is romanised the same way.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, text

from core.areas import village_key
from gis import layer_queries as lq
from gis.cql import Compiled
from layers.definitions import LAYERS, Layer

# Thai tone marks (mai ek, tho, tri, chattawa) and the other marks a typist often drops.
_MARKS = re.compile("[\u0e48-\u0e4c\u0e47]")
_THAI = re.compile("[\u0e01-\u0e5b]")
# A silent ห leading a low sonorant (หนอง, เหนือ, ใหม่): PyThaiNLP's Royal Institute engine
# mis-reads some (เหนือ as "enue", ใหม่ as "aim"); RTGS writes them as if the ห were not there.
_SILENT_H = re.compile("(^|[\u0e40-\u0e44])\u0e2b"
                       "(?=[\u0e07\u0e0d\u0e19\u0e21\u0e22\u0e23\u0e25\u0e27])")
_PREFIX = re.compile(r"^(?:ban|moo\s*\d+)\s+", re.IGNORECASE)
WORD_MATCH = 0.5  # pg_trgm word_similarity at or above which a name counts as found
SUGGEST_FLOOR = 0.3  # weaker likenesses are still offered when nothing is found
MAX_MATCHES = 1000


def normalise(name: str) -> str:
    """The Thai form compared by substring: the village key without tone marks."""
    return _MARKS.sub("", village_key(unicodedata.normalize("NFC", name)))


@lru_cache(maxsize=4096)
def romanise(name: str) -> str:
    """RTGS words in lower case ("บ้านแม่ก๊ะเหนือ" → "mae ka nuea"); Latin text is kept.

    PyThaiNLP's ``royin`` engine is rule-based and ships its dictionary in the wheel, so this
    works with no network (imported lazily: only imports and searches pay for loading it)."""
    name = village_key_spaced(name)
    if not _THAI.search(name):
        return " ".join(re.findall(r"[0-9a-z]+", name.lower()))
    # Word by word between spaces (no word of the tokeniser spans a space), each part cached:
    # an import's names share their parts (ศูนย์เรียนรู้ชุมชน, บ้านหนองบัว, หมู่ 3) far more than
    # whole names, and tokenising costs most of the rest (~0.7 ms a name).
    return " ".join(" ".join(_romanise_part(part) for part in name.split(" ")).split())


@lru_cache(maxsize=65_536)
def _romanise_part(part: str) -> str:
    """Words of a name with no space in it, romanised (see ``romanise``)."""
    if part.isascii() and (part.isdigit() or part.isalpha()):
        return part.lower()  # one word to the tokeniser: a number (หมู่ 3, ศูนย์ 1234) or a word
    from pythainlp.tokenize import word_tokenize

    words = []
    for word in word_tokenize(part, engine="newmm"):
        if _THAI.search(word):
            words.append(_romanise_word(word))
        else:
            words += re.findall(r"[0-9a-z]+", word.lower())
    return " ".join(words).lower()


@lru_cache(maxsize=65_536)
def _romanise_word(word: str) -> str:
    """One Thai word in RTGS: names share most of their words (บ้าน, หนอง, ศูนย์เรียนรู้), and
    romanising a word costs about a millisecond, most of an import's time when it was done
    per name."""
    from pythainlp.transliterate import romanize

    return romanize(_SILENT_H.sub(r"\1", word), engine="royin")


_warming = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Loads PyThaiNLP's dictionary (~3 s, once per process) in a background thread, so the
    first Thai search a visitor types is not the one that waits for it."""
    global _warmed
    with _warming:
        if _warmed:
            return
        _warmed = True
    threading.Thread(target=romanise, args=("บ้านท่าลาน",), daemon=True,
                     name="pythainlp-warm-up").start()


def village_key_spaced(name: str) -> str:
    """The name without what people type before it (บ้าน, ชุมชน, Ban …), spaces kept."""
    name = unicodedata.normalize("NFC", name).strip()
    name = re.sub(r"^(?:หมู่บ้าน|บ้าน|ชุมชน)\s*", "", name)
    return _PREFIX.sub("", name).strip()


def forms(name: str, extra: Iterable[str] = ()) -> tuple[str, str]:
    """(name_norm, name_rtgs) of a name and its English search fields."""
    latin = [romanise(e) for e in extra if e and e.strip()]
    return normalise(name), " | ".join(x for x in [romanise(name), *latin] if x)


def index_names(conn: Connection, layer_id: str, keys: list[str] | None = None) -> int:
    """Fills ``feature_names`` for the layer's features (only ``keys`` if given), in the
    caller's transaction. Called by the importer after it writes, and by migration 0008."""
    layer = LAYERS.get(layer_id)
    if layer is None or layer.field(layer.name_field).personal:
        return 0  # a name that is personal data is never made searchable
    extra = [n for n in layer.search_fields if not layer.field(n).personal]
    where = "AND key = ANY(:keys)" if keys is not None else ""
    rows = conn.execute(text(f"""
        SELECT key, coalesce(name, ''),
               ARRAY[{", ".join(f"coalesce(properties->>'{_field(layer, n)}', '')"
                                for n in extra) or "''"}]
        FROM layer_features WHERE layer = :layer {where}
    """), {"layer": layer_id, "keys": keys}).all()
    keys_, norms, rtgses = [], [], []
    for key, name, others in rows:
        norm, rtgs = forms(name, others)
        keys_.append(key)
        norms.append(norm)
        rtgses.append(rtgs)
    if keys_:  # one statement, not one per row (an import writes 2,000 at a time)
        conn.execute(text("""
            INSERT INTO feature_names (layer, key, name_norm, name_rtgs)
            SELECT :layer, k, n, r
            FROM unnest(CAST(:keys AS text[]), CAST(:norms AS text[]), CAST(:rtgs AS text[]))
                 AS t(k, n, r)
            ON CONFLICT (layer, key) DO UPDATE SET name_norm = EXCLUDED.name_norm,
                                                   name_rtgs = EXCLUDED.name_rtgs
        """), {"layer": layer_id, "keys": keys_, "norms": norms, "rtgs": rtgses})
    return len(keys_)


def _field(layer: Layer, name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe field name {name!r}")
    layer.field(name)
    return name


@dataclass(frozen=True)
class Query:
    """What was typed, in the two forms it is compared in."""

    norm: str
    rtgs: str

    @classmethod
    def of(cls, typed: str) -> Query:
        return cls(normalise(typed), romanise(typed))

    @property
    def empty(self) -> bool:
        return not self.norm and not self.rtgs

    def params(self) -> dict[str, object]:
        return {"q_norm": "%" + lq.like_escape(self.norm) + "%" if self.norm else None,
                "q_rtgs": self.rtgs,
                "q_compact": self.rtgs.replace(" ", ""),
                "q_compact_like": "%" + lq.like_escape(self.rtgs.replace(" ", "")) + "%"}


# How alike a name is: a substring (ignoring tones, or in RTGS) beats any likeness; then the
# best-matching words (word_similarity) plus the whole name without spaces (similarity).
_CONTAINS = ("((:q_norm)::text IS NOT NULL AND n.name_norm LIKE :q_norm ESCAPE '\\' "
             "OR (:q_compact <> '' AND replace(n.name_rtgs, ' ', '') LIKE :q_compact_like "
             "ESCAPE '\\'))")
_LIKENESS = ("(word_similarity(:q_rtgs, n.name_rtgs) "
             "+ similarity(:q_compact, replace(n.name_rtgs, ' ', '')))")
_SCORE = f"(CASE WHEN {_CONTAINS} THEN 2 ELSE 0 END + {_LIKENESS})"


def name_filter(layer: Layer, typed: str) -> Compiled:
    """The items' ``q``: features whose name is like ``typed`` as the tour search finds them
    (tone marks, vowel slips, RTGS spellings; ``feature_names``), or whose name or search
    fields contain it with spacing and case ignored (what ``q`` matched before). A filter,
    not a ranking: the items keep their order (by id), so paging by key still works.
    Nothing matches when ``typed`` has no letters or digits to compare."""
    query = Query.of(typed)
    key = village_key(typed)
    if query.empty and not key:
        return Compiled("false")
    found = (f"EXISTS (SELECT 1 FROM feature_names n WHERE n.layer = f.layer AND n.key = f.key"
             f" AND ({_CONTAINS} OR word_similarity(:q_rtgs, n.name_rtgs) >= {WORD_MATCH}"
             f" OR similarity(:q_compact, replace(n.name_rtgs, ' ', '')) >= {WORD_MATCH}))"
             if not query.empty else "false")
    like = lq.name_like_sql(layer) if key else "false"
    return Compiled(f"({like} OR {found})",
                    {**query.params(), "text": "%" + lq.like_escape(key) + "%"})


@dataclass(frozen=True)
class Place:
    """An area a tourist named: the search lists the features in it, nearest its middle."""

    level: str  # province, district, subdistrict
    code: str
    name_th: str
    name_en: str

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "name_th": self.name_th,
                "name_en": self.name_en}


@dataclass(frozen=True)
class Found:
    keys: list[str]
    total: int
    place: Place | None = None


_AREA_PREFIX = re.compile(r"^(?:จังหวัด|จ\.|อำเภอ|อ\.|เขต|ตำบล|ต\.|แขวง|changwat|amphoe|"
                          r"tambon|province|district)\s*", re.IGNORECASE)
_LEVELS = ("province", "district", "subdistrict")


def place_named(typed: str) -> Place | None:
    """The province, district or subdistrict whose Thai or English name ``typed`` is (tone
    marks and case aside; "จ."/"อำเภอ"/"Amphoe" … allowed before it), the larger area first:
    "เชียงใหม่" is the province, "ดอยสะเก็ด" the district. None when it names no area exactly
    (then it is a village name, a product or a slip, searched as before)."""
    import geothai  # the registry is loaded on first use

    plain = _AREA_PREFIX.sub("", unicodedata.normalize("NFC", typed).strip()).strip()
    if not plain:
        return None
    wanted_th, wanted_en = normalise(plain), plain.casefold()
    named = [hit for hit in geothai.search(plain, limit=20)
             if hit.level in _LEVELS and (normalise(hit.area.name_th) == wanted_th
                                          or str(hit.area.name_en).casefold() == wanted_en)]
    if not named:
        return None
    top = min(_LEVELS.index(hit.level) for hit in named)
    at_top = [hit for hit in named if _LEVELS.index(hit.level) == top]
    if len(at_top) > 1:
        return None  # namesakes (ศรีภูมิ is a subdistrict in several provinces): not one place
    best = at_top[0]
    return Place(best.level, str(best.area.code), best.area.name_th, str(best.area.name_en))


@lru_cache(maxsize=1)
def _place_names() -> tuple[dict[str, Place], ...]:
    """Every province and district by its compared forms: (Thai, English) name -> Place."""
    import geothai

    thai: dict[str, Place] = {}
    english: dict[str, Place] = {}
    for province in geothai.provinces():
        areas: list[tuple[str, Any]] = [
            ("province", province),
            *(("district", d) for d in geothai.districts(str(province.code)))]
        for level, area in areas:
            place = Place(level, str(area.code), area.name_th, str(area.name_en))
            thai.setdefault(normalise(area.name_th), place)
            english.setdefault(str(area.name_en).casefold(), place)
    return thai, english


def places_like(typed: str, limit: int = 3) -> list[Place]:
    """Provinces and districts whose names are like ``typed`` (a slip: "เชียงใหมม",
    "Chang Mai"), for "no results": a tourist who misspelt a place is offered it. difflib over
    the ~1,000 names, once per search that found nothing."""
    plain = _AREA_PREFIX.sub("", unicodedata.normalize("NFC", typed).strip()).strip()
    if len(plain) < 2:
        return []
    thai, english = _place_names()
    found = [thai[n] for n in difflib.get_close_matches(normalise(plain), thai, n=limit,
                                                        cutoff=0.75)]
    found += [english[n] for n in difflib.get_close_matches(plain.casefold(), english,
                                                           n=limit, cutoff=0.75)]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda p: _LEVELS.index(p.level))[:limit]


def _describes(layer: Layer, typed: str) -> tuple[str, dict[str, object]]:
    """SQL true for features whose describing fields hold ``typed`` (a product, an activity),
    or whose describing enum has a value labelled so; "false" for a layer without them or for
    fewer than two letters (every highlight holds "a")."""
    words = typed.strip()
    if not layer.describe_fields or len(words) < 2:
        return "false", {}
    parts: list[str] = []
    params: dict[str, object] = {"describe_like": "%" + lq.like_escape(words) + "%"}
    for name in layer.describe_fields:
        field_ = layer.field(_field(layer, name))
        if field_.type == "enum":
            choice = field_.choice(words)
            if choice is not None:
                parts.append(f"f.properties->>'{name}' = :describe_{name}")
                params[f"describe_{name}"] = choice.value
        else:
            parts.append(f"f.properties->>'{name}' ILIKE :describe_like ESCAPE '\\'")
    return "(" + " OR ".join(parts or ["false"]) + ")", params


def find(engine: Engine, layer: Layer, typed: str, where: lq.LayerQuery, *,
         limit: int, offset: int = 0) -> Found:
    """The layer's features for what a tourist typed, within ``where``'s area and attribute
    filters: one page of keys and how many match in all (at most MAX_MATCHES).

    A place's name (a province, district or subdistrict) lists the features in that place,
    nearest its middle first (issue 24: "เชียงใหม่" listed villages so named in Nakhon
    Ratchasima); otherwise features whose name is like ``typed`` come first, best first, then
    those whose products or highlights hold it ("โฮมสเตย์", "homestay"); nearest first when
    ``where.near`` is given."""
    query = Query.of(typed)
    if query.empty:
        return Found([], 0)
    place = place_named(typed)
    if place is not None:
        return _in_place(engine, layer, place, where, limit=limit, offset=offset)
    clauses, params = lq.where(layer, replace(where, text=None, limit=limit, offset=0))
    describes, described = _describes(layer, typed)
    params = {**params, **described}
    # A product or activity named exactly ranks above a name that is only somewhat alike
    # ("กาแฟ": the villages selling coffee before บ้านสมอกาฝาก), below a name that holds it.
    score = f"({_SCORE} + CASE WHEN {describes} THEN 1.5 ELSE 0 END)"
    order = (f"{score} DESC, f.key" if where.near is None else
             "f.geom::geography <-> ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)"
             "::geography, f.key")
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT f.key, count(*) OVER () FROM (
                SELECT f.* FROM layer_features f
                JOIN feature_names n ON n.layer = f.layer AND n.key = f.key
                WHERE {clauses}
                  AND ({_CONTAINS} OR word_similarity(:q_rtgs, n.name_rtgs) >= {WORD_MATCH}
                       OR similarity(:q_compact, replace(n.name_rtgs, ' ', '')) >= {WORD_MATCH}
                       OR {describes})
                ORDER BY {score} DESC, f.key LIMIT {MAX_MATCHES}
            ) f JOIN feature_names n ON n.layer = f.layer AND n.key = f.key
            ORDER BY {order} LIMIT :limit OFFSET :offset
        """), {**params, **query.params(), "limit": limit, "offset": offset}).all()
        total = rows[0][1] if rows else 0
        if not rows and offset:
            total = conn.execute(text(f"""
                SELECT count(*) FROM layer_features f
                JOIN feature_names n ON n.layer = f.layer AND n.key = f.key
                WHERE {clauses}
                  AND ({_CONTAINS} OR word_similarity(:q_rtgs, n.name_rtgs) >= {WORD_MATCH}
                       OR similarity(:q_compact, replace(n.name_rtgs, ' ', '')) >= {WORD_MATCH}
                       OR {describes})
            """), {**params, **query.params()}).scalar_one()
    return Found([r[0] for r in rows], min(int(total), MAX_MATCHES))


_AREA_TABLES = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}


def _in_place(engine: Engine, layer: Layer, place: Place, where: lq.LayerQuery, *,
              limit: int, offset: int) -> Found:
    """The features in ``place``, nearest its middle first (nearest ``where.near`` when
    given); when the place has none, the nearest ones to it, so the list is never empty."""
    area: dict[str, Any] = {place.level: place.code}
    inside = replace(where, **area, text=None, limit=limit, offset=0)
    clauses, params = lq.where(layer, inside)
    table = _AREA_TABLES[place.level]
    origin = ("ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)::geography"
              if where.near is not None else "(SELECT middle FROM place)")
    sql = f"""
        WITH place AS (SELECT ST_PointOnSurface(geom)::geography AS middle
                       FROM {table} WHERE code = :place_code)
        SELECT f.key, count(*) OVER () FROM layer_features f
        WHERE {{clauses}}
        ORDER BY f.geom::geography <-> {origin}, f.key
        LIMIT :limit OFFSET :offset
    """
    values = {"place_code": place.code, "limit": limit, "offset": offset}
    with engine.connect() as conn:
        rows = conn.execute(text(sql.format(clauses=clauses)), {**params, **values}).all()
        keys, total = [r[0] for r in rows], int(rows[0][1]) if rows else 0
        if not rows and not offset:  # nothing inside: the nearest to it, nearest first
            clauses, params = lq.where(layer, replace(where, text=None))
            keys = [r[0] for r in conn.execute(text(sql.format(clauses=clauses)),
                                               {**params, **values}).all()]
            total = len(keys)  # one page: "the nearest", not the whole country
    return Found(keys, min(total, MAX_MATCHES), place)


def features(engine: Engine, layer: Layer, keys: list[str],
             near: tuple[float, float] | None = None) -> list[str]:
    """The public GeoJSON features of these keys, in the keys' order."""
    if not keys:
        return []
    page = lq.query_features(engine, layer, lq.LayerQuery(
        filter=Compiled("f.key = ANY(:search_keys)", {"search_keys": keys}), near=near,
        limit=len(keys)), count=False)
    by_key = {json.loads(f)["id"]: f for f in page.features}
    return [by_key[k] for k in keys if k in by_key]


@dataclass(frozen=True)
class Suggestion:
    id: str
    name_th: str
    name_en: str
    province_th: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name_th": self.name_th, "name_en": self.name_en,
                "province_th": self.province_th}


def suggest(engine: Engine, layer: Layer, typed: str, *, limit: int,
            floor: float = WORD_MATCH) -> list[Suggestion]:
    """The names most like ``typed`` in the whole layer, best first: autocomplete (``floor`` =
    a match) and "did you mean" when a filtered search found nothing (a lower floor)."""
    query = Query.of(typed)
    if query.empty:
        return []
    en = "f.properties->>'village_name_en'" if "village_name_en" in {
        f.name for f in layer.public_fields} else "NULL"
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT f.key, coalesce(f.name, ''), {en}, n.name_rtgs, coalesce(p.name_th, '')
            FROM layer_features f
            JOIN feature_names n ON n.layer = f.layer AND n.key = f.key
            LEFT JOIN provinces p ON p.code = f.province_code
            WHERE f.layer = :layer
              AND ({_CONTAINS} OR word_similarity(:q_rtgs, n.name_rtgs) >= :floor
                   OR similarity(:q_compact, replace(n.name_rtgs, ' ', '')) >= :floor)
            ORDER BY {_SCORE} DESC, f.name, f.key
            LIMIT :limit
        """), {"layer": layer.id, "floor": floor, "limit": limit, **query.params()}).all()
    # The English name as English mode shows it everywhere (english_name: "Ban Tha Lan").
    return [Suggestion(key, name, english_name(name, rtgs or "", declared), province)
            for key, name, declared, rtgs, province in rows]


# What people write before a name (village_key_spaced drops it from the romanised form), as
# RTGS writes it: the English name reads "Ban Tha Lan", as road signs do, not "Tha Lan".
_PREFIX_EN = (("หมู่บ้าน", "Mu Ban"), ("บ้าน", "Ban"), ("ชุมชน", "Chumchon"))


def english_name(name_th: str, rtgs: str, declared: str | None = None) -> str:
    """A feature's name for English mode: the declared English name when the layer has one,
    else the romanisation stored when it was imported (``feature_names.name_rtgs``'s first
    part, the name's own), in title case with its prefix; Thai when there is neither."""
    if declared and declared.strip():
        return declared.strip()
    words = rtgs.split(" | ", 1)[0].strip()
    if not words:
        return name_th
    thai = unicodedata.normalize("NFC", name_th).strip()
    prefix = next((en for th, en in _PREFIX_EN if thai.startswith(th)), "")
    return " ".join(filter(None, [prefix, " ".join(w.capitalize() for w in words.split())]))


def english_names(engine: Engine, layer: Layer, keys: Iterable[str]) -> dict[str, str]:
    """``english_name`` of each of these features (by key; keys not in the layer are left
    out): read from what the import computed, never romanised per request (issue 24: English
    mode showed Thai names although the romanisation was at hand)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    en_fields = [f.name for f in layer.public_fields if f.name == f"{layer.name_field}_en"]
    declared = f"f.properties->>'{en_fields[0]}'" if en_fields else "NULL"
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT f.key, coalesce(f.name, ''), coalesce(n.name_rtgs, ''), {declared}
            FROM layer_features f
            LEFT JOIN feature_names n ON n.layer = f.layer AND n.key = f.key
            WHERE f.layer = :layer AND f.key = ANY(:keys)
        """), {"layer": layer.id, "keys": wanted}).all()
    return {key: english_name(name, rtgs, en) for key, name, rtgs, en in rows}
