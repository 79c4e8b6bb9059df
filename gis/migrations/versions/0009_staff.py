"""The staff workspace: accounts, API tokens, sign-in throttling, change history with review,
per-layer approval settings, PDPA view log; a version on every feature for optimistic locking.

Retiring a feature deletes it from ``layer_features`` (so every public query, tile and count
forgets it without a filter of its own) and keeps its last state in ``feature_changes``, from
which it can be restored with the same id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gis.migrate import grant_app_writes

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WRITTEN_BY_APP = ("accounts", "api_tokens", "sign_in_failures", "layer_settings",
                  "feature_changes", "personal_data_views")


def _now() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("display_name", sa.Text),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("provinces", ARRAY(sa.String)),
        sa.Column("layers", ARRAY(sa.String)),
        sa.Column("can_approve", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("can_personal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("password_hash", sa.Text),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("role IN ('admin', 'editor')", name="ck_accounts_role"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer,
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_sha256", sa.String, nullable=False, unique=True),
        sa.Column("label", sa.Text),
        _now(),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("address", sa.String, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_index("ix_sign_in_failures_name_at", "sign_in_failures", ["name", "at"])
    op.create_index("ix_sign_in_failures_address_at", "sign_in_failures", ["address", "at"])
    op.create_table(
        "layer_settings",
        sa.Column("layer", sa.String, primary_key=True),
        sa.Column("requires_approval", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.add_column("layer_imports", sa.Column("account_id", sa.Integer,
                                             sa.ForeignKey("accounts.id")))
    op.add_column("layer_features", sa.Column("version", sa.Integer, nullable=False,
                                              server_default="1"))
    op.create_table(
        "feature_changes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("feature_id", sa.BigInteger),
        sa.Column("feature_key", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("base_version", sa.Integer),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("province_code", sa.String),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("layer_imports.id")),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text),
        sa.CheckConstraint(
            "kind IN ('create', 'update', 'move', 'retire', 'restore', 'import', 'revert')",
            name="ck_feature_changes_kind"),
        sa.CheckConstraint("status IN ('published', 'pending', 'rejected')",
                           name="ck_feature_changes_status"),
    )
    op.create_index("ix_feature_changes_layer_key_at", "feature_changes",
                    ["layer", "feature_key", "at"])
    op.create_index("ix_feature_changes_feature_id", "feature_changes", ["feature_id"])
    op.create_index("ix_feature_changes_status_layer", "feature_changes", ["status", "layer"])
    op.create_index("ix_feature_changes_import_id", "feature_changes", ["import_id"])
    op.create_table(
        "personal_data_views",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("layer", sa.String, nullable=False),
        sa.Column("feature_ids", ARRAY(sa.BigInteger), nullable=False),
        sa.Column("context", sa.Text, nullable=False),
    )
    op.create_index("ix_personal_data_views_account_at", "personal_data_views",
                    ["account_id", "at"])
    op.execute(grant_app_writes(*WRITTEN_BY_APP))


def downgrade() -> None:
    op.drop_table("personal_data_views")
    op.drop_table("feature_changes")
    op.drop_column("layer_features", "version")
    op.drop_column("layer_imports", "account_id")
    op.drop_table("layer_settings")
    op.drop_table("sign_in_failures")
    op.drop_table("api_tokens")
    op.drop_table("accounts")
