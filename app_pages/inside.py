"""Inside: replay one image through a trained network step by step: states, gates, answers, gradients."""

import streamlit as st

from rnnlab.config import ORDER_WORDS
from rnnlab.replay_stats import hints
from rnnlab.ui import inside_sections
from rnnlab.ui.format import percent
from rnnlab.ui.inside_cache import analyse_sample, batch_gradient, population_for, shown_subject, unpin
from rnnlab.ui.inside_sample import pick_sample
from rnnlab.ui.inside_steps import state_labels, step_view
from rnnlab.ui.pages import TRAIN
from rnnlab.ui.state import get_lab
from rnnlab.ui.subjects import LOAD_ERRORS, explain, model_for
from rnnlab.ui.widgets import NO_WEIGHTS, RUN_PARAM, has_weights, pick_run

lab = get_lab()
st.title("Inside the RNN")
st.caption(
    "Replay one image through a trained network, one step at a time, and watch what its hidden state, its "
    "gates and its answer do as the image arrives. Below: how far the gradient reaches back in time, how the "
    "gates behave over many images, and what single units respond to."
)

run_col, sample_col = st.columns([2, 3], gap="large")
with run_col:
    summary = pick_run(
        lab,
        key="inside_run",
        where=has_weights(lab),
        unusable=NO_WEIGHTS,
        help="The trained network to look inside. A run still training shows the weights it had when you "
        "picked it; a finished one its saved checkpoint.",
    )
if summary is None:
    st.info(
        "No run has weights to look inside yet. Train one on the Train page: a run can be replayed here once "
        "it has taken its first steps."
    )
    st.page_link(TRAIN, label="Go to the Train page", icon=":material/model_training:")
    st.stop()
st.query_params[RUN_PARAM] = summary.run_id  # the URL names what is shown, so it can be shared or reloaded

shown = shown_subject(lab, summary)
try:
    with st.spinner("Loading the run's weights and its test images…"):
        _, config, dataset = model_for(*shown.key)  # loads once; the cached analyses reuse it
except LOAD_ERRORS as error:
    st.error(explain(error), icon=":material/error:")
    st.stop()
if shown.live_step is not None:
    with run_col:
        st.caption(f"Still training: showing its weights from step {shown.live_step:,}.")
        st.button(
            "Load latest weights",
            icon=":material/refresh:",
            key="inside_reload",
            on_click=unpin,
            args=(summary.run_id,),
            help="Replay with the weights the run has now; it keeps training meanwhile.",
        )
with sample_col:
    sample = pick_sample(shown, dataset)

classes = dataset.classes
with st.spinner("Replaying the image step by step…"):
    analysis = analyse_sample(*shown.key, sample.image, sample.label)
trace = analysis.trace
unit = ORDER_WORDS[config.order].steps
answer, truth, settled = st.columns(3)
answer.metric(
    "The network says",
    f"{classes[trace.prediction]} ({percent(float(trace.final_probabilities[trace.prediction]))})",
    help="Its answer after reading the whole image, with the probability it gives that answer.",
)
if sample.label is None:
    truth.metric("Image", "your drawing", help="A drawing has no true class.")
else:
    verdict = "right" if trace.prediction == sample.label else "wrong"
    truth.metric(
        "True class",
        classes[sample.label],
        delta=verdict,
        delta_color="normal" if verdict == "right" else "inverse",
        delta_arrow="off",
        help=f"The label of {sample.description}.",
    )
settled.metric(
    "Made up its mind at",
    f"{ORDER_WORDS[config.order].step} {trace.decision_step()} of {trace.steps}",
    help=f"The step from which its leading class stayed the final answer to the end: after that many {unit} "
    "it already said what it says at the end.",
)

step_view(analysis, sample, config, classes)

st.divider()
try:
    with st.spinner("Replaying test images for the statistics below…"):
        mean_gradient = batch_gradient(*shown.key)
        population = population_for(*shown.key)
except LOAD_ERRORS as error:
    st.warning(explain(error))
    st.stop()
count = len(population.labels)  # the test split may hold fewer images than the budget
found = hints(mean_gradient, population, config.order, config.bidirectional)
warnings = sum(h.level == "warning" for h in found)
labels = state_labels(trace)
gradients_tab, gates_tab, units_tab, hints_tab = st.tabs(
    [
        "Gradients through time",
        "Gate statistics",
        "Unit explorer",
        f"Hints ({warnings})" if warnings else "Hints",
    ]
)
with gradients_tab:
    inside_sections.gradient_section(
        lab, summary, count, mean_gradient, analysis.gradient, config.bidirectional
    )
with gates_tab:
    inside_sections.gates_section(population, labels, count)
with units_tab:
    inside_sections.unit_section(population, labels, classes)
with hints_tab:
    inside_sections.hints_section(found)
