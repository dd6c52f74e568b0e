"""Small text formatters shared by pages: states, durations, numbers a person reads at a glance."""

from __future__ import annotations

import math
import re

# Material icons come with Streamlit's own font, so they render where no emoji font is installed
# (emoji there are empty boxes). (icon, colour) per state. Table cells and select boxes show no
# icons at all: they get the plain state word.
STATE_ICONS = {
    "queued": ("hourglass_top", "gray"),
    "running": ("play_circle", "blue"),
    "paused": ("pause_circle", "orange"),
    "finished": ("check_circle", "green"),
    "stopped": ("stop_circle", "gray"),
    "diverged": ("error", "red"),
    "failed": ("cancel", "red"),
    "interrupted": ("warning", "orange"),
    "broken": ("block", "red"),
}


def state_badge(state: str) -> str:
    """The state with its icon, in colour, for markdown, progress texts and page-link labels."""
    if state not in STATE_ICONS:
        return state
    icon, colour = STATE_ICONS[state]
    return f":{colour}[:material/{icon}: {state}]"


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min; '–' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.1%}"


def shown_id(text: str) -> str:
    """A run id from a URL, safe inside a code span: printable, no backticks, bounded."""
    return "".join(ch if ch.isprintable() and ch != "`" else "?" for ch in text)[:80]


def plain(text: str) -> str:
    """Text from a URL or a run name, shown literally: no links, emphasis or icons made of it."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)
