"""PDPA audit: who saw or compared personal data (``personal_data_views``), from where.

The web layer sets ``CLIENT_ADDRESS`` for each request (and hands it to the upload job threads
it starts), so gis/ can record the address without knowing Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from sqlalchemy import Connection, text

from core.accounts import Account

CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("cddgis_client_address", default=None)


def personal_fields_of(snapshots: Iterable[dict | None]) -> list[str]:
    """The personal fields that hold a value in any of these snapshots."""
    return sorted({name for snap in snapshots if snap
                   for name, value in (snap.get("personal") or {}).items()
                   if value not in (None, "")})


def log_personal_view(conn: Connection, account: Account, layer_id: str,
                      feature_ids: Iterable[int], context: str, fields: Iterable[str]) -> None:
    """Records who saw (or compared) which personal fields of which features, when, and from
    which address; nothing when no feature is named."""
    ids = sorted(set(feature_ids))
    if not ids:
        return
    conn.execute(text("""
        INSERT INTO personal_data_views (account_id, layer, feature_ids, context, fields,
                                         address)
        VALUES (:account, :layer, :ids, :context, :fields, :address)
    """), {"account": account.id, "layer": layer_id, "ids": ids, "context": context,
           "fields": sorted(set(fields)), "address": CLIENT_ADDRESS.get()})
