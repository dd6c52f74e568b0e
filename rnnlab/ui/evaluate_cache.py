"""The Evaluate page's heavy results, cached per run, weights version and number of test images."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from rnnlab.data import load_dataset
from rnnlab.evaluation import Evaluation, evaluate
from rnnlab.hidden_map import HiddenMap, pca_2d
from rnnlab.lab import Lab
from rnnlab.robustness import robustness_curve
from rnnlab.store import RunSummary
from rnnlab.ui.subjects import model_for


@st.cache_data(show_spinner=False, max_entries=16)
def evaluation(run_id: str, version: str, limit: int) -> Evaluation:
    """One pass over the first `limit` test images; `version` is only part of the key."""
    model, config, dataset = model_for(run_id, version)
    n = min(limit, len(dataset.test_images))
    return evaluate(model, dataset.test_images[:n], dataset.test_labels[:n], config.order)


@st.cache_data(show_spinner=False, max_entries=16)
def hidden_map(run_id: str, version: str, limit: int) -> HiddenMap:
    return pca_2d(evaluation(run_id, version, limit).features)


@st.cache_data(show_spinner=False, max_entries=48)
def robustness(run_id: str, version: str, limit: int, kind: str) -> pd.DataFrame:
    """Accuracy over the levels of one perturbation: several passes, so computed only when asked for."""
    model, config, dataset = model_for(run_id, version)
    n = min(limit, len(dataset.test_images))
    return robustness_curve(model, dataset.test_images[:n], dataset.test_labels[:n], config.order, kind)


def test_images(lab: Lab, summary: RunSummary) -> torch.Tensor:
    """uint8 (N, 28, 28): the run's test split, for thumbnails (the dataset is parsed once per process)."""
    assert summary.config is not None  # pick_run offers only runs whose config loads
    return load_dataset(summary.config.dataset, lab.data_dir).test_images
