#!/usr/bin/env bash
# Installs what cddgis needs on a Debian machine: PostgreSQL 15 + PostGIS 3 (with --prod, also
# nginx, its brotli module and PgBouncer for scripts/production.sh; with --test, all of that plus
# Chromium, Thai fonts and wrk for the tests and benchmarks), then a Python virtualenv in .venv.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_prod=0
[[ "${1:-}" == "--test" ]] && want_test=1 && want_prod=1
[[ "${1:-}" == "--prod" ]] && want_prod=1

# libfribidi0: Pillow shapes Thai (the dashboard's share image) only when it can load FriBiDi.
packages=(postgresql-15 postgresql-15-postgis-3 libfribidi0)
if (( want_prod )); then
  # Debian 12 ships nginx's brotli module; the tests check brotli, so it is not optional.
  packages+=(nginx pgbouncer libnginx-mod-http-brotli-filter libnginx-mod-http-brotli-static)
fi
# gdal-bin: GDAL's OAPIF and MVT drivers (what QGIS uses) read the API and the tiles in tests.
# qgis, python3-qgis: QGIS 3.22 itself reads the API and renders the tiles in tests/test_qgis.py,
# driven through PyQGIS under Debian's /usr/bin/python3 (headless, QT_QPA_PLATFORM=offscreen).
(( want_test )) && packages+=(chromium fonts-thai-tlwg wrk gdal-bin qgis python3-qgis)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  echo "cddgis: this is not a Debian system; install PostgreSQL 15 with PostGIS 3" >&2
  echo "        (and Chromium + Thai fonts for the tests), or set DATABASE_URL to an existing PostGIS." >&2
fi

if (( ${#missing[@]} )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "cddgis: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # scripts/production.sh runs its own nginx and PgBouncer; Debian's default services
    # (nginx's welcome page on :80) are not wanted.
    if [[ -d /run/systemd/system ]]; then
      for svc in nginx pgbouncer; do
        [[ " ${missing[*]} " == *" $svc "* ]] && systemctl disable --now "$svc" >/dev/null 2>&1 || true
      done
    fi
  elif [[ -n "${DATABASE_URL:-}" && $want_test -eq 0 ]]; then
    echo "cddgis: DATABASE_URL is set, so the local PostGIS packages are not needed."
  else
    echo "cddgis: missing Debian packages: ${missing[*]}" >&2
    echo "        install them as root:  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "cddgis: needs Python >= 3.11 (found: $("$python" --version 2>&1))" >&2
  exit 1
fi

extras=""
(( want_test )) && extras="[test]"
stamp=".venv/.cddgis-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)$extras"
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
# A test install ([test]) also satisfies a plain one.
if [[ ! -f "$stamp" ]] || ! grep -qxF -e "$want" -e "${want}[test]" "$stamp"; then
  echo "cddgis: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  # constraints.txt pins every package (scripts/lock.sh regenerates it): the same versions on
  # every machine and in CI.
  .venv/bin/pip install -q -e ".$extras" -c constraints.txt
  echo "$want" >> "$stamp"
fi
