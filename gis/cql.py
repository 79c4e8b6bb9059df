"""CQL2 filters (OGC API - Features Part 3) compiled to parameterised SQL.

The ``cql2`` package (the OGC's CQL2 in Rust, developmentseo/cql2-rs) reads CQL2 text and CQL2
JSON exactly as the standard writes them (case-insensitive keywords and functions, ``between`` as
``[property, low, high]``, ``T_AFTER(p, DATE(…))``, 6-number ``BBOX``, Z coordinates) and checks
the result against the standard's JSON schema; it parses every one of the OGC's 229 example
expressions, where pygeofilter 0.4 parsed 152 (docs/api.md#cql2). Both languages arrive here as
one CQL2 JSON tree, which this module walks and writes SQL for itself, because each property is an
expression cddgis decides (a typed read of the layer's JSONB properties, or a boundary column),
never a name taken from the request. Every literal is a bind parameter; a property that is not a
queryable — a personal field such as ``owner_name`` included — is refused like any unknown one.
Every refusal says what is wrong in Thai and English, naming ``filter``, never the parser's own
exception text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cql2

from core.errors import BadParameter
from gis import crs as gcrs

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
            return {"title": self.title, "x-ogc-role": "primary-geometry",
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


_COMPARE = ("=", "<>", "<", "<=", ">", ">=")
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_SPATIAL = {"s_intersects": "ST_Intersects", "s_within": "ST_Within",
            "s_contains": "ST_Contains", "s_disjoint": "ST_Disjoint", "s_equals": "ST_Equals",
            "s_touches": "ST_Touches", "s_crosses": "ST_Crosses", "s_overlaps": "ST_Overlaps"}
_TEMPORAL = {
    # CQL2's temporal functions over a = [a0, a1] and b = [b0, b1] (Allen's relations, as the
    # standard's table states them); an instant is the interval [t, t].
    "t_after": "{a0} > {b1}",
    "t_before": "{a1} < {b0}",
    "t_contains": "{a0} < {b0} AND {a1} > {b1}",
    "t_disjoint": "({a1} < {b0} OR {a0} > {b1})",
    "t_during": "{a0} > {b0} AND {a1} < {b1}",
    "t_equals": "{a0} = {b0} AND {a1} = {b1}",
    "t_finishedby": "{a0} < {b0} AND {a1} = {b1}",
    "t_finishes": "{a0} > {b0} AND {a1} = {b1}",
    "t_intersects": "{a0} <= {b1} AND {a1} >= {b0}",
    "t_meets": "{a1} = {b0}",
    "t_metby": "{a0} = {b1}",
    "t_overlappedby": "{a0} > {b0} AND {a0} < {b1} AND {a1} > {b1}",
    "t_overlaps": "{a0} < {b0} AND {a1} > {b0} AND {a1} < {b1}",
    "t_startedby": "{a0} = {b0} AND {a1} > {b1}",
    "t_starts": "{a0} = {b0} AND {a1} < {b1}",
}
_INSTANTS_TOO = ("t_after", "t_before", "t_disjoint", "t_equals", "t_intersects")
"""The temporal functions that take instants as well as intervals; the standard makes the
others a client error on an instant."""
SUPPORTED = ("AND/OR/NOT, = <> < <= > >=, BETWEEN, IN, LIKE, IS NULL, S_INTERSECTS S_WITHIN "
             "S_CONTAINS S_DISJOINT S_EQUALS S_TOUCHES S_CROSSES S_OVERLAPS, "
             "T_AFTER T_BEFORE T_CONTAINS T_DISJOINT T_DURING T_EQUALS T_FINISHEDBY T_FINISHES "
             "T_INTERSECTS T_MEETS T_METBY T_OVERLAPPEDBY T_OVERLAPS T_STARTEDBY T_STARTS")
_PEST_POSITION = re.compile(r"-->\s*(\d+):(\d+)")


def _bad(thai: str, english: str) -> BadParameter:
    """A refusal in the project's words: Thai first, English beside it, naming ``filter``."""
    return BadParameter(f"filter: {thai} / {english}")


