"""The app's pages in one place, so the router and every cross-page link agree on paths."""

from __future__ import annotations

import threading

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager

HOME = "pages/home.py"
TRAIN = "pages/train.py"
RUNS = "pages/runs.py"
INSIDE = "pages/inside.py"
EVALUATE = "pages/evaluate.py"
DRAW = "pages/draw.py"
_ROUTER_HAS_RUN = threading.Event()  # set once app.py has routed a request in this server process


def navigation() -> StreamlitPage:
    """Build the router; a page file path is all another page needs to link to it."""
    pages = [
        st.Page(HOME, title="Home", icon=":material/home:", default=True),
        st.Page(TRAIN, title="Train", icon=":material/model_training:"),
        st.Page(RUNS, title="Runs", icon=":material/table_chart:"),
        st.Page(INSIDE, title="Inside", icon=":material/visibility:"),
        st.Page(EVALUATE, title="Evaluate", icon=":material/fact_check:"),
        st.Page(DRAW, title="Draw", icon=":material/draw:"),
    ]
    _ROUTER_HAS_RUN.set()
    return st.navigation(pages)


def require_router() -> None:
    """Make sure this page runs inside app.py's frame, even when a direct link opened it first.

    Streamlit treats a `pages/` folder beside the entrypoint as a legacy multipage app until the
    entrypoint has called st.navigation once; so a fresh server's very first request for /runs
    would run pages/runs.py bare (no router, no sidebar). Leaving legacy mode and rerunning hands
    the request to app.py, which routes it to this page. Every page calls this first.
    """
    if not _ROUTER_HAS_RUN.is_set():
        PagesManager.uses_pages_directory = False
        st.rerun()
