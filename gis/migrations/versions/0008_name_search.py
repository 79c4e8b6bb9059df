"""Name search that forgives slips (issue 15): pg_trgm and ``feature_names``.

``feature_names`` keeps each layer feature's name without tone marks and romanised (RTGS, by
PyThaiNLP), with a trigram index; gis/search.py fills it when a layer is imported, and this
migration fills it for the features already stored. ``CREATE EXTENSION pg_trgm`` is allowed to
the database owner (pg_trgm is a trusted extension). The web app only reads the table, except
through the importer, which writes layer_features and so may write their names too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from gis.migrate import APP_ROLE, if_app_role

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "feature_names",
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("name_norm", sa.Text(), nullable=False),
        sa.Column("name_rtgs", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("layer", "key"),
        sa.ForeignKeyConstraint(["layer", "key"], ["layer_features.layer", "layer_features.key"],
                                name="fk_feature_names_feature", ondelete="CASCADE",
                                onupdate="CASCADE"),
    )
    op.create_index("ix_feature_names_rtgs", "feature_names", ["name_rtgs"],
                    postgresql_using="gin", postgresql_ops={"name_rtgs": "gin_trgm_ops"})
    # No id column (grant_app_writes would look for its sequence): the grant itself.
    op.execute(if_app_role(f"GRANT INSERT, UPDATE, DELETE ON feature_names TO {APP_ROLE};"))
    from gis.search import index_names  # PyThaiNLP loads only when there is something to do

    conn = op.get_bind()
    for (layer,) in conn.execute(sa.text("SELECT DISTINCT layer FROM layer_features")).all():
        index_names(conn, layer)


def downgrade() -> None:
    op.drop_table("feature_names")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
