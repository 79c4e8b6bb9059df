# The two commands: `make run` and `make test`. Both do their own set-up on a fresh Debian machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CDDGIS := $(VENV)/bin/cddgis

.PHONY: run test test-fast setup setup-test lint bench db-stop prod prod-stop prod-status load-data

run: setup load-data
	$(CDDGIS) serve

# The local PostGIS, the schema, and what changed since the last load: each loader compares a
# fingerprint of its code and input files (villages are optional). Nothing new: a few seconds.
load-data:
	$(CDDGIS) db start
	$(CDDGIS) load all --if-changed

# Everything: lint, then every test (browser ones too), with the 25 slowest named at the end.
test: setup-test lint
	$(VENV)/bin/pytest --durations=25

# The quick loop while working: no lint, no browser, TEST_WORKERS pytest-xdist workers (each test
# file stays on one worker; TEST_WORKERS=0 runs in this process). The loaded test databases are
# kept between runs (tests/templates.py). The longest files start first (tests/conftest.py,
# LONGEST_FIRST); the million-point tile test has a file of its own so it runs beside the
# other tile tests (docs/benchmarks.md, "Test suite").
TEST_WORKERS ?= 2
test-fast: setup-test
	$(VENV)/bin/pytest -m "not browser" -n $(TEST_WORKERS) --dist loadfile --durations=10

# The production profile (README, "Production"): nginx → 2 apps → PgBouncer → PostGIS on :8080.
prod:
	bash scripts/setup.sh --prod
	$(MAKE) load-data
	bash scripts/production.sh start

prod-stop:
	bash scripts/production.sh stop

prod-status:
	bash scripts/production.sh status

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --test

# ruff (style, bugs), import-linter (data flows one way, only gis/ talks SQL), mypy (types).
lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

bench: setup-test
	$(PY) -m benchmarks.bench_boundaries
	$(PY) -m benchmarks.bench_layers
	$(PY) -m benchmarks.bench_nearest
	$(PY) -m benchmarks.bench_choropleth
	$(PY) -m benchmarks.bench_load
	$(PY) -m benchmarks.bench_api
	$(PY) -m benchmarks.bench_downloads

db-stop:
	$(CDDGIS) db stop
