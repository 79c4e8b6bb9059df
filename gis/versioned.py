"""Work that depends only on the data, done once per data version and kept per process.

Most pages ask the same questions of data that changes rarely: a layer's filter choices, the
provinces for a drop-down, the indicator catalogue, a dashboard's counts and categories
(issue 26: 13–55 % of those pages' time). The answers are kept per process under the data
versions: the rows of ``tile_versions`` (migration 0011), which the tile-cache triggers raise
in the same transaction as any write that changes a point layer, a boundary table or the
villages, and 0019's trigger for the indicator tables. Asking costs one small statement (the
versions); a kept answer made under the same versions is returned, anything else is made again.
So a write shows on the very next request, in every process, with nothing to notify.

Why the versions are read *before* the work, on the same connection: under READ COMMITTED the
work sees at least the data of those versions, so an answer is never kept under a version newer
than the data it was made from (a write committed in between makes the kept answer's versions
old at once, and the next request makes it again).

Each cache is bounded (``max_entries``, least recently used out first); its entries are keyed
by the database URL too, since one process may talk to several (tests make many).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

from sqlalchemy import Connection, text

T = TypeVar("T")

VERSIONS = ("(SELECT coalesce(string_agg(collection || ':' || version, ',' "
            "ORDER BY collection), '') FROM tile_versions)")
"""Every data version in one text value: any write that changes data changes it."""


def versions(conn: Connection) -> str:
    """The data versions as ``conn`` sees them now."""
    return str(conn.execute(text(f"SELECT {VERSIONS}")).scalar_one())


class VersionedCache(Generic[T]):
    """Values made from the data, each kept with the versions it was made under.

    The values are shared by every request of the process: callers hand out copies of
    anything mutable (or keep immutable values)."""

    def __init__(self, name: str, max_entries: int) -> None:
        self.name = name
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, Hashable], tuple[str, T]] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threads share a worker's caches

    def get(self, conn: Connection, key: Hashable, make: Callable[[Connection], T]) -> T:
        """The value for ``key`` under the current versions: kept, or made by ``make(conn)``."""
        now = versions(conn)
        full = (str(conn.engine.url), key)
        found, kept = self.find(full, now)
        if found:
            return cast(T, kept)
        value = make(conn)
        self.put(full, now, value)
        return value

    def put(self, full: tuple[str, Hashable], made_under: str, value: T) -> None:
        """Keeps ``value`` (made under ``made_under``), dropping the least recently used past
        the budget."""
        with self._lock:
            self._entries[full] = (made_under, value)
            self._entries.move_to_end(full)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def find(self, full: tuple[str, Hashable], now: str) -> tuple[bool, T | None]:
        """(True, value) when a value for ``full`` is kept under ``now``."""
        with self._lock:
            known = self._entries.get(full)
            if known is None or known[0] != now:
                return False, None
            self._entries.move_to_end(full)
            return True, known[1]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
