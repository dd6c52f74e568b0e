"""Figures of the Inside page over many samples: gradients through time, gate statistics, one unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnlab.plots.compare import PALETTE
from rnnlab.plots.evaluation import CLASS_COLOURS
from rnnlab.plots.replay import GATE_LABELS, titled
from rnnlab.plots.style import log_axis
from rnnlab.replay_stats import GateStats, class_means

SHUT_COLOUR, BETWEEN_COLOUR, OPEN_COLOUR = "#264653", "#dee2e6", "#3b6fd6"
FIRST_COLOUR = "#3b6fd6"  # the run on the page, in the app's primary colour; compared runs follow PALETTE


@dataclass(frozen=True)
class GradientSeries:
    """One run's gradient through time: the batch mean (T,) and, optionally, one sample's (T,)."""

    label: str
    mean: np.ndarray
    sample: np.ndarray | None = None


def gradient_figure(series: Sequence[GradientSeries]) -> go.Figure:
    """||dL/dh_t|| over t on a log scale, one colour per run: solid the batch mean, dotted this sample.

    A curve that drops by orders of magnitude towards t = 1 is a vanishing gradient: the loss hardly
    feels what the network read early. Runs of different lengths share the axis in steps.
    """
    fig = go.Figure()
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)] if i else FIRST_COLOUR
        curves = [("batch mean", s.mean, "solid")]
        if s.sample is not None:
            curves.append(("this sample", s.sample, "dot"))
        for what, values, dash in curves:
            values = np.asarray(values, dtype=np.float64)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, len(values) + 1),
                    y=np.where(values > 0, values, np.nan),  # log axis: a zero has no place on it
                    mode="lines",
                    name=f"{s.label} · {what}",
                    line=dict(color=colour, width=2.5 if dash == "solid" else 2, dash=dash),
                    hovertemplate=f"{s.label} ({what})<br>step %{{x}}: %{{y:.3g}}<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="step t")
    values = [v for s in series for curve in (s.mean, s.sample) if curve is not None for v in np.ravel(curve)]
    log_axis(fig, values, title_text="‖dL/dh_t‖")
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return titled(fig, "Gradients through time: how much the loss feels each step's state", height=400)


def gate_stats_figure(stats: Sequence[GateStats]) -> go.Figure:
    """For each gate, every unit's time split into nearly shut, in between and wide open.

    stats: the gates of one layer and direction. Units are sorted by how often they are open (each
    gate on its own), so the shape of the bars shows how many units keep their gate open or shut;
    hovering a bar names the unit.
    """
    fig = make_subplots(
        rows=len(stats),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=[
            f"{GATE_LABELS[s.gate]}: on average shut {s.shut.mean():.0%}, open {s.open.mean():.0%}"
            for s in stats
        ],
    )
    for row, s in enumerate(stats, start=1):
        ranking = np.lexsort((s.shut, -s.open))  # most often open first; ties: least often shut
        units = [f"unit {u}" for u in ranking]
        parts = [
            ("nearly shut (< 0.1)", s.shut[ranking], SHUT_COLOUR),
            ("in between", 1 - s.shut[ranking] - s.open[ranking], BETWEEN_COLOUR),
            ("wide open (> 0.9)", s.open[ranking], OPEN_COLOUR),
        ]
        for name, share, colour in parts:
            fig.add_trace(
                go.Bar(
                    x=np.arange(len(ranking)),
                    y=share,
                    customdata=units,
                    name=name,
                    marker=dict(color=colour, line_width=0),
                    legendgroup=name,
                    showlegend=row == 1,
                    hovertemplate=f"%{{customdata}}: {name} %{{y:.0%}} of the time<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(range=[0, 1], tickformat=".0%", row=row, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_xaxes(title_text="units, most often open first", row=len(stats), col=1)
    fig.update_layout(barmode="stack", bargap=0.05, legend=dict(orientation="h", y=1.08, x=0))
    fig.update_annotations(font_size=13)
    return titled(fig, "", height=140 + 170 * len(stats))


def unit_figure(
    values: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    title: str,
    lines_per_class: int = 5,
) -> go.Figure:
    """One hidden unit's activation over t: faint lines for a few samples, bold the mean of each class.

    values: (N, T) the unit over many samples, labels: (N,). A unit whose class means part early and
    stay apart has learned something that tells those classes apart.
    """
    values = np.asarray(values, dtype=np.float32)
    x = np.arange(1, values.shape[1] + 1)
    means = class_means(values, labels, len(classes))  # (C, T)
    fig = go.Figure()
    for k, name in enumerate(classes):
        colour = CLASS_COLOURS[k % len(CLASS_COLOURS)]
        for i in np.flatnonzero(labels == k)[:lines_per_class]:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=values[i],
                    mode="lines",
                    line=dict(color=colour, width=1),
                    opacity=0.25,
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate=f"a test image of {name}: %{{y:.3f}} at step %{{x}}<extra></extra>",
                )
            )
        if not np.isnan(means[k]).all():
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=means[k],
                    mode="lines",
                    name=name,
                    line=dict(color=colour, width=3),
                    legendgroup=name,
                    hovertemplate=f"mean of {name}: %{{y:.3f}} at step %{{x}}<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="step t", zeroline=False)
    fig.update_yaxes(title_text="activation h_t")
    fig.update_layout(legend=dict(title="class (bold: mean)", orientation="h", x=0, y=1.02, yanchor="bottom"))
    return titled(fig, title, height=400)
