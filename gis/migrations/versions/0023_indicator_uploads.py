"""Indicator tables added by staff (issue 23, item 1): village level, who uploaded and when,
a theme, an ``indicators`` right on accounts and a history of uploads and deletions.

A village's code is DOPA's eight digits (the subdistrict's six and the หมู่ที่ in two), as the
dashboards' villages (gis/summary.py). The history keeps the indicator's id as text, not a
foreign key: a deleted table's history stays.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-08
"""

from alembic import op

from gis.migrate import APP_ROLE, grant_app_writes, if_app_role

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE indicators DROP CONSTRAINT ck_indicators_level")
    op.execute("""
        ALTER TABLE indicators ADD CONSTRAINT ck_indicators_level
            CHECK (level IN ('region', 'province', 'district', 'subdistrict', 'village'))
    """)
    op.execute("""
        ALTER TABLE indicators
            ADD COLUMN theme text,
            ADD COLUMN uploaded_by integer REFERENCES accounts (id) ON DELETE SET NULL,
            ADD COLUMN uploaded_at timestamptz
    """)
    op.execute("ALTER TABLE accounts ADD COLUMN can_indicators boolean NOT NULL DEFAULT false")
    op.execute("""
        CREATE TABLE indicator_uploads (
            id serial PRIMARY KEY,
            indicator_id text NOT NULL,
            action text NOT NULL CONSTRAINT ck_indicator_uploads_action
                CHECK (action IN ('replace', 'delete')),
            account_id integer REFERENCES accounts (id) ON DELETE SET NULL,
            file_name text,
            areas integer NOT NULL DEFAULT 0,
            "values" integer NOT NULL DEFAULT 0,
            at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX ix_indicator_uploads_indicator ON indicator_uploads "
               "(indicator_id, id)")
    # The staff page writes them (the catalogue's loads run as the owner, from the CLI).
    op.execute(grant_app_writes("indicators", "indicator_values", "indicator_uploads"))


def downgrade() -> None:
    op.execute("DROP TABLE indicator_uploads")
    op.execute(if_app_role(f"REVOKE INSERT, UPDATE, DELETE ON indicators, indicator_values "
                           f"FROM {APP_ROLE};"))
    op.execute("ALTER TABLE accounts DROP COLUMN can_indicators")
    op.execute("DELETE FROM indicators WHERE level = 'village'")
    op.execute("ALTER TABLE indicators DROP COLUMN theme, DROP COLUMN uploaded_by, "
               "DROP COLUMN uploaded_at")
    op.execute("ALTER TABLE indicators DROP CONSTRAINT ck_indicators_level")
    op.execute("""
        ALTER TABLE indicators ADD CONSTRAINT ck_indicators_level
            CHECK (level IN ('region', 'province', 'district', 'subdistrict'))
    """)