def parse(raw: str, lang: str) -> Any:
    """The request's filter as a CQL2 JSON tree (text is read into the same tree), checked
    against the standard's schema. Any error is the client's 400, explained in our words:
    where the text stops making sense, or that the JSON is not CQL2."""
    expr = _read(raw, lang)
    try:
        expr.validate()
    except cql2.ValidationError:
        raise _off_schema(lang) from None
    return expr.to_json()


def _read(raw: str, lang: str) -> cql2.Expr:
    try:
        return cql2.parse_json(raw) if lang == "cql2-json" else cql2.parse_text(raw)
    except cql2.ParseError as exc:
        raise _unreadable(raw, lang, str(exc)) from None


def _off_schema(lang: str) -> BadParameter:
    return BadParameter(
        f"filter ไม่เป็นไปตามมาตรฐาน CQL2 (ตัวดำเนินการได้ค่าผิดจำนวนหรือผิดชนิด หรือวันที่ "
        f"เวลา หรือรูปเรขาคณิตเขียนผิด) / filter is not valid {lang}: it does not follow "
        "the CQL2 schema (an operator with the wrong number or kind of arguments, or a "
        "malformed date, timestamp or geometry)")


def _unreadable(raw: str, lang: str, detail: str) -> BadParameter:
    if lang == "cql2-json":
        try:
            json.loads(raw)
        except ValueError as exc:
            line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            return BadParameter(f"filter อ่าน JSON ไม่ได้ที่บรรทัด {line} ตำแหน่ง {column} / "
                                f"filter is not valid cql2-json: not JSON at line {line}, "
                                f"column {column}")
        return BadParameter(
            "filter ไม่ใช่ CQL2 JSON (เช่น {\"op\": \"=\", \"args\": [{\"property\": "
            "\"name_en\"}, \"Bangkok\"]}) / filter is not valid cql2-json: not a CQL2 JSON "
            "expression such as {\"op\": \"=\", \"args\": [{\"property\": \"name_en\"}, "
            "\"Bangkok\"]}")
    found = _PEST_POSITION.search(detail)
    if found is None:
        return BadParameter("filter อ่านเป็น CQL2 ไม่ได้ / filter is not valid cql2-text")
    line, column = (int(n) for n in found.groups())
    lines = raw.splitlines() or [""]
    text = lines[line - 1] if line <= len(lines) else ""
    rest = text[column - 1:column + 29].strip()
    where = f"'{rest}'" if rest else "the end"
    return BadParameter(
        f"filter อ่านเป็น CQL2 ไม่ได้ตั้งแต่บรรทัด {line} ตำแหน่ง {column} "
        f"({'ตรง ' + repr(rest) if rest else 'เงื่อนไขจบไม่ครบ'}) / filter is not valid "
        f"cql2-text: cannot read on from line {line}, column {column} ({where}); e.g. "
        "name_en = 'Bangkok' AND S_INTERSECTS(geometry, BBOX(100, 13, 101, 14))")


def compile_filter(raw: str, lang: str, queryables: dict[str, Queryable],
                   prefix: str = "cql", crs: gcrs.Crs = gcrs.DEFAULT) -> Compiled:
    """The filter as SQL; its geometry literals and BBOXes are in ``crs`` (Part 3's
    ``filter-crs``) and are brought to the stored CRS84 by PostGIS (``ST_Transform``; the
    axes of EPSG:4326, latitude first, are swapped)."""
    expr = _read(raw, lang)
    tree = expr.to_json()
    try:
        expr.validate()
    except cql2.ValidationError:
        # Off the schema. Compiling it anyway often names the exact fault (``name LIKE 5``:
        # "LIKE on name needs a quoted text pattern"); if not, the schema's message stands.
        try:
            _Compiler(queryables, prefix, crs).compile(tree)
        except BadParameter:
            raise
        except (LookupError, TypeError, ValueError, AttributeError):
            pass
        raise _off_schema(lang) from None
    return _Compiler(queryables, prefix, crs).compile(tree)


def _op(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("op"), str):
        return str(node["op"]).lower()
    return None


def _args(node: dict[str, Any]) -> list[Any]:
    args = node.get("args", [])
    return list(args) if isinstance(args, list) else [args]


