"""Photos staff attach to a feature (issue 24, item 2).

One row per photo of a feature, by its natural key (``layer``, ``feature_key``), so a photo
stays with its feature through re-imports. The files themselves live under
``CDDGIS_STATE_DIR/photos/`` (shared by the replicas like the uploads), named by ``content_hash``;
the row keeps what the staff page shows as audit evidence: when and where the camera says it was
taken (EXIF), who uploaded it and when. The original is not kept (its EXIF may hold more than
that), only the public copies with every EXIF field stripped.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gis.migrate import grant_app_writes

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("feature_key", sa.String, nullable=False),
        sa.Column("content_hash", sa.String, nullable=False),
        sa.Column("original_bytes", sa.BigInteger, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("web_width", sa.Integer, nullable=False),
        sa.Column("web_height", sa.Integer, nullable=False),
        sa.Column("web_bytes", sa.Integer, nullable=False),
        sa.Column("thumb_bytes", sa.Integer, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True)),
        sa.Column("taken_lon", sa.Float),
        sa.Column("taken_lat", sa.Float),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'",
                           name="ck_feature_photos_content_hash"),
        sa.UniqueConstraint("layer", "feature_key", "content_hash",
                            name="uq_feature_photos_feature_hash"),
    )
    op.create_index("ix_feature_photos_content_hash", "feature_photos", ["content_hash"])
    op.execute(grant_app_writes("feature_photos"))


def downgrade() -> None:
    op.drop_table("feature_photos")
