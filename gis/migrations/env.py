"""Alembic environment: the URL comes from the caller (gis.migrate), never from a file."""

from alembic import context
from sqlalchemy import create_engine, pool

from gis.migrate import comparison_options
from gis.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("run migrations through `cddgis migrate` (gis.migrate.upgrade), which "
                       "passes the database URL")
connectable = create_engine(url, poolclass=pool.NullPool)

with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      **comparison_options())
    with context.begin_transaction():
        # One migrator at a time, even when `make run` and the tests start together.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(2024112401)")
        context.run_migrations()
