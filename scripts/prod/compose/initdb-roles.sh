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
# The streaming replica (service db-replica, issue 22): a role that may only replicate, a
# pg_hba line that lets it in from the compose network (scram), and a physical slot, so the
# primary keeps the WAL the replica has not received yet (its pg_basebackup streams through it).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v replication_password="$CDDGIS_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE cddgis_replicator LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE
    PASSWORD :'replication_password';
SELECT pg_create_physical_replication_slot('cddgis_replica');
SQL
echo "host replication cddgis_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
