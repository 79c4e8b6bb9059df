"""Point layers: one table for the five CDD layers, with personal data kept apart, and imports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "layer_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("file_sha256", sa.String, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("mode", sa.String, nullable=False),
        sa.Column("committed", sa.Boolean, nullable=False),
        sa.Column("sample", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_ok", sa.Integer, nullable=False),
        sa.Column("rows_warning", sa.Integer, nullable=False),
        sa.Column("rows_error", sa.Integer, nullable=False),
        sa.Column("inserted", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
    )
    op.create_table(
        "layer_features",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("name", sa.Text),
        # Public attributes only. Personal data (PDPA) lives in `personal`, which no public
        # query selects.
        sa.Column("properties", JSONB, nullable=False),
        sa.Column("personal", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("given_province_code", sa.String),
        sa.Column("given_district_code", sa.String),
        sa.Column("given_subdistrict_code", sa.String),
        sa.Column("province_code", sa.String),
        sa.Column("district_code", sa.String),
        sa.Column("subdistrict_code", sa.String),
        sa.Column("region", sa.String),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("sample", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source_file", sa.Text),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("layer_imports.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.UniqueConstraint("layer", "key", name="uq_layer_features_layer_key"),
    )
    op.create_index("ix_layer_features_geom", "layer_features", ["geom"],
                    postgresql_using="gist")
    for column in ("province_code", "district_code", "subdistrict_code", "region"):
        op.create_index(f"ix_layer_features_layer_{column}", "layer_features",
                        ["layer", column])
    op.create_index("ix_layer_features_properties", "layer_features", ["properties"],
                    postgresql_using="gin", postgresql_ops={"properties": "jsonb_path_ops"})


def downgrade() -> None:
    op.drop_table("layer_features")
    op.drop_table("layer_imports")
