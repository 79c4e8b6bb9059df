"""One contract for every collection the API serves: the admin boundaries and the point layers.

The routes in web/ (items, one item, queryables, the collection documents, tiles, writes) and
the tile statements in ``gis/tiles.py`` ask a ``Collection`` and never which kind it is: what
differs between the two kinds (geometry, levels of detail, personal fields, writability, the
table, the item ids, the properties each feature carries) is data on the collection, and the
two implementations below put the two existing query modules (``gis/boundaries.py``,
``gis/layer_queries.py``) behind the same methods. ``collection(id)`` and ``collections()``
are the one registry; ``of(declaration)`` wraps a declaration that is not registered (a test's
layer, an older declaration whose tiles are fingerprinted).
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine

from core.accounts import Account
from core.errors import MethodNotAllowed
from core.schema import Field, Layer
from gis import boundaries as bq
from gis import changes, search
from gis import crs as gcrs
from gis import layer_queries as lq
from gis.cql import Compiled, Queryable
from layers.definitions import LAYERS

GeometryType = Literal["polygon", "point"]


@dataclass(frozen=True)
class Query:
    """Every filter kind a collection's items may be selected by, and the page asked for.

    A filter kind the collection has no data for (attributes, names or nearest first of the
    boundaries) is a ValueError: the routes in web/ refuse such parameters by name before a
    query is made (``web/params.py``)."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    """The SRID of ``bbox`` (already in x, y order)."""
    region: str | None = None
    province: str | None = None
    district: str | None = None
    subdistrict: str | None = None
    choices: dict[str, tuple[object, ...]] = field(default_factory=dict)
    ranges: dict[str, lq.RangeFilter] = field(default_factory=dict)
    text: str | None = None
    """Part of the name as typed: matched as the tour search matches (``gis.search``)."""
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    exclude: str | None = None
    filter: Compiled | None = None
    """A compiled CQL2 filter (``gis.cql``) over the collection's queryables."""
    period: tuple[dt.date | None, dt.date | None] | None = None
    """``datetime``: the first and last UTC day (None: open) a dated feature's ``temporal``
    property must fall in. A collection with no temporal property keeps every feature, as
    OGC API - Features Part 1 says of features with no temporal geometry."""
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    crs: gcrs.Crs = gcrs.DEFAULT
    lod: int = 0
    limit: int = 100
    offset: int = 0
    after: str | None = None
    """Keyset paging: start after this id (ordered by id, no ``near``, no ``sortby``)."""


@dataclass(frozen=True)
class Page:
    number_matched: int | None
    """None when counting would cost more than the page."""
    features: list[str]
    """Each a GeoJSON Feature as text, built in PostGIS."""
    more: bool = False
    last_key: str | None = None
    any_sample: bool = False


@dataclass(frozen=True)
class Summary:
    """What the collection documents and TileJSON say of the data now."""

    bbox: list[float] | None
    count: int | None = None
    sample: bool = False
    interval: tuple[str | None, str | None] | None = None
    """The first and last date of the ``temporal`` property (a collection that has one)."""


@dataclass(frozen=True)
class Returnable:
    """One property a feature carries, as OGC API - Features Part 5 describes it: its JSON
    Schema (type, format, title in Thai and English, allowed values), its role and whether the
    server derives it (a write ignores it)."""

    name: str
    schema: dict[str, object]
    role: str | None = None
    """``x-ogc-role``: ``id``, ``primary-geometry`` or ``primary-instant``."""
    read_only: bool = False


_OUTPUT_SCHEMAS: dict[str, dict[str, object]] = {
    "province_th": {"type": "string", "title": "จังหวัด / province (Thai name)"},
    "district_th": {"type": "string", "title": "อำเภอ / district (Thai name)"},
    "subdistrict_th": {"type": "string", "title": "ตำบล / subdistrict (Thai name)"},
    "children": {"type": "integer",
                 "title": "จำนวนเขตการปกครองย่อย / areas of the next level inside it"},
    "distance_km": {"type": "number",
                    "title": "ระยะทาง (กม.) / distance from near (km), only with near="},
}
"""The properties a feature carries that are no queryables (names, counts, distances)."""

