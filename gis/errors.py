"""Database errors told as what they mean (issue 20): the driver's exceptions become the domain
errors of ``core.errors`` here, in gis/, so web/ maps domain errors only and imports no
driver.

By SQLSTATE (PostgreSQL's error code):
- the connection is lost or refused, the server shuts down or is out of resources → Unavailable
  (503, with Retry-After): only then is "try again later" the truth;
- ``statement_timeout`` cancelled the statement → QueryTimeout (504, "ask for less");
- a uniqueness, foreign-key or exclusion rule, or another writer at the same moment
  (serialization, deadlock) → Conflict (409);
- a value the database cannot hold (a number too large, NaN in JSON, a bad date, text too
  long), a missing required value or a failed check → UnstorableValue (422), naming the column where
  PostgreSQL names it;
- anything else (a bug in our SQL) → InternalError (500) with an error id that the log also
  carries.

Driver text is never passed on: it can quote the value that failed (a plot owner's name).
The log gets the error id, the SQLSTATE and the names of the table, column and constraint.
"""

from __future__ import annotations

import logging
import secrets
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2 import errorcodes
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from core.errors import (
    CddgisError,
    Conflict,
    InternalError,
    QueryTimeout,
    Unavailable,
    UnstorableValue,
)

log = logging.getLogger(__name__)

UNAVAILABLE = ("ฐานข้อมูลไม่พร้อมให้บริการในขณะนี้ โปรดลองใหม่อีกครั้ง / The database is not "
               "reachable right now. Please try again shortly.")
TOO_SLOW = ("คำขอนี้ใช้เวลานานเกิน {seconds:g} วินาทีจึงถูกยกเลิก / The request took longer than "
            "{seconds:g} s and was stopped; ask for less (a smaller bbox, area, limit or "
            "radius_km).")
TOO_SLOW_UNBOUNDED = ("คำขอนี้ถูกยกเลิกเพราะใช้เวลานานเกินไป / The request was stopped because it "
                      "took too long; ask for less (a smaller bbox, area, limit or radius_km).")
BUSY = ("มีการแก้ไขข้อมูลเดียวกันพร้อมกัน โปรดลองใหม่ / Another change to the same data ran at the "
        "same moment: please try again.")

# SQLSTATE classes and codes that mean "the database is not there for us right now".
_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")
_VALUE_TEXT = {
    "22001": ("ข้อความยาวเกินกว่าที่เก็บได้", "a text is longer than the field holds"),
    "22003": ("ตัวเลขใหญ่หรือเล็กเกินกว่าที่เก็บได้", "a number is too large or too small to store"),
    "22007": ("วันที่หรือเวลาไม่อยู่ในรูปแบบที่ถูกต้อง", "a date or time is not in a valid form"),
    "22008": ("วันที่หรือเวลาอยู่นอกช่วงที่เก็บได้", "a date or time is out of range"),
    "22012": ("มีการหารด้วยศูนย์", "a value divides by zero"),
    "22021": ("ข้อความมีอักขระที่ไม่ถูกต้อง", "a text holds an invalid character"),
    "22P02": ("ค่าไม่อยู่ในรูปแบบที่ถูกต้อง (เช่น NaN หรือตัวเลขที่ไม่ใช่ตัวเลข)",
              "a value is not in a valid form (e.g. NaN, or a number that is not one)"),
    "22P05": ("ข้อความมีอักขระที่เก็บไม่ได้", "a text holds a character that cannot be stored"),
    "23502": ("ขาดค่าที่จำเป็น", "a required value is missing"),
    "23514": ("ค่าไม่ผ่านเงื่อนไขที่กำหนด", "a value breaks a rule of the data"),
}
_CONFLICT_TEXT = {
    "23505": ("มีข้อมูลที่ใช้รหัสนี้อยู่แล้ว", "something with this key exists already"),
    "23503": ("ข้อมูลที่อ้างถึงไม่มีอยู่หรือยังถูกใช้อยู่",
              "what it refers to does not exist, or is still in use"),
    "23P01": ("ขัดกับข้อมูลที่มีอยู่", "it overlaps data that exists already"),
}


def _diag(err: BaseException, name: str) -> str | None:
    diag = getattr(err, "diag", None)
    return getattr(diag, name, None) if diag is not None else None


def _where(err: BaseException) -> str:
    """" (column x)" naming what PostgreSQL names, our schema's names only, never a value."""
    column = _diag(err, "column_name")
    constraint = _diag(err, "constraint_name")
    if column:
        return f" (ช่อง / field {column})"
    if constraint:
        return f" ({constraint})"
    return ""


def domain_error(err: BaseException, *, statement_timeout_ms: int = 0,
                 disconnect: bool = False) -> CddgisError:
    """The domain error a driver error (psycopg2's, or SQLAlchemy's wrapping one) means."""
    if isinstance(err, DBAPIError):
        disconnect = disconnect or bool(err.connection_invalidated)
        err = err.orig if err.orig is not None else err
    code: str = getattr(err, "pgcode", None) or ""
    if code == errorcodes.QUERY_CANCELED:
        seconds = statement_timeout_ms / 1000
        return QueryTimeout(TOO_SLOW.format(seconds=seconds) if seconds else TOO_SLOW_UNBOUNDED)
    if disconnect or code.startswith(_UNAVAILABLE_CLASSES) or (
            not code and isinstance(err, psycopg2.OperationalError | psycopg2.InterfaceError)):
        return Unavailable(UNAVAILABLE, retry_after_s=5)
    if code in (errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED):
        return Conflict(BUSY)
    if code in _CONFLICT_TEXT:
        th, en = _CONFLICT_TEXT[code]
        return Conflict(f"{th} / {en}{_where(err)}")
    if code.startswith(("22", "23")):
        th, en = _VALUE_TEXT.get(code, _VALUE_TEXT["23514"] if code.startswith("23")
                                 else ("ค่าที่ส่งมาเก็บไม่ได้", "a value cannot be stored"))
        return UnstorableValue(f"{th} / {en}{_where(err)}", column=_diag(err, "column_name"))
    error_id = secrets.token_hex(6)
    log.error("database error %s: SQLSTATE %s (%s) table=%s column=%s constraint=%s",
              error_id, code or "-", errorcodes.lookup(code) if code else type(err).__name__,
              _diag(err, "table_name"), _diag(err, "column_name"),
              _diag(err, "constraint_name"))
    return InternalError(error_id)


_TIMEOUTS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


@contextmanager
def translated(engine: Engine | None = None) -> Iterator[None]:
    """For work done through the driver directly (``execute_values``, the tile path): its
    errors leave as domain errors too (a timeout says the limit of ``engine``, when given)."""
    try:
        yield
    except psycopg2.Error as err:
        timeout = _TIMEOUTS.get(engine, 0) if engine is not None else 0
        raise domain_error(err, statement_timeout_ms=timeout) from None


def translate_errors(engine: Engine, statement_timeout_ms: int = 0) -> None:
    """Every error of a statement on ``engine`` (and of connecting) leaves as a domain error.
    A pool pre-ping's failure is left alone (it is how such a pool heals); ``gis.db``'s own
    engines test idle connections in a checkout hook instead, outside this event."""
    _TIMEOUTS[engine] = statement_timeout_ms

    @event.listens_for(engine, "handle_error")
    def _as_domain_error(context: Any) -> BaseException | None:
        if context.is_pre_ping:
            return None
        original = context.original_exception
        if not isinstance(original, psycopg2.Error):
            return None
        return domain_error(original, statement_timeout_ms=statement_timeout_ms,
                            disconnect=bool(context.is_disconnect))
