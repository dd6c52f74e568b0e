"""Sweep figures from hand-made tables: parallel-coordinates axes, stopped-early crosses, empty notes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnlab.config import RunConfig
from rnnlab.plots.sweep import best_over_time, parallel_coordinates, top_curves, what_mattered
from rnnlab.sweep import SweepSpec, parse_axis
from rnnlab.sweep_table import FIXED_COLUMNS

SPEC = SweepSpec(RunConfig(), (parse_axis("cell", "lstm,gru"), parse_axis("lr", "1e-4..1e-2:log")), trials=3)


def table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*FIXED_COLUMNS, "cell", "lr"])


TABLE = table(
    [
        (2, "r2", "finished", 3, 0.9, 0.7, math.nan, "gru", 1e-3),
        (0, "r0", "pruned", 1, 0.5, 0.5, 1.0, "lstm", 1e-4),
        (1, "r1", "running", 0, math.nan, math.nan, math.nan, "lstm", 1e-2),
    ]
)


def test_parallel_coordinates_has_an_axis_per_setting_and_the_score_coloured() -> None:
    fig = parallel_coordinates(TABLE, SPEC)
    (trace,) = fig.data
    assert trace.type == "parcoords"
    labels = [d.label for d in trace.dimensions]
    assert labels == ["cell", "lr (log)", "test accuracy"]
    assert list(trace.dimensions[0].values) == [1, 0]  # gru, lstm as ticks 1 and 0; the unscored row left out
    np.testing.assert_allclose(trace.dimensions[1].values, [-3, -4])
    assert list(trace.line.color) == [0.9, 0.5]
    assert trace.dimensions[2].ticktext == ("0%", "20%", "40%", "60%", "80%", "100%")  # no range labels too


def test_a_trial_stopped_early_ends_in_a_cross_at_its_epoch() -> None:
    curves = pd.DataFrame(
        {"trial": [2, 2, 0, 0], "epoch": [0.5, 1.0, 0.5, 1.0], "accuracy": [0.6, 0.9, 0.3, 0.5]}
    )
    fig = top_curves(curves, TABLE)
    crosses = [t for t in fig.data if t.mode == "markers+text"]
    assert len(crosses) == 1 and list(crosses[0].x) == [1.0] and crosses[0].text == ("stopped at epoch 1",)


def test_empty_figures_say_what_they_wait_for() -> None:
    empty = table([])
    for fig in (
        parallel_coordinates(empty, SPEC),
        best_over_time(pd.DataFrame(columns=["seconds", "best"])),
        top_curves(pd.DataFrame(columns=["trial", "epoch", "accuracy"]), empty),
        what_mattered(pd.DataFrame(columns=["axis", "value", "mean score", "trials", "spread"])),
    ):
        assert not fig.data and "waits for the first trial" in fig.layout.annotations[0].text
