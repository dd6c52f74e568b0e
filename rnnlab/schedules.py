"""Learning-rate schedules: the fraction of the peak rate each step uses, and the torch scheduler applying it.

Every schedule is one function of the step, `factor(step)`, and the rate of step k (0-based,
counting optimizer steps over the whole run) is `peak * factor(k)`, where `peak` starts as
`config.lr`. A torch LambdaLR applies it, stepped once after every optimizer step.

A learning rate set by hand during a run takes effect from the next step and **rescales the rest of
the schedule**: the peak becomes `new_lr / factor(next step)`, so the schedule keeps its shape
around the new value (with the constant schedule the rate simply stays where it was set). A
continued run resumes the same way from the rate it was saved with, over its new length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

from rnnlab.config import RunConfig
from rnnlab.curves import MAX_POINTS

# torch.optim.lr_scheduler.OneCycleLR's defaults: start at peak/25, end at peak/25/1e4.
ONE_CYCLE_DIV = 25.0
ONE_CYCLE_FINAL_DIV = 1e4


def factor_function(config: RunConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """factor(k): the rate of optimizer step k as a fraction of the peak rate, always > 0."""
    total = max(steps_per_epoch * config.epochs, 1)
    if config.schedule == "one-cycle":
        return _one_cycle(total, config.warmup)
    if config.schedule == "cosine":
        return _cosine(total, config.warmup)
    if config.schedule == "step":
        every = max(config.decay_every * steps_per_epoch, 1)
        return lambda k: config.decay_factor ** (k // every)
    return lambda k: 1.0


def _cosine(total: int, warmup: float) -> Callable[[int], float]:
    """Linear warm-up over the first `warmup` of the steps, then a half cosine down towards 0."""
    warm = min(round(warmup * total), total - 1)

    def factor(k: int) -> float:
        k = min(k, total - 1)
        if k < warm:
            return (k + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (k - warm) / (total - warm)))

    return factor


def _one_cycle(total: int, pct_start: float) -> Callable[[int], float]:
    """OneCycleLR's two cosine phases (anneal 'cos', no three-phase), as a fraction of its max_lr:
    up from 1/25 to 1 over `pct_start` of the steps, then down to 1/25/1e4 at the last step."""
    start, end = 1 / ONE_CYCLE_DIV, 1 / ONE_CYCLE_DIV / ONE_CYCLE_FINAL_DIV
    peak_at = float(pct_start * total) - 1  # OneCycleLR's end of the first phase, a float on purpose
    last = total - 1

    def anneal(a: float, b: float, pct: float) -> float:
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

    def factor(k: int) -> float:
        k = min(k, last)
        if k <= peak_at:
            return anneal(start, 1.0, k / peak_at) if peak_at > 0 else 1.0
        return anneal(1.0, end, (k - peak_at) / (last - peak_at))

    return factor


@dataclass(frozen=True)
class Plan:
    """The planned rate at a few steps of a run (evenly spread, the last one included), for charts."""

    steps: list[int]
    rates: list[float]
    steps_per_epoch: int


def plan(config: RunConfig, steps_per_epoch: int, points: int = MAX_POINTS) -> Plan:
    """The rate the schedule gives at most `points` steps, from peak `config.lr`: bounded work however
    many steps a run has (a batch of 1 for 1,000 epochs would be 60 million)."""
    total = max(steps_per_epoch * config.epochs, 1)
    stride = max(1, math.ceil(total / points))
    steps = sorted({*range(0, total, stride), total - 1})
    factor = factor_function(config, steps_per_epoch)
    return Plan(steps, [config.lr * factor(k) for k in steps], steps_per_epoch)


class RunSchedule:
    """The schedule of one run, applied to its optimizer by a torch LambdaLR.

    Call step() after every optimizer step. A continued run (`done_steps` > 0) resumes at the rate
    its restored optimizer holds, with the rest of the schedule rescaled around it.
    """

    def __init__(
        self, config: RunConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int, done_steps: int = 0
    ) -> None:
        self.factor = factor_function(config, steps_per_epoch)
        self._optimizer = optimizer
        resumed_lr = optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group["initial_lr"] = config.lr  # the peak LambdaLR multiplies; a restored one may hold another
        self._scheduler = LambdaLR(optimizer, self.factor)
        if done_steps:
            self._scheduler.last_epoch = done_steps
            self.set_rate(resumed_lr)

    @property
    def lr(self) -> float:
        """The rate the next optimizer step uses."""
        return self._optimizer.param_groups[0]["lr"]

    def step(self) -> float:
        """Move to the next step's rate and return it."""
        self._scheduler.step()
        return self.lr

    def set_rate(self, lr: float) -> None:
        """A rate set by hand: used from the next step on, the rest of the schedule scaled to match."""
        factor = max(self.factor(self._scheduler.last_epoch), 1e-12)  # a step decay can underflow to 0
        self._scheduler.base_lrs = [lr / factor for _ in self._scheduler.base_lrs]
        for group in self._optimizer.param_groups:
            group["lr"] = lr