_DERIVED = frozenset({"province_code", "district_code", "subdistrict_code", "region",
                      "province_th", "district_th", "subdistrict_th", "sample", "distance_km"})
"""Properties the server works out (where a point lies, the sample flag): a write never sets
them."""


def _returnables(names: list[str], queryables: dict[str, Queryable], id_name: str,
                 temporal: str | None, geometry_format: str) -> tuple[Returnable, ...]:
    found: list[Returnable] = []
    for name in names:
        q = queryables.get(name)
        schema = q.schema() if q is not None else dict(_OUTPUT_SCHEMAS[name])
        role = "id" if name == id_name else "primary-instant" if name == temporal else None
        found.append(Returnable(name, schema, role,
                                read_only=name == id_name or name in _DERIVED))
    geometry = queryables["geometry"]
    found.append(Returnable("geometry", {"title": geometry.title, "format": geometry_format,
                                         "$ref": "https://geojson.org/schema/Geometry.json"},
                            "primary-geometry"))
    return tuple(found)


GEOMETRY_FORMATS = {"point": "geometry-point", "polygon": "geometry-polygon-or-multipolygon"}
"""The geometry ``format`` of each kind of collection, as OGC API - Features Part 5 names
them."""


LOCK_ALL_POINTS = "#points"
"""The tile-cache lock every point layer's tiles also take (TRUNCATE of layer_features takes
it exclusively; migration 0007)."""


