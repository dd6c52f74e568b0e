"""The Draw page's parts: the quick-digits offer, the canvas with its live reading, the step-by-step view."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from rnnlab.availability import availability
from rnnlab.config import ORDER_WORDS, RunConfig
from rnnlab.data import CLASSES, offline, to_sequences
from rnnlab.drawing import DIGIT_DATASETS, METHOD_LABELS, METHODS, class_probabilities, prepare
from rnnlab.lab import Lab
from rnnlab.models import SequenceClassifier
from rnnlab.plots.drawing import input_image_figure, probability_bars
from rnnlab.plots.replay import heatmap_figure, probability_lines_figure, reading_figure
from rnnlab.presets import QUICK_DIGITS, QUICK_DIGITS_NAME
from rnnlab.replay import trace
from rnnlab.run_handle import RunHandle
from rnnlab.run_progress import epoch_text
from rnnlab.store import RunsDirError, RunSummary
from rnnlab.ui.format import percent, plain
from rnnlab.ui.pages import INSIDE, TRAIN
from rnnlab.ui.subjects import DRAWING_KEY, LOAD_ERRORS, explain
from rnnlab.ui.widgets import RUN_PARAM

CANVAS_SIZE = 280  # px: ten screen pixels per input pixel
PREVIEW_SIZE = 224  # px: eight screen pixels per input pixel, so canvas and preview fit side by side
READS_AS = {
    "mnist": "a handwritten digit, 0 to 9",
    "kmnist": "one of KMNIST's 10 cursive Japanese characters ({})",
    "fashion-mnist": "a piece of clothing ({}): it has never seen a digit, so it answers with the garment "
    "your drawing looks most like",
}
PLOT_CONFIG = {"displayModeBar": False}
WATCH_S = 2.0  # how often the notice about a digit run in training checks on it


def offer_quick_digits(lab: Lab) -> None:
    """No finished digit model: say so, and train the quick-digits preset with one click.

    While a digit run trains, link to it on the Train page instead; once it finishes it is the best
    finished digit run, so it becomes this page's default model.
    """
    training = [run for run in lab.live_runs() if run.config.dataset in DIGIT_DATASETS]
    if training:
        status = training[0].status()
        _training_notice(training[0], seen=(status.step > 0, status.done))
        return
    st.info(
        "No digit model yet: reading a drawing needs a run trained on MNIST digits (or KMNIST). "
        f"Train a small one with one click, or design your own on the Train page. {QUICK_DIGITS.description}"
    )
    last = next((s for s in lab.list_runs() if s.name == QUICK_DIGITS_NAME), None)
    if last is not None and last.state in ("failed", "diverged"):
        message = last.status.get("message") or last.error or ""
        st.error(f"The last quick digit run {last.state}: {message}", icon=":material/error:")
    data = availability(QUICK_DIGITS.config.dataset, lab.data_dir)
    if not data.available and offline():
        st.warning(f"It cannot train here yet: {data.message}")
        return
    if not data.available:
        st.caption(
            "MNIST is not on this machine yet: the run downloads it first (about 12 MB). Without "
            "internet it stops with a message saying which files to put where."
        )
    if st.button(
        "Train a quick digit model",
        key="draw_train_quick",
        type="primary",
        icon=":material/play_arrow:",
        help=f"Starts a run with the “{QUICK_DIGITS.title}” preset; watch it train on the Train page.",
    ):
        try:
            lab.start(QUICK_DIGITS.config, name=QUICK_DIGITS_NAME)
        except (ValueError, RunsDirError) as error:
            st.error(f"The run could not start: {error}")
            return
        st.rerun()  # the page now shows the run training, with its link


@st.fragment(run_every=WATCH_S)
def _training_notice(run: RunHandle, seen: tuple[bool, bool]) -> None:
    """The digit run in training, redrawn every few seconds. The whole page reruns when the run changes
    what the page can do: its first weights (it can read a drawing) and its end (finished, the default).

    `seen` is (has weights, done) as the page's last full run saw it.
    """
    status = run.status()
    has_weights = status.step > 0
    if (has_weights, status.done) != seen:
        st.rerun(scope="app")
    st.info(
        f"No finished digit model yet. **{plain(status.name)}** is training on {run.config.dataset} "
        f"({epoch_text(status)}); it becomes the default model here when it finishes. "
        + ("Meanwhile you can draw with its weights as they are now." if has_weights else "")
    )
    st.page_link(
        TRAIN,
        label="Watch it train on the Train page",
        icon=":material/monitoring:",
        query_params={RUN_PARAM: run.run_id},
        help="Live loss and accuracy, pause and stop for this run",
    )


def load_model(lab: Lab, summary: RunSummary) -> tuple[SequenceClassifier, RunConfig] | None:
    """The chosen run's latest weights, or a warning a person can act on."""
    try:
        return lab.load_model(summary.run_id)
    except LOAD_ERRORS as error:
        st.warning(f"**{plain(summary.name)}**: {explain(error)}")
        return None


def describe_model(config: RunConfig) -> None:
    """What the chosen network will read the drawing as; a non-digit model is flagged."""
    classes = ", ".join(CLASSES[config.dataset])
    reads = READS_AS[config.dataset].format(classes)
    if config.dataset in DIGIT_DATASETS:
        reading = ORDER_WORDS[config.order].reading
        st.caption(f"This {config.cell.upper()} reads your drawing {reading}, as {reads}.")
    else:
        st.info(f"This run learned **{config.dataset}**: it reads your drawing as {reads}.")


