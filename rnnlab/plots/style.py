"""One look for the line and bar charts: title at the left, tight margins, a legend that never covers data."""

from __future__ import annotations

from typing import Literal

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
