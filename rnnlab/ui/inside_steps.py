"""The Inside page's step view: a step slider with Play/Pause, and everything the network holds at step t."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from rnnlab.config import RunConfig
from rnnlab.plots.evaluation import STEP_UNITS
from rnnlab.plots.replay import (
    SINGULAR,
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
from rnnlab.ui.inside_sample import Sample

STEP_KEY = "inside_step"
PLAY_KEY = "inside_playing"
FRAME_KEY = "inside_frame"  # the step shown while playing
LAYER_KEY = "inside_layer"
TICK_S = 0.7  # seconds between animation frames: slow enough to follow, and the machine keeps up
FRAMES = 40  # a play-through takes about this many frames, so 784 pixel steps do not take minutes
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
    playing = bool(st.session_state.get(PLAY_KEY, False))
    view = st.fragment(_step_fragment, run_every=TICK_S if playing else None)
    view(analysis, sample, config, tuple(classes), ticking=playing)


def _toggle_play(steps: int) -> None:
    """Play starts from the slider's step (from 1 at the end); Pause leaves the slider where play was."""
    state = st.session_state
    playing = not state.get(PLAY_KEY, False)
    if playing:
        start = int(state.get(STEP_KEY, steps))
        state[FRAME_KEY] = 0 if start >= steps else start  # the first tick shows the next step
    else:
        state[STEP_KEY] = max(1, int(state.get(FRAME_KEY, 1)))
    state[PLAY_KEY] = playing


def _step_fragment(
    analysis: SampleAnalysis, sample: Sample, config: RunConfig, classes: tuple[str, ...], ticking: bool
) -> None:
    trace = analysis.trace
    steps, unit = trace.steps, STEP_UNITS[config.order]
    state = st.session_state
    if ticking != bool(state.get(PLAY_KEY, False)):
        st.rerun(scope="app")  # play or pause changed: re-register the fragment with or without its timer

    control_col, play_col = st.columns([6, 1], vertical_alignment="bottom")
    if ticking:
        # While playing, a progress bar stands in for the slider: setting a slider's value on every tick
        # races with the value the browser reports back, which would read as the person moving it.
        step = min(int(state.get(FRAME_KEY, 0)) + max(1, round(steps / FRAMES)), steps)
        state[FRAME_KEY] = step
        if step == steps:  # the last frame: stop, and leave the slider at the end
            state[PLAY_KEY] = False
            state[STEP_KEY] = steps
        control_col.progress(step / steps, text=f"Playing: step {step} of {steps}")
    else:
        state[STEP_KEY] = min(max(int(state.get(STEP_KEY, steps)), 1), steps)  # a new run may be shorter
        step = control_col.slider(
            f"Step t (1 to {steps})",
            min_value=1,
            max_value=steps,
            key=STEP_KEY,
            help=f"How many {unit} the network has read. Drag to replay the reading; every chart below "
            "shows the network at this step.",
        )
    play_col.button(
        "Pause" if ticking else "Play",
        icon=":material/pause:" if ticking else ":material/play_arrow:",
        key="inside_play",
        on_click=_toggle_play,
        args=(steps,),
        width="stretch",
        help=f"Animate the reading, a step every {TICK_S:g} s (several at once for long sequences).",
    )

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
        f"each {SINGULAR[config.order]} moves the score of the final answer (the gradient of that score)."
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
