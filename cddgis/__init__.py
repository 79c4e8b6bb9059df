"""cddgis's command line, the top floor: it wires every other package (``cddgis.cli``).

Nothing below imports it; the shared base is ``core/``.
"""

from core import __version__

__all__ = ["__version__"]