class Collection(ABC):
    """A collection of features: its identity and data, and the statements that read (and,
    where allowed, write) it."""

    id: str
    title_th: str
    title_en: str
    geometry_type: GeometryType
    lods: tuple[int, ...]
    """Levels of detail an item may be asked in (0 = full)."""
    personal_fields: tuple[str, ...]
    """Never in any output (PDPA)."""
    public_fields: tuple[Field, ...]
    """Declared fields an item carries (and a tile, each as a column of its own)."""
    filter_fields: tuple[Field, ...]
    """Fields with a filter parameter of their own (``field=a,b``, ``field_min``)."""
    writable: bool
    temporal: str | None = None
    """The property that dates an item, if any (``datetime`` selects by it)."""
    area_levels: tuple[str, ...]
    """Area codes the items may be filtered by (``province``, ``district``, ...)."""
    outputs: tuple[str, ...]
    """Properties a feature carries besides its queryables (``properties=`` may name them)."""
    marks_sample: bool
    """Whether its items may be generated sample data (then every answer says so)."""
    points: bool
    """Points: CSV downloads, nearest first, name search and clusters."""
    id_description: str
    """What an item's id is (the OpenAPI document's ``featureId``)."""
    id_pattern: str | None
    """A regular expression every item id matches, if there is one."""
    table: str
    parents: tuple[str, ...]
    """Its table's columns holding the codes of the areas it lies in (areas only)."""
    geometry_columns: dict[int, str]
    """The geometry column of each level of detail."""
    lock_names: tuple[str, ...]
    """The tile cache's advisory locks its tiles take (see ``gis/tiles.py``)."""
    crs: tuple[str, ...] = tuple(gcrs.SUPPORTED)
    """The CRSs it lists (Part 2): answers, bbox, ``filter-crs`` and a write's ``Content-Crs``
    may be in any of them, and in no other."""

    @property
    def title(self) -> str:
        return f"{self.title_th} / {self.title_en}"

    @abstractmethod
    def description(self, summary: Summary) -> str: ...

    @abstractmethod
    def queryables(self) -> dict[str, Queryable]:
        """What a filter, sortby or properties may name."""

    def sortables(self) -> dict[str, Queryable]:
        """What ``sortby`` accepts: every queryable but the geometry (Part 8 sortables)."""
        return {n: q for n, q in self.queryables().items() if q.type != "geometry"}

    @abstractmethod
    def returnables(self) -> tuple[Returnable, ...]:
        """The properties its features carry, in the order they carry them, then the
        geometry (the Part 5 schema). Personal fields are never among them."""

    def form_fields(self, personal: bool) -> tuple[Field, ...]:
        """The declared fields a staff edit form shows, in the schema's order (personal ones,
        at their declared place, only for ``personal``); none for a read-only collection."""
        return ()

    @abstractmethod
    def where(self, q: Query) -> tuple[str, dict[str, object]]:
        """SQL (over the table as ``t`` or ``f``) and parameters selecting what ``q`` asks."""

    @abstractmethod
    def items(self, engine: Engine, q: Query) -> Page: ...

    @abstractmethod
    def rows_for_csv(self, engine: Engine, q: Query) -> Iterator[dict[str, object]]:
        """Flat public rows for a CSV download, streamed (``points`` collections)."""

    @abstractmethod
    def clusters(self, engine: Engine, q: Query, cell_degrees: float) -> list[lq.Cluster]:
        """Items counted on a grid of ``cell_degrees`` (``points`` collections)."""

    @abstractmethod
    def item(self, engine: Engine, item_id: str, crs: gcrs.Crs = gcrs.DEFAULT,
             lod: int = 0) -> str | None:
        """One feature as GeoJSON text, or None."""

    @abstractmethod
    def item_id_problem(self, item_id: str) -> str | None:
        """Why ``item_id`` cannot name an item of this collection (None when it can)."""

    @abstractmethod
    def missing(self, item_id: str) -> str:
        """The 404 message for an item that is not there."""

    @abstractmethod
    def summary(self, engine: Engine) -> Summary: ...

    @abstractmethod
    def tile_fields(self, grid_note: str) -> dict[str, str]:
        """The properties its tiles carry and what they hold (TileJSON ``fields``);
        ``grid_note`` says when points are counted on a grid instead (``gis/tiles.py``)."""

    @abstractmethod
    def layer(self) -> Layer:
        """The declaration writes go through: a read-only collection refuses with
        MethodNotAllowed (405), before anything else is checked."""

    @abstractmethod
    def version(self, engine: Engine, item_id: str) -> int | None:
        """The item's version (the ETag that Part 4's If-Match names), if it is writable."""

    # Writes go through the staff workspace's changes (scope, validation, review, history);
    # a read-only collection refuses each with MethodNotAllowed (``layer()``).

    def feature_id(self, engine: Engine, item_id: str) -> int | None:
        """The stored feature an item id names (live, retired or pending), or None."""
        return changes.feature_id_for_key(engine, self.layer(), item_id)

    def create(self, engine: Engine, account: Account, values: dict[str, Any], lon: float,
               lat: float) -> changes.ChangeResult:
        return changes.create_feature(engine, account, self.layer(), values, lon, lat)

    def update(self, engine: Engine, account: Account, feature_id: int,
               values: dict[str, Any], *, expected_version: int, lon: float | None = None,
               lat: float | None = None, whole: bool = False) -> changes.ChangeResult:
        """Changes the fields in ``values``; ``whole``: every public field not in ``values``
        is cleared (a replacement; personal fields are kept unless sent, since the public
        representation a client sends back never holds them)."""
        layer = self.layer()
        if whole:
            values = {f.name: None for f in layer.public_fields} | values
        return changes.update_feature(engine, account, layer, feature_id, values,
                                      expected_version=expected_version, lon=lon, lat=lat)

    def retire(self, engine: Engine, account: Account, feature_id: int, *,
               expected_version: int) -> changes.ChangeResult:
        return changes.retire_feature(engine, account, self.layer(), feature_id,
                                      expected_version=expected_version)


