"""Figures of the Inside page (and the Draw page's "how the prediction formed"): one sample, step by step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rnnlab.config import ORDER_WORDS
from rnnlab.data import SIDE
from rnnlab.plots.drawing import OTHER_COLOUR, TOP_COLOUR, probability_bars
from rnnlab.replay import pixel_map, step_masks
from rnnlab.replay_stats import SIGMOID_GATES

CURSOR_COLOUR = TOP_COLOUR  # the current step: the same accent in every figure
TRUE_COLOUR = "#2a9d8f"  # the true class, when it differs from the prediction
STATE_SCALE = "RdBu_r"  # negative blue, zero white, positive red
FUTURE_SHADE = "rgba(255, 255, 255, 0.7)"  # veils the steps not read yet
SALIENCY_SCALE = "YlOrRd"


def reading_figure(image: np.ndarray, order: str, step: int, saliency: np.ndarray | None = None) -> go.Figure:
    """The image as the network has read it after `step` steps: seen pixels bright, the rest faint.

    image: uint8 (28, 28). The pixels of the current step are outlined in the accent colour. With
    `saliency` (T,) per step, a strip beside the image (below it for columns; a 28x28 map beside it
    for pixel orders) shows which steps moved the predicted class's score most. Everything shares
    one pair of axes, so the strip's cells line up with the image's rows or columns.
    """
    image = np.asarray(image, dtype=np.float32)
    seen, current = step_masks(order, step)
    faint = dict(z=image, zmin=0, zmax=255, colorscale="Greys_r", showscale=False, hoverinfo="skip")
    fig = go.Figure(go.Heatmap(**faint, opacity=0.22))
    fig.add_trace(
        go.Heatmap(
            **{**faint, "z": np.where(seen, image, np.nan)},
            hovertemplate="row %{y}, column %{x}: %{z:.0f}<extra>read</extra>",
        )
    )
    rows, cols = np.nonzero(current)  # one or two rows, one column or one pixel: a single box outlines it
    _box(fig, cols.min(), cols.max(), rows.min(), rows.max())
    if saliency is not None:
        saliency = np.asarray(saliency, dtype=np.float32)
        _add_saliency(fig, saliency, order, (rows.min(), rows.max()), cols.min())
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(plot_bgcolor="white", showlegend=False)
    return titled(fig, f"After {step} {ORDER_WORDS[order].steps}", height=340)


def _box(fig: go.Figure, x0: float, x1: float, y0: float, y1: float) -> None:
    """Outline the cells x0..x1, y0..y1 (inclusive) in the accent colour."""
    fig.add_shape(
        type="rect",
        x0=x0 - 0.5,
        x1=x1 + 0.5,
        y0=y0 - 0.5,
        y1=y1 + 0.5,
        line=dict(color=CURSOR_COLOUR, width=3),
    )


def _add_saliency(
    fig: go.Figure, saliency: np.ndarray, order: str, step_rows: tuple[int, int], step_column: int
) -> None:
    """Saliency beside the image at x = 29 (rows, row pairs), below it at y = 29 (columns), or as a map at
    x >= 30; the current step's cells (its first..last row, or its column) are outlined."""
    unit, gap = ORDER_WORDS[order].step, SIDE + 1
    where = np.arange(SIDE)
    if order in ("rows", "row-pairs"):
        per_row = pixel_map(saliency, order)[:, :1]  # (28, 1): one cell beside each row, a step's rows alike
        placed = dict(z=per_row, x=[gap], y=where)
        _box(fig, gap, gap, *step_rows)
        label = dict(x=gap + 1.2, y=(SIDE - 1) / 2, textangle=-90)
    elif order == "columns":
        placed = dict(z=saliency[None, :], x=where, y=[gap])  # (1, 28): one cell below each column
        _box(fig, step_column, step_column, gap, gap)
        label = dict(x=(SIDE - 1) / 2, y=gap + 1.3, textangle=0)
    else:
        placed = dict(z=pixel_map(saliency, order), x=where + gap + 1, y=where)  # (28, 28) beside the image
        label = dict(x=gap + 1 + (SIDE - 1) / 2, y=-1.6, textangle=0)
    fig.add_trace(
        go.Heatmap(
            **placed,
            colorscale=SALIENCY_SCALE,
            zmin=0,
            zmax=float(saliency.max()) or 1.0,
            showscale=False,
            hovertemplate=f"how much this {unit} mattered: %{{z:.3g}}<extra></extra>",
        )
    )
    fig.add_annotation(**label, text="what mattered", showarrow=False, font=dict(size=11, color="#6c757d"))


