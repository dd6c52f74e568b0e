"""The Evaluate page's heavy results, cached per run, checkpoint and subset size (never per model object)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st
import torch

from rnnlab.data import DatasetUnavailable, load_dataset
from rnnlab.evaluate import Evaluation, evaluate, load_for_evaluation
from rnnlab.hidden_map import HiddenMap, pca_2d
from rnnlab.lab import Lab
from rnnlab.robustness import robustness_curve
from rnnlab.store import CHECKPOINT_FILE, BrokenRun, RunNotFound, RunSummary
from rnnlab.ui.state import get_lab

# What can go wrong when a run is loaded and scored; the page shows each as a message, never a traceback.
LOAD_ERRORS = (RunNotFound, BrokenRun, DatasetUnavailable, ValueError, OSError)


@dataclass(frozen=True)
class Subject:
    """One run as the page evaluates it: the cache key (id, weights version, subset size) and its labels."""

    run_id: str
    version: str
    limit: int
    label: str
    order: str
    readout: str
    live_step: int | None  # the step of a run still training, else None

    @property
    def key(self) -> tuple[str, str, int]:
        return self.run_id, self.version, self.limit


def subject(lab: Lab, summary: RunSummary, limit: int) -> Subject:
    """Name the weights a run has now: a live run by its step, a saved one by its checkpoint file's stamp.

    A new checkpoint (the run trained on) changes the stamp, so cached results are recomputed.
    """
    assert summary.config is not None  # pick_run offers only runs whose config loads
    order, readout = summary.config.order, summary.config.readout
    run = lab.get(summary.run_id)
    if run is not None and run.alive:
        step = run.status().step
        return Subject(summary.run_id, f"live-{step}", limit, summary.name, order, readout, step)
    path = lab.store.path(summary.run_id) / CHECKPOINT_FILE
    try:
        stat = path.stat()
        version = f"{stat.st_mtime_ns}-{stat.st_size}"
    except OSError:
        version = "missing"  # loading will raise BrokenRun with the reason
    return Subject(summary.run_id, version, limit, summary.name, order, readout, None)


@st.cache_data(show_spinner=False, max_entries=16)
def evaluation(run_id: str, version: str, limit: int) -> Evaluation:
    """One pass over the first `limit` test images; `version` is only part of the key."""
    model, config, dataset = load_for_evaluation(get_lab(), run_id)
    n = min(limit, len(dataset.test_images))
    return evaluate(model, dataset.test_images[:n], dataset.test_labels[:n], config.order)


@st.cache_data(show_spinner=False, max_entries=16)
def hidden_map(run_id: str, version: str, limit: int) -> HiddenMap:
    return pca_2d(evaluation(run_id, version, limit).features)


@st.cache_data(show_spinner=False, max_entries=48)
def robustness(run_id: str, version: str, limit: int, kind: str) -> pd.DataFrame:
    """Accuracy over the levels of one perturbation: several passes, so computed only when asked for."""
    model, config, dataset = load_for_evaluation(get_lab(), run_id)
    n = min(limit, len(dataset.test_images))
    return robustness_curve(model, dataset.test_images[:n], dataset.test_labels[:n], config.order, kind)


def test_images(lab: Lab, summary: RunSummary) -> torch.Tensor:
    """uint8 (N, 28, 28): the run's test split, for thumbnails (the dataset is parsed once per process)."""
    assert summary.config is not None  # pick_run offers only runs whose config loads
    return load_dataset(summary.config.dataset, lab.data_dir).test_images


def explain(error: Exception) -> str:
    """A sentence for a person: what failed and what to do about it."""
    if isinstance(error, DatasetUnavailable):
        return f"The run's dataset is not available here. {error}"
    if isinstance(error, (BrokenRun, RunNotFound)):
        return f"This run's saved files cannot be used: {error}. Choose another run, or train this one again."
    return f"This run could not be evaluated: {error}"
