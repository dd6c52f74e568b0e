"""Figures for the Draw page: the 28x28 image the model sees and its class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

TOP_COLOUR = "#e4572e"  # the predicted class stands out from the rest
OTHER_COLOUR = "#8d99ae"


def input_image_figure(image: np.ndarray, size: int = 280) -> go.Figure:
    """uint8 (28, 28) as square grey pixels, white ink on black, the way the network receives it.

    Each pixel is drawn as a cell (no smoothing), so a person sees the coarse grid the drawing
    became; hovering a cell tells its row, column and value.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"input_image_figure takes one (H, W) image, got shape {image.shape}")
    fig = go.Figure(
        go.Heatmap(
            z=image,
            zmin=0,
            zmax=255,
            colorscale="Greys_r",
            showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(
        showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x"
    )
    fig.update_layout(width=size, height=size, margin=dict(l=0, r=0, t=0, b=0))
    return fig


def probability_bars(probabilities: Sequence[float] | np.ndarray, classes: Sequence[str]) -> go.Figure:
    """One bar per class, the predicted one highlighted: how sure the network is, and of what.

    Horizontal bars keep long class names (Fashion-MNIST's "Ankle boot") readable; the first class
    is at the top, as in a list.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if len(probabilities) != len(classes):
        raise ValueError(f"{len(probabilities)} probabilities for {len(classes)} classes")
    top = int(probabilities.argmax())
    colours = [TOP_COLOUR if i == top else OTHER_COLOUR for i in range(len(classes))]
    fig = go.Figure(
        go.Bar(
            x=probabilities,
            y=list(classes),
            orientation="h",
            marker_color=colours,
            text=[f"{p:.1%}" for p in probabilities],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title_text="probability")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig
