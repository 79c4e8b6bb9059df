"""Text encodings of Thai files: UTF-8 or Thai Windows (cp874/TIS-620), decided from the bytes.

Shapefiles from Thai agencies rarely declare their encoding (GDAL would read Latin-1 and turn Thai
into mojibake), and CDD's CSV exports come in either; what decodes to Thai wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads only for the frames that need it (the app starts sooner)
    import pandas as pd


class EncodingProblem(ValueError):
    """The text is neither UTF-8 nor Thai Windows."""


def _thai_share(text: str) -> float:
    wide = [c for c in text if ord(c) > 127]
    if not wide:
        return 1.0
    return sum(0x0E00 <= ord(c) <= 0x0E7F for c in wide) / len(wide)


def detect_encoding(raw: list[bytes]) -> str:
    """Picks UTF-8 or TIS-620/cp874 by what decodes to Thai, whatever the file declares."""
    sample = b"\n".join(raw)
    if not any(b > 127 for b in sample):
        return "ascii"
    scores: dict[str, float] = {}
    for encoding in ("utf-8", "cp874"):
        try:
            scores[encoding] = _thai_share(sample.decode(encoding))
        except UnicodeDecodeError:
            continue
    if not scores:
        raise EncodingProblem("text is neither UTF-8 nor Thai Windows (cp874/TIS-620)")
    return max(scores, key=lambda e: (scores[e], e == "utf-8"))


def decode_text_columns(frame: pd.DataFrame, describe: str) -> str:
    """The frame was read as ISO-8859-1 (byte for byte); decode its text with the real encoding."""
    import pandas as pd

    text_columns = [c for c in frame.columns if c != "geometry"
                    and (pd.api.types.is_string_dtype(frame[c]) or frame[c].dtype == object)]
    raw = [v.encode("latin-1") for c in text_columns for v in frame[c] if isinstance(v, str)]
    try:
        encoding = detect_encoding(raw)
    except EncodingProblem as exc:
        raise EncodingProblem(f"{describe}: {exc}") from exc
    if encoding != "ascii":
        for c in text_columns:
            frame[c] = frame[c].map(
                lambda v: v.encode("latin-1").decode(encoding) if isinstance(v, str) else v)
    return encoding
