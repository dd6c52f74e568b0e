"""Runs: every run in one table; select some to compare their curves and settings, or manage one."""

import streamlit as st

from rnnlab.ui.doctor_view import doctor_panel
from rnnlab.ui.import_view import import_run
from rnnlab.ui.pages import TRAIN
from rnnlab.ui.run_actions import manage_run, pick_managed, show_flash
from rnnlab.ui.runs_view import compare_runs, select_runs, watch_live_runs
from rnnlab.ui.state import get_lab

lab = get_lab()
st.title("Runs")
show_flash()
import_run(lab)
summaries = lab.list_runs()
if not summaries:
    st.info(f"No runs yet in `{lab.runs_dir}`. Train one, then come back to compare runs side by side.")
    st.page_link(TRAIN, label="Start a run on the Train page", icon=":material/model_training:")
    st.stop()

watch_live_runs(lab)
st.caption("Tick rows to compare runs and to manage one; click a column header to sort.")
selected = select_runs(summaries)
if not selected:
    st.info("Select one or more runs in the table (the boxes at the left) to overlay their curves.")
    st.stop()

st.subheader("Compare")
compare_runs(lab, selected)
st.subheader("Manage")
managed = pick_managed(selected)
manage_run(lab, managed)
st.subheader("Doctor", help="What went wrong in the run managed above, and fixes to try in one click.")
doctor_panel(lab, managed.run_id, "runs")
