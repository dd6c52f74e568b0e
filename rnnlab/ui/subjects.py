"""Which weights a page shows: a run as a Subject (id + weights version), its model, errors in words.

Shared by the pages that read a trained network (Evaluate, Inside, Draw), so that all of them name
weights the same way and say the same thing when a run cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rnnlab.config import RunConfig
from rnnlab.data import DatasetUnavailable, ImageDataset
from rnnlab.lab import Lab
from rnnlab.models import SequenceClassifier
from rnnlab.store import BrokenRun, RunNotFound, RunSummary
from rnnlab.ui.format import plain
from rnnlab.ui.state import get_lab

# What can go wrong when a run is loaded and used; pages show each as a message, never a traceback.
LOAD_ERRORS = (RunNotFound, BrokenRun, DatasetUnavailable, ValueError, OSError)
DRAWING_KEY = "drawing"  # session state: the Draw page's last drawing, uint8 (28, 28), which Inside can open


@dataclass(frozen=True)
class Subject:
    """One run's weights as a page shows them: `key` (run id, weights version) names them in caches."""

    run_id: str
    version: str  # "live-<step>" for a run still training, else the checkpoint file's stamp
    label: str
    config: RunConfig
    live_step: int | None  # the step of a run still training, else None

    @property
    def key(self) -> tuple[str, str]:
        return self.run_id, self.version


def subject(lab: Lab, summary: RunSummary) -> Subject:
    """Name the weights a run has now: a live run by its step, a saved one by its checkpoint file's stamp.

    A new checkpoint (the run trained on) changes the stamp, so cached results are recomputed.
    """
    assert summary.config is not None  # pick_run offers only runs whose config loads
    run = lab.get(summary.run_id)
    if run is not None and run.alive:
        step = run.status().step
        return Subject(summary.run_id, f"live-{step}", summary.name, summary.config, step)
    version = lab.checkpoint_version(summary.run_id)  # "missing": loading raises BrokenRun with the reason
    return Subject(summary.run_id, version, summary.name, summary.config, None)


@st.cache_resource(show_spinner=False, max_entries=8)
def model_for(run_id: str, version: str) -> tuple[SequenceClassifier, RunConfig, ImageDataset]:
    """One model object per weights version, so every chart of a version uses the very same weights.

    `version` is only part of the cache key.
    """
    return get_lab().load_for_evaluation(run_id)


def explain(error: Exception) -> str:
    """A sentence for a person: what failed and what to do about it."""
    if isinstance(error, DatasetUnavailable):
        return f"The run's dataset is not available here. {plain(str(error))}"
    if isinstance(error, (BrokenRun, RunNotFound)):
        return (
            f"This run's saved files cannot be used: {plain(str(error))}. "
            "Choose another run, or train this one again."
        )
    return f"This run could not be used: {plain(str(error))}"
