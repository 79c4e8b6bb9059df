"""Reading settings from the environment: the one parser for whole-number settings and the one
for seconds, for the app's settings (``gis.settings``) and the importer's limits
(``core.readers``)."""

from __future__ import annotations

from collections.abc import Mapping


def int_from_env(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """An integer from the environment, refused with its name when it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def seconds_from_env(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds (decimals allowed), refused with the setting's name."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be more than 0 seconds, got {raw!r}")
    return value
