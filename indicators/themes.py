"""Dashboard themes, declared as data (``indicators/themes.json``): the pages of CDD's Power BI
dashboards (ข้อมูลคุณภาพชีวิต, ความเข้มแข็งชุมชน, เศรษฐกิจชุมชน …) as named sets of layers and
indicator tables. A theme narrows an area's dashboard to its own; a staff table joins a theme
through the theme id given when it is uploaded (``indicators.theme``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

THEMES_FILE = Path(__file__).with_name("themes.json")


@dataclass(frozen=True)
class Theme:
    id: str
    title_th: str
    title_en: str
    layers: tuple[str, ...]
    indicators: tuple[str, ...]


def read_themes(path: Path = THEMES_FILE, layer_ids: frozenset[str] | None = None,
                ) -> dict[str, Theme]:
    """The declared themes, checked: a bad entry is named by its position and field."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    themes: dict[str, Theme] = {}
    for n, entry in enumerate(raw.get("themes", []), start=1):
        where = f"{path.name}: theme {n}"
        for field in ("id", "title_th", "title_en"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"{where}: {field} is required text")
        if entry["id"] in themes:
            raise ValueError(f"{where}: id {entry['id']!r} is declared twice")
        layers = tuple(entry.get("layers", []))
        unknown = [x for x in layers if layer_ids is not None and x not in layer_ids]
        if unknown:
            raise ValueError(f"{where}: no layer {', '.join(unknown)}")
        themes[entry["id"]] = Theme(entry["id"], entry["title_th"], entry["title_en"], layers,
                                    tuple(entry.get("indicators", [])))
    return themes


@cache
def themes() -> dict[str, Theme]:
    """The project's themes (its layers are checked against the declared layers in
    ``gis.summary``, which knows both)."""
    return read_themes()
