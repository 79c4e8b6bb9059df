"""Indicators: a value per area (and year) with its title, unit, source and licence.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("title_th", sa.Text, nullable=False),
        sa.Column("title_en", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("licence", sa.Text, nullable=False),
        sa.Column("level", sa.String, nullable=False),
        sa.Column("source_file", sa.Text),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("level IN ('region', 'province', 'district', 'subdistrict')",
                           name="ck_indicators_level"),
    )
    op.create_table(
        "indicator_values",
        sa.Column("indicator_id", sa.String,
                  sa.ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("area_code", sa.String, nullable=False),
        sa.Column("year", sa.Integer),  # Buddhist Era; NULL when the table has no year
        sa.Column("value", sa.Float),   # NULL: the table has the area but no figure
    )
    op.execute("CREATE UNIQUE INDEX uq_indicator_values ON indicator_values "
               "(indicator_id, area_code, coalesce(year, 0))")


def downgrade() -> None:
    op.drop_table("indicator_values")
    op.drop_table("indicators")
