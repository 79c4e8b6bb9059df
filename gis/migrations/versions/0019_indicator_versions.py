"""A data version for the indicator tables (issue 26, item 1).

The app keeps per process what depends only on the data (gis/versioned.py), read under the data
versions in ``tile_versions`` (0011). Point layers, boundary tables and villages already raise
theirs on every write; the indicator catalogue (``indicators``, and the years in
``indicator_values``) had none, so a kept catalogue could not tell that a table was loaded
again. Now any write to either table raises the ``indicators`` row, in the writer's own
transaction, exactly as 0011's ``tile_versions_villages`` does for the villages.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("indicators", "indicator_values")


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION data_versions_indicators() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            INSERT INTO tile_versions AS v (collection, version) VALUES ('indicators', 1)
            ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER data_versions_indicators AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
            ON {table} FOR EACH STATEMENT EXECUTE FUNCTION data_versions_indicators()""")
    op.execute("INSERT INTO tile_versions (collection, version) VALUES ('indicators', 1) "
               "ON CONFLICT DO NOTHING")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER data_versions_indicators ON {table}")
    op.execute("DROP FUNCTION data_versions_indicators()")
    op.execute("DELETE FROM tile_versions WHERE collection = 'indicators'")
