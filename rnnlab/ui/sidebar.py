"""The shared frame: the sidebar that lists live runs on every page."""

from __future__ import annotations

import streamlit as st

from rnnlab.lab import Lab
from rnnlab.run_progress import epoch_text
from rnnlab.ui.format import plain, state_badge
from rnnlab.ui.pages import TRAIN

# Every page shows it, the Train page beside its own progress line: a slow clock is enough, and
# each redraw costs the browser CPU that a training run on the same machine needs.
SIDEBAR_REFRESH_S = 5.0


def live_runs_sidebar(lab: Lab) -> None:
    with st.sidebar:
        _live_runs(lab)


@st.fragment(run_every=SIDEBAR_REFRESH_S)
def _live_runs(lab: Lab) -> None:
    """Redrawn on its own every few seconds; the rest of the page does not rerun."""
    runs = lab.live_runs()
    st.caption("Live runs" if runs else "No run is training. Start one on the Train page.")
    for run in runs:
        status = run.status()
        st.page_link(
            TRAIN,
            label=plain(status.name),
            icon=":material/monitoring:",
            query_params={"run": run.run_id},
            help=f"Open {plain(status.name)} on the Train page",
        )
        st.progress(status.progress, text=f"{state_badge(status.state)} · {epoch_text(status)}")