def input_figure(x_t: np.ndarray, order: str, step: int) -> go.Figure:
    """x_t (I,): the values the network reads at this step, as a strip of grey cells in [0, 1]."""
    x_t = np.asarray(x_t, dtype=np.float32).reshape(1, -1)
    fig = go.Figure(
        go.Heatmap(
            z=x_t,
            zmin=0,
            zmax=1,
            colorscale="Greys_r",
            showscale=False,
            xgap=1,
            hovertemplate="input %{x}: %{z:.2f}<extra></extra>",
            texttemplate="%{z:.2f}" if x_t.size == 1 else None,  # one pixel per step: say its value
            textfont=dict(color=CURSOR_COLOUR, size=16),
        )
    )
    fig.update_xaxes(
        showgrid=False, zeroline=False, title_text="input i", title_standoff=6, visible=x_t.size > 1
    )
    fig.update_layout(margin_b=50)  # room for the axis title under the tick labels
    fig.update_yaxes(visible=False)
    title = f"x<sub>{step}</sub>: what {ORDER_WORDS[order].step} {step} gives the network"
    return titled(fig, title, height=130)


def state_figure(states: Sequence[tuple[str, np.ndarray]], zmax: float = 1.0) -> go.Figure:
    """h_t of each layer (and direction) as a strip of coloured units: blue negative, red positive.

    states: (label, h_t (H,)) pairs, top layer last. `zmax` fixes the colour range across steps.
    """
    labels = [label for label, _ in states]
    z = np.stack([np.asarray(h, dtype=np.float32) for _, h in states])  # (rows, H)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=labels,
            zmin=-zmax,
            zmax=zmax,
            zmid=0,
            colorscale=STATE_SCALE,
            xgap=1,
            ygap=3,
            colorbar=dict(thickness=10, len=1.0),
            hovertemplate="%{y}, unit %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(showgrid=False, zeroline=False, title_text="hidden unit", title_standoff=6)
    fig.update_layout(margin_b=50)  # room for the axis title under the tick labels
    fig.update_yaxes(showgrid=False, autorange="reversed")
    return titled(fig, "h<sub>t</sub>: the hidden state after this step", height=110 + 40 * len(states))


def heatmap_figure(
    h: np.ndarray, step: int, title: str = "Hidden state over time", zmax: float = 1.0
) -> go.Figure:
    """The whole trace h (T, H) as time x unit, with a cursor at `step` and the unread steps veiled."""
    steps = h.shape[0]
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(h, dtype=np.float32).T,
            x=np.arange(1, steps + 1),
            zmin=-zmax,
            zmax=zmax,
            zmid=0,
            colorscale=STATE_SCALE,
            colorbar=dict(thickness=10),
            hovertemplate="step %{x}, unit %{y}: %{z:.3f}<extra></extra>",
        )
    )
    _add_cursor(fig, step, steps)
    fig.update_xaxes(title_text="step t", showgrid=False, zeroline=False, range=[0.5, steps + 0.5])
    fig.update_yaxes(title_text="hidden unit", showgrid=False, zeroline=False, autorange="reversed")
    return titled(fig, title, height=320)


def _add_cursor(fig: go.Figure, step: int, steps: int, **where) -> None:
    """A vertical line at `step` and a white veil over the steps not read yet (x in step units)."""
    if step < steps:
        fig.add_vrect(
            x0=step + 0.5, x1=steps + 0.5, fillcolor=FUTURE_SHADE, line_width=0, layer="above", **where
        )
    fig.add_vline(x=step, line=dict(color=CURSOR_COLOUR, width=2), layer="above", **where)


def probability_step_figure(
    probabilities: np.ndarray, classes: Sequence[str], label: int | None = None
) -> go.Figure:
    """The class probabilities after this step as bars (the leading class highlighted, the truth named)."""
    fig = probability_bars(probabilities, classes)
    if label is not None:
        names = [
            f"<b style='color:{TRUE_COLOUR}'>{name} (true)</b>" if k == label else name
            for k, name in enumerate(classes)
        ]
        fig.update_yaxes(tickvals=list(classes), ticktext=names)
    return titled(fig, "Probabilities at this step", height=340)


def probability_lines_figure(
    probabilities: np.ndarray, classes: Sequence[str], step: int, prediction: int, label: int | None = None
) -> go.Figure:
    """How each class's probability evolves over t: when does the network make up its mind?

    probabilities: (T, C). The final prediction is drawn in the accent colour, the true class (if
    different) in green, the rest thin and grey; a cursor marks `step`.
    """
    steps, num_classes = probabilities.shape
    x = np.arange(1, steps + 1)
    fig = go.Figure()
    order = sorted(range(num_classes), key=lambda k: (k == prediction, k == label))  # highlights on top
    for k in order:
        colour, width = OTHER_COLOUR, 1.2
        if k == label:
            colour, width = TRUE_COLOUR, 2.5
        if k == prediction:
            colour, width = CURSOR_COLOUR, 3
        fig.add_trace(
            go.Scatter(
                x=x,
                y=probabilities[:, k],
                mode="lines",
                name=classes[k],
                line=dict(color=colour, width=width),
                hovertemplate=f"{classes[k]}: %{{y:.1%}} after step %{{x}}<extra></extra>",
            )
        )
        if k in (prediction, label):
            fig.add_annotation(
                x=steps,
                y=float(probabilities[-1, k]),
                text=classes[k],
                showarrow=False,
                xanchor="left",
                xshift=4,
                font=dict(color=colour, size=12),
            )
    _add_cursor(fig, step, steps)
    fig.update_xaxes(title_text="step t", range=[0.5, steps + 0.5], zeroline=False)
    fig.update_yaxes(title_text="probability", range=[-0.02, 1.05], tickformat=".0%")
    fig.update_layout(showlegend=False, margin=dict(l=10, r=40, t=36, b=10))
    return titled(fig, "Probabilities over time", height=340)


