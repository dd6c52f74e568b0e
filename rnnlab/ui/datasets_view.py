"""Home's dataset panel: one short status line per dataset and, for a missing one, exactly what to do."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from rnnlab.availability import availability
from rnnlab.data import CLASSES, DATASETS


def datasets_panel(data_dir: str | Path) -> None:
    """One line per dataset; an expander with the steps under each missing one."""
    st.caption(
        f"Data folder `{Path(data_dir).expanduser().resolve()}` (set `RNNLAB_DATA_DIR` to use another)."
    )
    for name in DATASETS:
        advice = availability(name, data_dir)
        classes = ", ".join(CLASSES[name][:3])
        if advice.available:
            st.markdown(
                f":green[:material/check_circle:] **{name}** · {classes}, …  \n:gray[{advice.status}]"
            )
            continue
        st.markdown(f":orange[:material/downloading:] **{name}** · {classes}, …  \n:orange[{advice.status}]")
        with st.expander(f"How to get {name}", icon=":material/help:"):
            st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(advice.steps, 1)))
