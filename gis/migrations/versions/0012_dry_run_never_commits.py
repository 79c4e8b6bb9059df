"""A dry run can never commit, whatever the application does (issue 25, item 0).

An import's writer records the import (``layer_imports``) first, in the import's own
transaction; a dry run records it with ``mode = 'dry-run'`` and is meant to roll back. Two
gunicorn workers once shared one PostgreSQL session through a socket inherited across a fork,
and the other worker's COMMIT committed a dry run's rows into the public layer. The app no
longer shares connections across a fork (``gis.db``); this deferred constraint trigger makes
the promise the database's own: a transaction that holds a dry run's open record
(``mode = 'dry-run' AND committed``) fails at COMMIT, and everything it wrote is rolled back.
The record a dry run leaves behind (``committed = false``, written after the rollback) passes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from alembic import op

from gis.models import DRY_RUN_GUARD_FUNCTION, DRY_RUN_GUARD_TRIGGER

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(DRY_RUN_GUARD_FUNCTION)
    op.execute(DRY_RUN_GUARD_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER dry_run_never_commits ON layer_imports")
    op.execute("DROP FUNCTION layer_imports_dry_run_never_commits()")
