"""What every part of cddgis shares, with no database and no web framework.

Layer declarations' schema, value parsing, file readers and text encodings, DOPA areas and name
keys, and the domain errors. ``boundaries/``, ``layers/`` and ``indicators/`` (source files to
rows), ``gis/`` (all SQL) and ``web/`` (HTTP) may import it; it imports none of them.
"""

__version__ = "0.1.0"  # the release, shown by /api and the OpenAPI document (pyproject.toml too)