@st.fragment
def drawing_panel(model: SequenceClassifier, config: RunConfig, run_id: str) -> None:
    """Canvas, the 28x28 input and the probabilities; reruns alone (not the whole page) on each stroke."""
    pen, method_box = st.columns(2, vertical_alignment="bottom")
    width = pen.slider(
        "Pen width",
        min_value=5,
        max_value=40,
        value=20,
        key="draw_pen",
        help="Stroke width in canvas pixels. A digit drawn across most of the canvas shrinks about 12x "
        "into the network's 28x28 input, so 20 px becomes a stroke about 2 pixels wide, like MNIST's pen.",
    )
    method = method_box.segmented_control(
        "Preprocessing",
        METHODS,
        default="mnist",
        required=True,
        format_func=METHOD_LABELS.get,
        key="draw_method",
        help="MNIST-style: crop to the ink, scale its longer side to 20 px, centre it by its centre of "
        "mass, as the training digits were made. Naive resize: shrink the whole canvas to 28x28, so a "
        "small or off-centre drawing stays small or off-centre, unlike anything the network trained on.",
    )
    # Widths in proportion to what each holds (canvas 280 px, preview 224 px, bars): the canvas
    # column must never be narrower than the canvas, or its right edge is cut off.
    canvas_col, seen_col, bars_col = st.columns([310, 250, 380], gap="medium")
    with canvas_col:
        result = st_canvas(
            stroke_width=width,
            stroke_color="#FFFFFF",
            background_color="#000000",
            update_streamlit=True,
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            return_image_data=True,
            key="draw_canvas",
        )
        # The canvas brings its own toolbar (undo, redo, and a bin that clears it); a Clear button of
        # ours beside it would be a second bin doing the same.
        st.caption("Hover over the canvas for its toolbar: undo, redo, and the bin that clears it.")
    canvas = result.image_data
    image = None if canvas is None else prepare(canvas, method)
    if image is None:
        seen_col.info(
            "Draw a digit in the black square with the mouse or a finger; the network reads it as you draw."
        )
        return
    probabilities = class_probabilities(model, image, config.order)  # (C,)
    classes = CLASSES[config.dataset]
    top = int(probabilities.argmax())
    with seen_col:
        st.markdown(f"**What the network sees** · {METHOD_LABELS[method]}")
        st.plotly_chart(
            input_image_figure(image, size=PREVIEW_SIZE), key="draw_seen", width="content", config=PLOT_CONFIG
        )
    with bars_col:
        st.metric(
            "The network reads",
            classes[top],
            help="The class with the highest probability after the network has read the whole image.",
        )
        st.caption(f"with probability {percent(float(probabilities[top]))}")
        st.plotly_chart(probability_bars(probabilities, classes), key="draw_bars", config=PLOT_CONFIG)
    step_by_step(model, config, image, run_id)


def step_by_step(model: SequenceClassifier, config: RunConfig, image: np.ndarray, run_id: str) -> None:
    """How the answer formed while the network read the drawing, and a way to look deeper on Inside."""
    st.subheader("How the prediction formed, step by step")
    x = to_sequences(torch.from_numpy(image)[None], config.order)[0]  # (T, I)
    replay = trace(model, x)
    classes = CLASSES[config.dataset]
    st.caption(
        f"The network settled on **{classes[replay.prediction]}** at step {replay.decision_step()} of "
        f"{replay.steps} and kept it to the end. {replay.probability_note}"
    )
    step = st.slider(
        "Step",
        min_value=1,
        max_value=replay.steps,
        value=replay.steps,
        key=f"draw_step_{replay.steps}",
        help=f"Replay the reading: what the network had seen after this many "
        f"{ORDER_WORDS[config.order].steps}, and what it would have answered then.",
    )
    top = replay.layers[-1]  # the top layer: [forward] or [forward, backward]
    h = np.concatenate([direction.h for direction in top], axis=1)  # (T, H) or (T, 2H)
    zmax = 1.0 if config.nonlinearity == "tanh" else max(float(np.abs(h).max()), 1e-6)  # ReLU is unbounded
    both = " (forward, then backward units)" if len(top) > 1 else ""
    reading, lines, states = st.columns([3, 4, 4], gap="medium")
    reading.plotly_chart(reading_figure(image, config.order, step), key="draw_reading", config=PLOT_CONFIG)
    lines.plotly_chart(
        probability_lines_figure(replay.probabilities, classes, step, replay.prediction),
        key="draw_lines",
        config=PLOT_CONFIG,
    )
    states.plotly_chart(
        heatmap_figure(h, step, title=f"Hidden state of the top layer{both}", zmax=zmax),
        key="draw_states",
        config=PLOT_CONFIG,
    )
    if st.button(
        "Open in Inside",
        key="draw_open_inside",
        icon=":material/visibility:",
        help="Look at this drawing on the Inside page: every layer's states and gates, step by step.",
    ):
        st.session_state[DRAWING_KEY] = image
        st.switch_page(INSIDE, query_params={RUN_PARAM: run_id})
