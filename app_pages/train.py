"""Train: choose settings (or a preset), start a run, and watch it learn live."""

import streamlit as st

from rnnlab.ui.live import run_panel
from rnnlab.ui.state import get_lab
from rnnlab.ui.train_form import settings_form

lab = get_lab()
st.title("Train")
st.caption(
    "Pick a network and how to train it, press **Start training**, and watch the loss fall. Runs keep "
    "training on the server: reload, open a second tab or visit other pages, and they are still here."
)
form_column, run_column = st.columns([5, 8], gap="large")
with form_column:
    settings_form(lab)  # first: a Start here points ?run= at the new run for the panel
with run_column:
    run_panel(lab)
