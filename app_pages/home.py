"""Home: what rnnlab shows, which datasets are ready, the latest runs and where to go next."""

import streamlit as st

from rnnlab.store import ACTIVE_STATES
from rnnlab.ui.datasets_view import datasets_panel
from rnnlab.ui.pages import DRAW, EVALUATE, INSIDE, RUNS, SWEEP, TRAIN
from rnnlab.ui.state import get_lab
from rnnlab.ui.widgets import RUN_PARAM, run_label

LATEST = 5

lab = get_lab()
st.title("rnnlab")
st.markdown(
    "Watch recurrent networks learn to read images **one row at a time**. A 28×28 image becomes a "
    "sequence of 28 steps of 28 pixels, as in the classic PyTorch tutorials; an RNN, LSTM or GRU "
    "reads it step by step and then says which class it saw. Train one live, compare runs, sweep "
    "many settings at once, look inside the hidden state as an image arrives, and draw your own "
    "digits for it to read."
)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Where to go")
    destinations = [
        (TRAIN, "Train: pick a cell and settings, watch the loss fall live", ":material/model_training:"),
        (RUNS, "Runs: compare runs side by side, rename, export, continue", ":material/table_chart:"),
        (SWEEP, "Sweep: try many settings at once, stop weak ones early", ":material/tune:"),
        (INSIDE, "Inside: step through the hidden state, gates and gradients", ":material/visibility:"),
        (EVALUATE, "Evaluate: confusion matrix, mistakes, how early it can tell", ":material/fact_check:"),
        (DRAW, "Draw: draw a digit and see what the network reads", ":material/draw:"),
    ]
    for target, text, icon in destinations:
        st.page_link(target, label=text, icon=icon)

    st.subheader("Latest runs")
    runs = lab.list_runs()
    if not runs:
        st.info(
            "No runs yet. Start one on the Train page: a small LSTM on MNIST takes about a minute on a CPU."
        )
    for summary in runs[:LATEST]:
        live = summary.state in ACTIVE_STATES
        st.page_link(
            TRAIN if live else RUNS,
            label=run_label(summary),
            query_params={RUN_PARAM: summary.run_id},
            icon=":material/monitoring:" if live else ":material/table_chart:",
            help="Watch it train on the Train page" if live else "Open it on the Runs page",
        )
    if len(runs) > LATEST:
        st.page_link(RUNS, label=f"All {len(runs)} runs", icon=":material/arrow_forward:")

with right:
    st.subheader("Datasets")
    datasets_panel(lab.data_dir)
