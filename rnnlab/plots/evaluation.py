"""Figures of the Evaluate page: confusion, per-class bars, early reading, hidden-state map, robustness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from torch import Tensor

from rnnlab.config import ORDER_WORDS
from rnnlab.data import sequence_shape
from rnnlab.plots.style import style

CLASS_COLOURS = qualitative.D3  # ten distinct hues, one per class
# Most cells of a good confusion matrix are near 0 % of their row, so the colour scale spends most of
# its range on the first few percent: a 3 % confusion is visible, a 95 % diagonal is simply dark.
CONFUSION_SCALE = [[0.0, "#f7fbff"], [0.02, "#c6dbef"], [0.1, "#6baed6"], [0.4, "#2171b5"], [1.0, "#08306b"]]
ROBUSTNESS_TITLES = {
    "noise": ("Gaussian noise", "noise σ (share of full brightness)"),
    "rotation": ("Rotation", "rotation (degrees, counterclockwise)"),
}


@dataclass(frozen=True)
class Series:
    """One run's values for an overlaid figure: its id (colour), label (legend), and the numbers."""

    run_id: str
    label: str
    x: Sequence[float]
    y: Sequence[float]


def confusion_figure(
    confusion: Tensor, classes: Sequence[str], selected: tuple[int, int] | None = None
) -> go.Figure:
    """Counts by true (rows) and predicted (columns) class, coloured by share of the true class.

    A heatmap cannot be clicked in Streamlit, so an invisible square marker sits on every cell: a
    click selects it, and its customdata [true, predicted] says which cell it was. `selected` draws
    an outline around that cell.
    """
    counts = confusion.long().numpy()  # (C, C)
    totals = counts.sum(1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)  # (C, C)
    n = len(classes)
    ticks = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": list(classes), "showgrid": False}
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=list(range(n)),
            y=list(range(n)),
            text=np.where(counts > 0, counts.astype(str), ""),  # empty cells stay quiet
            texttemplate="%{text}",
            colorscale=CONFUSION_SCALE,
            zmin=0,
            zmax=1,
            hoverinfo="skip",
            colorbar={"title": {"text": "share of<br>true class"}, "tickformat": ".0%", "thickness": 12},
        )
    )
    true_idx, pred_idx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")  # (C, C) each
    fig.add_trace(
        go.Scatter(
            x=pred_idx.ravel(),
            y=true_idx.ravel(),
            mode="markers",
            marker={"symbol": "square", "size": 30, "opacity": 0},
            selected={"marker": {"opacity": 0}},
            unselected={"marker": {"opacity": 0}},
            # Plain lists, not arrays: plotly would send an array as a typed buffer, and the browser's
            # selection event then reports each point's row as an object instead of a list.
            customdata=np.stack(
                [true_idx.ravel(), pred_idx.ravel(), counts.ravel(), share.ravel()], 1
            ).tolist(),
            text=[
                f"true {classes[t]} · predicted {classes[p]}"
                for t, p in zip(true_idx.ravel(), pred_idx.ravel(), strict=True)
            ],
            hovertemplate="%{text}<br>%{customdata[2]} images (%{customdata[3]:.1%} of the true class)"
            "<br><i>click to see them below</i><extra></extra>",
            showlegend=False,
        )
    )
    if selected is not None:
        t, p = selected
        fig.add_shape(
            type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line={"color": "#d62728", "width": 3}
        )
    fig.update_layout(
        title={"text": "Confusion matrix", "x": 0.0, "xanchor": "left"},
        height=520,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        clickmode="event+select",
        dragmode=False,
        plot_bgcolor="white",
    )
    fig.update_xaxes(title="predicted class", side="bottom", **ticks, range=[-0.5, n - 0.5], fixedrange=True)
    fig.update_yaxes(
        title="true class",
        autorange="reversed",
        **ticks,
        scaleanchor="x",
        constrain="domain",
        fixedrange=True,
    )
    return fig


