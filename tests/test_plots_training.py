"""Training charts: the expected traces and points from a small metrics frame; downsampling bounds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import RunConfig
from rnnlab.metrics import COLUMNS, MetricsLog
from rnnlab.plots.training import (
    LOSS_TITLE,
    MAX_POINTS,
    accuracy_figure,
    downsample,
    loss_figure,
    lr_figure,
    schedule_figure,
    smooth,
)
from rnnlab.schedules import plan


def metrics_frame(steps: int = 40, log_every: int = 2, eval_every: int = 10, per_epoch: int = 20):
    """A run's frame as the trainer writes it: step rows, quick evals, and an epoch row per epoch."""
    log = MetricsLog(max_rows=100_000)
    for step in range(1, steps + 1):
        lr = 0.01 if step <= steps // 2 else 0.001  # a live lr change halfway
        if step % log_every == 0:
            log.append("step", step=step, epoch=step / per_epoch, time=step * 0.1, loss=3 / step, lr=lr)
        if step % eval_every == 0 and step % per_epoch:
            log.append("eval", step=step, epoch=step / per_epoch, quick_test_acc=step / (steps + 1))
        if step % per_epoch == 0:
            epoch = step // per_epoch
            log.append(
                "epoch",
                step=step,
                epoch=epoch,
                lr=lr,
                train_loss=1 / epoch,
                train_acc=0.5 + epoch / 10,
                test_loss=1.2 / epoch,
                test_acc=0.4 + epoch / 10,
                quick_test_acc=0.4 + epoch / 10,
            )
    return log.frame()


def traces(fig) -> dict:
    return {trace.name: trace for trace in fig.data}


def test_loss_figure_has_raw_smoothed_and_test_points():
    frame = metrics_frame()
    fig = loss_figure(frame, smoothing=0.5)
    assert fig.layout.title.text == LOSS_TITLE
    by_name = traces(fig)
    raw, smoothed, test = by_name["train, raw"], by_name["train, smoothed"], by_name["test"]
    steps = frame[frame["kind"] == "step"]
    assert list(raw.x) == list(steps["step"]) and np.allclose(raw.y, steps["loss"])
    assert raw.opacity < 1 and len(smoothed.y) == len(raw.y)
    assert np.allclose(smoothed.y, smooth(steps["loss"].to_numpy(), 0.5))
    assert list(test.x) == [20, 40] and np.allclose(test.y, [1.2, 0.6])
    assert fig.layout.xaxis.title.text == "step" and fig.layout.height <= 400


def test_smoothing_is_a_debiased_moving_average():
    values = np.array([4.0, 2.0, 2.0, 2.0])
    assert np.allclose(smooth(values, 0.0), values)
    smoothed = smooth(values, 0.9)
    assert smoothed[0] == 4.0  # debiased: the start is not pulled towards 0
    assert 2.0 < smoothed[-1] < 4.0 and np.all(np.diff(smoothed) < 0)
    assert len(smooth(np.array([]), 0.6)) == 0
    for bad in (-0.1, 1.0, math.nan):
        with pytest.raises(ValueError, match="smoothing"):
            smooth(values, bad)


def test_accuracy_figure_has_epochs_and_quick_tests():
    frame = metrics_frame()
    by_name = traces(accuracy_figure(frame))
    assert np.allclose(by_name["train"].y, [0.6, 0.7]) and list(by_name["train"].x) == [20, 40]
    assert np.allclose(by_name["test"].y, [0.5, 0.6])
    quick = by_name["quick test"]
    assert list(quick.x) == [10, 20, 30, 40]  # quick evals between epochs, joined by the epoch tests


def test_lr_figure_shows_a_live_change_on_a_log_axis():
    frame = metrics_frame()
    fig = lr_figure(frame)
    (line,) = fig.data
    assert line.line.shape == "hv" and max(line.y) == 0.01 and min(line.y) == 0.001
    assert fig.layout.yaxis.type == "log"
    steady = frame.assign(lr=0.01)
    assert lr_figure(steady).layout.yaxis.type != "log"  # one value reads better on a linear axis


def test_empty_frame_gives_figures_that_say_what_they_wait_for():
    for empty in (pd.DataFrame(columns=COLUMNS), pd.DataFrame()):  # a run that never logged: no columns
        for fig in (loss_figure(empty), accuracy_figure(empty), lr_figure(empty)):
            assert fig.layout.annotations and fig.layout.xaxis.visible is False
            assert all(len(trace.x) == 0 for trace in fig.data)


def test_text_in_a_metrics_file_becomes_gaps_not_errors():
    frame = metrics_frame().astype({"loss": object, "lr": object})
    frame.loc[frame.index[:3], ["loss", "lr"]] = "oops"
    for fig in (loss_figure(frame), accuracy_figure(frame), lr_figure(frame)):
        assert fig.data


def test_long_runs_are_drawn_with_bounded_points():
    frame = metrics_frame(steps=20_000, log_every=1, eval_every=50, per_epoch=1000)
    for fig in (loss_figure(frame), accuracy_figure(frame), lr_figure(frame)):
        for trace in fig.data:
            assert len(trace.x) <= MAX_POINTS + 20  # + the 20 epoch rows, always kept
    raw = traces(loss_figure(frame))["train, raw"]
    assert raw.x[0] == 1 and raw.x[-1] == 20_000  # the latest point is on the chart


def test_downsample_keeps_epochs_and_endpoints():
    frame = metrics_frame(steps=2000, log_every=1, eval_every=7, per_epoch=500)
    small = downsample(frame, 50)
    for kind in ("step", "eval"):
        rows, kept = frame[frame["kind"] == kind], small[small["kind"] == kind]
        assert len(kept) == 50
        assert kept["step"].iloc[0] == rows["step"].iloc[0] and kept["step"].iloc[-1] == rows["step"].iloc[-1]
    assert small[small["kind"] == "epoch"].equals(frame[frame["kind"] == "epoch"])
    assert downsample(frame.head(10), 50).equals(frame.head(10))
    with pytest.raises(ValueError, match="max_points"):
        downsample(frame, 1)


@settings(max_examples=60, deadline=None)
@given(n_steps=st.integers(0, 3000), n_epochs=st.integers(0, 5), max_points=st.integers(2, 500))
def test_downsample_bounds_any_frame(n_steps, n_epochs, max_points):
    kinds = ["step"] * n_steps + ["epoch"] * n_epochs
    frame = pd.DataFrame({"kind": kinds, "step": np.arange(len(kinds))})
    small = downsample(frame, max_points)
    steps = small[small["kind"] == "step"]
    assert len(steps) == min(n_steps, max_points)
    assert (small["kind"] == "epoch").sum() == n_epochs
    assert small["step"].is_monotonic_increasing
    if n_steps:
        assert steps["step"].iloc[0] == 0 and steps["step"].iloc[-1] == n_steps - 1


def test_lr_figure_draws_the_plan_under_the_used_rate_on_a_linear_axis():
    config = RunConfig(lr=0.01, schedule="one-cycle", epochs=4)
    fig = lr_figure(metrics_frame(), plan=plan(config, 10))
    by_name = traces(fig)
    assert list(by_name["planned"].x) == list(range(40)) and max(by_name["planned"].y) == pytest.approx(0.01)
    assert by_name["planned"].line.dash == "dash" and fig.layout.showlegend
    assert fig.layout.yaxis.type != "log"  # a schedule's shape, which ends near 0, reads in linear
    preview = schedule_figure(plan(config, 10))
    assert preview.layout.title.text == "Planned learning rate" and len(preview.data[0].x) == 40
