#!/usr/bin/env bash
# Installs what cddgis needs on a Debian machine: PostgreSQL 15 + PostGIS 3 (and, with --test,
# Chromium and Thai fonts for the browser tests), then a Python virtualenv in .venv.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

packages=(postgresql-15 postgresql-15-postgis-3)
(( want_test )) && packages+=(chromium fonts-thai-tlwg gdal-bin)  # gdal-bin: ogrinfo reads tiles in tests

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
if [[ ! -f "$stamp" ]] || ! grep -qxF "$want" "$stamp"; then
  echo "cddgis: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  # constraints.txt pins every package (scripts/lock.sh regenerates it): the same versions on
  # every machine and in CI.
  .venv/bin/pip install -q -e ".$extras" -c constraints.txt
  echo "$want" >> "$stamp"
fi
