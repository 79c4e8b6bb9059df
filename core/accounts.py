"""Who may do what in the staff workspace: roles scoped to provinces and layers (no database).

An ``admin`` may do everything. An ``editor`` edits the layers and provinces given to them
(``None`` = all), may approve others' changes where ``can_approve``, and may see personal fields
(PDPA) where ``can_personal``. The same rules serve the browser and the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROLES = ("admin", "editor")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def normalise_name(name: str) -> str:
    """Account names are case-insensitive; stored and compared in lower case."""
    return name.strip().lower()


def check_name(name: str) -> str:
    """The normalised name, or ValueError with what a name may contain (Thai and English)."""
    normalised = normalise_name(name)
    if not NAME_PATTERN.match(normalised):
        raise ValueError(
            "ชื่อบัญชีใช้ได้เฉพาะ a-z 0-9 . _ - ยาว 2–64 ตัว / an account name is 2–64 characters "
            f"of a-z, 0-9, '.', '_' or '-'; got {name!r}")
    return normalised


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    provinces: frozenset[str] | None = None
    """Province codes this account edits; None = every province."""
    layers: frozenset[str] | None = None
    """Layer ids this account edits; None = every layer."""
    can_approve: bool = False
    can_personal: bool = False
    can_indicators: bool = False
    """May upload and delete indicator tables (issue 23); administrators may anyway."""
    display_name: str | None = None
    disabled: bool = False
    session_epoch: int = 0
    """Bumped when the password changes or the account is disabled: older sessions end."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def covers_layer(self, layer: str) -> bool:
        return self.is_admin or self.layers is None or layer in self.layers

    def covers_province(self, province_code: str | None) -> bool:
        if self.is_admin or self.provinces is None:
            return True
        return province_code is not None and province_code in self.provinces

    def may_edit(self, layer: str, province_code: str | None) -> bool:
        """May change features of ``layer`` lying in ``province_code``."""
        return not self.disabled and self.covers_layer(layer) and self.covers_province(
            province_code)

    def may_approve(self, layer: str, province_code: str | None) -> bool:
        return self.may_edit(layer, province_code) and (self.is_admin or self.can_approve)

    def may_see_personal(self, layer: str) -> bool:
        return not self.disabled and self.covers_layer(layer) and (
            self.is_admin or self.can_personal)

    @property
    def may_manage_indicators(self) -> bool:
        return not self.disabled and (self.is_admin or self.can_indicators)

    def scope_label(self) -> str:
        """A short Thai/English description of the scope, for pages and `users list`."""
        provinces = "ทุกจังหวัด / all provinces" if self.provinces is None else ", ".join(
            sorted(self.provinces))
        layers = "ทุกชั้นข้อมูล / all layers" if self.layers is None else ", ".join(
            sorted(self.layers))
        rights = [r for r, on in (("approve", self.can_approve),
                                  ("personal-data", self.can_personal),
                                  ("indicators", self.can_indicators)) if on]
        return f"{self.role}: {provinces}; {layers}" + (f"; {' '.join(rights)}" if rights else "")
