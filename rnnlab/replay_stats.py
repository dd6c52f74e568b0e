"""Inside many samples at once: gate statistics, one unit's activity per class, hints for a learner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnlab.data import to_sequences
from rnnlab.models import SequenceClassifier, predict_logits
from rnnlab.replay import StateTrace, replay_states

SIGMOID_GATES = ("input", "forget", "output", "reset", "update")  # in [0, 1]: how far a gate is open
TANH_UNITS = {"rnn": None, "lstm": "cell", "gru": "new"}  # the tanh each cell squashes its input with
SHUT, OPEN = 0.1, 0.9  # a gate below SHUT is nearly shut, above OPEN wide open
SATURATED = 0.99  # |tanh| above this: the slope is under 0.02, so hardly any gradient passes
SATURATED_SHARE = 0.9  # a unit saturated at least this share of the time counts as stuck
VANISHING = 1e-3  # gradient at t=1 under this fraction of the gradient at t=T: vanishing
EXPLODING = 1e3  # over this multiple: exploding


@dataclass(frozen=True)
class GateStats:
    """How one gate of one layer and direction spends its time, per unit, over many samples and steps."""

    layer: int
    direction: int
    gate: str
    shut: np.ndarray  # (H,) share of (sample, step) pairs with the gate below SHUT
    open: np.ndarray  # (H,) share above OPEN


@dataclass(frozen=True)
class Population:
    """Many test samples replayed at once: what gate statistics, the unit explorer and hints read."""

    cell: str
    nonlinearity: str
    labels: np.ndarray  # (N,) true classes
    h: list[list[np.ndarray]]  # [layer][direction] (N, T, H) hidden states
    gate_stats: list[GateStats]  # every sigmoid gate of every layer and direction
    saturated: list[list[np.ndarray]]  # [layer][direction] (H,) share of time |tanh| > SATURATED
    silent: list[list[np.ndarray]]  # [layer][direction] (H,) share of time the unit is exactly 0


def gate_stats(states: list[list[StateTrace]]) -> list[GateStats]:
    """Per unit, the share of samples x steps each sigmoid gate is nearly shut (< 0.1) or wide open (> 0.9).

    A forget gate that is mostly open keeps the cell's memory; an input gate mostly shut protects it.
    The tanh candidates (LSTM "cell", GRU "new") are values, not gates, and are left out.
    """
    return [
        GateStats(k, d, name, (gate < SHUT).mean(axis=(0, 1)), (gate > OPEN).mean(axis=(0, 1)))
        for k, directions in enumerate(states)
        for d, s in enumerate(directions)
        for name, gate in s.gates.items()
        if name in SIGMOID_GATES
    ]


def population(
    model: SequenceClassifier, images: Tensor, labels: Tensor, order: str, nonlinearity: str = "tanh"
) -> Population:
    """Replay uint8 images (N, 28, 28) with their labels (N,) and summarise the states and gates.

    `nonlinearity` is the run's (only a plain RNN has one): it decides which units can saturate
    (tanh) or die (ReLU).
    """
    states = replay_states(model, to_sequences(images, order))
    tanh = TANH_UNITS[model.cell]

    def squashed(s: StateTrace) -> np.ndarray | None:  # (N, T, H) the values a tanh produced
        if tanh is not None:
            return s.gates[tanh]
        return s.h if nonlinearity == "tanh" else None

    def saturation(s: StateTrace) -> np.ndarray:
        values = squashed(s)
        if values is None:
            return np.zeros(s.h.shape[-1], dtype=np.float32)
        return (np.abs(values) > SATURATED).mean(axis=(0, 1))

    return Population(
        cell=model.cell,
        nonlinearity=nonlinearity,
        labels=labels.cpu().numpy(),
        h=[[s.h for s in directions] for directions in states],
        gate_stats=gate_stats(states),
        saturated=[[saturation(s) for s in directions] for directions in states],
        silent=[[(s.h == 0).mean(axis=(0, 1)) for s in directions] for directions in states],
    )


def class_means(values: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, T) mean over the samples of each class of values (N, T); NaN for a class with no sample."""
    means = np.full((num_classes, values.shape[1]), np.nan, dtype=np.float32)
    for k in range(num_classes):
        members = labels == k
        if members.any():
            means[k] = values[members].mean(axis=0)
    return means


