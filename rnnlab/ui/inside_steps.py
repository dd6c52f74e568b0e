"""The Inside page's step view: the step controls, and everything the network holds at step t."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from rnnlab.config import ORDER_WORDS, RunConfig
from rnnlab.plots.replay import (
    gates_step_figure,
    gates_time_figure,
    heatmap_figure,
    input_figure,
    probability_lines_figure,
    probability_step_figure,
    reading_figure,
    state_figure,
)
from rnnlab.replay import DIRECTIONS, Trace
from rnnlab.ui.format import percent
from rnnlab.ui.inside_cache import SampleAnalysis
from rnnlab.ui.inside_play import step_controls, tick_s
from rnnlab.ui.inside_sample import Sample

LAYER_KEY = "inside_layer"
PLOT_CONFIG = {"displayModeBar": False}


def state_labels(trace: Trace) -> list[tuple[int, int, str]]:
    """(layer, direction, label) of every recurrent state, bottom layer first."""
    arrows = {0: "→", 1: "←"}
    return [
        (k, d, f"layer {k + 1}" + (f" {arrows[d]} {DIRECTIONS[d]}" if trace.bidirectional else ""))
        for k, directions in enumerate(trace.layers)
        for d in range(len(directions))
    ]


def step_view(analysis: SampleAnalysis, sample: Sample, config: RunConfig, classes: Sequence[str]) -> None:
    """Register the step view as a fragment that ticks only while playing (a full rerun re-registers it)."""
    interval = tick_s(analysis.trace.steps)
    view = st.fragment(_step_fragment, run_every=interval)
    view(analysis, sample, config, tuple(classes), interval=interval)


def _step_fragment(
    analysis: SampleAnalysis,
    sample: Sample,
    config: RunConfig,
    classes: tuple[str, ...],
    interval: float | None,
) -> None:
    trace = analysis.trace
    words = ORDER_WORDS[config.order]
    steps, unit = trace.steps, words.steps
    if interval != tick_s(steps):
        st.rerun(scope="app")  # Play, Pause or a new speed: re-register the fragment with its new timer
    step = step_controls(steps, unit, playing=interval is not None)

    probs = trace.probabilities[step - 1]  # (C,)
    leading = int(probs.argmax())
    st.markdown(
        f"**Step {step} of {steps}**: the network has read {unit} 1–{step}. "
        f"If the image ended here it would say **{classes[leading]}** ({percent(float(probs[leading]))})."
    )
    image_col, bars_col, lines_col = st.columns([5, 4, 6], gap="medium")
    image_col.plotly_chart(
        reading_figure(sample.image, config.order, step, analysis.saliency.per_step),
        key="inside_reading",
        config=PLOT_CONFIG,
    )
    bars_col.plotly_chart(
        probability_step_figure(probs, classes, sample.label), key="inside_bars", config=PLOT_CONFIG
    )
    lines_col.plotly_chart(
        probability_lines_figure(trace.probabilities, classes, step, trace.prediction, sample.label),
        key="inside_lines",
        config=PLOT_CONFIG,
    )
    note = st.info if trace.bidirectional or trace.readout == "all" else st.caption
    note(
        f"{trace.probability_note} The coloured cells marked *what mattered* beside the image: how strongly "
        f"each {words.step} moves the score of the final answer (the gradient of that score)."
    )

    labels = state_labels(trace)
    everything = [trace.layers[k][d] for k, d, _ in labels]
    h_max = max(1.0, max(float(np.abs(s.h).max()) for s in everything))  # ReLU states are unbounded
    input_col, state_col = st.columns([2, 5], gap="medium")
    input_col.plotly_chart(
        input_figure(trace.inputs[step - 1], config.order, step), key="inside_input", config=PLOT_CONFIG
    )
    state_col.plotly_chart(
        state_figure([(label, trace.layers[k][d].h[step - 1]) for k, d, label in labels], zmax=h_max),
        key="inside_state",
        config=PLOT_CONFIG,
    )

    chosen = 0
    if len(labels) > 1:
        top_forward = len(labels) - len(trace.layers[-1])
        chosen = st.columns([1, 2])[0].selectbox(
            "Layer shown over time",
            range(len(labels)),
            index=top_forward,
            format_func=lambda i: labels[i][2],
            key=LAYER_KEY,
            help="Which layer (and direction) the time x unit heatmap and the gate charts show.",
        )
    k, d, label = labels[chosen]
    states = trace.layers[k][d]
    title = f"Hidden state over time ({label}): every unit at every step"
    st.plotly_chart(
        heatmap_figure(states.h, step, title, zmax=h_max), key="inside_heatmap", config=PLOT_CONFIG
    )
    if states.gates:
        gates_at_t = {name: values[step - 1] for name, values in states.gates.items()}
        c_t = None if states.c is None else states.c[step - 1]
        c_max = 1.0 if states.c is None else max(1.0, float(np.abs(states.c).max()))
        now_col, time_col = st.columns([3, 2], gap="medium")
        now_col.plotly_chart(
            gates_step_figure(gates_at_t, c_t, c_max), key="inside_gates", config=PLOT_CONFIG
        )
        time_col.plotly_chart(
            gates_time_figure(states.gates, step), key="inside_gates_time", config=PLOT_CONFIG
        )
