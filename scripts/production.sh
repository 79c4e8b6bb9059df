#!/usr/bin/env bash
# cddgis production profile on one machine, from Debian packages (no Docker):
#   nginx (buffering proxy, gzip/brotli, cache, slowloris timeouts) on 127.0.0.1:$PORT (8080)
#   → CDDGIS_APPS (2) gunicorn app processes → PgBouncer (transaction pooling) → PostGIS,
#   all kept up by scripts/prod/supervise.py (a process that exits is started again).
#   CDDGIS_REPLICAS=1: also a hot standby of the local cluster (pg_basebackup -R) behind a
#   PgBouncer of its own, where the apps read (docs/operations.md, "Reads on streaming replicas").
# Usage: scripts/production.sh start|stop|status     (docs/operations.md, "Production")
# Database: DATABASE_URL (and CDDGIS_OWNER_DATABASE_URL for migrations) if set; otherwise the
# project's local PostGIS (`cddgis db start`, `cddgis db url [--role owner]`).
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-}
case "$action" in
  start|stop|status) ;;
  *) echo "usage: scripts/production.sh start|stop|status" >&2; exit 2 ;;
esac

if [[ $action == start ]]; then
  bash scripts/setup.sh --prod
  cddgis=.venv/bin/cddgis
  if [[ -z "${DATABASE_URL:-}" ]]; then
    $cddgis db start
    export CDDGIS_PROD_LOCAL_DB=1  # ours: the supervisor starts it again should it stop
    app_url=$($cddgis db url)
    # Least-privilege roles: the owner migrates, the app only reads and writes. Should
    # `cddgis db url --role owner` fail, the one URL is both.
    if ! owner_url=$($cddgis db url --role owner 2>/dev/null); then
      owner_url=$app_url
    fi
  else
    app_url=$DATABASE_URL
    owner_url=${CDDGIS_OWNER_DATABASE_URL:-$DATABASE_URL}
  fi
  DATABASE_URL=$owner_url CDDGIS_OWNER_DATABASE_URL=$owner_url $cddgis migrate
  # Passed in the environment, not on a command line that `ps` shows.
  export CDDGIS_PROD_APP_URL=$app_url CDDGIS_PROD_OWNER_URL=$owner_url
fi
exec .venv/bin/python scripts/prod/profile.py "$action"
