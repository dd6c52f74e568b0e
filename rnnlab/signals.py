"""Training signals the doctor reads: gradient and update sizes, unit health, gradients through time.

Pure functions over a model, a batch and its gradients, plus `Probe`, the little state a training
loop keeps to call them at logging intervals only. Per-step work stays on the device (no sync);
the values reach Python in the same sync as the interval's mean loss.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data import to_sequences
from rnnlab.models import SequenceClassifier, scratch_forward

PROBE_BATCH = 32
HEALTH_EVERY_S = 2.0  # how often a step row's unit health is measured afresh (see Probe.interval)
SLOPE_WINDOW = 50  # steps the loss slope is fitted over
SATURATED_SIGMOID = 0.01  # a sigmoid below this or above 1 - this is flat
SATURATED_TANH = 0.99  # |tanh| above this is flat
SATURATED_SHARE = 0.95  # a unit counts as saturated when flat on this share of (sample, step) pairs
SIGMOID_GATES = ("input", "forget", "output", "reset", "update")  # the others are tanh
_LAYER = re.compile(r"_l(\d+)(?:_reverse)?$")  # nn.RNNBase names: weight_hh_l1_reverse


def layer_column(parameter_name: str) -> str:
    """The grad-norm column a parameter counts towards: rnn.weight_hh_l1_reverse -> grad_norm_l1."""
    match = _LAYER.search(parameter_name)
    return f"grad_norm_l{match.group(1)}" if match else "grad_norm_head"


def grad_norms(model: nn.Module) -> dict[str, Tensor]:
    """Global and per-layer gradient norms as device tensors (call after backward, before clipping)."""
    squares: dict[str, Tensor] = {}
    for name, p in model.named_parameters():
        if p.grad is not None:
            column = layer_column(name)
            square = p.grad.detach().float().pow(2).sum()
            squares[column] = squares[column] + square if column in squares else square
    if not squares:
        return {}
    norms = {column: total.sqrt() for column, total in squares.items()}
    norms["grad_norm"] = torch.stack(list(squares.values())).sum().sqrt()
    return norms


def weights_copy(model: nn.Module) -> list[Tensor]:
    """The weights before a step, to measure what the step changed."""
    return [p.detach().clone() for p in model.parameters()]


def update_ratio(before: list[Tensor], model: nn.Module) -> Tensor:
    """||w_after - w_before|| / ||w_before|| over all weights: about 1e-3 is the usual healthy size."""
    pairs = zip(model.parameters(), before, strict=True)
    change = sum((p.detach() - b).float().pow(2).sum() for p, b in pairs)
    size = sum(b.float().pow(2).sum() for b in before)
    return (change / size.clamp_min(1e-30)).sqrt()


def _saturated_units(activations: Tensor, sigmoid: bool) -> tuple[int, int]:
    """(saturated units, units) of one (batch, steps, hidden) activation tensor."""
    if sigmoid:
        flat = (activations < SATURATED_SIGMOID) | (activations > 1 - SATURATED_SIGMOID)
    else:
        flat = activations.abs() > SATURATED_TANH
    share = flat.float().mean(dim=(0, 1))  # (hidden,)
    return int((share >= SATURATED_SHARE).sum()), share.numel()


@torch.no_grad()
def unit_health(model: SequenceClassifier, x: Tensor) -> dict[str, float]:
    """Saturated tanh/sigmoid units, dead ReLU units and the hidden-state norm on a batch (batch, steps, in).

    Replays the model's own weights step by step, so the gates the fused kernel hides are seen.
    A ReLU unit is dead when it is zero for every sample at every step; ReLU networks have no
    saturation (NaN), tanh and gated ones no dead units (NaN).
    """
    trace = scratch_forward(model.rnn, x)
    saturated = units = dead = relu_units = 0
    for traces in trace.layers:
        for direction in traces:
            if model.cell == "rnn" and model.nonlinearity == "relu":
                dead += int((direction.h.amax(dim=(0, 1)) <= 0).sum())
                relu_units += direction.h.shape[-1]
                continue
            tensors = [(direction.h, False)] if model.cell == "rnn" else []
            tensors += [(g, name in SIGMOID_GATES) for name, g in direction.gates.items()]
            for activations, sigmoid in tensors:
                s, n = _saturated_units(activations, sigmoid)
                saturated, units = saturated + s, units + n
    return {
        "saturated": saturated / units if units else math.nan,
        "dead_relu": dead / relu_units if relu_units else math.nan,
        "hidden_norm": float(trace.output.norm(dim=-1).mean()),
    }


def grad_ratio_through_time(model: SequenceClassifier, x: Tensor, y: Tensor) -> float:
    """||dL/dh_1|| / ||dL/dh_T|| of the first layer on a batch: far below 1 means the gradient vanishes
    on its way back to the first steps, far above 1 that it explodes. Weights' gradients are untouched."""
    with torch.enable_grad():
        trace = scratch_forward(model.rnn, x)
        loss = F.cross_entropy(model.read_out(trace.output), y)
        steps = trace.layers[0][0].h_steps
        first, last = torch.autograd.grad(loss, [steps[0], steps[-1]])
    last_norm = float(last.norm())
    return float(first.norm()) / last_norm if last_norm > 0 else math.nan


