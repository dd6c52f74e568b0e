"""Figures of a sweep: trials across the axes (parallel coordinates), the best over time, the top curves."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from rnnlab.plots.style import empty_note, style
from rnnlab.sweep import SweepSpec

COLOURS = plotly.colors.qualitative.Plotly
WAITING = "waits for the first trial to finish an epoch"


def parallel_coordinates(table: pd.DataFrame, spec: SweepSpec) -> go.Figure:
    """One line per scored trial through its value on each axis to its score, coloured by the score.

    Listed values sit at evenly spaced ticks named by the value; a log range is drawn on a log scale.
    """
    scored = table.dropna(subset=["score"])
    fig = go.Figure()
    if scored.empty:
        empty_note(fig, f"The chart {WAITING}.")
        return style(fig, "Trials across the settings", "", "", height=380)
    dimensions = [_dimension(scored[axis.field], axis.field, axis) for axis in spec.axes]
    # Named ticks: an axis without them also prints its range at both ends, a second "1" on top.
    percents = np.linspace(0, 1, 6)
    dimensions.append(
        {
            "label": "test accuracy",
            "values": scored["score"].to_numpy(float),
            "range": [0, 1],
            "tickvals": percents,
            "ticktext": [f"{p:.0%}" for p in percents],
        }
    )
    fig.add_trace(
        go.Parcoords(
            line={
                "color": scored["score"].to_numpy(float),
                "colorscale": "Viridis",
                "cmin": 0,
                "cmax": 1,
                "showscale": True,
                "colorbar": {"title": {"text": "accuracy"}, "tickformat": ".0%"},
            },
            dimensions=dimensions,
        )
    )
    style(fig, "Trials across the settings", "", "", height=380)
    return fig.update_layout(margin={"l": 70, "r": 30, "t": 100, "b": 30})  # room for the axes' ticks


def _dimension(column: pd.Series, label: str, axis: object) -> dict[str, object]:
    if getattr(axis, "is_range", False):
        values = column.to_numpy(float)
        if axis.scale == "log":
            low, high = math.log10(axis.low), math.log10(axis.high)
            ticks = np.arange(math.floor(low), math.ceil(high) + 1)
            return {
                "label": f"{label} (log)",
                "values": np.log10(values),
                "range": [low, high],
                "tickvals": ticks,
                "ticktext": [f"{10.0**t:g}" for t in ticks],
            }
        return {"label": label, "values": values, "range": [axis.low, axis.high]}
    order = list(axis.values)
    codes = [order.index(v) if v in order else -1 for v in column]
    return {
        "label": label,
        "values": codes,
        "tickvals": list(range(len(order))),
        "ticktext": [str(v) for v in order],
        "range": [-0.2, len(order) - 0.8],
    }


def best_over_time(frame: pd.DataFrame) -> go.Figure:
    """The best test accuracy found so far, a step line against minutes since the first epoch ended."""
    fig = go.Figure()
    if frame.empty:
        empty_note(fig, f"The chart {WAITING}.")
    else:
        fig.add_trace(
            go.Scatter(x=frame["seconds"] / 60, y=frame["best"], mode="lines+markers", line_shape="hv")
        )
    return style(fig, "Best score found", "minutes", "test accuracy", height=300, yaxis_tickformat=".0%")


def top_curves(curves: pd.DataFrame, table: pd.DataFrame) -> go.Figure:
    """Quick test accuracy of the best trials over epochs; one stopped early ends in a cross at that epoch."""
    fig = go.Figure()
    if curves.empty:
        empty_note(fig, f"The chart {WAITING}.")
        return style(fig, "Top trials", "epoch", "quick test accuracy", height=300)
    stopped = table.set_index("trial")["stopped at epoch"]
    for i, (trial, points) in enumerate(curves.groupby("trial", sort=False)):
        colour = COLOURS[i % len(COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=points["epoch"],
                y=points["accuracy"],
                mode="lines",
                name=f"trial {trial}",
                line={"color": colour},
            )
        )
        at = stopped.get(trial, math.nan)
        if isinstance(at, float) and math.isfinite(at):
            last = points[points["epoch"] <= at + 1e-9].tail(1)
            fig.add_trace(
                go.Scatter(
                    x=last["epoch"],
                    y=last["accuracy"],
                    mode="markers+text",
                    marker={"symbol": "x", "size": 11, "color": colour},
                    text=[f"stopped at epoch {round(at, 2):g}"],
                    textposition="top center",
                    cliponaxis=False,  # a label near the chart's edge stays whole
                    showlegend=False,
                    name=f"trial {trial} stopped",
                )
            )
    return style(fig, "Top trials", "epoch", "quick test accuracy", height=300, yaxis_tickformat=".0%")


def what_mattered(frame: pd.DataFrame, measure: str = "test accuracy") -> go.Figure:
    """Mean score per value of each axis, one group of bars per axis, the axis that mattered most first."""
    fig = go.Figure()
    if frame.empty:
        empty_note(fig, f"The chart {WAITING}.")
    else:
        labels = [f"{row.axis}={row.value}" for row in frame.itertuples()]
        fig.add_trace(go.Bar(x=labels, y=frame["mean score"], text=frame["trials"], name="mean score"))
        fig.update_traces(texttemplate="%{text} trials", textposition="outside")
    return style(fig, "Which settings mattered", "", f"mean {measure}", height=320, yaxis_tickformat=".0%")
