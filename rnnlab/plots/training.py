"""Training charts (loss, accuracy, learning rate) from a run's metrics frame, bounded for display."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from rnnlab.curves import MAX_POINTS, downsample, smooth
from rnnlab.metrics import COLUMNS
from rnnlab.plots.events import add_events
from rnnlab.plots.style import empty_note, log_axis, style
from rnnlab.run_events import Event
from rnnlab.schedules import Plan

COLORS = {
    "train": "#3b6fd6",  # training data: loss per step, train accuracy (the app's primary colour)
    "test": "#e4572e",  # held-out data: test loss and accuracy
    "lr": "#7a4fc9",
}
TEXT_COLUMNS = ("kind", "event")  # every other metrics column holds numbers
LOSS_TITLE = "Training loss"  # browser tests find the chart by this title


def loss_figure(
    frame: pd.DataFrame,
    smoothing: float = 0.6,
    max_points: int = MAX_POINTS,
    uirevision: str = "",
    events: Sequence[Event] = (),
) -> go.Figure:
    """Mean loss per logging interval (faint), its smoothed line, the test loss after each epoch, and
    the run's events (a learning rate set by hand, a pause, a continue, where it diverged)."""
    frame = _complete(frame)
    steps = frame[frame["kind"] == "step"]
    steps = downsample(steps.assign(smoothed=smooth(steps["loss"].to_numpy(), smoothing)), max_points)
    epochs = frame[(frame["kind"] == "epoch") & frame["test_loss"].notna()]
    hover = "epoch %{customdata:.2f}<br>step %{x}<br>%{y:.4f}"
    fig = go.Figure(
        [
            go.Scatter(
                x=steps["step"],
                y=steps["loss"],
                customdata=steps["epoch"],
                name="train, raw",
                mode="lines",
                line={"color": COLORS["train"], "width": 1},
                opacity=0.3,
                hovertemplate=hover,
            ),
            go.Scatter(
                x=steps["step"],
                y=steps["smoothed"],
                customdata=steps["epoch"],
                name="train, smoothed",
                mode="lines",
                line={"color": COLORS["train"], "width": 2.2},
                hovertemplate=hover,
            ),
            go.Scatter(
                x=epochs["step"],
                y=epochs["test_loss"],
                customdata=epochs["epoch"],
                name="test",
                mode="lines+markers",
                line={"color": COLORS["test"], "width": 1.5, "dash": "dot"},
                marker={"size": 8},
                hovertemplate="epoch %{customdata:.0f}<br>step %{x}<br>test loss %{y:.4f}",
            ),
        ]
    )
    style(
        fig,
        LOSS_TITLE,
        "step",
        "cross-entropy",
        height=320,
        legend="above",
        uirevision=uirevision,
        xaxis_rangemode="tozero",
    )
    fig.update_yaxes(rangemode="tozero")  # a loss is never negative; one point must not suggest it
    if steps.empty:
        empty_note(fig, "Waiting for the first logged steps…")
        return fig
    return add_events(fig, events)


def accuracy_figure(
    frame: pd.DataFrame, max_points: int = MAX_POINTS, uirevision: str = "", events: Sequence[Event] = ()
) -> go.Figure:
    """Train and test accuracy after each epoch, the quick test-subset accuracy between epochs, events."""
    frame = _complete(frame)
    epochs = frame[frame["kind"] == "epoch"]
    quick = downsample(frame[frame["quick_test_acc"].notna()], max_points)
    epoch_hover = "epoch %{customdata:.0f}<br>step %{x}<br>%{y:.2%}"
    fig = go.Figure(
        [
            go.Scatter(
                x=quick["step"],
                y=quick["quick_test_acc"],
                customdata=quick["epoch"],
                name="quick test",
                mode="lines+markers",
                line={"color": COLORS["test"], "width": 1, "dash": "dot"},
                marker={"size": 4},
                opacity=0.6,
                hovertemplate="epoch %{customdata:.2f}<br>step %{x}<br>%{y:.2%}",
            ),
            go.Scatter(
                x=epochs["step"],
                y=epochs["train_acc"],
                customdata=epochs["epoch"],
                name="train",
                mode="lines+markers",
                line={"color": COLORS["train"], "width": 2},
                marker={"size": 8},
                hovertemplate=epoch_hover,
            ),
            go.Scatter(
                x=epochs["step"],
                y=epochs["test_acc"],
                customdata=epochs["epoch"],
                name="test",
                mode="lines+markers",
                line={"color": COLORS["test"], "width": 2},
                marker={"size": 8, "symbol": "diamond"},
                hovertemplate=epoch_hover,
            ),
        ]
    )
    style(
        fig,
        "Accuracy",
        "step",
        "accuracy",
        height=300,
        legend="above",
        uirevision=uirevision,
        xaxis_rangemode="tozero",
    )
    fig.update_yaxes(
        tickformat=".1~%", hoverformat=".2%", autorangeoptions={"minallowed": 0, "maxallowed": 1.02}
    )
    if quick.empty and epochs.empty:
        empty_note(fig, "Appears at the first quick test")
        return fig
    return add_events(fig, events, labels=False)  # a narrow chart: hover names them


