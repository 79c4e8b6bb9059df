"""Least privilege for the web app: the app role reads every table and writes only the tables
granted by name; tables the owner creates later are readable by it (ALTER DEFAULT PRIVILEGES).

The owner role (which runs this and every migration) owns the database and the schema; the app
role cannot create, alter or drop anything. Writes: layer_features and layer_imports, for the
coming web import and editing; a future table the app writes calls gis.migrate.grant_app_writes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from alembic import op

from gis.migrate import APP_ROLE, grant_app_writes, if_app_role

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WRITTEN_BY_APP = ("layer_features", "layer_imports")


def upgrade() -> None:
    op.execute(if_app_role(f"""
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP_ROLE}', current_database());
        GRANT USAGE ON SCHEMA public TO {APP_ROLE};
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {APP_ROLE};"""))
    op.execute(grant_app_writes(*WRITTEN_BY_APP))


def downgrade() -> None:
    op.execute(if_app_role(f"""
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {APP_ROLE};
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
        REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};"""))
