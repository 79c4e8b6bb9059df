"""The Docker files stay in step with the code (no Docker engine runs here to try them)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

from cddgis.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _stages() -> dict[str, str]:
    """The Dockerfile's build stages by name (``FROM … AS name``)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    parts = re.split(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _cli_steps(shell: str) -> list[list[str]]:
    """`a && { b || true; } && c` → the cddgis commands, each checked by the real parser."""
    steps = [re.sub(r"^\{\s*|\s*\|\|\s*true;\s*\}$", "", part.strip())
             for part in shell.split("&&")]
    commands = [shlex.split(step) for step in steps]
    assert all(c[0] == "cddgis" for c in commands), commands
    parser = build_parser()
    for command in commands:
        parser.parse_args(command[1:])  # exits (fails the test) on an unknown subcommand
    return commands


def _services() -> dict[str, str]:
    """docker-compose.yml's services, each as its block of text (no YAML library needed)."""
    compose = (ROOT / "docker-compose.yml").read_text()
    body = compose.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    parts = re.split(r"^  ([\w-]+):$", body, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_dockerfile_runs_real_cli_commands() -> None:
    app = _stages()["app"]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", app, re.M).group(1))
    commands = _cli_steps(cmd[-1])
    # Like `make run`: everything loaded, then serve.
    assert [" ".join(c[1:3]) for c in commands] == [
        "migrate", "load boundaries", "load villages", "load indicators", "sample --if-empty",
        "serve"]
    # `docker build .` (no target) builds the last stage: the app.
    assert list(_stages())[-1] == "app"


def test_dockerfile_copies_every_package() -> None:
    dockerfile = _stages()["app"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.M).group(1)
    packages = [p.strip(' "*') for p in include.split(",")]
    assert len(packages) >= 6
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package


def test_compose_points_the_app_at_postgis_and_the_data() -> None:
    services = _services()
    assert "image: postgis/postgis:15-" in services["db"]
    # The loader talks to PostgreSQL directly; the replicas go through the pool.
    assert "DATABASE_URL: postgresql+psycopg2://cddgis:" in services["load"]
    assert "@db:5432/cddgis" in services["load"]
    assert "@pgbouncer:6432/cddgis" in services["app"]
    assert "${CDDGIS_DATA:-../shared/data}:/data:ro" in services["load"]


def test_compose_has_the_production_shape() -> None:
    """proxy → ≥2 app replicas → pgbouncer → db; only the proxy is published."""
    services = _services()
    assert set(services) == {"db", "db-replica", "pgbouncer", "pgbouncer-replica", "load", "app",
                             "proxy"}
    replicas = int(re.search(r"replicas: (\d+)", services["app"]).group(1))
    assert replicas >= 2
    published = [name for name, block in services.items() if "ports:" in block]
    assert published == ["proxy"]
    stages = _stages()
    for name in ("pgbouncer", "pgbouncer-replica", "load", "app", "proxy"):
        target = re.search(r"target: (\w+)", services[name]).group(1)
        assert target in stages, (name, target)
    assert "condition: service_completed_successfully" in services["app"]


def test_compose_commands_are_real_cli_commands() -> None:
    services = _services()
    load = json.loads(re.search(r"command: (\[.*\])", services["load"]).group(1))
    assert [" ".join(c[1:3]) for c in _cli_steps(load[-1])] == [
        "migrate", "load boundaries", "load villages", "load indicators", "sample --if-empty"]
    serve = json.loads(re.search(r"command: (\[.*\])", services["app"]).group(1))
    assert serve[:2] == ["cddgis", "serve"]
    build_parser().parse_args(serve[1:])


def test_compose_has_no_default_secrets() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    variables = re.findall(r"\$\{(\w+)(:?[-?])?([^}]*)\}", compose)
    secrets = [v for v in variables if re.search(r"PASSWORD|SECRET|TOKEN|KEY", v[0])]
    assert secrets
    for name, op, _message in secrets:
        assert op == ":?", f"{name} must be required (${{{name}:?…}}), not defaulted"
    assert not re.search(r"PASSWORD: (?!\$\{)", compose)  # no literal password


def test_compose_proxy_and_pool_configs_match_the_script() -> None:
    """The files baked into the images are what scripts/production.sh renders from the same
    templates (regenerate: .venv/bin/python scripts/prod/profile.py render-compose)."""
    spec = importlib.util.spec_from_file_location("prod_profile",
                                                  ROOT / "scripts" / "prod" / "profile.py")
    profile = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = profile  # dataclasses look their module up there
    spec.loader.exec_module(profile)
    for path, text in profile.compose_files().items():
        assert path.read_text() == text, path
    stages = _stages()
    assert "COPY scripts/prod/compose/nginx.conf" in stages["proxy"]
    assert "COPY scripts/prod/compose/pgbouncer.ini" in stages["pgbouncer"]
    nginx = (ROOT / "scripts" / "prod" / "compose" / "nginx.conf").read_text()
    for directive in ("client_header_timeout 10s;", "client_body_timeout 10s;",
                      "client_max_body_size 1m;", "proxy_read_timeout 15s;", "gzip on;",
                      "brotli on;", "proxy_cache cddgis;", "server app:8000"):
        assert directive in nginx, directive
    pgbouncer = (ROOT / "scripts" / "prod" / "compose" / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in pgbouncer
    # The app's statement timeout reaches PostgreSQL through the pool, not as `options`.
    assert "SET statement_timeout = 10000" in pgbouncer
    assert "ignore_startup_parameters = extra_float_digits,options" in pgbouncer


def test_compose_runs_the_app_with_least_privilege() -> None:
    """As the local cluster: a superuser, an owner (migrate, load) and the app role, each with
    its own required password; the serving replicas connect as the app role."""
    services = _services()
    db = services["db"]
    assert "POSTGRES_USER: postgres" in db
    assert "${CDDGIS_SUPERUSER_PASSWORD:?" in db
    assert "initdb-roles.sh:/docker-entrypoint-initdb.d/" in db
    assert "cddgis_app:${CDDGIS_APP_DB_PASSWORD:?" in services["app"]
    assert "cddgis:${CDDGIS_DB_PASSWORD" not in services["app"]
    assert "cddgis:${CDDGIS_DB_PASSWORD:?" in services["load"]
    pool = _stages()["pgbouncer"]
    assert "cddgis_app" in pool and "$CDDGIS_APP_DB_PASSWORD" in pool
    init = (ROOT / "scripts/prod/compose/initdb-roles.sh").read_text()
    for statement in ("CREATE ROLE cddgis LOGIN NOSUPERUSER", "CREATE ROLE cddgis_app LOGIN "
                      "NOSUPERUSER", "CREATE DATABASE cddgis OWNER cddgis",
                      "GRANT CONNECT ON DATABASE cddgis TO cddgis_app"):
        assert statement in init
    # The role names are the ones the migrations grant to.
    from gis.cluster import APP_ROLE, OWNER_ROLE

    assert (OWNER_ROLE, APP_ROLE) == ("cddgis", "cddgis_app")


def test_the_image_installs_the_pinned_versions() -> None:
    app = _stages()["app"]
    assert "COPY pyproject.toml README.md constraints.txt" in app
    assert "pip install . -c constraints.txt" in app


def test_proxy_rate_limits_sign_in_posts_with_a_429() -> None:
    """nginx answers a burst of sign-in POSTs from one address with 429 before the app hashes
    a password for each; GETs of the form and every other path are not limited by it."""
    for conf in ((ROOT / "scripts" / "prod" / "compose" / "nginx.conf").read_text(),
                 (ROOT / "scripts" / "prod" / "nginx.conf.in").read_text()):
        assert re.search(r"map \$request_method \$sign_in_limit \{\s*POST\s+"
                         r"\$binary_remote_addr;\s*default\s+\"\";", conf)
        assert re.search(r"limit_req_zone \$sign_in_limit zone=sign_in:\S+ rate=\d+r/m;", conf)
        location = conf.split("location = /staff/sign-in {", 1)[1].split("}", 1)[0]
        assert re.search(r"limit_req zone=sign_in burst=\d+ nodelay;", location)
        assert "limit_req_status 429;" in location and "proxy_cache off;" in location


def test_compose_trusts_forwarded_headers_only_from_its_proxy() -> None:
    services = _services()
    proxy_address = re.search(r"ipv4_address: (\$\{CDDGIS_PROXY_ADDRESS:-[0-9.]+\})",
                              services["proxy"]).group(1)
    assert f"CDDGIS_TRUSTED_PROXIES: {proxy_address}" in services["app"]
    assert f"FORWARDED_ALLOW_IPS: {proxy_address}" in services["app"]
    assert 'FORWARDED_ALLOW_IPS: "*"' not in services["app"]


def test_compose_streams_to_a_replica_the_apps_read_from() -> None:
    """Issue 22, item 5, checked on the file's structure only (no Docker engine runs here): a
    db-replica service of the same PostGIS image copies db with ``pg_basebackup -R`` in its
    entrypoint, as a replication-only role let in by a pg_hba line; a pool of its own; the
    apps read there (CDDGIS_READ_DATABASE_URL) and write on db."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    replica = services["db-replica"]
    assert replica["image"] == services["db"]["image"]
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pgdata-replica:/var/lib/postgresql/data" in replica["volumes"]
    assert "pgdata-replica" in compose["volumes"]
    entry = replica["entrypoint"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in replica["volumes"] if ":" in v}
    script = (ROOT / mounted[entry[-1]]).read_text()
    assert re.search(r"pg_basebackup -h db .*-U cddgis_replicator -D \"\$PGDATA\" -R", script)
    assert "-S cddgis_replica" in script and "exec docker-entrypoint.sh postgres" in script
    assert "CDDGIS_REPLICATION_PASSWORD" in replica["environment"]
    init = (ROOT / "scripts/prod/compose/initdb-roles.sh").read_text()
    assert "CREATE ROLE cddgis_replicator LOGIN REPLICATION NOSUPERUSER" in init
    assert "pg_create_physical_replication_slot('cddgis_replica')" in init
    assert 'echo "host replication cddgis_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"' \
        in init
    pool = services["pgbouncer-replica"]
    assert pool["build"]["target"] == "pgbouncer"
    assert "./scripts/prod/compose/pgbouncer-replica.ini:/etc/cddgis/pgbouncer.ini:ro" \
        in pool["volumes"]
    ini = (ROOT / "scripts/prod/compose/pgbouncer-replica.ini").read_text()
    assert "host=db-replica port=5432" in ini and "default_transaction_read_only = on" in ini
    app = services["app"]["environment"]
    assert app["DATABASE_URL"].endswith("@pgbouncer:6432/cddgis")
    assert app["CDDGIS_READ_DATABASE_URL"].startswith("postgresql+psycopg2://cddgis_app:")
    assert app["CDDGIS_READ_DATABASE_URL"].endswith("@pgbouncer-replica:6432/cddgis")
    assert services["load"]["environment"]["DATABASE_URL"].endswith("@db:5432/cddgis")
