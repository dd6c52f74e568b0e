"""The Train page follows a run started elsewhere (another tab or page) while it shows no live one."""

from __future__ import annotations

import streamlit as st

from rnnlab.lab import Lab
from rnnlab.ui.format import plain
from rnnlab.ui.widgets import RUN_PARAM

SEEN_KEY = "train_live_seen"  # ids of the runs that were live when this tab last looked
FOLLOWED_KEY = "train_followed"  # (run id, name, note) of the run this tab followed by itself
WATCH_S = 2.0  # how often a tab showing no live run looks for a new one


def follow_new_runs(lab: Lab, pick_key: str) -> None:
    """Before the run picker: point ?run= at a run started since this tab last looked.

    Only when the tab shows no live run (a finished one, or none yet): a run being watched is never
    taken away, and a run started meanwhile waits in the sidebar. A Start or a link in this tab has
    already put its run in the URL, so it is not announced as coming from elsewhere. The notice
    stays while the tab shows the followed run: the page redraws as the run starts training, and a
    notice shown for one redraw only would flash past before anyone read it.
    """
    live = {run.run_id: run for run in lab.live_runs()}
    seen = st.session_state.get(SEEN_KEY)
    remember_live(lab)
    shown, wanted = st.session_state.get(pick_key), st.query_params.get(RUN_PARAM)
    started = sorted((i for i in live if i not in (seen or ())), reverse=True)  # ids start with a timestamp
    if seen is not None and started and shown not in live and wanted not in started:
        st.query_params[RUN_PARAM] = wanted = started[0]
        before = " The run shown before is still in the menu below." if shown else ""
        st.session_state[FOLLOWED_KEY] = (started[0], live[started[0]].status().name, before)
    followed = st.session_state.get(FOLLOWED_KEY)
    if followed is None or followed[0] != wanted:
        st.session_state.pop(FOLLOWED_KEY, None)
        return
    _, name, before = followed
    st.info(
        f"Now showing **{plain(name)}**, started in another tab or page.{before}", icon=":material/sync_alt:"
    )


def remember_live(lab: Lab) -> None:
    """Mark the runs live now as seen (a tab watching a run calls this as it redraws)."""
    st.session_state[SEEN_KEY] = {run.run_id for run in lab.live_runs()}


@st.fragment(run_every=WATCH_S)
def watch_for_new_runs(lab: Lab) -> None:
    """A tab showing no live run looks every few seconds; a run it has not seen redraws the page."""
    seen = st.session_state.get(SEEN_KEY) or set()
    if any(run.run_id not in seen for run in lab.live_runs()):
        st.rerun(scope="app")
