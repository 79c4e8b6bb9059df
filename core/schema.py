"""How a point layer is described: its fields, which are personal, how it is drawn and filtered.

A layer is declared once (``layers/definitions.py``); import, API, maps, tiles, indicators and
sample data all read the same declaration, so a new layer is one declaration and nothing else.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["text", "int", "float", "bool", "year_be", "date", "url", "phone", "enum"]
Role = Literal["tour", "locator"]
"""Pages a layer takes part in beyond the layer maps: ``tour`` is the layer the GIS tour shows
(one), ``locator`` the layers the staff locator offers."""


def header_key(text: str) -> str:
    """Compares column headers loosely: case, spaces, dots, brackets and underscores don't count."""
    return re.sub(r"[\s._\-()\[\]/:]+", "", str(text)).lower()


@dataclass(frozen=True)
class Choice:
    """One allowed value, with the other spellings an import accepts for it."""

    value: str
    label_th: str
    label_en: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    label_th: str
    label_en: str
    required: bool = False
    personal: bool = False
    """Personal data under the PDPA: stored apart, never in public pages or the public API."""
    choices: tuple[Choice, ...] = ()
    headers: tuple[str, ...] = ()
    """Other column headers (Thai or English) an import accepts for this field."""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 1000
    filter: Literal["range", "choice", "year", None] = None
    pattern: str | None = None
    """A text field's whole value must match this regular expression (case ignored): a small
    controlled text such as a LINE ID or opening days."""
    pattern_hint: str = ""
    """What such a value looks like, Thai / English (the reason a value is refused)."""

    def accepted_headers(self) -> set[str]:
        return {header_key(h) for h in (self.name, self.label_th, self.label_en, *self.headers)}

    def choice(self, raw: str) -> Choice | None:
        key = header_key(raw)
        for c in self.choices:
            if key in {header_key(v) for v in (c.value, c.label_th, c.label_en, *c.aliases)}:
                return c
        return None


SampleRecipe = Callable[["Layer", Mapping[str, Sequence[Any]], random.Random], list[list[object]]]


@dataclass(frozen=True)
class SampleSpec:
    """How ``cddgis sample`` makes the layer's sample (``layers/sample.py``)."""

    count: int | None = None
    """Rows to make; default: the published count, else a few hundred."""
    jitter_m: float = 100
    """How far from the real village point a sample point may fall."""
    recipe: SampleRecipe | None = None
    """A layer-specific generator; default: every field filled from its type and range."""


@dataclass(frozen=True)
class Layer:
    id: str
    title_th: str
    title_en: str
    description_th: str
    key_field: str
    """The natural key: rows upsert on it."""
    name_field: str
    """What a point is called (duplicates by name nearby, popups, search)."""
    fields: tuple[Field, ...]
    popup_fields: tuple[str, ...]
    color: str
    icon: str
    namesake_radius_m: float = 30
    """Two rows with the same name closer than this are flagged as possible duplicates."""
    published_count: int | None = None
    published_note: str = ""
    roles: frozenset[Role] = frozenset()
    search_fields: tuple[str, ...] = ()
    """Fields besides ``name_field`` that name search (``q=``) also looks in."""
    describe_fields: tuple[str, ...] = ()
    """Public fields that say what a feature offers (products, highlights; an enum by its
    labels): the tour search finds "โฮมสเตย์", "กาแฟ" or "homestay" in them."""
    sample: SampleSpec = SampleSpec()
    temporal: str | None = None
    """The public ``date`` field that dates a feature, if any: OGC API - Features' ``datetime``
    selects by it and the collection's ``extent.temporal`` spans it."""
    extra: dict[str, object] = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.id} has no field {name!r}")

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.personal)

    @property
    def personal_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.personal)

    @property
    def filter_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.filter and not f.personal)
