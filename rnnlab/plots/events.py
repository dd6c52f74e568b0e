"""Event markers on training charts: a learning rate set by hand, a pause, a continue, a divergence."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from rnnlab.run_events import Event

# kind -> (marker symbol, colour); the learning rate's colour matches the learning-rate chart.
EVENT_STYLE: dict[str, tuple[str, str]] = {
    "lr": ("triangle-down", "#7a4fc9"),
    "paused": ("line-ns-open", "#6b7280"),
    "resumed": ("line-ns-open", "#6b7280"),
    "continued": ("triangle-right", "#2a9d8f"),
    "stopped": ("square", "#6b7280"),
    "diverged": ("x", "#d62828"),
}
QUIET = ("paused", "resumed")  # frequent and self-explaining: a line and a hover text, no label
X_FIELDS = {"step": "step", "epoch": "epoch", "time": "time"}
EVENTS_AXIS = "y9"  # an invisible 0..1 axis in a strip above the plot: markers never cover the data
STRIP = 0.12  # the strip's share of the plot's height


def add_events(fig: go.Figure, events: Sequence[Event], x: str = "step", labels: bool = True) -> go.Figure:
    """A dotted line at each event and a marker in a strip above the plot; hover names each.

    Events at the same x share one marker. `x` is the figure's x axis: "step", "epoch" or "time".
    `labels` writes a few words beside each marker (wide charts; on narrow ones they would collide).
    """
    field = X_FIELDS[x]
    groups: dict[float, list[Event]] = {}
    for event in events:
        position = float(getattr(event, field))
        if math.isfinite(position):
            groups.setdefault(position, []).append(event)
    if not groups:
        return fig
    xs = sorted(groups)
    rank = list(EVENT_STYLE)  # later kinds matter more: a group is drawn as its weightiest event
    main = [max(groups[p], key=lambda e: rank.index(e.kind)) for p in xs]
    fig.update_layout(
        shapes=[
            *fig.layout.shapes,
            *(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": p,
                    "x1": p,
                    "y0": 0,
                    "y1": 1,
                    "layer": "below",
                    "line": {"color": EVENT_STYLE[e.kind][1], "width": 1, "dash": "dot"},
                }
                for p, e in zip(xs, main, strict=True)
            ),
        ],
        yaxis={"domain": [0, 1 - STRIP]},
        yaxis9={
            "domain": [1 - STRIP + 0.02, 1],
            "anchor": "x",
            "range": [0, 1],
            "visible": False,
            "fixedrange": True,
        },
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[0.5] * len(xs),
            yaxis=EVENTS_AXIS,
            mode="markers+text" if labels else "markers",
            name="events",
            marker={
                "symbol": [EVENT_STYLE[e.kind][0] for e in main],
                "color": [EVENT_STYLE[e.kind][1] for e in main],
                "size": 10,
                "line": {"width": 2, "color": [EVENT_STYLE[e.kind][1] for e in main]},
            },
            text=[" · ".join(e.text for e in groups[p] if e.kind not in QUIET) for p in xs]
            if labels
            else None,
            textposition="middle right",
            textfont={"size": 11, "color": "#374151"},
            hovertext=[_hover(groups[p]) for p in xs],
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )
    return fig


def _hover(events: Sequence[Event]) -> str:
    first = events[0]
    where = f"step {first.step:,}"
    if math.isfinite(first.epoch):
        where += f" · epoch {first.epoch:.2f}"
    return where + "<br>" + "<br>".join(e.text for e in events)
