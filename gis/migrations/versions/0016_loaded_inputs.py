"""What each loader last loaded from (issue 20, item 7): ``make run`` with nothing new is ready
in seconds, yet new data files or a changed loader are loaded again.

``loaded_inputs`` holds one fingerprint per loader (``core.inputs.fingerprint``: the loader's
code and its input files); ``cddgis load … --if-changed`` compares and skips. Written by the
owner role's loads only: the web app has no grant on it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loaded_inputs",
        sa.Column("loader", sa.String, primary_key=True),
        sa.Column("fingerprint", sa.String, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loaded_inputs")
