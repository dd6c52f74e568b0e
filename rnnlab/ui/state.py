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
    A worker is started at once, so the first Start trains within moments instead of after the
    seconds a new process spends importing torch.
    """
    lab = Lab(cpu_threads=app_cpu_threads())
    lab.warm_up()
    atexit.register(lab.shutdown, 10.0)  # stop runs cleanly (weights saved) when the server exits
    return lab


def app_cpu_threads() -> int | None:
    """Torch threads per worker: $RNNLAB_TORCH_THREADS, else None (the cores shared out among the
    runs that may train at once).

    Each run trains in its own worker process, so the server's page drawing no longer shares a
    process (and an OpenMP team) with training; the one-thread cap the threaded trainer needed
    is gone.
    """
    value = os.environ.get("RNNLAB_TORCH_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return None
