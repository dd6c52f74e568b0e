"""Schedules: each rate equals its formula, a hand-set rate rescales the rest, runs follow the plan."""

from __future__ import annotations

import math
import time

import pytest
import torch

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.schedules import RunSchedule, factor_function, plan

PEAK = 0.01


def planned_rates(config: RunConfig, steps_per_epoch: int) -> list[float]:
    """The planned rate of every step of a small run."""
    return plan(config, steps_per_epoch, points=10**6).rates


def rates(config: RunConfig, steps_per_epoch: int, *, set_at: int | None = None, new_lr: float = 0.0):
    """The rate each optimizer step of a whole run used, driving RunSchedule as the trainer does."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    schedule = RunSchedule(config, optimizer, steps_per_epoch)
    used = []
    for k in range(steps_per_epoch * config.epochs):
        if k == set_at:
            schedule.set_rate(new_lr)
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return used


def test_constant_keeps_the_rate():
    assert rates(RunConfig(lr=PEAK, epochs=3), 10) == [PEAK] * 30


def test_cosine_warms_up_linearly_then_follows_a_half_cosine():
    used = rates(RunConfig(lr=PEAK, schedule="cosine", warmup=0.1, epochs=4), 25)  # 100 steps, 10 warm
    assert used[0] == pytest.approx(PEAK / 10) and used[4] == pytest.approx(PEAK * 5 / 10)
    assert used[9] == pytest.approx(PEAK) and used[10] == pytest.approx(PEAK)
    assert used[55] == pytest.approx(PEAK * 0.5)  # halfway through the 90 cosine steps
    assert used[99] == pytest.approx(PEAK * 0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert all(rate > 0 for rate in used)
    assert rates(RunConfig(lr=PEAK, schedule="cosine", warmup=0.0, epochs=2), 5)[0] == pytest.approx(PEAK)


def test_one_cycle_equals_torch_one_cycle_lr():
    config = RunConfig(lr=PEAK, schedule="one-cycle", warmup=0.25, epochs=4)
    used = rates(config, 25)
    assert used[0] == pytest.approx(PEAK / 25) and used[24] == pytest.approx(PEAK)
    assert used[99] == pytest.approx(PEAK / 25 / 1e4)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=PEAK)
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=PEAK, total_steps=100, pct_start=0.25, cycle_momentum=False
    )
    expected = []
    for _ in range(100):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        torch_schedule.step()
    assert used == pytest.approx(expected, rel=1e-9)


def test_step_decay_multiplies_every_few_epochs():
    used = rates(RunConfig(lr=PEAK, schedule="step", decay_every=2, decay_factor=0.5, epochs=5), 10)
    assert used[:20] == [PEAK] * 20
    assert used[20:40] == pytest.approx([PEAK / 2] * 20) and used[40:] == pytest.approx([PEAK / 4] * 10)


@pytest.mark.parametrize("schedule", ["constant", "one-cycle", "cosine", "step"])
def test_a_hand_set_rate_is_used_next_and_rescales_the_rest(schedule):
    config = RunConfig(lr=PEAK, schedule=schedule, epochs=4)
    planned = planned_rates(config, 25)
    new = planned[40] * 3
    used = rates(config, 25, set_at=40, new_lr=new)
    assert used[:40] == pytest.approx(planned[:40])
    assert used[40] == pytest.approx(new)
    assert used[41:] == pytest.approx([3 * rate for rate in planned[41:]])  # the same shape, 3x


def test_a_resumed_schedule_goes_on_from_the_rate_it_was_saved_with():
    config = RunConfig(lr=PEAK, schedule="cosine", warmup=0.2, epochs=4)
    whole = rates(config, 25, set_at=30, new_lr=0.002)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=whole[50])  # as restored
    schedule = RunSchedule(config, optimizer, 25, done_steps=50)
    resumed = []
    for _ in range(50):
        resumed.append(schedule.lr)
        optimizer.step()
        schedule.step()
    assert resumed == pytest.approx(whole[50:])


def test_factors_stay_positive_to_the_last_step():
    for schedule in ("one-cycle", "cosine", "step"):
        config = RunConfig(schedule=schedule, epochs=3, decay_every=1, warmup=0.5)
        factor = factor_function(config, 7)
        assert all(factor(k) > 0 for k in range(21)), schedule


def test_schedule_settings_are_validated_and_old_configs_load():
    new_fields = ("schedule", "warmup", "decay_every", "decay_factor")
    old = {k: v for k, v in RunConfig().to_dict().items() if k not in new_fields}
    assert RunConfig.from_dict(old).schedule == "constant"  # a run saved before schedules existed
    with pytest.raises(ValueError, match="schedule='linear' is not allowed"):
        RunConfig(schedule="linear")
    with pytest.raises(ValueError, match=r"warmup=0\.95 is out of range"):
        RunConfig(warmup=0.95)
    with pytest.raises(ValueError, match="decay_factor"):
        RunConfig(decay_factor=0.0)
    with pytest.raises(ValueError, match="decay_every=3 epochs is not shorter than the run"):
        RunConfig(schedule="step", decay_every=3, epochs=3)
    with pytest.raises(ValueError, match=r"decay_every=1\.5 must be of type int"):
        RunConfig(decay_every=1.5)


def test_a_scheduled_run_logs_its_rates_and_a_hand_set_one(lab: Lab) -> None:
    """The trainer follows the plan; a rate set while paused is an event, and the rest is rescaled."""
    config = RunConfig(
        hidden_size=16,
        batch_size=32,
        epochs=4,
        schedule="cosine",
        warmup=0.1,
        lr=0.01,
        log_every=1,
        eval_every=0,
    )
    run = lab.start(config)
    deadline = time.monotonic() + 30
    while run.status().step < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    run.pause()
    while run.status().state != "paused" and time.monotonic() < deadline:
        time.sleep(0.01)
    at = run.status().step
    planned = planned_rates(config, 16)  # 512 tiny images / 32
    assert run.status().lr == pytest.approx(planned[at])
    run.set_lr(planned[at] / 2)
    run.resume()
    assert run.join(60)
    frame = run.metrics()
    steps = frame[frame["kind"] == "step"]
    before, after = steps[steps["step"] <= at], steps[steps["step"] > at]
    last = len(planned) - 1  # the row of the last step holds the rate a further step would use
    assert list(before["lr"]) == pytest.approx([planned[s] for s in before["step"]])
    assert list(after["lr"]) == pytest.approx([planned[min(s, last)] / 2 for s in after["step"]])
    (event,) = frame[frame["kind"] == "event"].itertuples()
    assert (event.event, event.step, event.lr) == ("lr", at, pytest.approx(planned[at] / 2))


def test_a_plan_is_a_few_hundred_points_however_long_the_run():
    config = RunConfig(lr=PEAK, schedule="cosine", warmup=0.05, epochs=1000, batch_size=1)
    long = plan(config, 60_000)  # 60 million steps
    assert len(long.steps) <= 401 and long.steps[0] == 0 and long.steps[-1] == 60_000_000 - 1
    factor = factor_function(config, 60_000)
    assert long.rates == pytest.approx([PEAK * factor(k) for k in long.steps])
