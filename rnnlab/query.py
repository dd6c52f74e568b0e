"""RunConfig <-> URL query parameters: short shareable links, and parsing that never raises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from rnnlab.config import CHOICES, LIMITS, RunConfig

DEFAULTS = RunConfig()
FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(RunConfig)}
CONFIG_KEYS = frozenset(FIELD_TYPES)
MAX_VALUE_LENGTH = 40  # longer than any valid value; anything longer is rejected unread
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def config_to_params(config: RunConfig) -> dict[str, str]:
    """Only the fields that differ from the defaults, so a URL names what was changed and stays short."""
    return values_to_params(config.to_dict())


def values_to_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Like config_to_params, for field values that may not (yet) form a valid config."""
    defaults = DEFAULTS.to_dict()
    return {
        name: _format(value)
        for name, value in values.items()
        if name in CONFIG_KEYS and value != defaults[name]
    }


def config_from_params(params: Mapping[str, Any]) -> tuple[RunConfig, list[str]]:
    """Read a config from query params; every value that cannot be used becomes a default and a note.

    Keys that are not config fields (such as `run`) are ignored. Values may be strings or lists
    of strings (a repeated key: the last one counts). Never raises, whatever the URL holds.
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name in FIELD_TYPES:  # dataclass order, so notes read in the order of the form
        if name not in params:
            continue
        raw = params[name]
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        value, problem = _parse(name, str(raw))
        if problem:
            notes.append(f"{name}={_shown(str(raw))} {problem}; using {_format(getattr(DEFAULTS, name))}")
        else:
            values[name] = value
    return _combine(values, notes), notes


def _combine(values: dict[str, Any], notes: list[str]) -> RunConfig:
    """Build the config; a value that clashes with the others falls back to its default, with a note.

    The field the error names yields (nonlinearity, not cell; dropout, not num_layers), which keeps
    the setting the others depend on. Defaults are valid, so the loop ends.
    """
    while True:
        try:
            return RunConfig(**values)
        except ValueError as e:
            reason = str(e)
        named = reason.split("=", 1)[0]  # RunConfig's messages start with the field they are about
        name = named if named in values else next(n for n in reversed(FIELD_TYPES) if n in values)
        values.pop(name)
        notes.append(f"{reason}; using {name}={_format(getattr(DEFAULTS, name))}")


def _parse(name: str, raw: str) -> tuple[Any, str]:
    """(value, "") when usable, else (None, what is wrong in words)."""
    text = raw.strip()
    if len(text) > MAX_VALUE_LENGTH:
        return None, "is too long"
    if not text.isascii() or not text.isprintable():
        return None, "holds characters that are not plain digits or letters"
    kind = FIELD_TYPES[name]
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE + _FALSE:
            return lowered in _TRUE, ""
        return None, "is not true or false"
    if kind == "str":
        lowered = text.lower()
        if lowered in CHOICES[name]:
            return lowered, ""
        return None, f"is not one of {', '.join(CHOICES[name])}"
    try:
        number = float(text)
    except ValueError:
        return None, "is not a number"
    if not math.isfinite(number):
        return None, "is not a finite number"
    if kind == "int":
        if number != int(number):
            return None, "is not a whole number"
        number = int(number)
    else:
        number = float(number)
    low, high = LIMITS[name]
    if not low <= number <= high:
        return None, f"is out of range ({_format(type(number)(low))} to {_format(type(number)(high))})"
    return number, ""


def _format(value: Any) -> str:
    """The shortest text that reads back as the same value (repr round-trips floats exactly)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _shown(raw: str) -> str:
    """A URL value as it may appear in a note: printable and short, whatever was sent."""
    text = "".join(ch if ch.isprintable() else "?" for ch in raw)
    return text if len(text) <= 24 else text[:24] + "…"