class AreaCollection(Collection):
    """Provinces, districts or subdistricts: polygons by DOPA code, read-only, four levels of
    detail, no personal data."""

    geometry_type: GeometryType = "polygon"
    lods = tuple(bq.GEOMETRY_COLUMNS)
    geometry_columns = bq.GEOMETRY_COLUMNS
    personal_fields = ()
    public_fields = ()
    filter_fields = ()
    writable = False
    area_levels = ("province", "district")
    outputs = ("children",)
    marks_sample = False
    points = False

    def __init__(self, declaration: bq.BoundaryCollection) -> None:
        self.declaration = declaration
        self.id, self.table = declaration.id, declaration.table
        self.title_th, self.title_en = declaration.title_th, declaration.title_en
        self.level, self.parents = declaration.level, declaration.parents
        self.lock_names = (declaration.id,)
        length = declaration.code_length
        self.id_description = f"{length}-digit DOPA code"
        self.id_pattern = f"^[0-9]{{{length}}}$"

    def description(self, summary: Summary) -> str:
        return (f"{self.title_en} of Thailand with official DOPA codes and names. Source: "
                "RTSD / OCHA via HDX (CC BY-IGO); names: GeoThai (CC BY 4.0).")

    def queryables(self) -> dict[str, Queryable]:
        return bq.queryables(self.declaration)

    def returnables(self) -> tuple[Returnable, ...]:
        return _returnables([name for name, _ in bq.property_pairs(self.declaration)],
                            self.queryables(), "code", None,
                            GEOMETRY_FORMATS[self.geometry_type])

    def _query(self, q: Query) -> bq.ItemQuery:
        unused = [name for name, value in (
            ("subdistrict", q.subdistrict), ("choices", q.choices), ("ranges", q.ranges),
            ("text", q.text), ("near", q.near), ("radius_km", q.radius_km),
            ("exclude", q.exclude)) if value]
        if unused:  # web/ refuses these parameters by name; never ignored silently here
            raise ValueError(f"{self.id} cannot be selected by {', '.join(unused)}")
        return bq.ItemQuery(
            bbox=q.bbox, bbox_srid=q.bbox_srid, region=q.region, province=q.province,
            district=q.district, limit=q.limit, offset=q.offset, lod=q.lod, filter=q.filter,
            sortby=q.sortby, properties=q.properties, crs=q.crs, after=q.after)

    def where(self, q: Query) -> tuple[str, dict[str, object]]:
        return bq.where(self.declaration, self._query(q))

    def items(self, engine: Engine, q: Query) -> Page:
        page = bq.query_items(engine, self.declaration, self._query(q))
        return Page(page.number_matched, page.features, page.more, page.last_key)

    def rows_for_csv(self, engine: Engine, q: Query) -> Iterator[dict[str, object]]:
        raise NotImplementedError("the boundaries have no CSV download")

    def clusters(self, engine: Engine, q: Query, cell_degrees: float) -> list[lq.Cluster]:
        raise NotImplementedError("the boundaries are not clustered")

    def item(self, engine: Engine, item_id: str, crs: gcrs.Crs = gcrs.DEFAULT,
             lod: int = 0) -> str | None:
        return bq.get_item(engine, self.declaration, item_id, lod=lod, crs=crs)

    def item_id_problem(self, item_id: str) -> str | None:
        if self.id_pattern is not None and re.fullmatch(self.id_pattern, item_id):
            return None
        return (f"{self.id} are identified by {self.declaration.code_length}-digit DOPA codes; "
                f"got {item_id!r}")

    def missing(self, item_id: str) -> str:
        return f"no {self.level} with code {item_id}"

    def summary(self, engine: Engine) -> Summary:
        return Summary(bq.extent(engine, self.declaration))

    def tile_fields(self, grid_note: str) -> dict[str, str]:
        fields = {"code": "String: DOPA code", "name_th": "String: ชื่อ (Thai name)",
                  "name_en": "String: English name"}
        fields.update({p: f"String: DOPA code of the {p.removesuffix('_code')}"
                       for p in self.parents})
        fields["region"] = "String: CDD region (central, north, northeast, south)"
        return fields

    def layer(self) -> Layer:
        raise MethodNotAllowed(f"{self.id} is read-only: the boundaries come from the "
                               "official DOPA/HDX files / ขอบเขตการปกครองแก้ไขผ่าน API ไม่ได้")

    def version(self, engine: Engine, item_id: str) -> int | None:
        return None


