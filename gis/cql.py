"""CQL2 filters (OGC API - Features Part 3) compiled to parameterised SQL.

pygeofilter (geopython; the parser pygeoapi uses) reads CQL2 text and CQL2 JSON into one syntax
tree; this module walks that tree and writes SQL itself, because each property is an expression
cddgis decides (a typed read of the layer's JSONB properties, or a boundary column), never a
name taken from the request. Every literal is a bind parameter; a property that is not a
queryable — a personal field such as ``owner_name`` included — is refused like any unknown one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pygeofilter.ast as ast
from pygeofilter import values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from core.errors import BadParameter

MAX_NODES = 500


@dataclass(frozen=True)
class Queryable:
    name: str
    sql: str
    """A trusted SQL expression for the property (built from declarations, never a request)."""
    type: str
    """JSON Schema type: string, integer, number, boolean, date or geometry."""
    title: str = ""
    enum: tuple[object, ...] = ()
    contains: str | None = None
    """A JSONB column holding the property under its name: equality is then asked as
    containment (``@>``), which the column's GIN index answers."""

    def schema(self) -> dict[str, object]:
        if self.type == "geometry":
            return {"title": self.title, "format": "geometry-point-or-polygon",
                    "x-ogc-role": "primary-geometry",
                    "$ref": "https://geojson.org/schema/Geometry.json"}
        if self.type == "date":
            doc: dict[str, object] = {"type": "string", "format": "date"}
        else:
            doc = {"type": self.type}
        if self.title:
            doc["title"] = self.title
        if self.enum:
            doc["enum"] = list(self.enum)
        return doc


@dataclass
class Compiled:
    sql: str
    params: dict[str, object] = field(default_factory=dict)


_COMPARE = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
            ast.GreaterThan: ">", ast.GreaterEqual: ">="}
_SPATIAL = {ast.GeometryIntersects: "ST_Intersects", ast.GeometryWithin: "ST_Within",
            ast.GeometryContains: "ST_Contains", ast.GeometryDisjoint: "ST_Disjoint",
            ast.GeometryEquals: "ST_Equals", ast.GeometryTouches: "ST_Touches",
            ast.GeometryCrosses: "ST_Crosses", ast.GeometryOverlaps: "ST_Overlaps"}
_TEMPORAL = {ast.TimeAfter: ">", ast.TimeBefore: "<", ast.TimeEquals: "=",
             ast.TimeDisjoint: "<>"}


def parse(raw: str, lang: str) -> Any:
    """The request's filter as a pygeofilter tree; any syntax error is the client's 400."""
    try:
        if lang == "cql2-json":
            return parse_json(json.loads(raw))
        return parse_text(raw)
    except BadParameter:
        raise
    except Exception as exc:  # lark and pygeofilter raise many kinds; all mean "bad filter"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadParameter(f"filter is not valid {lang}: {first[:200]}") from exc


def compile_filter(raw: str, lang: str, queryables: dict[str, Queryable],
                   prefix: str = "cql") -> Compiled:
    return _Compiler(queryables, prefix).compile(parse(raw, lang))