def _literal(node: Any) -> object:
    """A CQL2 literal as a Python value: text, number, boolean, date or (UTC) timestamp;
    ``_NOT_LITERAL`` for anything else."""
    if isinstance(node, str | bool | int | float):
        return node
    if isinstance(node, dict) and len(node) == 1:
        if "date" in node:
            return _date(node["date"])
        if "timestamp" in node:
            return _timestamp(node["timestamp"])
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _date(raw: object) -> dt.date:
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise _bad(f"วันที่ {raw!r} ไม่ถูกต้อง (ใช้ DATE('2024-01-31'))",
                   f"{raw!r} is not a date (write DATE('2024-01-31'))") from None


def _timestamp(raw: object) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise _bad(f"เวลา {raw!r} ไม่ถูกต้อง (ใช้ TIMESTAMP('2024-01-31T08:00:00Z'))",
                   f"{raw!r} is not a timestamp (write TIMESTAMP('2024-01-31T08:00:00Z'))"
                   ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _name(op: str) -> str:
    return op.upper() if op.isalpha() or "_" in op else op


def _unsupported(op: str) -> BadParameter:
    return _bad(f"ใช้ {_name(op)} ไม่ได้ที่นี่ (ใช้ได้: {SUPPORTED})",
                f"{_name(op)} is not supported here (supported: {SUPPORTED})")


class _Compiler:
    def __init__(self, queryables: dict[str, Queryable], prefix: str,
                 crs: gcrs.Crs = gcrs.DEFAULT) -> None:
        self.queryables = queryables
        self.prefix = prefix
        self.crs = crs
        self.params: dict[str, object] = {}
        self.nodes = 0

    def compile(self, tree: Any) -> Compiled:
        return Compiled(self.predicate(tree), self.params)

    def bind(self, value: object) -> str:
        name = f"{self.prefix}_{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _bad(f"เงื่อนไขยาวเกินไป (ไม่เกิน {MAX_NODES} ส่วน)",
                       f"filter is too long (at most {MAX_NODES} terms)")

    def attribute(self, node: Any) -> Queryable:
        if _op(node):  # CASEI(name), arithmetic, other functions: not declared, not compiled
            raise _unsupported(str(_op(node)))
        if not (isinstance(node, dict) and "property" in node):
            raise _bad("ต้องเทียบคุณสมบัติกับค่า (เช่น plot_size_rai > 5)",
                       "compare a property with a value (e.g. plot_size_rai > 5)")
        found = self.queryables.get(str(node["property"]))
        if found is None:
            raise _bad(f"ไม่มีคุณสมบัติ {node['property']!r} ที่ค้นได้",
                       f"unknown property {node['property']!r}; queryables: "
                       f"{', '.join(sorted(self.queryables))}")
        return found

    def predicate(self, node: Any) -> str:
        self.count()
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        op = _op(node)
        if op is None:
            if isinstance(node, dict) and "property" in node:
                q = self.attribute(node)
                if q.type == "boolean":
                    return f"({q.sql})"
            raise _bad("ต้องเป็นเงื่อนไข (เช่น region = 'north')",
                       "a condition is needed (e.g. region = 'north')")
        args = _args(node)
        if op in ("and", "or"):
            return "(" + f" {op.upper()} ".join(self.predicate(a) for a in args) + ")"
        if op == "not":
            return f"(NOT {self.predicate(args[0])})"
        if op in _COMPARE:
            return self.comparison(args[0], op, args[1])
        if op == "between":
            q = self.attribute(args[0])
            return f"({self.column(q, args[1:])} BETWEEN {self.value(q, args[1])} AND " \
                   f"{self.value(q, args[2])})"
        if op == "in":
            q = self.attribute(args[0])
            listed = args[1] if isinstance(args[1], list) else [args[1]]
            if not listed:
                raise _bad("IN ต้องมีค่าอย่างน้อยหนึ่งค่า", "IN needs at least one value")
            if q.contains is not None:
                return "(" + " OR ".join(self.equals(q, v) for v in listed) + ")"
            return f"({self.column(q, listed)} IN " \
                   f"({', '.join(self.value(q, v) for v in listed)}))"
        if op == "like":
            return self.like(args[0], args[1])
        if op == "isnull":
            return f"({self.attribute(args[0]).sql} IS NULL)"
        if op in _SPATIAL:
            return self.spatial(op, args[0], args[1])
        if op in _TEMPORAL:
            if op not in _INSTANTS_TOO and not all(
                    isinstance(a, dict) and "interval" in a for a in args):
                raise _bad(f"{_name(op)} ใช้กับช่วงเวลาเท่านั้น เช่น {_name(op)}("
                           "INTERVAL(recorded_on, recorded_on), INTERVAL('2020-01-01', '..'))",
                           f"{_name(op)} compares intervals only (CQL2), e.g. {_name(op)}("
                           "INTERVAL(recorded_on, recorded_on), INTERVAL('2020-01-01', '..'))")
            (a0, a1), (b0, b1) = self.period(op, args[0]), self.period(op, args[1])
            return "(" + _TEMPORAL[op].format(a0=a0, a1=a1, b0=b0, b1=b1) + ")"
        raise _unsupported(op)

    def comparison(self, lhs: Any, op: str, rhs: Any) -> str:
        if "property" not in (lhs if isinstance(lhs, dict) else {}) \
                and isinstance(rhs, dict) and "property" in rhs:
            lhs, rhs = rhs, lhs
            op = _FLIPPED.get(op, op)
        q = self.attribute(lhs)
        if isinstance(rhs, dict) and "property" in rhs:
            other = self.attribute(rhs)
            return f"({q.sql} {op} {other.sql})"
        if q.type == "date" and isinstance(_literal(rhs), dt.datetime):
            return f"({self.instant(q)} {op} {self.bind(_literal(rhs))})"
        if op == "=":
            return self.equals(q, rhs)
        return f"({self.column(q, [rhs])} {op} {self.value(q, rhs)})"

    def column(self, q: Queryable, literals: list[Any]) -> str:
        """The property's SQL; a date compared with timestamps is read as a UTC instant."""
        if q.type == "date" and any(isinstance(_literal(v), dt.datetime) for v in literals):
            return self.instant(q)
        return q.sql

    def equals(self, q: Queryable, value: Any) -> str:
        """``q = value``, as JSONB containment where the property lives in a JSONB column (the
        GIN index finds the rows instead of a scan casting every row)."""
        typed = self.value(q, value)
        if q.contains is None:
            return f"({self.column(q, [value])} = {typed})"
        literal = self.params.pop(typed[1:])
        return f"({q.contains} @> CAST({self.bind(json.dumps({q.name: literal}))} AS jsonb))"

    def value(self, q: Queryable, node: Any) -> str:
        """A literal as a bind parameter, checked against the property's declared type."""
        self.count()
        if _op(node):
            raise _unsupported(str(_op(node)))
        value = _literal(node)
        if q.type == "boolean" and type(value) in (int, float) and value in (0, 1):
            value = bool(value)  # GDAL's OAPIF driver writes a boolean field's values as 0/1
            # (CQL2 text reads every number as a double: 1 arrives as 1.0)
        check: Callable[[Any], bool] = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "date": lambda v: isinstance(v, dt.date),
        }.get(q.type, lambda v: False)
        if value is _NOT_LITERAL or not check(value):
            shown = value if isinstance(value, str | int | float | bool | dt.date) \
                else "an expression"
            raise _bad(f"{q.name} เป็นชนิด {q.type} แต่ได้ {shown!r}",
                       f"{q.name} is {q.type}; got {shown!r}")
        if isinstance(value, float) and value.is_integer() and q.type in ("integer", "number"):
            value = int(value)  # CQL2 text reads every number as a double: 2564.0 is 2564
        return self.bind(value)

    def like(self, lhs: Any, pattern: Any) -> str:
        q = self.attribute(lhs)
        if q.type != "string":
            raise _bad(f"LIKE ใช้กับข้อความเท่านั้น แต่ {q.name} เป็นชนิด {q.type}",
                       f"LIKE needs a text property; {q.name} is {q.type}")
        if not isinstance(pattern, str):
            shown = f"{_name(_op(pattern) or '')}(…)" if _op(pattern) else repr(pattern)
            raise _bad(f"LIKE กับ {q.name} ต้องใช้รูปแบบเป็นข้อความในเครื่องหมายคำพูด "
                       f"แต่ได้ {shown}",
                       f"LIKE on {q.name} needs a quoted text pattern; got {shown}")
        # CQL2's wildcards (% and _, \\ to escape) are SQL's: the pattern is bound as is.
        return f"({q.sql} LIKE {self.bind(pattern)} ESCAPE '\\')"

    def spatial(self, op: str, lhs: Any, rhs: Any) -> str:
        return f"{_SPATIAL[op]}({self.geometry(op, lhs)}, {self.geometry(op, rhs)})"

    def geometry(self, op: str, node: Any) -> str:
        self.count()
        if isinstance(node, dict) and "property" in node:
            q = self.attribute(node)
            if q.type != "geometry":
                raise _bad(f"{_name(op)} ต้องใช้กับ geometry แต่ {q.name} เป็นชนิด {q.type}",
                           f"{_name(op)} needs the geometry; {q.name} is {q.type}")
            return q.sql
        if isinstance(node, dict) and isinstance(node.get("bbox"), list):
            box = node["bbox"]
            if len(box) == 6:  # 3D bbox: keep x and y
                box = [box[0], box[1], box[3], box[4]]
            if len(box) != 4 or not all(isinstance(v, int | float) for v in box):
                raise _bad("BBOX ต้องมีตัวเลข 4 หรือ 6 ตัว",
                           "BBOX takes 4 numbers (minLon, minLat, maxLon, maxLat) or 6")
            corners = ", ".join(self.bind(float(v)) for v in box)
            return self.stored(f"ST_MakeEnvelope({corners}, {int(self.crs.srid)})")
        if isinstance(node, dict) and isinstance(node.get("type"), str):
            # A literal the client drew may cross itself: PostGIS would refuse to relate it,
            # so it is made valid first (a valid one is left as it is).
            shape = f"ST_Force2D(ST_GeomFromGeoJSON({self.bind(json.dumps(node))}))"
            return self.stored(f"ST_SetSRID(ST_MakeValid({shape}), {int(self.crs.srid)})")
        raise _bad(f"{_name(op)} ต้องใช้ geometry, รูปเรขาคณิต WKT หรือ BBOX(…)",
                   f"{_name(op)} needs the geometry, a WKT geometry or BBOX(...)")

    def stored(self, literal: str) -> str:
        """A geometry literal in ``filter-crs`` brought to CRS84, the stored CRS. A projected
        one is densified first (1 km steps), so its straight edges in metres are followed as
        the curves they are in degrees."""
        if self.crs.lat_first:
            return f"ST_FlipCoordinates({literal})"
        if self.crs.projected:
            return f"ST_Transform(ST_Segmentize({literal}, 1000), 4326)"
        return literal

    def instant(self, q: Queryable) -> str:
        """A date property as the instant CQL2 takes it for: midnight UTC."""
        return f"(CAST({q.sql} AS timestamp) AT TIME ZONE 'UTC')"

    def period(self, op: str, node: Any) -> tuple[str, str]:
        """A temporal argument as [start, end] SQL timestamps (an instant is [t, t])."""
        self.count()
        if isinstance(node, dict) and isinstance(node.get("interval"), list) \
                and len(node["interval"]) == 2:
            return self.bound(op, node["interval"][0], start=True), \
                self.bound(op, node["interval"][1], start=False)
        sql = self.bound(op, node, start=True)
        return sql, sql

    def bound(self, op: str, node: Any, start: bool) -> str:
        if node == "..":
            return f"CAST('{'-' if start else ''}infinity' AS timestamptz)"
        if isinstance(node, dict) and "property" in node:
            q = self.attribute(node)
            if q.type != "date":
                raise _bad(f"{_name(op)} ต้องใช้กับวันที่ แต่ {q.name} เป็นชนิด {q.type}",
                           f"temporal operators need a date property; {q.name} is {q.type}")
            return self.instant(q)
        value = _literal(node)
        if isinstance(value, str):  # an interval's ends are written as plain text
            value = _timestamp(value) if "T" in value else _date(value)
        if isinstance(value, dt.datetime):
            return self.bind(value)
        if isinstance(value, dt.date):
            return self.bind(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
        raise _bad(f"{_name(op)} ต้องใช้วันที่ เวลา หรือ INTERVAL(…)",
                   f"{_name(op)} needs dates, timestamps or INTERVAL(...)")
