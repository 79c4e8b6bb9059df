"""Nearest-first per layer: one GiST index on (layer, geography).

With a geography-only index, "the 5 nearest learning centers" walked through every other layer's
points near the origin first (p95 567 ms beside a 1,000,000-point layer; docs/benchmarks.md).
btree_gist lets the same index hold the layer, so the walk only sees that layer's points.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")  # a trusted extension since PG 13
    op.execute("DROP INDEX IF EXISTS ix_layer_features_geog")
    op.execute("CREATE INDEX ix_layer_features_layer_geog ON layer_features "
               "USING gist (layer, (geom::geography))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_layer_features_layer_geog")
    op.execute("CREATE INDEX ix_layer_features_geog ON layer_features "
               "USING gist ((geom::geography))")
