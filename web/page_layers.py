"""What the map pages know of the declared layers: which layers play a page's role (``tour``,
``locator``), and the part of a layer's declaration a page script may see (public fields only)."""

from __future__ import annotations

from core.schema import Layer
from layers.definitions import layers_with


def layers_with_role(role: str) -> list[Layer]:
    """The declared layers that play ``role``, in declaration order."""
    found = layers_with(role)
    if not found:
        raise LookupError(f"no layer in layers/definitions.py has the role {role!r}")
    return found


def script_config(layer: Layer) -> dict[str, object]:
    """What a page script may know of a layer: its id, titles and public fields (never the
    personal ones)."""
    return {"id": layer.id, "title_th": layer.title_th, "title_en": layer.title_en,
            "color": layer.color, "name_field": layer.name_field,
            "fields": {f.name: {"label_th": f.label_th, "label_en": f.label_en, "type": f.type,
                                "filter": f.filter}
                       for f in layer.public_fields}}
