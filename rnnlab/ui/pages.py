"""The app's pages in one place, so the router and every cross-page link agree on paths.

The page scripts live in `app_pages/`, a folder name Streamlit does not discover on its own: the
router in app.py (st.navigation) is the only way in, for a first request to any page included.
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

HOME = "app_pages/home.py"
TRAIN = "app_pages/train.py"
RUNS = "app_pages/runs.py"
SWEEP = "app_pages/sweep.py"
INSIDE = "app_pages/inside.py"
EVALUATE = "app_pages/evaluate.py"
DRAW = "app_pages/draw.py"


def navigation() -> StreamlitPage:
    """Build the router; a page file path is all another page needs to link to it."""
    pages = [
        st.Page(HOME, title="Home", icon=":material/home:", default=True),
        st.Page(TRAIN, title="Train", icon=":material/model_training:"),
        st.Page(RUNS, title="Runs", icon=":material/table_chart:"),
        st.Page(SWEEP, title="Sweep", icon=":material/tune:"),
        st.Page(INSIDE, title="Inside", icon=":material/visibility:"),
        st.Page(EVALUATE, title="Evaluate", icon=":material/fact_check:"),
        st.Page(DRAW, title="Draw", icon=":material/draw:"),
    ]
    return st.navigation(pages)
