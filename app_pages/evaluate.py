"""Evaluate: what a trained run gets wrong, how early it can tell, and how it lays out what it has read."""

import streamlit as st

from rnnlab.data import CLASSES
from rnnlab.evaluation import DEFAULT_LIMIT
from rnnlab.plots.compare import run_colours
from rnnlab.ui import evaluate_cache, evaluate_views
from rnnlab.ui.format import plain
from rnnlab.ui.pages import TRAIN
from rnnlab.ui.state import get_lab
from rnnlab.ui.subjects import LOAD_ERRORS, explain, subject
from rnnlab.ui.widgets import NO_WEIGHTS, RUN_PARAM, compare_with, has_weights, pick_run

lab = get_lab()
st.title("Evaluate")
st.caption(
    "What a trained network gets wrong, how early in the sequence it can tell, and how it arranges what it "
    "has read, measured on the run's test images."
)

usable = has_weights(lab)
pick, compare, size = st.columns([3, 3, 1])
with pick:
    chosen = pick_run(
        lab,
        key="evaluate_run",
        where=usable,
        unusable=NO_WEIGHTS,
        help="The run to evaluate, with its latest weights.",
    )
if chosen is None:
    st.info("No run has weights to evaluate yet. Train one first: its checkpoint is saved after each epoch.")
    st.page_link(TRAIN, label="Go to the Train page", icon=":material/model_training:")
    st.stop()
st.query_params[RUN_PARAM] = chosen.run_id  # the URL names what is shown, so it can be shared or reloaded

dataset = chosen.config.dataset
with compare:
    compared = compare_with(
        lab,
        chosen,
        key="evaluate_compare",
        where=lambda s: s.config.dataset == dataset and usable(s),
        max_selections=3,
        placeholder="other runs on the same dataset",
        nothing=f"no other {dataset} run has weights",
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

subjects = [subject(lab, s) for s in [chosen, *compared]]
results = {}
for shown in subjects:
    try:
        with st.spinner(f"Evaluating {plain(shown.label)} on up to {limit:,} test images…"):
            results[shown.run_id] = evaluate_cache.evaluation(*shown.key, limit)
    except LOAD_ERRORS as error:
        st.warning(f"**{plain(shown.label)}**: {explain(error)}")
        if shown is subjects[0]:
            st.stop()
subjects = [s for s in subjects if s.run_id in results]
main, result = subjects[0], results[subjects[0].run_id]
classes = CLASSES[dataset]
colours = run_colours([s.run_id for s in subjects])

evaluate_views.metrics_row(subjects, results)
st.caption(evaluate_views.against_best(chosen, result, main.live_step))

tabs = st.tabs(
    ["Confusion & mistakes", "Per class", "Reading early", "Hidden-state map", "Robustness"],
    key="evaluate_tab",
    on_change="rerun",
)
confusion_tab, per_class_tab, steps_tab, map_tab, robustness_tab = tabs
# Only the open tab runs (robustness takes several passes); `open` is None when no state is tracked.
if confusion_tab.open is not False:
    with confusion_tab:
        evaluate_views.confusion_and_examples(
            result, classes, evaluate_cache.test_images(lab, chosen), chosen.run_id
        )
if per_class_tab.open is not False:
    with per_class_tab:
        evaluate_views.per_class_view(subjects, results, classes, colours)
if steps_tab.open is not False:
    with steps_tab:
        evaluate_views.steps_view(subjects, results, classes, colours)
if map_tab.open is not False:
    with map_tab:
        hidden = evaluate_cache.hidden_map(*main.key, limit)
        evaluate_views.hidden_map_view(
            result, hidden, classes, evaluate_cache.test_images(lab, chosen), chosen.run_id
        )
if robustness_tab.open is not False:
    with robustness_tab:
        evaluate_views.robustness_view(subjects, limit, classes, colours)
