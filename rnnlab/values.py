"""Numbers read from JSON, URLs and files: what counts as one, and its float value or a default."""

from __future__ import annotations

import math
from typing import Any, TypeVar

Default = TypeVar("Default")


def is_number(value: Any) -> bool:
    """An int or a float, but not a bool (JSON's true is not 1 here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_or(value: Any, default: Default) -> float | Default:
    """`value` as a finite float, else `default` (for bools, strings, NaN, infinities, huge ints)."""
    if not is_number(value):
        return default
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return default
    return number if math.isfinite(number) else default