def loss_slope(losses: list[float]) -> float:
    """Least-squares slope of a series of per-step losses, in loss per step (NaN below 3 points)."""
    n = len(losses)
    if n < 3:
        return math.nan
    mean_t, mean_y = (n - 1) / 2, sum(losses) / n
    cov = sum((t - mean_t) * (y - mean_y) for t, y in enumerate(losses))
    var = sum((t - mean_t) ** 2 for t in range(n))
    return cov / var


class Probe:
    """What a training loop keeps to record the signals: a fixed batch and the latest step losses."""

    def __init__(self, images: Tensor, labels: Tensor, order: str) -> None:
        self.x = to_sequences(images[:PROBE_BATCH], order)  # (probe, steps, inputs), fixed for the run
        self.y = labels[:PROBE_BATCH]
        self.losses: deque[Tensor] = deque(maxlen=SLOPE_WINDOW)
        self.pending: dict[str, Tensor] = {}
        self._before: list[Tensor] | None = None
        self._health: dict[str, float] = {}  # the latest unit health, and when it was measured
        self._health_at = -math.inf

    def add_loss(self, loss: Tensor) -> None:
        self.losses.append(loss.detach().float())

    def before_clip(self, model: nn.Module) -> None:
        """On a logging step, between backward and clipping: gradient norms, and the weights to compare."""
        self.pending = grad_norms(model)
        self._before = weights_copy(model)

    def after_step(self, model: nn.Module) -> None:
        if self._before is not None:
            self.pending["update_ratio"] = update_ratio(self._before, model)
            self._before = None

    def interval(self, model: SequenceClassifier, fresh: bool = False) -> dict[str, float]:
        """The step row's signals: one sync for the tensors gathered, then the probe batch's unit health.

        Unit health replays the network step by step in Python, which cost about 4% of a small
        LSTM's training time when done at every row. It changes slowly, so it is measured at most
        every HEALTH_EVERY_S (and whenever `fresh`, as at an epoch's last row, which the doctor reads);
        the rows between repeat the latest measure.
        """
        values = {k: float(v) for k, v in self.pending.items()}
        recent = torch.stack(list(self.losses)).tolist() if self.losses else []
        values["loss_slope"] = loss_slope(recent)
        self.pending = {}
        now = time.monotonic()
        if fresh or now - self._health_at >= HEALTH_EVERY_S:
            was_training = model.training
            model.eval()
            try:
                self._health, self._health_at = unit_health(model, self.x), now
            finally:
                model.train(was_training)
        values.update(self._health)
        return values

    def epoch_end(self, model: SequenceClassifier) -> dict[str, float]:
        was_training = model.training
        model.eval()
        try:
            return {"grad_ratio_time": grad_ratio_through_time(model, self.x, self.y)}
        finally:
            model.train(was_training)
