"""Village points (for place-name search) and a geography index for nearest-first queries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "villages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("search_key", sa.Text, nullable=False),
        sa.Column("subdistrict_code", sa.String),
        sa.Column("district_code", sa.String),
        sa.Column("province_code", sa.String),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.execute("CREATE INDEX ix_villages_search_key ON villages (search_key text_pattern_ops)")
    op.create_index("ix_villages_geom", "villages", ["geom"], postgresql_using="gist")
    # KNN (<->) on geography orders by distance on the sphere; ST_Distance then gives the
    # ellipsoidal figure that is shown.
    op.execute("CREATE INDEX ix_layer_features_geog ON layer_features "
               "USING gist ((geom::geography))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_layer_features_geog")
    op.drop_table("villages")