def selectivity(h: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(H,) how much of each unit's variation tells the classes apart, in [0, 1].

    h: (N, T, H). Each sample's activation is averaged over t (so both directions are treated
    alike); the score is the variance of the class means over the total variance (eta squared).
    Units near 1 light up for some classes and not others: good first units to explore.
    """
    activity = h.mean(axis=1)  # (N, H)
    total = activity.var(axis=0)  # (H,)
    present = [k for k in range(num_classes) if (labels == k).any()]
    shares = np.array([(labels == k).mean() for k in present])  # (K,)
    means = np.stack([activity[labels == k].mean(axis=0) for k in present])  # (K, H)
    between = (shares[:, None] * (means - activity.mean(axis=0)) ** 2).sum(axis=0)  # (H,)
    return np.divide(between, total, out=np.zeros_like(total), where=total > 0)


def next_mistake(
    model: SequenceClassifier, images: Tensor, labels: Tensor, order: str, after: int, chunk: int = 256
) -> int | None:
    """Index of the first misclassified image after `after`, wrapping around; None if all are right.

    Predicts chunk by chunk, so the usual case (a mistake a few images on) costs one small batch.
    """
    n = len(images)
    start = (after + 1) % n
    for offset in range(0, n, chunk):
        positions = (torch.arange(offset, min(offset + chunk, n)) + start) % n  # (chunk,)
        predicted = predict_logits(model, images[positions], order).argmax(1).cpu()
        wrong = positions[predicted != labels[positions].cpu()]
        if len(wrong):
            return int(wrong[0])
    return None


def fade(gradient: np.ndarray) -> str:
    """How the gradient at step 1 compares with the last step's, as the end of a sentence about it."""
    ratio = gradient[0] / gradient[-1]
    if ratio == 0:
        return (
            f"rounds to 0 (too small for 32-bit floats), against {gradient[-1]:.2g} at step {len(gradient)}"
        )
    return f"is {ratio:.2g} times the one at step {len(gradient)}"


@dataclass(frozen=True)
class Hint:
    """One observation and what to try, worded for a learner; level is "warning", "info" or "success"."""

    level: str
    title: str
    text: str


def hints(gradient: np.ndarray | None, pop: Population | None, order: str, bidirectional: bool) -> list[Hint]:
    """Simple rules over the batch-mean gradient through time (T,) and the population's units.

    Either input may be None when it could not be computed. Returns at least one hint.
    """
    found: list[Hint] = []
    cell = pop.cell if pop is not None else None
    if gradient is not None and not bidirectional and gradient[-1] > 0:
        ratio = gradient[0] / gradient[-1]
        if ratio < VANISHING:
            cure = (
                "Try an LSTM or a GRU: their gates let the gradient pass many steps nearly unchanged. "
                if cell == "rnn"
                else "Even with gates it fades. "
            )
            if order in ("pixels", "permuted"):
                cure += "A shorter order (rows or columns: 28 steps instead of 784) also helps."
            else:
                cure += "A readout over all steps (mean) gives early rows a direct path to the loss."
            found.append(
                Hint(
                    "warning",
                    "Vanishing gradient",
                    f"The gradient reaching step 1 {fade(gradient)} (under {VANISHING:g} of it): the first "
                    "steps barely change the weights, so the network learns little from what it read "
                    f"early. {cure}",
                )
            )
        elif ratio > EXPLODING:
            found.append(
                Hint(
                    "warning",
                    "Exploding gradient",
                    f"The gradient reaching step 1 {fade(gradient)}: it grows as it flows back in time, "
                    "so updates can blow up. Set gradient clipping (grad_clip, "
                    "e.g. 1.0) or lower the learning rate.",
                )
            )
    if pop is not None:
        units = sum(s.size for directions in pop.saturated for s in directions)
        stuck = sum(int((s >= SATURATED_SHARE).sum()) for directions in pop.saturated for s in directions)
        if stuck and stuck >= 0.1 * units:
            where = {"rnn": "hidden units", "lstm": "cell candidates", "gru": "candidate states"}[pop.cell]
            found.append(
                Hint(
                    "warning",
                    "Saturated tanh units",
                    f"{stuck} of {units} {where} sit near -1 or +1 at least {SATURATED_SHARE:.0%} of the "
                    "time. There tanh is flat, so almost no gradient passes and they stop learning. A "
                    "lower learning rate, gradient clipping or fewer epochs at a high rate keeps them "
                    "in their responsive range.",
                )
            )
        if pop.cell == "rnn" and pop.nonlinearity == "relu":
            dead = sum(int((s == 1).sum()) for directions in pop.silent for s in directions)
            if dead:
                found.append(
                    Hint(
                        "warning",
                        "Dead ReLU units",
                        f"{dead} of {units} units output 0 for every sample and step: a ReLU that never "
                        "switches on passes no gradient, so it never recovers. A smaller learning rate, "
                        "or tanh as the nonlinearity, avoids this.",
                    )
                )
    if not found:
        checked = []
        if gradient is not None and not bidirectional:
            checked.append("the gradient still reaches the first steps")
        if pop is not None:
            checked.append("no large share of units is saturated or dead")
        text = f"{' and '.join(checked).capitalize()}. " if checked else ""
        text += "If accuracy is still low, train longer or use more hidden units."
        found.append(Hint("success", "No warning signs", text))
    return found
