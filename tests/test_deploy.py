"""The Docker files stay in step with the code (no Docker engine runs here to try them)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from cddgis.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_runs_real_cli_commands() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    steps = [re.sub(r"^\{\s*|\s*\|\|\s*true;\s*\}$", "", part.strip())
             for part in cmd[-1].split("&&")]
    commands = [shlex.split(step) for step in steps]
    assert all(c[0] == "cddgis" for c in commands)
    parser = build_parser()
    for command in commands:
        parser.parse_args(command[1:])  # exits (fails the test) on an unknown subcommand
    # Like `make run`: everything loaded, then serve.
    assert [" ".join(c[1:3]) for c in commands] == [
        "migrate", "load boundaries", "load villages", "load indicators", "sample --if-empty",
        "serve"]


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.M).group(1)
    packages = [p.strip(' "*') for p in include.split(",")]
    assert len(packages) >= 6
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package


def test_compose_points_the_app_at_postgis_and_the_data() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "image: postgis/postgis:15-" in compose
    assert "DATABASE_URL: postgresql+psycopg2://cddgis:" in compose
    assert "@db:5432/cddgis" in compose
    assert "${CDDGIS_DATA:-../shared/data}:/data:ro" in compose
