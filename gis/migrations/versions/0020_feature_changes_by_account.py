"""An index for an officer's inbox of their own reviewed changes (issue 24, item 7).

``gis.changes.mine`` lists an account's changes that went through review, newest first; without
an index that is a scan of every change ever recorded (a million-row import records a million).
The index holds only reviewed or waiting changes, so directly published ones cost it nothing.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE INDEX ix_feature_changes_account_reviewed ON feature_changes (account_id, id)
        WHERE status IN ('pending', 'rejected') OR decided_at IS NOT NULL
    """)


def downgrade() -> None:
    op.execute("DROP INDEX ix_feature_changes_account_reviewed")
