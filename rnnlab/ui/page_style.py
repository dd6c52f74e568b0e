"""Page-wide CSS: what the app changes in Streamlit's own look, in one place."""

from __future__ import annotations

import streamlit as st

# A progress bar animates its width for a while after every change, and a live run changes its
# bars every few seconds: on a small machine that repainting took about 7% of a core, which the
# run training beside the page needs. The bars jump to their new length instead.
_STEADY_PROGRESS_BARS = '[data-testid="stProgress"] * { transition: none !important; }'


def apply_page_style() -> None:
    st.html(f"<style>{_STEADY_PROGRESS_BARS}</style>")
