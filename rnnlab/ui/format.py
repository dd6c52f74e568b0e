"""Small text formatters shared by pages: states, durations, numbers a person reads at a glance."""

from __future__ import annotations

import math

STATE_ICONS = {
    "queued": "⏳ queued",
    "running": "▶️ running",
    "paused": "⏸️ paused",
    "finished": "✅ finished",
    "stopped": "⏹️ stopped",
    "diverged": "💥 diverged",
    "failed": "❌ failed",
    "interrupted": "⚠️ interrupted",
    "broken": "🚫 broken",
}


def state_badge(state: str) -> str:
    return STATE_ICONS.get(state, state)


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