def lr_figure(
    frame: pd.DataFrame,
    max_points: int = MAX_POINTS,
    uirevision: str = "",
    events: Sequence[Event] = (),
    plan: Plan | None = None,
) -> go.Figure:
    """The learning rate actually used, step by step, over the schedule planned at the start (dashed):
    a rate set by hand shows as a step in the line, and its event marker names the new value."""
    frame = _complete(frame)
    hand_set = (frame["kind"] == "event") & (frame.get("event") == "lr")  # the exact step of a change
    logged = frame["kind"].isin(["step", "epoch"]) | hand_set
    rows = downsample(frame[frame["lr"].notna() & logged], max_points)
    fig = go.Figure(
        go.Scatter(
            x=rows["step"],
            y=rows["lr"],
            customdata=rows["epoch"],
            name="used",
            mode="lines",
            line={"color": COLORS["lr"], "width": 2, "shape": "hv"},
            hovertemplate="epoch %{customdata:.2f}<br>step %{x}<br>lr %{y:.3g}",
        )
    )
    if plan is not None:
        fig.add_scatter(
            x=plan.steps,
            y=plan.rates,
            name="planned",
            mode="lines",
            line={"color": COLORS["lr"], "width": 1.2, "dash": "dash"},
            opacity=0.5,
            hovertemplate="step %{x}<br>planned lr %{y:.3g}",
        )
    style(
        fig,
        "Learning rate",
        "step",
        "learning rate",
        height=300,
        legend="above",
        uirevision=uirevision,
        xaxis_rangemode="tozero",
    )
    fig.update_layout(showlegend=plan is not None)  # one line needs no legend
    lr = rows["lr"].to_numpy(dtype=float)
    # Hand-set changes of 3x and more read best in log; a schedule's shape (which ends near 0) in linear.
    if plan is None and len(lr) and lr.min() > 0 and lr.max() / lr.min() > 3:
        log_axis(fig, lr)
    else:
        fig.update_yaxes(rangemode="tozero", tickformat=".2~g")
    if rows.empty:
        empty_note(fig, "Waiting for the first logged steps…")
        return fig
    return add_events(fig, events, labels=False)


def schedule_figure(plan: Plan) -> go.Figure:
    """The rate the steps of a run will use, before it starts."""
    fig = go.Figure(
        go.Scatter(
            x=plan.steps,
            y=plan.rates,
            customdata=[k / plan.steps_per_epoch for k in plan.steps],
            mode="lines",
            line={"color": COLORS["lr"], "width": 2},
            hovertemplate="epoch %{customdata:.2f}<br>step %{x}<br>lr %{y:.3g}",
        )
    )
    style(fig, "Planned learning rate", "step", "learning rate", height=200, xaxis_rangemode="tozero")
    fig.update_layout(showlegend=False)
    return fig.update_yaxes(rangemode="tozero", tickformat=".2~g")


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    """Every metrics column present and numeric: a run that never logged has no columns at all,
    and a hand-edited metrics.csv may hold text where numbers belong (shown as gaps, never raised)."""
    if not set(COLUMNS) <= set(frame.columns):  # extra columns (such as `event`) are kept
        frame = frame.reindex(columns=[*COLUMNS, *(c for c in frame.columns if c not in COLUMNS)])
    loose = [c for c in COLUMNS if c not in TEXT_COLUMNS and frame[c].dtype.kind not in "fiu"]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in loose}) if loose else frame
