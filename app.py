"""rnnlab's server: `streamlit run app.py` serves router.py's pages plus the live feed's routes.

The Train page's live panel polls the feed over HTTP instead of rerunning the page every 2 s
(rnnlab/ui/live_feed.py says why); st.App is how a Streamlit server gains such routes.
"""

import streamlit as st

from rnnlab.ui.live_feed import routes
from rnnlab.ui.state import current_lab

app = st.App("router.py", routes=routes(current_lab))
