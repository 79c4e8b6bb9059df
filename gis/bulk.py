"""Bulk inserts inside a SQLAlchemy transaction with psycopg2's ``execute_values``.

One multi-row VALUES statement per page is several times faster than ``executemany`` for the
tens of thousands of rows a boundary, village or layer load writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy import Connection

from gis.errors import translated


def insert_values(conn: Connection, sql: str, rows: Sequence[Sequence[Any]], *,
                  page_size: int = 1000, fetch: bool = False) -> list[tuple[Any, ...]]:
    """Runs ``sql`` (with one ``VALUES %s``) for ``rows`` in ``conn``'s transaction."""
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        with translated(conn.engine):
            return execute_values(cursor, sql, rows, page_size=page_size, fetch=fetch) or []
    finally:
        cursor.close()
