"""The coordinate system a clerk chose for an upload (issue 25, item 8): a UTM file without a
zone column could not be imported through the web, whose messages said "use --crs".

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("upload_jobs", sa.Column("crs", sa.String))


def downgrade() -> None:
    op.drop_column("upload_jobs", "crs")
