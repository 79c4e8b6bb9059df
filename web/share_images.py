"""Share images (the 1200×630 PNG that LINE and Facebook show beside a shared link): Thai and
English drawn with the vendored Sarabun by Pillow. Used by the area dashboards
(``web/dashboard.py``) and the tour's village pages (``web/tour.py``)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

FONTS = Path(__file__).parent / "static" / "vendor" / "sarabun-5.3.0"
OG_SIZE = (1200, 630)
_THAI = re.compile(r"([\u0E00-\u0E7F]+)")


@cache
def _font(script: str, weight: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / f"sarabun-{script}-{weight}-normal.woff2"), size)


def text_runs(value: str) -> list[tuple[str, str]]:
    """Splits text into Thai and Latin runs: the vendored Sarabun comes as two subsets, and
    Pillow draws a run with one font (its shaping keeps Thai marks in place within a run)."""
    runs = []
    for i, part in enumerate(_THAI.split(value)):
        if part:
            runs.append(("thai" if i % 2 else "latin", part))
    return runs


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], value: str, size: int,
              weight: int = 400, fill: str = "#111827") -> int:
    """Draws mixed Thai/English text from ``xy`` (top-left); returns the x where it ends."""
    x, y = xy
    for script, part in text_runs(value):
        font = _font(script, weight, size)
        draw.text((x, y), part, font=font, fill=fill)
        x += int(draw.textlength(part, font=font))
    return x