def per_class_figure(
    series: Sequence[Series], classes: Sequence[str], colours: Mapping[str, str]
) -> go.Figure:
    """Accuracy per true class, one bar per run in each group when runs are compared."""
    fig = go.Figure()
    for s in series:
        fig.add_trace(
            go.Bar(
                x=list(classes),
                y=list(s.y),
                name=s.label,
                marker_color=colours[s.run_id],
                hovertemplate="%{fullData.name}<br>class %{x}: %{y:.1%}<extra></extra>",
            )
        )
    style(fig, "Accuracy per class", "true class", "accuracy", height=400)
    fig.update_layout(barmode="group", showlegend=len(series) > 1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    fig.update_xaxes(type="category")
    return fig


def steps_figure(
    series: Sequence[Series], orders: Mapping[str, str], colours: Mapping[str, str], chance: float
) -> go.Figure:
    """Accuracy when the network must answer after t of T steps, several runs overlaid.

    Runs of one sequence length share an axis of steps (named "rows" when all read rows); runs of
    different lengths go on a common axis of the share of the image read, so a 28-step and a
    784-step run compare.
    """
    seq_lens = {s.run_id: sequence_shape(orders[s.run_id])[0] for s in series}
    units = {ORDER_WORDS[orders[s.run_id]].steps for s in series}
    same_length = len(set(seq_lens.values())) <= 1
    fig = go.Figure()
    for s in series:
        T, unit = seq_lens[s.run_id], ORDER_WORDS[orders[s.run_id]].steps
        x = list(s.x) if same_length else [t / T for t in s.x]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(s.y),
                customdata=list(s.x),
                name=s.label,
                mode="lines+markers",
                line={"color": colours[s.run_id], "width": 2},
                marker={"size": 5},
                hovertemplate=f"%{{fullData.name}}<br>after %{{customdata}} of {T} {unit}: %{{y:.1%}}"
                "<extra></extra>",
            )
        )
    _chance_line(fig, chance)
    if not same_length:
        x_title = "share of the sequence read"
    else:
        x_title = f"{units.pop()} read" if len(units) == 1 else "steps read"
    style(fig, "How early can it tell?", x_title, "accuracy", height=400)
    fig.update_layout(
        title_subtitle_text="accuracy when the network must answer after reading only the first steps"
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    if not same_length:
        fig.update_xaxes(tickformat=".0%")
    return fig


def hidden_map_figure(
    coords: Tensor,
    explained: Tensor,
    labels: Tensor,
    predictions: Tensor,
    indices: Tensor,
    classes: Sequence[str],
) -> go.Figure:
    """Final hidden states on their first two principal axes, a colour per true class.

    Mistakes are drawn as crosses. customdata carries [test index, true, predicted] per point, so a
    clicked point can be shown beside the chart.
    """
    fig = go.Figure()
    xy = coords.numpy()
    for k, name in enumerate(classes):
        mask = (labels == k).numpy()
        if not mask.any():
            continue
        wrong = (predictions != labels).numpy()[mask]
        fig.add_trace(
            go.Scatter(
                x=xy[mask, 0],
                y=xy[mask, 1],
                mode="markers",
                name=name,
                marker={
                    "color": CLASS_COLOURS[k % len(CLASS_COLOURS)],
                    "size": np.where(wrong, 9, 6),
                    "symbol": np.where(wrong, "x", "circle"),
                    "opacity": 0.8,
                    "line": {"width": 0},
                },
                customdata=np.stack(
                    [indices.numpy()[mask], labels.numpy()[mask], predictions.numpy()[mask]], 1
                ).tolist(),  # lists, for the reason given in confusion_figure
                text=[f"true {name} · predicted {classes[p]}" for p in predictions.numpy()[mask]],
                hovertemplate="test image #%{customdata[0]}<br>%{text}<extra></extra>",
            )
        )
    style(
        fig,
        "Map of the final hidden states",
        f"principal axis 1 ({float(explained[0]):.0%} of variance)",
        f"principal axis 2 ({float(explained[1]):.0%} of variance)",
        height=520,
    )
    fig.update_layout(
        title_subtitle_text="colour: true class · ×: misclassified · click a point to see its image",
        legend={"orientation": "v", "y": 1, "x": 1.02, "yanchor": "top", "title": {"text": "true class"}},
        clickmode="event+select",
    )
    return fig


def robustness_figure(
    kind: str, series: Sequence[Series], colours: Mapping[str, str], chance: float
) -> go.Figure:
    """Accuracy as the test images are perturbed more and more, one line per run."""
    title, x_title = ROBUSTNESS_TITLES[kind]
    fig = go.Figure()
    for s in series:
        fig.add_trace(
            go.Scatter(
                x=list(s.x),
                y=list(s.y),
                name=s.label,
                mode="lines+markers",
                line={"color": colours[s.run_id], "width": 2},
                hovertemplate="%{fullData.name}<br>%{x:g}: %{y:.1%}<extra></extra>",
            )
        )
    _chance_line(fig, chance)
    style(fig, title, x_title, "accuracy", height=400)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return fig


def thumbnail(image: Tensor, scale: int = 4) -> np.ndarray:
    """uint8 (28, 28) -> uint8 (28*scale, 28*scale), each pixel a crisp block rather than a blur."""
    return np.kron(image.numpy(), np.ones((scale, scale), dtype=np.uint8))


def _chance_line(fig: go.Figure, chance: float) -> None:
    """Where guessing lands: a curve near it has learned nothing (yet)."""
    line = {"dash": "dot", "color": "#888"}
    fig.add_hline(y=chance, line=line, annotation_text="chance", annotation_position="top left")
