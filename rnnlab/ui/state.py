"""The one Lab per server process: every session, tab and page sees the same runs."""

from __future__ import annotations

import atexit
import os

import streamlit as st

from rnnlab.lab import Lab


@st.cache_resource(show_spinner=False)
def get_lab() -> Lab:
    """Runs belong to the process: a reload or a second tab finds the same live runs here.

    The runs and data folders come from $RNNLAB_RUNS_DIR and $RNNLAB_DATA_DIR (default ./runs, ./data).
    """
    lab = Lab(cpu_threads=app_cpu_threads())
    atexit.register(lab.shutdown, 10.0)  # stop threads cleanly (weights saved) when the server exits
    return lab


def app_cpu_threads() -> int:
    """Torch threads for CPU training in the app: $RNNLAB_TORCH_THREADS, else all cores but one.

    The server and the browser watching the run share the machine with training; measured on
    2 cores, one torch thread kept training at about 82% of its speed with the Train page open,
    where the default two (spinning while they wait) fell to 18%.
    """
    value = os.environ.get("RNNLAB_TORCH_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, (os.cpu_count() or 2) - 1)
