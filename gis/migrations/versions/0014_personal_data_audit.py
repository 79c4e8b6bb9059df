"""PDPA (issue 25, item 2): the view log says which fields and from which address; erasures are
recorded (without the erased values).

- ``personal_data_views`` gains ``fields`` (the personal fields shown or compared) and
  ``address`` (the client's address, as the app sees it behind its trusted proxy).
- ``personal_erasures``: who erased or anonymised whose personal data, when, how (by feature or
  by a name match), in which layer and features, and how many copies were changed in rows,
  history, upload reports and stored files. Never the value itself.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gis.migrate import grant_app_writes

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("personal_data_views", sa.Column("fields", ARRAY(sa.String)))
    op.add_column("personal_data_views", sa.Column("address", sa.String))
    op.create_table(
        "personal_erasures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("address", sa.String),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("feature_ids", ARRAY(sa.BigInteger), nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.execute(grant_app_writes("personal_erasures"))


def downgrade() -> None:
    op.drop_table("personal_erasures")
    op.drop_column("personal_data_views", "address")
    op.drop_column("personal_data_views", "fields")