class _Compiler:
    def __init__(self, queryables: dict[str, Queryable], prefix: str) -> None:
        self.queryables = queryables
        self.prefix = prefix
        self.params: dict[str, object] = {}
        self.nodes = 0

    def compile(self, tree: Any) -> Compiled:
        return Compiled(self.predicate(tree), self.params)

    def bind(self, value: object) -> str:
        name = f"{self.prefix}_{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def attribute(self, node: Any) -> Queryable:
        if not isinstance(node, ast.Attribute):
            raise BadParameter("filter: compare a property with a value (e.g. "
                               "plot_size_rai > 5)")
        found = self.queryables.get(node.name)
        if found is None:
            raise BadParameter(f"filter: unknown property {node.name!r}; queryables: "
                               f"{', '.join(sorted(self.queryables))}")
        return found

    def predicate(self, node: Any) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise BadParameter(f"filter is too long (at most {MAX_NODES} terms)")
        if isinstance(node, ast.And | ast.Or):
            op = "AND" if isinstance(node, ast.And) else "OR"
            return f"({self.predicate(node.lhs)} {op} {self.predicate(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.predicate(node.sub_node)})"
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if isinstance(node, ast.Include):
            return "FALSE" if node.not_ else "TRUE"
        for kind, op in _COMPARE.items():
            if type(node) is kind:
                return self.comparison(node.lhs, op, node.rhs)
        if isinstance(node, ast.Between):
            q = self.attribute(node.lhs)
            low, high = self.value(q, node.low), self.value(q, node.high)
            return f"({q.sql} {'NOT ' if node.not_ else ''}BETWEEN {low} AND {high})"
        if isinstance(node, ast.In):
            q = self.attribute(node.lhs)
            if not node.sub_nodes:
                raise BadParameter("filter: IN needs at least one value")
            if q.contains is not None:
                either = " OR ".join(self.equals(q, v) for v in node.sub_nodes)
                return f"({'NOT ' if node.not_ else ''}({either}))"
            listed = ", ".join(self.value(q, v) for v in node.sub_nodes)
            return f"({q.sql} {'NOT ' if node.not_ else ''}IN ({listed}))"
        if isinstance(node, ast.Like):
            q = self.attribute(node.lhs)
            if q.type != "string":
                raise BadParameter(f"filter: LIKE needs a text property; {q.name} is {q.type}")
            if not isinstance(node.pattern, str):
                raise BadParameter(f"filter: LIKE on {q.name} needs a quoted text pattern; got "
                                   f"{node.pattern!r}")
            op = "NOT LIKE" if node.not_ else "LIKE"
            # CQL2's wildcards (% and _, \\ to escape) are SQL's: the pattern is bound as is.
            return f"({q.sql} {op} {self.bind(node.pattern)} ESCAPE '\\')"
        if isinstance(node, ast.IsNull):
            q = self.attribute(node.lhs)
            return f"({q.sql} IS {'NOT ' if node.not_ else ''}NULL)"
        for kind, function in _SPATIAL.items():
            if type(node) is kind:
                return self.spatial(function, node.lhs, node.rhs)
        for kind, op in _TEMPORAL.items():
            if type(node) is kind:
                return self.comparison(node.lhs, op, node.rhs, temporal=True)
        if isinstance(node, ast.TimeDuring):
            q = self.attribute(node.lhs)
            if not isinstance(node.rhs, values.Interval):
                raise BadParameter("filter: T_DURING needs an INTERVAL")
            start, end = self.value(q, node.rhs.start), self.value(q, node.rhs.end)
            return f"({q.sql} > {start} AND {q.sql} < {end})"
        raise BadParameter(f"filter: {type(node).__name__} is not supported here (supported: "
                           "AND/OR/NOT, comparisons, BETWEEN, IN, LIKE, IS NULL, S_* spatial "
                           "functions, T_AFTER/T_BEFORE/T_EQUALS/T_DURING on dates)")

    def comparison(self, lhs: Any, op: str, rhs: Any, temporal: bool = False) -> str:
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        q = self.attribute(lhs)
        if op == "=" and not temporal and not isinstance(rhs, ast.Attribute):
            return self.equals(q, rhs)
        if temporal and q.type != "date":
            raise BadParameter(f"filter: temporal operators need a date property; {q.name} "
                               f"is {q.type}")
        if isinstance(rhs, ast.Attribute):
            other = self.attribute(rhs)
            return f"({q.sql} {op} {other.sql})"
        return f"({q.sql} {op} {self.value(q, rhs)})"

    def equals(self, q: Queryable, value: Any) -> str:
        """``q = value``, as JSONB containment where the property lives in a JSONB column (the
        GIN index finds the rows instead of a scan casting every row)."""
        typed = self.value(q, value)
        if q.contains is None:
            return f"({q.sql} = {typed})"
        literal = self.params.pop(typed[1:])
        return f"({q.contains} @> CAST({self.bind(json.dumps({q.name: literal}))} AS jsonb))"

    def value(self, q: Queryable, value: Any) -> str:
        """A literal as a bind parameter, checked against the property's declared type."""
        check: Callable[[Any], bool] = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "date": lambda v: isinstance(v, dt.date),
        }.get(q.type, lambda v: False)
        if not check(value):
            shown = value if isinstance(value, str | int | float | bool | dt.date) \
                else type(value).__name__
            raise BadParameter(f"filter: {q.name} is {q.type}; got {shown!r}")
        if isinstance(value, dt.datetime):
            value = value.date()
        return self.bind(value)

    def spatial(self, function: str, lhs: Any, rhs: Any) -> str:
        if not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        q = self.attribute(lhs)
        if q.type != "geometry":
            raise BadParameter(f"filter: {function} needs the geometry; {q.name} is {q.type}")
        return f"{function}({q.sql}, {self.geometry(rhs)})"

    def geometry(self, node: Any) -> str:
        if isinstance(node, values.Envelope):
            # pygeofilter 0.4's CQL2 JSON parser fills Envelope(x1, x2, y1, y2) positionally
            # from the bbox array [minx, miny, maxx, maxy]; CQL2 text gives BBOX() instead.
            box = (node.x1, node.x2, node.y1, node.y2)
        elif isinstance(node, ast.Function) and node.name.lower() == "bbox":
            box = tuple(node.arguments)
        elif isinstance(node, values.Geometry):
            return f"ST_SetSRID(ST_GeomFromGeoJSON({self.bind(json.dumps(node.geometry))}), 4326)"
        else:
            raise BadParameter("filter: a spatial function needs a WKT geometry or BBOX(...)")
        if len(box) == 6:  # 3D bbox: keep x and y
            box = (box[0], box[1], box[3], box[4])
        if len(box) != 4 or not all(isinstance(v, int | float) for v in box):
            raise BadParameter("filter: BBOX takes 4 numbers (minLon, minLat, maxLon, maxLat)")
        args = ", ".join(self.bind(float(v)) for v in box)
        return f"ST_MakeEnvelope({args}, 4326)"
