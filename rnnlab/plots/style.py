"""One look for the line and bar charts: title at the left, tight margins, a legend that never covers data."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np
import plotly.graph_objects as go

GRID = "#e5e7eb"
NOTE_COLOUR = "#6b7280"
# "above": a short legend at the top right, beside the title (small live charts).
# "below": a long legend under the plot (several runs, several classes).
LEGENDS = {
    "above": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    "below": {"orientation": "h", "y": -0.22, "yanchor": "top", "x": 0.0, "xanchor": "left"},
}


def style(
    fig: go.Figure,
    title: str,
    x_title: str,
    y_title: str,
    *,
    height: int,
    legend: Literal["above", "below"] = "below",
    uirevision: str | None = None,
    **layout: object,
) -> go.Figure:
    """Apply the shared layout in one update (cheaper than several, and live charts redraw often).

    `uirevision` keeps a person's zoom and hidden traces across redraws of the same chart; `layout`
    adds chart-specific settings in plotly's underscore form (e.g. `xaxis_rangemode="tozero"`).
    """
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 72, "b": 10},  # room for a subtitle under the title
        legend=LEGENDS[legend],
        hovermode="closest",
        template="plotly_white",
        uirevision=uirevision or title,
        xaxis={"title": {"text": x_title, "standoff": 4}, "gridcolor": GRID},
        yaxis={"title": {"text": y_title, "standoff": 4}, "gridcolor": GRID},
        **layout,
    )
    return fig


def empty_note(fig: go.Figure, text: str) -> None:
    """An empty chart says what it waits for, without axes that would show made-up ranges."""
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"color": NOTE_COLOUR}
    )


# Tick mantissas from finest to coarsest: the finest set that gives no more than MAX_LOG_TICKS ticks
# within the data is used, so a loss between 0.2 and 2.3 reads 0.2, 0.3, 0.5, 1, 2 on a log axis.
LOG_MANTISSAS = (
    (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 5, 6, 8),
    (1, 2, 3, 5),
    (1, 2, 5),
    (1, 3),
    (1,),
)
MAX_LOG_TICKS = 6


def log_ticks(values: Iterable[float]) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a log axis over `values`: every label is the whole number.

    Plotly's own log ticks label the steps between powers of ten with their first digit alone
    ("2, 5" for 0.2, 0.5), which reads as 2 and 5 when the axis spans less than a decade or two.
    """
    data = np.asarray([v for v in values if v is not None], dtype=np.float64)
    data = data[np.isfinite(data) & (data > 0)]
    if data.size == 0:
        return [], []
    low, high = float(data.min()), float(data.max())
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks: list[float] = []
    for mantissas in LOG_MANTISSAS:
        candidates = [float(f"{m * 10.0**k:.12g}") for k in range(first, last + 1) for m in mantissas]
        ticks = [t for t in candidates if low * 0.999 <= t <= high * 1.001]
        if len(ticks) <= MAX_LOG_TICKS:
            break
    if len(ticks) > MAX_LOG_TICKS:  # many decades: every n-th power of ten
        ticks = ticks[:: math.ceil(len(ticks) / MAX_LOG_TICKS)]
    if len(ticks) < 2:  # a narrow range (2.21 to 2.31): evenly spaced round numbers inside it
        ticks = _even_ticks(low, high)
    return ticks, [tick_label(t) for t in ticks]


def _even_ticks(low: float, high: float) -> list[float]:
    """Three to six round numbers between low and high (one when they are equal)."""
    if math.isclose(low, high):
        return [low]
    span = high - low
    for step in (m * 10.0 ** math.floor(math.log10(span)) for m in (0.1, 0.2, 0.5, 1, 2, 5)):
        ticks = [float(f"{k * step:.12g}") for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
        if len(ticks) <= 6:
            return ticks
    return [low, high]


def tick_label(value: float) -> str:
    """0.3, 2, 1500, and 10⁻⁵-style powers (with a mantissa when needed) far from 1."""
    if 1e-4 <= value < 1e5:
        return f"{value:.4g}" if value >= 1e-3 else f"{value:.6f}".rstrip("0")
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10.0**exponent
    power = f"10<sup>{exponent}</sup>".replace("-", "−")
    return power if math.isclose(mantissa, 1) else f"{mantissa:.2g}×{power}"


def log_axis(fig: go.Figure, values: Iterable[float], **axis: object) -> go.Figure:
    """Make the y axis logarithmic with readable ticks over `values` (extra axis settings in `axis`)."""
    ticks, labels = log_ticks(values)
    fig.update_yaxes(type="log", tickvals=ticks, ticktext=labels, **axis)
    return fig
