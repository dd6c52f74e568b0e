"""rnnlab: the router and the shared frame (sidebar with live runs) around every page.

Served by app.py (`streamlit run app.py`), which adds the live feed's routes to the server."""

import streamlit as st

from rnnlab.ui.page_style import apply_page_style
from rnnlab.ui.pages import navigation
from rnnlab.ui.sidebar import live_runs_sidebar
from rnnlab.ui.state import get_lab

st.set_page_config(page_title="rnnlab", page_icon=":material/repeat:", layout="wide")
apply_page_style()
page = navigation()
live_runs_sidebar(get_lab())
page.run()
