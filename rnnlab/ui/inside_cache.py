"""The Inside page's heavy results, cached per run, weights version and sample (never per model object)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from rnnlab.config import RunConfig
from rnnlab.data import sequence_shape, to_sequences
from rnnlab.lab import Lab
from rnnlab.replay import Saliency, Trace, gradient_through_time, saliency, trace
from rnnlab.replay_stats import Population, population
from rnnlab.store import RunSummary
from rnnlab.ui.subjects import Subject, model_for, subject

PINNED_KEY = "inside_pinned"  # session state: run id -> the Subject (weights version) being shown
SAMPLE_STEPS = 8192  # test samples x steps replayed for batch statistics: 256 rows-images, 10 pixel ones


@dataclass(frozen=True)
class SampleAnalysis:
    """Everything about one sample the step view shows: the trace, its saliency and its dL/dh_t."""

    trace: Trace
    saliency: Saliency
    gradient: np.ndarray  # (T,) ||dL/dh_t|| of the top layer for this sample


def batch_size_for(config: RunConfig) -> int:
    """How many test images the batch statistics replay: fewer for long sequences, at most 256."""
    steps = sequence_shape(config.order)[0]
    return max(8, min(256, SAMPLE_STEPS // steps))


def shown_subject(lab: Lab, summary: RunSummary) -> Subject:
    """The weights this session looks at: a live run's are pinned until the person asks for newer ones.

    Otherwise every rerun of a training run would bring new weights and recompute everything.
    """
    assert summary.config is not None  # pick_run offers only runs whose config loads
    pinned = st.session_state.setdefault(PINNED_KEY, {})
    current = subject(lab, summary)
    if current.live_step is None or summary.run_id not in pinned:
        pinned[summary.run_id] = current
    return pinned[summary.run_id]


def unpin(run_id: str) -> None:
    """Show the newest weights of a live run on the next run of the page (a button's callback)."""
    st.session_state.get(PINNED_KEY, {}).pop(run_id, None)


@st.cache_data(show_spinner=False, max_entries=32)
def analyse_sample(run_id: str, version: str, image: np.ndarray, label: int | None) -> SampleAnalysis:
    """Trace, saliency and gradient through time of one image (uint8 (28, 28)); `label` None: a drawing.

    Without a label the loss for dL/dh_t uses the network's own answer as the target.
    """
    model, config, _ = model_for(run_id, version)
    x = to_sequences(torch.as_tensor(image, dtype=torch.uint8)[None], config.order)  # (1, T, I)
    replay = trace(model, x[0])
    target = replay.prediction if label is None else label
    _, gradient = gradient_through_time(model, x, torch.tensor([target]))
    return SampleAnalysis(replay, saliency(model, x[0]), gradient)


@st.cache_data(show_spinner=False, max_entries=32)
def batch_gradient(run_id: str, version: str) -> np.ndarray:
    """(T,) mean ||dL/dh_t|| over the first test images: the run's vanishing-gradient picture."""
    model, config, dataset = model_for(run_id, version)
    limit = batch_size_for(config)
    x = to_sequences(dataset.test_images[:limit], config.order)  # (N, T, I)
    return gradient_through_time(model, x, dataset.test_labels[:limit])[1]


@st.cache_data(show_spinner=False, max_entries=16)
def population_for(run_id: str, version: str) -> Population:
    """States, gate statistics and unit summaries of the first test images (`batch_size_for` of them)."""
    model, config, dataset = model_for(run_id, version)
    limit = batch_size_for(config)
    images, labels = dataset.test_images[:limit], dataset.test_labels[:limit]
    return population(model, images, labels, config.order, config.nonlinearity)
