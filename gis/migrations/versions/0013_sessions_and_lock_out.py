"""Sessions kept on the server, tokens that stay dead, sign-in failures purged (issue 25, item 4).

``staff_sessions``: one row per signed-in browser. The signed cookie carries a random session
id; only its SHA-256 is kept here. A request is signed in only while its row exists, has not
expired and carries the account's current ``session_epoch``, so signing out (deleting the row)
ends that one session at once, even for a copy of the cookie, and leaves the account's other
sessions alone.

Disabling an account now revokes its API tokens; this migration revokes the live tokens of
accounts that are disabled already, so enabling them later does not bring those tokens back.

``ix_sign_in_failures_at`` lets each recorded failure purge the rows older than the throttle's
window cheaply.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from gis.migrate import grant_app_writes

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("account_id", sa.Integer,
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_sha256", sa.String, nullable=False, unique=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_sessions_account_id", "staff_sessions", ["account_id"])
    op.create_index("ix_staff_sessions_expires_at", "staff_sessions", ["expires_at"])
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])
    op.execute("""
        UPDATE api_tokens t SET revoked_at = now()
        FROM accounts a
        WHERE a.id = t.account_id AND a.disabled AND t.revoked_at IS NULL
    """)
    op.execute(grant_app_writes("staff_sessions"))


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_at", "sign_in_failures")
    op.drop_table("staff_sessions")
