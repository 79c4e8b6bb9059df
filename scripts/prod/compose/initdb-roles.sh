#!/bin/sh
# Run once by the postgis image on an empty volume (docker-entrypoint-initdb.d), as the
# superuser: the same roles as cddgis's local cluster (gis/cluster.py). `cddgis migrate` (the
# compose `load` service, as the owner) then grants the app role what it may do (migration 0006).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_password="$CDDGIS_DB_PASSWORD" -v app_password="$CDDGIS_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE cddgis LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE cddgis_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE cddgis OWNER cddgis;
REVOKE ALL ON DATABASE cddgis FROM PUBLIC;
GRANT CONNECT ON DATABASE cddgis TO cddgis_app;
SQL
# PostGIS is not a trusted extension: the superuser creates it, for the owner to use.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname cddgis \
     -c "CREATE EXTENSION IF NOT EXISTS postgis"
