"""The Inside page's sections over many test images: gradients through time, gates, one unit, hints."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from rnnlab.lab import Lab
from rnnlab.plots.replay_stats import GradientSeries, gate_stats_figure, gradient_figure, unit_figure
from rnnlab.replay_stats import Hint, Population, fade, selectivity
from rnnlab.store import RunSummary
from rnnlab.ui.format import plain
from rnnlab.ui.inside_cache import batch_gradient, shown_subject
from rnnlab.ui.inside_steps import PLOT_CONFIG
from rnnlab.ui.subjects import LOAD_ERRORS, explain
from rnnlab.ui.widgets import compare_with, has_weights

HINT_BOXES = {"warning": st.warning, "info": st.info, "success": st.success}


def gradient_section(
    lab: Lab, summary: RunSummary, count: int, mean: np.ndarray, sample: np.ndarray, bidirectional: bool
) -> None:
    """||dL/dh_t|| of this run (batch mean and this sample), with other runs overlaid on request."""
    st.caption(
        "How strongly the loss reacts to the hidden state at each step, measured by backpropagation through "
        f"time on the first {count} test images (solid) and on this image (dotted). Training moves the "
        "weights in proportion to these numbers, so steps with a tiny gradient teach the network almost "
        "nothing. Overlay an RNN and an LSTM to see why gates exist: on long sequences (pixel by pixel) a "
        "plain RNN's curve falls by orders of magnitude towards step 1, an LSTM's far less."
    )
    compared = compare_with(
        lab,
        summary,
        key="inside_compare",
        where=has_weights(lab),
        max_selections=4,
        placeholder="other runs with weights",
        nothing="no other run has weights yet",
        help="Overlay the batch-mean gradient through time of other runs, e.g. an RNN next to an LSTM.",
    )
    series = [GradientSeries(summary.name, mean, sample)]
    for other in compared:
        try:
            with st.spinner(f"Backpropagating through {plain(other.name)}…"):
                series.append(GradientSeries(other.name, batch_gradient(*shown_subject(lab, other).key)))
        except LOAD_ERRORS as error:
            st.warning(f"**{plain(other.name)}**: {explain(error)}")
    st.plotly_chart(gradient_figure(series), key="inside_gradient", config=PLOT_CONFIG)
    if mean[-1] > 0:
        text = f"On average the gradient at step 1 {fade(mean)}."
        if bidirectional:
            text += (
                " This network is bidirectional: h_t holds both directions, and the backward one reads the "
                "last step first, so its gradient is strongest near step 1."
            )
        st.markdown(text)


def gates_section(pop: Population, labels: Sequence[tuple[int, int, str]], count: int) -> None:
    """How often each gate is nearly shut or wide open, per unit, over many test images."""
    if pop.cell == "rnn":
        st.info(
            "A plain RNN has no gates: every step overwrites the whole state through one tanh (or ReLU). "
            "Pick an LSTM or GRU run to see how gates open and shut."
        )
        return
    k, d, label = _choose_layer(labels, "inside_gates_layer", "gate statistics")
    stats = [s for s in pop.gate_stats if (s.layer, s.direction) == (k, d)]
    meaning = {
        "lstm": "A forget gate that is mostly open keeps the cell's memory from step to step; an input gate "
        "that is mostly shut protects it from new rows; the output gate decides what the cell shows.",
        "gru": "An update gate that is mostly open keeps the old state (the GRU's memory); a reset gate "
        "that is mostly shut makes the candidate ignore the past.",
    }[pop.cell]
    st.caption(
        f"Over {count} test images x {pop.h[0][0].shape[1]} steps ({label}): the share of the time each "
        f"unit's gate is nearly shut (< 0.1, dark) or wide open (> 0.9, blue). {meaning}"
    )
    st.plotly_chart(gate_stats_figure(stats), key="inside_gate_stats", config=PLOT_CONFIG)


def unit_section(pop: Population, labels: Sequence[tuple[int, int, str]], classes: Sequence[str]) -> None:
    """One hidden unit's activation over t for many test images, with the mean of each class."""
    k, d, label = _choose_layer(labels, "inside_unit_layer", "unit explorer")
    h = pop.h[k][d]  # (N, T, H)
    ranking = np.argsort(-selectivity(h, pop.labels, len(classes)))
    pick_col, note_col = st.columns([1, 3], vertical_alignment="bottom")
    unit = pick_col.number_input(
        f"Hidden unit (0 to {h.shape[2] - 1})",
        min_value=0,
        max_value=h.shape[2] - 1,
        value=int(ranking[0]),
        key="inside_unit",
        help="Which unit of the hidden state to follow over time. It starts on the unit whose activity "
        "differs most between classes.",
    )
    note_col.caption(
        f"Units that tell the classes apart best here: {', '.join(str(u) for u in ranking[:5])}. "
        "Thin lines: single test images; bold: the mean of each class. Click a class in the legend to "
        "hide it."
    )
    figure = unit_figure(h[:, :, unit], pop.labels, classes, title=f"Unit {unit} of {label} over time")
    st.plotly_chart(figure, key="inside_unit_chart", config=PLOT_CONFIG)


def hints_section(found: Sequence[Hint]) -> None:
    for hint in found:
        HINT_BOXES[hint.level](f"**{hint.title}.** {hint.text}")


def _choose_layer(labels: Sequence[tuple[int, int, str]], key: str, what: str) -> tuple[int, int, str]:
    if len(labels) == 1:
        return labels[0]
    chosen = st.columns([1, 2])[0].selectbox(
        "Layer",
        range(len(labels)),
        index=max(i for i, (k, d, _) in enumerate(labels) if d == 0),  # the top layer, forward
        format_func=lambda i: labels[i][2],
        key=key,
        help=f"Which recurrent layer (and direction) the {what} shows.",
    )
    return labels[chosen]
