"""Evaluate: what a trained run gets wrong, how early it can tell, and how it lays out what it has read."""

import streamlit as st

from rnnlab.compare import run_labels
from rnnlab.data import CLASSES
from rnnlab.evaluate import DEFAULT_LIMIT
from rnnlab.plots.compare import run_colours
from rnnlab.ui import evaluate_data as data
from rnnlab.ui import evaluate_views as views
from rnnlab.ui.pages import TRAIN, require_router
from rnnlab.ui.state import get_lab
from rnnlab.ui.widgets import RUN_PARAM, has_weights, pick_run

require_router()
lab = get_lab()
st.title("Evaluate")
st.caption(
    "What a trained network gets wrong, how early in the sequence it can tell, and how it arranges what it "
    "has read, measured on the run's test images."
)

usable = has_weights(lab)
wanted = st.query_params.get(RUN_PARAM)
pick, compare, size = st.columns([3, 3, 1])
with pick:
    chosen = pick_run(
        lab, key="evaluate_run", where=usable, help="The run to evaluate, with its latest weights."
    )
if wanted and (chosen is None or chosen.run_id != wanted):
    instead = " Showing the newest run with weights instead." if chosen else ""
    st.warning(f"There is no run `{wanted}` with saved weights here, so it cannot be evaluated.{instead}")
if chosen is None:
    st.info("No run has weights to evaluate yet. Train one first: its checkpoint is saved after each epoch.")
    st.page_link(TRAIN, label="Go to the Train page", icon=":material/model_training:")
    st.stop()
st.query_params[RUN_PARAM] = chosen.run_id  # the URL names what is shown, so it can be shared or reloaded

dataset = chosen.config.dataset
others = {
    s.run_id: s
    for s in lab.list_runs()
    if s.run_id != chosen.run_id and not s.broken and s.config.dataset == dataset and usable(s)
}
with compare:
    compared = st.multiselect(
        "Compare with",
        list(others),
        format_func=run_labels([(i, s.name) for i, s in others.items()]).__getitem__,
        key="evaluate_compare",
        max_selections=3,
        placeholder="other runs on the same dataset" if others else f"no other {dataset} run has weights",
        disabled=not others,
        help="Overlay up to three other runs on the same dataset in the per-class, early-reading and "
        "robustness charts.",
    )
with size:
    limit = st.number_input(
        "Test images",
        min_value=100,
        max_value=10_000,
        value=DEFAULT_LIMIT,
        step=500,
        key="evaluate_limit",
        help="How many test images to evaluate (the first ones of the test split). More is steadier but "
        "slower; results are cached per run and checkpoint.",
    )

subjects = [data.subject(lab, s, limit) for s in [chosen, *(others[i] for i in compared if i in others)]]
results = {}
for subject in subjects:
    try:
        with st.spinner(f"Evaluating {subject.label} on up to {limit:,} test images…"):
            results[subject.run_id] = data.evaluation(*subject.key)
    except data.LOAD_ERRORS as error:
        st.warning(f"**{subject.label}**: {data.explain(error)}")
        if subject is subjects[0]:
            st.stop()
subjects = [s for s in subjects if s.run_id in results]
main, result = subjects[0], results[subjects[0].run_id]
classes = CLASSES[dataset]
colours = run_colours([s.run_id for s in subjects])

views.metrics_row(subjects, results)
if main.live_step is not None:
    st.caption(f"This run is still training: these are its weights at step {main.live_step:,}.")

tabs = st.tabs(
    ["Confusion & mistakes", "Per class", "Reading early", "Hidden-state map", "Robustness"],
    key="evaluate_tab",
    on_change="rerun",
)
confusion_tab, per_class_tab, steps_tab, map_tab, robustness_tab = tabs
# Only the open tab runs (robustness takes several passes); `open` is None when no state is tracked.
if confusion_tab.open is not False:
    with confusion_tab:
        views.confusion_and_examples(result, classes, data.test_images(lab, chosen), chosen.run_id)
if per_class_tab.open is not False:
    with per_class_tab:
        views.per_class_view(subjects, results, classes, colours)
if steps_tab.open is not False:
    with steps_tab:
        views.steps_view(subjects, results, classes, colours)
if map_tab.open is not False:
    with map_tab:
        hidden = data.hidden_map(*main.key)
        views.hidden_map_view(result, hidden, classes, data.test_images(lab, chosen), chosen.run_id)
if robustness_tab.open is not False:
    with robustness_tab:
        views.robustness_view(subjects, classes, colours)