def titled(fig: go.Figure, title: str, height: int) -> go.Figure:
    """The shared frame of these figures: a small title, a fixed height, margins a figure set kept."""
    fig.update_layout(
        title=dict(text=title, font_size=14),
        height=height,
        margin={**dict(l=10, r=10, b=10), **fig.layout.margin.to_plotly_json(), "t": 40},
    )
    fig.update_xaxes(automargin=True)  # axis titles never sit on the tick labels
    fig.update_yaxes(automargin=True)
    return fig


GATE_LABELS = {
    "input": "input gate i (write)",
    "forget": "forget gate f (keep)",
    "output": "output gate o (show)",
    "cell": "candidate g",
    "reset": "reset gate r",
    "update": "update gate z (keep old)",
    "new": "candidate n",
}
GATE_COLOURS = {
    "input": "#2a9d8f",
    "forget": "#3b6fd6",
    "output": "#e9a23b",
    "reset": "#9b5de5",
    "update": "#3b6fd6",
}
SIGMOID_SCALE = [[0.0, "#f1f3f5"], [1.0, "#1d3557"]]  # shut: pale, open: dark


def gates_step_figure(
    gates_t: dict[str, np.ndarray], c_t: np.ndarray | None, c_max: float = 1.0
) -> go.Figure:
    """The gates at one step, one strip of units per gate; LSTM also shows its cell state c_t.

    gates_t: name -> (H,). Sigmoid gates (0 shut .. 1 open) share one pale-to-dark scale; the tanh
    candidates (-1..1) and c_t (+-c_max, fixed across steps) have blue-white-red scales of their own.
    """
    fig = go.Figure()
    # (label, values, colour axis): gates 0..1, the candidates -1..1, the cell state +-c_max
    rows = [
        (GATE_LABELS[name], v, "coloraxis" if name in SIGMOID_GATES else "coloraxis2")
        for name, v in gates_t.items()
    ]
    rows.sort(key=lambda row: row[2])  # the gates first, then the values they let through
    if c_t is not None:
        rows.append(("cell state c", c_t, "coloraxis3"))
    for i, (label, values, axis) in enumerate(rows):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(values, dtype=np.float32)[None, :],
                y=[i],  # numeric rows named by ticks: plotly.js fails on one category per heatmap trace
                coloraxis=axis,
                xgap=1,
                hovertemplate=f"{label}, unit %{{x}}: %{{z:.3f}}<extra></extra>",
            )
        )
    # Colour bars would be too small to read on strips this short; the subtitle names the scales.
    fig.update_layout(
        coloraxis=dict(cmin=0, cmax=1, colorscale=SIGMOID_SCALE, showscale=False),
        coloraxis2=dict(cmin=-1, cmax=1, colorscale=STATE_SCALE, showscale=False),
        coloraxis3=dict(cmin=-c_max, cmax=c_max, colorscale=STATE_SCALE, showscale=False),
    )
    fig.update_xaxes(showgrid=False, zeroline=False, title_text="hidden unit", title_standoff=6)
    fig.update_layout(margin_b=50)  # room for the axis title under the tick labels
    labels = [label for label, _, _ in rows]
    fig.update_yaxes(showgrid=False, autorange="reversed", tickvals=list(range(len(rows))), ticktext=labels)
    fig = titled(fig, "Gates at this step", height=130 + 38 * len(rows))
    subtitle = "gates: pale = shut (0), dark = open (1) · candidates: blue −1, white 0, red +1"
    if c_t is not None:
        subtitle += f"<br>cell state: the same colours, from −{c_max:.2g} to +{c_max:.2g}"
    fig.update_layout(title_subtitle_text=subtitle, margin_t=80)
    return fig


def gates_time_figure(gates: dict[str, np.ndarray], step: int) -> go.Figure:
    """Each sigmoid gate's mean over the units, over t: when the network writes, keeps and forgets.

    gates: name -> (T, H). A cursor marks `step`.
    """
    fig = go.Figure()
    steps = 0
    for name, values in gates.items():
        if name not in SIGMOID_GATES:
            continue
        steps = values.shape[0]
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, steps + 1),
                y=values.mean(axis=1),
                mode="lines",
                name=GATE_LABELS[name],
                line=dict(color=GATE_COLOURS[name], width=2.5),
                hovertemplate=f"{GATE_LABELS[name]}: mean %{{y:.2f}} at step %{{x}}<extra></extra>",
            )
        )
    _add_cursor(fig, step, steps)
    fig.update_xaxes(title_text="step t", range=[0.5, steps + 0.5], zeroline=False)
    fig.update_yaxes(title_text="mean over units", range=[0, 1])
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return titled(fig, "Gates over time (0 shut, 1 open)", height=320)
