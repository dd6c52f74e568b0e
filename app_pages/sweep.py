"""Sweep: vary settings over many trials at once, stop weak ones early, see which settings mattered."""

import streamlit as st

from rnnlab.store import RunNotFound
from rnnlab.ui.state import get_lab, get_sweeps
from rnnlab.ui.sweep_form import SWEEP_PARAM, sweep_form
from rnnlab.ui.sweep_view import sweep_view

lab, sweeps = get_lab(), get_sweeps()
st.title("Sweep")
st.caption(
    "Choose settings to vary and the values to try. Each trial is an ordinary run (Runs, Inside, Evaluate "
    "and Draw open it); weak trials can stop early so the time goes to the promising ones."
)
records = {record.sweep_id: record for record in sweeps.list_sweeps()}
NEW = "New sweep"
options = [NEW, *records]
wanted = st.query_params.get(SWEEP_PARAM, NEW)
if wanted not in options:
    st.warning("The sweep in the link is not in this runs folder; showing a new sweep instead.")
    wanted = NEW
if st.session_state.get("sweep_pick") != wanted:
    st.session_state["sweep_pick"] = wanted  # the URL leads: a Start, a shared link or a reload


def follow_pick() -> None:
    """The picker writes the URL before the rerun, so the URL and the picker never disagree."""
    picked = st.session_state["sweep_pick"]
    if picked == NEW:
        st.query_params.pop(SWEEP_PARAM, None)
    else:
        st.query_params[SWEEP_PARAM] = picked


chosen = st.selectbox(
    "Sweep",
    options,
    format_func=lambda key: key if key == NEW else records[key].name,  # its state shows below, live
    key="sweep_pick",
    on_change=follow_pick,
    help="Start a new sweep, or open one of this runs folder's sweeps",
)
if chosen == NEW:
    sweep_form(lab, sweeps)
    st.stop()
try:
    sweep_view(sweeps, records[chosen])
except RunNotFound as e:
    st.warning(f"This sweep cannot be shown: {e}")
