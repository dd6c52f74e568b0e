"""The one Lab per server process: every session, tab and page sees the same runs."""

from __future__ import annotations

import atexit

import streamlit as st

from rnnlab.lab import Lab
from rnnlab.sweep_lab import SweepLab

_lab: Lab | None = None  # the Lab get_lab made, for the live feed's routes (no script context there)


def current_lab() -> Lab | None:
    """The server's Lab once a page has made it, else None."""
    return _lab


@st.cache_resource(show_spinner=False)
def get_lab() -> Lab:
    """Runs belong to the process: a reload or a second tab finds the same live runs here.

    The runs and data folders come from $RNNLAB_RUNS_DIR and $RNNLAB_DATA_DIR (default ./runs, ./data).
    A worker is started at once, so the first Start trains within moments instead of after the
    seconds a new process spends importing torch.
    """
    lab = Lab()  # torch threads per worker: rnnlab.lab.worker_threads ($RNNLAB_TORCH_THREADS)
    lab.warm_up()
    atexit.register(lab.shutdown, 10.0)  # stop runs cleanly (weights saved) when the server exits
    global _lab
    _lab = lab
    return lab


@st.cache_resource(show_spinner=False)
def get_sweeps() -> SweepLab:
    """The process's sweeps, beside its Lab: a sweep keeps running whichever sessions come and go."""
    sweeps = SweepLab(get_lab())
    atexit.register(sweeps.shutdown, 10.0)  # before the Lab's own (atexit runs last-registered first)
    return sweeps
