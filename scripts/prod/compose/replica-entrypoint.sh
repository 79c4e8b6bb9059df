#!/bin/bash
# The db-replica service's entrypoint (docker-compose.yml, issue 22): on an empty volume, copy
# the primary `db` with pg_basebackup -R (it writes standby.signal and primary_conninfo) through
# the slot the primary's init script made, then start PostgreSQL as a hot standby with the
# image's own entrypoint (which finds the data directory made and only starts the server).
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    mkdir -p "$PGDATA"
    chown postgres: "$PGDATA"
    chmod 700 "$PGDATA"
    until pg_isready -h db -p 5432 -U cddgis_replicator -d postgres; do sleep 1; done
    # The password from the environment (PGPASSWORD), never on a command line `ps` shows.
    PGPASSWORD="$CDDGIS_REPLICATION_PASSWORD" gosu postgres \
        pg_basebackup -h db -p 5432 -U cddgis_replicator -D "$PGDATA" -R \
        -S cddgis_replica -X stream -c fast
fi
exec docker-entrypoint.sh postgres -c hot_standby=on