class PointCollection(Collection):
    """A point layer (``layers/definitions.py``): points by the layer's natural key, written
    through the staff workspace's changes, with personal fields that never leave it."""

    geometry_type: GeometryType = "point"
    lods = (0,)
    writable = True
    area_levels = ("province", "district", "subdistrict")
    outputs = ("province_th", "district_th", "subdistrict_th")
    marks_sample = True
    points = True
    table = "layer_features"
    parents = ()

    def __init__(self, declaration: Layer) -> None:
        self.declaration = declaration
        self.id = declaration.id
        self.title_th, self.title_en = declaration.title_th, declaration.title_en
        self.personal_fields = tuple(f.name for f in declaration.personal_fields)
        self.public_fields = declaration.public_fields
        self.filter_fields = declaration.filter_fields
        self.temporal = declaration.temporal
        self.lock_names = tuple(sorted({declaration.id, LOCK_ALL_POINTS}))
        self.geometry_columns = {0: "geom"}
        self.id_description = f"{declaration.key_field} (the layer's natural key)"
        self.id_pattern = None

    def description(self, summary: Summary) -> str:
        layer = self.declaration
        text = f"{layer.title_th} — {layer.title_en}. {layer.published_note}"
        if summary.sample:
            text += (" ข้อมูลตัวอย่าง / SAMPLE DATA: generated by cddgis at CDD's published "
                     "sizes, not CDD's records.")
        return text

    def queryables(self) -> dict[str, Queryable]:
        return lq.queryables(self.declaration)

    def returnables(self) -> tuple[Returnable, ...]:
        names = [name for name, _ in lq.property_pairs(self.declaration)]
        return _returnables([*names, "distance_km"], self.queryables(), "id", self.temporal,
                            GEOMETRY_FORMATS[self.geometry_type])

    def form_fields(self, personal: bool) -> tuple[Field, ...]:
        order = {r.name: i for i, r in enumerate(self.returnables())}
        shown = [f for f in self.declaration.fields if personal or not f.personal]
        # a personal field keeps its declared place: it sorts just after the public field
        # declared before it (or first)
        place: dict[str, float] = {}
        last = -1.0
        for f in self.declaration.fields:
            last = order[f.name] if f.name in order else last + 0.001
            place[f.name] = last
        return tuple(sorted(shown, key=lambda f: place[f.name]))

    def _query(self, q: Query) -> lq.LayerQuery:
        where = q.filter
        if q.text:  # the tour search's matching (gis/search.py), as one more filter
            named = search.name_filter(self.declaration, q.text)
            where = named if where is None else Compiled(
                f"({where.sql}) AND {named.sql}", {**where.params, **named.params})
        return lq.LayerQuery(
            bbox=q.bbox, bbox_srid=q.bbox_srid, region=q.region, province=q.province,
            district=q.district, subdistrict=q.subdistrict, choices=q.choices,
            ranges=q.ranges, near=q.near, radius_km=q.radius_km,
            exclude=q.exclude, limit=q.limit, offset=q.offset, filter=where,
            period=q.period, sortby=q.sortby, properties=q.properties, crs=q.crs, after=q.after)

    def where(self, q: Query) -> tuple[str, dict[str, object]]:
        return lq.where(self.declaration, self._query(q))

    def items(self, engine: Engine, q: Query) -> Page:
        page = lq.query_features(engine, self.declaration, self._query(q))
        return Page(page.number_matched, page.features, page.more, page.last_key,
                    page.any_sample)

    def rows_for_csv(self, engine: Engine, q: Query) -> Iterator[dict[str, object]]:
        return lq.rows_for_csv(engine, self.declaration, self._query(q))

    def clusters(self, engine: Engine, q: Query, cell_degrees: float) -> list[lq.Cluster]:
        return lq.clusters(engine, self.declaration, self._query(q), cell_degrees)

    def item(self, engine: Engine, item_id: str, crs: gcrs.Crs = gcrs.DEFAULT,
             lod: int = 0) -> str | None:
        return lq.get_feature(engine, self.declaration, item_id, crs)

    def item_id_problem(self, item_id: str) -> str | None:
        return None  # any text may be a layer's natural key

    def missing(self, item_id: str) -> str:
        return f"no feature {item_id!r} in {self.id}"

    def summary(self, engine: Engine) -> Summary:
        found = lq.layer_summary(engine).get(self.id)
        if not found:
            return Summary(None, 0, False)
        bbox, interval = found["bbox"], found.get("interval")
        return Summary(bbox if isinstance(bbox, list) else None, int(str(found["count"])),
                       bool(found["sample"]),
                       interval if isinstance(interval, tuple) and self.temporal else None)

    def tile_fields(self, grid_note: str) -> dict[str, str]:
        types = {"int": "Number", "float": "Number", "year_be": "Number", "bool": "Boolean"}
        fields = {f.name: f"{types.get(f.type, 'String')}: {f.label_th} / {f.label_en}"
                  for f in self.public_fields}
        fields.update({
            "id": "String: feature id (also on a grid cell holding one point)",
            "count": f"Number: points in the grid cell ({grid_note})",
            "province_code": "String", "district_code": "String", "subdistrict_code": "String",
            "region": "String", "sample": "Boolean: generated sample data"})
        return fields

    def layer(self) -> Layer:
        return self.declaration

    def version(self, engine: Engine, item_id: str) -> int | None:
        return changes.current_version(engine, self.declaration, item_id)


