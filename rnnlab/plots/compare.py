"""Figures of the Runs page: several runs' loss and accuracy curves overlaid, one colour per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from rnnlab.compare import Curve
from rnnlab.plots.style import empty_note, log_axis, style

# Distinct, colour-blind-friendly hues; past ten runs the colours repeat (the legend still names each).
PALETTE = qualitative.Safe[:10]
LOSS_TITLE = "Loss"
ACCURACY_TITLE = "Test accuracy"


def run_colours(run_ids: Sequence[str]) -> dict[str, str]:
    """One colour per run, by its place in the selection, so a run looks the same in every figure."""
    return {run_id: PALETTE[i % len(PALETTE)] for i, run_id in enumerate(run_ids)}


def loss_figure(
    curves: Sequence[Curve], colours: Mapping[str, str], x_title: str, smoothing: float
) -> go.Figure:
    """Training loss of several runs on one set of axes (log scale: losses span decades)."""
    fig = _base(LOSS_TITLE, x_title, "training loss", curves, "No loss recorded yet for these runs.")
    if smoothing > 0:
        fig.update_layout(title_subtitle_text=f"smoothed (EMA {smoothing:g})")
    for curve in curves:
        fig.add_trace(
            go.Scatter(
                x=curve.x,
                y=curve.y,
                name=curve.label,
                mode="lines",
                line={"color": colours[curve.run_id], "width": 2},
                hovertemplate="%{fullData.name}<br>%{x:.4g}: loss %{y:.4f}<extra></extra>",
            )
        )
    return log_axis(fig, [v for curve in curves for v in curve.y])


def accuracy_figure(
    test: Sequence[Curve],
    colours: Mapping[str, str],
    x_title: str,
    train: Sequence[Curve] = (),
) -> go.Figure:
    """Test accuracy per epoch of several runs; with `train`, the training accuracy dashed beside it."""
    empty = "No epoch has finished yet in these runs: accuracy is measured at each epoch's end."
    fig = _base(ACCURACY_TITLE, x_title, "accuracy", [*test, *train], empty)
    if train:
        fig.update_layout(title_subtitle_text="solid: test set · dashed: training set")
    # One legend entry per run, as in the loss figure; it shows or hides the run's test and train lines.
    for curve, dash, suffix in [*((c, "solid", "") for c in test), *((c, "dash", " (train)") for c in train)]:
        fig.add_trace(
            go.Scatter(
                x=curve.x,
                y=curve.y,
                name=curve.label + suffix,
                legendgroup=curve.run_id,
                showlegend=not suffix,
                mode="lines+markers",
                line={"color": colours[curve.run_id], "width": 2, "dash": dash},
                marker={"size": 6},
                hovertemplate="%{fullData.name}<br>%{x:.4g}: %{y:.2%}<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def _base(title: str, x_title: str, y_title: str, curves: Sequence[Curve], empty: str) -> go.Figure:
    fig = style(go.Figure(), title, x_title, y_title, height=420)
    if not any(len(curve.x) for curve in curves):
        empty_note(fig, empty)
    return fig
