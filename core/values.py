"""Turning spreadsheet cells into typed values, with a reason when a cell is wrong."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from core.schema import Field

BE_OFFSET = 543
TRUE_WORDS = {"1", "true", "yes", "y", "ใช่", "พร้อม", "มี", "t", "x", "✓"}
FALSE_WORDS = {"0", "false", "no", "n", "ไม่ใช่", "ไม่พร้อม", "ไม่มี", "f", "-"}
THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


class BadValue(ValueError):
    """A cell that cannot be used; the message is for the person who filled it in."""


class Converted(Exception):
    """Not an error: the value was understood after a change the user should know about."""

    def __init__(self, value: object, note: str):
        super().__init__(note)
        self.value = value
        self.note = note


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_PLAIN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def read_number(raw: object) -> tuple[float, str | None]:
    """A number and, when a decimal comma was read, a note saying so.

    A comma is a thousands separator only between groups of exactly three digits (``1,234``,
    ``12,345.6``); one comma between digits otherwise is a decimal comma (``2,5`` is 2.5, as
    semicolon-separated exports write it); anything else with a comma (``1,2,3``, ``1.234,5``)
    is refused rather than guessed: removing every comma turned 2,5 rai into 25.
    """
    if isinstance(raw, bool):
        raise BadValue(f"{raw!r} ไม่ใช่ตัวเลข / is not a number")
    if isinstance(raw, int | float):
        # JSON bodies: NaN, Infinity, 1e400 (read as inf) and integers of hundreds of digits
        # (float() overflows) are not numbers anyone means.
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            shown = (str(raw) if isinstance(raw, float)
                     else f"a whole number of about {int(raw.bit_length() * 0.30103) + 1} digits")
            raise BadValue(f"{shown} is not a finite number / ไม่ใช่ตัวเลขที่ใช้ได้")
        return value, None
    text = str(raw).strip().translate(THAI_DIGITS).replace(" ", "").replace("\u00a0", "")
    note = None
    if "," in text:
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        elif _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
            note = (f"{str(raw).strip()!r} read as {float(text):g} (decimal comma) / "
                    f"อ่านเป็น {float(text):g} (จุลภาคเป็นจุดทศนิยม)")
        else:
            raise BadValue(f"{str(raw)!r} is not a number (commas only between groups of three "
                           "digits, e.g. 1,234.5) / ไม่ใช่ตัวเลข")
    if not _PLAIN.fullmatch(text):
        raise BadValue(f"{str(raw)!r} is not a number / ไม่ใช่ตัวเลข")
    value = float(text)
    if not math.isfinite(value):
        raise BadValue(f"{str(raw)!r} is not a finite number / ไม่ใช่ตัวเลขที่ใช้ได้")
    return value, note


def _range(f: Field, value: float) -> None:
    if f.minimum is not None and value < f.minimum:
        raise BadValue(f"{value:g} น้อยกว่าค่าต่ำสุดที่รับได้ ({f.minimum:g}) / {value:g} is below "
                       f"the smallest allowed ({f.minimum:g})")
    if f.maximum is not None and value > f.maximum:
        raise BadValue(f"{value:g} มากกว่าค่าสูงสุดที่รับได้ ({f.maximum:g}) / {value:g} is above "
                       f"the largest allowed ({f.maximum:g})")


def _year_be(raw: object) -> tuple[int, str | None]:
    value, _ = read_number(raw)
    if value != int(value):
        raise BadValue(f"{str(raw)[:40]!r} ไม่ใช่ปี / is not a year")
    year = int(value)
    if 2400 <= year <= 2700:
        return year, None
    if 1900 <= year <= 2157:
        return year + BE_OFFSET, (f"อ่าน {year} เป็น ค.ศ. บันทึกเป็น พ.ศ. {year + BE_OFFSET} / {year} "
                                  f"read as C.E.; stored as B.E. {year + BE_OFFSET}")
    raise BadValue(f"{year} ไม่ใช่ปี พ.ศ. (เช่น 2564) / is not a Buddhist-Era year (e.g. 2564)")


def _date(raw: object) -> tuple[date, str | None]:
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        if raw.year > 2400:  # Thai spreadsheets hold B.E. dates: expected, stored as C.E.
            return raw.replace(year=raw.year - BE_OFFSET), None
        return raw, None
    text = str(raw).strip().translate(THAI_DIGITS)
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
        if not m:
            raise BadValue(f"{str(raw)[:40]!r} ไม่ใช่วันที่ (ใช้ 2564-03-15 หรือ 15/03/2564) / is not "
                           "a date (use 2564-03-15 or 15/03/2564)")
        d, mo, y = (int(g) for g in m.groups())
    if y > 2400:  # B.E., as Thai users write dates: stored as C.E.
        y -= BE_OFFSET
    try:
        return date(y, mo, d), None
    except ValueError as exc:
        if 1 <= d <= 12 < mo <= 31:  # 03/15/2564: month first, as US software writes it
            raise BadValue(f"{str(raw)[:40]!r}: เดือนที่ {mo} ไม่มีจริง วันที่ต้องเขียนวันก่อนเดือน "
                           f"(เช่น {mo:02d}/{d:02d}/…) / there is no month {mo}: dates are read "
                           f"day first, then month (e.g. {mo:02d}/{d:02d}/…), not month first"
                           ) from exc
        raise BadValue(f"{str(raw)[:40]!r} ไม่มีวันนี้ในปฏิทิน / is not a real date") from exc


# Control characters other than tab and line breaks: PostgreSQL cannot store NUL in text at
# all, and the others are copy-and-paste debris no one can see or type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A lone UTF-16 surrogate (``"\ud800"`` in JSON) is half a character: UTF-8 cannot hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse(f: Field, raw: object) -> object:
    """The typed value of a non-blank cell. Raises BadValue, or Converted with a note."""
    if isinstance(raw, str) and (surrogate := _SURROGATE.search(raw)):
        raise BadValue(f"มีอักขระที่ไม่สมบูรณ์ (U+{ord(surrogate.group()):04X}) ที่ตำแหน่ง "
                       f"{surrogate.start() + 1} ซึ่งบันทึกไม่ได้ / contains half of a character "
                       f"(the lone surrogate U+{ord(surrogate.group()):04X}) at position "
                       f"{surrogate.start() + 1}, which cannot be stored: type it again")
    if isinstance(raw, str) and (control := _CONTROL.search(raw)):
        code = f"U+{ord(control.group()):04X}"
        raise BadValue(f"มีอักขระควบคุม {code} ที่ตำแหน่ง {control.start() + 1} ซึ่งบันทึกไม่ได้ "
                       f"ลบออกแล้วลองใหม่ / contains the control character {code} at position "
                       f"{control.start() + 1}, which cannot be stored: remove it")
    if f.type == "text":
        text = str(raw).strip()
        if len(text) > f.max_length:
            raise BadValue(f"ยาว {len(text):,} ตัวอักษร เกิน {f.max_length:,} / is {len(text):,} "
                           f"characters long; at most {f.max_length:,} allowed")
        if f.pattern and not re.fullmatch(f.pattern, text, re.IGNORECASE):
            raise BadValue(f"{text[:60]!r} ไม่อยู่ในรูปแบบที่รับได้ / is not in the accepted form: "
                           f"{f.pattern_hint}")
        return text
    if f.type in ("int", "float"):
        value, number_note = read_number(raw)
        if f.type == "int":
            if value != int(value):
                raise BadValue(f"{str(raw)!r} ไม่ใช่จำนวนเต็ม / is not a whole number")
            value = int(value)
        _range(f, value)
        if number_note:
            raise Converted(value, number_note)
        return value
    if f.type == "year_be":
        year, note = _year_be(raw)
        if note:
            raise Converted(year, note)
        return year
    if f.type == "date":
        day, note = _date(raw)
        if note:
            raise Converted(day.isoformat(), note)
        return day.isoformat()
    if f.type == "bool":
        key = str(raw).strip().lower()
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
        raise BadValue(f"{str(raw)!r} ไม่ใช่ ใช่/ไม่ใช่ / is not yes/no "
                   "(ใช่/ไม่ใช่, พร้อม/ไม่พร้อม, 1/0)")
    if f.type == "enum":
        choice = f.choice(str(raw))
        if choice is None:
            allowed = ", ".join(c.label_th if c.value in c.label_th else
                                f"{c.label_th} ({c.value})" for c in f.choices)
            raise BadValue(f"{str(raw)!r} ไม่ใช่ค่าที่รับได้ / is not one of the allowed values: "
                           f"{allowed}")
        return choice.value
    if f.type == "url":
        text = str(raw).strip()
        if not re.match(r"https?://[^\s/]+\.[^\s]+$", text):
            raise BadValue(f"{text!r} ไม่ใช่ลิงก์เว็บ / is not a web link (http:// or https://)")
        if len(text) > 2000:
            raise BadValue("ลิงก์ยาวเกิน 2,000 ตัวอักษร / link is longer than 2,000 characters")
        return text
    if f.type == "phone":
        text = str(raw).strip().translate(THAI_DIGITS)
        if isinstance(raw, float) and not math.isfinite(raw):
            raise BadValue(f"{raw!r} ไม่ใช่หมายเลขโทรศัพท์ / is not a phone number")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            text = "0" + str(int(raw))  # Excel drops the leading zero of Thai numbers
        digits = re.sub(r"[\s\-().]", "", text)
        if not re.fullmatch(r"\+?\d{9,12}(,\+?\d{9,12})*", digits.replace("/", ",")):
            raise BadValue(f"{text!r} ไม่ใช่หมายเลขโทรศัพท์ / is not a phone number")
        return text
    raise AssertionError(f"unknown field type {f.type}")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell for a CSV that Excel will open: text that would run as a formula gets a leading
    apostrophe (OWASP "CSV injection"); numbers, and text that is just a number (-2), stay."""
    if isinstance(value, str) and value.startswith(FORMULA_START) \
            and not _PLAIN.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: list[object]) -> list[object]:
    return [spreadsheet_safe(v) for v in values]