_WRAPPED: dict[int, tuple[object, Collection]] = {}


def of(declaration: bq.BoundaryCollection | Layer | Collection) -> Collection:
    """The collection of a declaration, the same object every time for the same declaration
    (the tiles' fingerprints are kept per collection object). The one place that tells the
    two kinds of declaration apart."""
    if isinstance(declaration, Collection):
        return declaration
    known = _WRAPPED.get(id(declaration))
    if known is not None and known[0] is declaration:
        return known[1]
    if len(_WRAPPED) > 4096:  # declarations made on the fly (tests): never unbounded
        _WRAPPED.clear()
    made: Collection = (AreaCollection(declaration)
                        if isinstance(declaration, bq.BoundaryCollection)
                        else PointCollection(declaration))
    _WRAPPED[id(declaration)] = (declaration, made)  # holds it, so its id is not reused
    return made


def collection(collection_id: str) -> Collection | None:
    """The collection with this id (boundaries first, then the point layers), or None."""
    found = bq.COLLECTIONS.get(collection_id) or LAYERS.get(collection_id)
    return None if found is None else of(found)


def required(collection_id: str) -> Collection:
    """The collection with this id, which must exist (KeyError otherwise)."""
    found = collection(collection_id)
    if found is None:
        raise KeyError(collection_id)
    return found


def collections() -> list[Collection]:
    """Every collection, in the order the API lists them: boundaries, then point layers."""
    return [of(c) for c in bq.COLLECTIONS.values()] + [of(layer) for layer in LAYERS.values()]


def point_layers() -> tuple[Collection, ...]:
    """Every point layer (the all-layers tileset)."""
    return tuple(of(layer) for layer in LAYERS.values())
