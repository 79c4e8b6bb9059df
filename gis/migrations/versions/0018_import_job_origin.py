"""Import jobs from the API (issue 20, item 5): ``upload_jobs`` also holds the imports the API
runs in the background (``origin = 'api'``), so one runner, one progress column, one PDPA
retention and erasure serve both; the staff workspace lists and commits only its own uploads.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("upload_jobs", sa.Column("origin", sa.String, nullable=False,
                                           server_default="upload"))
    op.create_check_constraint("ck_upload_jobs_origin", "upload_jobs",
                               "origin IN ('upload', 'api')")


def downgrade() -> None:
    op.drop_constraint("ck_upload_jobs_origin", "upload_jobs")
    op.drop_column("upload_jobs", "origin")
