"""Browser uploads (issue 11): one row per uploaded file, checked and committed in the background.

The worker thread that checks or commits a file writes its progress and its report here, so
whichever app process a poll reaches can answer it, and the import history can show the report
of every upload long after the file itself is gone.

Revision ID: 0010_uploads
Revises: 0009
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from gis.migrate import grant_app_writes

revision = "0010_uploads"
down_revision = "0009"
branch_labels = None
depends_on = None

STATUSES = ("queued", "checking", "checked", "failed", "committing", "committed",
            "not_committed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "upload_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("stored_name", sa.Text, nullable=False),
        sa.Column("file_kind", sa.String, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="queued"),
        sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_estimate", sa.Integer),
        sa.Column("report", JSONB),
        sa.Column("check_import_id", sa.Integer, sa.ForeignKey("layer_imports.id")),
        sa.Column("commit_mode", sa.String),
        sa.Column("commit_report", JSONB),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("layer_imports.id")),
        sa.Column("message", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
                           name="ck_upload_jobs_status"),
        sa.CheckConstraint("commit_mode IN ('all-or-nothing', 'valid-only')",
                           name="ck_upload_jobs_commit_mode"),
    )
    op.create_index("ix_upload_jobs_account_created", "upload_jobs",
                    ["account_id", "created_at"])
    op.create_index("ix_upload_jobs_check_import_id", "upload_jobs", ["check_import_id"])
    op.create_index("ix_upload_jobs_import_id", "upload_jobs", ["import_id"])
    op.execute(grant_app_writes("upload_jobs"))


def downgrade() -> None:
    op.drop_table("upload_jobs")
