"""The status record: what status.json may hold, each value typed and bounded before anyone uses it.

status.json comes from a training process, another process sharing the runs folder, or an imported
zip. Pages turn its numbers into durations, percentages and dates, so a value like
`"elapsed_s": 1e300` (a duration no clock holds) or a megabyte-long message must never get past
the reader: known keys keep only values of their type inside their range, unknown keys (fields a
newer rnnlab writes) keep only bounded scalars or one level of them, and anything else is dropped.
"""

from __future__ import annotations

from typing import Any

from rnnlab.values import finite_or

MAX_TEXT = 2000  # a message, a reason: a paragraph at most
MAX_SHORT_TEXT = 64  # a date, a device, a word
MAX_KEYS = 64
MAX_GROUP_KEYS = 16
MAX_COUNT = 10**12  # steps, epochs: far beyond any run (1000 epochs of 10 million images)
MAX_SECONDS = 10**9  # 31 years of training time
MAX_EXTRA_NUMBER = 1e15
MAX_NAME_LENGTH = 80

_COUNTS = ("epoch", "epochs", "step", "total_steps")
_SHORT_TEXTS = ("state", "created_at", "updated_at", "device")


def clean_status(raw: Any) -> dict[str, Any]:
    """A status record with only typed, bounded values; `raw` may be anything JSON can hold."""
    if not isinstance(raw, dict):
        return {}
    record: dict[str, Any] = {}
    for key, value in list(raw.items())[:MAX_KEYS]:
        if not isinstance(key, str) or len(key) > MAX_SHORT_TEXT:
            continue
        kept = _clean_value(key, value)
        if kept is not None:
            record[key] = kept
    if "best_test_acc" in raw and raw["best_test_acc"] is None:
        record["best_test_acc"] = None  # "no accuracy yet" is a value, not a missing key
    return record


def clean_name(name: Any) -> str:
    """A display name safe to show and store: printable, single line, bounded length."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(name)[: MAX_NAME_LENGTH * 4])
    return " ".join(text.split())[:MAX_NAME_LENGTH]


def _clean_value(key: str, value: Any) -> Any:
    if key == "name":
        return clean_name(value) if isinstance(value, str) else None
    if key == "message":
        return _text(value, MAX_TEXT)
    if key in _SHORT_TEXTS:
        return _text(value, MAX_SHORT_TEXT)
    if key in _COUNTS:
        return _bounded_int(value, 0, MAX_COUNT)
    if key == "pid":
        return _bounded_int(value, 1, 2**31 - 1)
    if key == "elapsed_s":
        return _bounded_float(value, 0.0, MAX_SECONDS)
    if key == "best_test_acc":
        return _bounded_float(value, 0.0, 1.0)
    if key == "lr":
        return _bounded_float(value, 0.0, 1e3)
    if isinstance(value, dict):  # a small group of readings (the worker's start-up times): one level
        group = {
            k: v
            for k, item in list(value.items())[:MAX_GROUP_KEYS]
            if isinstance(k, str) and len(k) <= MAX_SHORT_TEXT and not isinstance(item, (dict, list))
            if (v := _clean_value("", item)) is not None
        }
        return group or None
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, MAX_TEXT)
    if isinstance(value, int):
        return _bounded_int(value, -int(MAX_EXTRA_NUMBER), int(MAX_EXTRA_NUMBER))
    return _bounded_float(value, -MAX_EXTRA_NUMBER, MAX_EXTRA_NUMBER)


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in value[:limit])


def _bounded_float(value: Any, low: float, high: float) -> float | None:
    number = finite_or(value, None)
    if number is None or not low <= number <= high:
        return None
    return number


def _bounded_int(value: Any, low: int, high: int) -> int | None:
    number = _bounded_float(value, low, high)
    return None if number is None else int(number)
