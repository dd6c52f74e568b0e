"""Step-by-step replays of a trained model: states, gates, per-step class probabilities, dL/dh_t, saliency."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data import SIDE, step_pixel_indices
from rnnlab.evaluation import prefix_logits
from rnnlab.models import DirectionTrace, SequenceClassifier

DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class StateTrace:
    """One layer and direction of the recurrence, indexed by input position t (the backward one too).

    Arrays are float32 numpy: (T, H) in a `Trace` of one sample, (N, T, H) when replaying a batch
    (`replay_states`). The backward direction's state at t has read x_t..x_T, right to left.
    """

    h: np.ndarray  # (..., T, H) hidden state after reading x_t
    c: np.ndarray | None  # (..., T, H) LSTM cell state; None for RNN and GRU
    gates: dict[str, np.ndarray]  # name -> (..., T, H): LSTM input/forget/cell/output, GRU reset/update/new


@dataclass(frozen=True)
class Trace:
    """What one sample did inside the model, step by step (see `trace`).

    `probabilities[t]` is what the model would answer had the sequence stopped after step t + 1
    (0-based row t): the readout applied to the first t + 1 steps only. `probability_note` says in
    words what that means for this model's readout and directions; pages should show it.
    """

    cell: str
    readout: str
    bidirectional: bool
    inputs: np.ndarray  # (T, I) the sequence as the model read it, in [0, 1]
    layers: list[list[StateTrace]]  # [layer][direction], direction 0 forward, 1 backward
    probabilities: np.ndarray  # (T, C) class probabilities after each step
    final_probabilities: np.ndarray  # (C,) softmax of the model's logits for the whole sequence
    prediction: int  # argmax of final_probabilities
    probability_note: str

    @property
    def steps(self) -> int:
        return self.inputs.shape[0]

    def decision_step(self) -> int:
        """The first step (1-based) from which the leading class is the final prediction to the end.

        "When did the network make up its mind?": 1 if it never changed its answer, T if only the
        last step settled it.
        """
        leading = self.probabilities.argmax(axis=1)  # (T,)
        changed = np.flatnonzero(leading != self.prediction)
        return int(changed[-1]) + 2 if len(changed) else 1


def probability_note(readout: str, bidirectional: bool) -> str:
    """How to read "the probabilities after t steps" for a model: honest about what is made up."""
    notes = {
        "last": "After step t the bars show what the classifier would answer from h_t, the state after "
        "step t, had the image ended there.",
        "mean": "After step t the bars show what the classifier would answer from the mean of h_1..h_t, "
        "had the image ended there.",
        "all": "This model's classifier reads every step's state at once, so there is no real answer "
        "before the last step: for step t the states of the steps not yet read are filled with "
        "zeros. Early bars show what those zeros lead to, not a prediction the network was trained to "
        "make.",
    }
    note = notes[readout]
    if bidirectional:
        note += (
            " The network is bidirectional: it also reads the sequence backwards, from the last step. "
            "So for step t it is fed only steps 1..t and its backward half starts at step t. The "
            "backward states in the other charts come from the whole sequence: they have already read "
            "the steps after t, which these bars do not use."
        )
    return note


@contextlib.contextmanager
def _eval_mode(model: SequenceClassifier) -> Iterator[torch.device]:
    """Replays match the fused model in eval mode (no dropout between layers); restore the mode after."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        model.train(was_training)


def _numpy(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().float().cpu().numpy()


def _states(direction: DirectionTrace, index: int | slice) -> StateTrace:
    return StateTrace(
        h=_numpy(direction.h[index]),
        c=_numpy(None if direction.c is None else direction.c[index]),
        gates={name: _numpy(gate[index]) for name, gate in direction.gates.items()},
    )


def trace(model: SequenceClassifier, x: Tensor) -> Trace:
    """Replay ONE sample x (T, I) step by step with the model's own weights (eval mode, no gradients).

    x is a float sequence as `rnnlab.data.to_sequences(images, order)[0]` gives. The states and gates
    come from `model.forward_traced` (the from-scratch cells); `final_probabilities` equals
    softmax(model(x)) of the fused module to 1e-5. Per-step probabilities use
    `rnnlab.evaluation.prefix_logits`, the same "as if the sequence ended at step t" the Evaluate page
    uses: one-directional models reuse their states; bidirectional ones are re-run on each prefix
    (T runs: for a 784-step pixel order that takes seconds, so callers should cache the result).
    """
    if x.dim() != 2:
        raise ValueError(f"trace takes one sequence of shape (steps, inputs), got {tuple(x.shape)}")
    with _eval_mode(model) as device, torch.no_grad():
        batch = x.to(device, torch.float32).unsqueeze(0)  # (1, T, I)
        logits, recurrent = model.forward_traced(batch)  # (1, C)
        steps = batch.shape[1]
        early = [prefix_logits(model, batch, recurrent.output, t) for t in range(1, steps)]
        per_step = torch.stack([*early, logits], dim=1).softmax(-1)[0]  # (T, C); the last is the whole
        final = logits.softmax(-1)[0]  # (C,)
    return Trace(
        cell=model.cell,
        readout=model.readout,
        bidirectional=model.bidirectional,
        inputs=_numpy(batch[0]),
        layers=[[_states(d, 0) for d in directions] for directions in recurrent.layers],
        probabilities=_numpy(per_step),
        final_probabilities=_numpy(final),
        prediction=int(final.argmax()),
        probability_note=probability_note(model.readout, model.bidirectional),
    )


def replay_states(model: SequenceClassifier, x: Tensor, batch_size: int = 256) -> list[list[StateTrace]]:
    """States and gates of every layer and direction for a batch x (N, T, I): arrays (N, T, H).

    Batched so many test samples fit in memory; what gate statistics and the unit explorer read.
    """
    if len(x) == 0:
        raise ValueError("replay_states needs at least one sequence")
    chunks: list[list[list[StateTrace]]] = []
    with _eval_mode(model) as device, torch.no_grad():
        for i in range(0, len(x), batch_size):
            _, recurrent = model.forward_traced(x[i : i + batch_size].to(device, torch.float32))
            chunks.append([[_states(d, slice(None)) for d in ds] for ds in recurrent.layers])

    def join(parts: list[np.ndarray | None]) -> np.ndarray | None:
        return None if parts[0] is None else np.concatenate(parts)

    return [
        [
            StateTrace(
                h=join([c[k][d].h for c in chunks]),
                c=join([c[k][d].c for c in chunks]),
                gates={g: join([c[k][d].gates[g] for c in chunks]) for g in chunks[0][k][d].gates},
            )
            for d in range(len(chunks[0][k]))
        ]
        for k in range(len(chunks[0]))
    ]


def gradient_through_time(
    model: SequenceClassifier, x: Tensor, y: Tensor, layer: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """||dL/dh_t|| for every step t: how strongly the loss still feels each step's state.

    x (B, T, I), y (B,) class indices. L is each sample's own cross-entropy, so row b of `per_sample`
    (B, T) does not depend on the rest of the batch; `mean` (T,) averages the rows. The gradient is
    the total one, through the later steps of the recurrence as well as the readout: autograd
    through `DirectionTrace.h_steps`, the tensors the recurrence actually used. For a bidirectional
    layer h_t is both directions' states side by side (what the next layer or the readout reads).
    `layer` picks the recurrent layer (default: the top one). A vanishing gradient shows as a curve
    that falls by orders of magnitude towards t = 1.
    """
    if x.dim() != 3 or y.shape != x.shape[:1]:
        raise ValueError(
            f"need x (batch, steps, inputs) and y (batch,), got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    with _eval_mode(model) as device, torch.enable_grad():
        # An input that requires grad keeps the graph even if the weights are frozen.
        inputs = x.to(device, torch.float32).detach().requires_grad_(True)  # (B, T, I)
        logits, recurrent = model.forward_traced(inputs)
        loss = F.cross_entropy(logits, y.to(device), reduction="sum")  # sum: each sample's own loss
        directions = recurrent.layers[layer]
        states = [h for d in directions for h in d.h_steps]  # directions x T tensors (B, H)
        grads = torch.autograd.grad(loss, states, allow_unused=True)
    steps = x.shape[1]
    squares = torch.zeros(x.shape[0], steps, device=device)  # (B, T)
    for i, g in enumerate(grads):
        if g is not None:  # None: a state nothing used (cannot happen for the cells we build)
            squares[:, i % steps] += g.pow(2).sum(-1)
    per_sample = squares.sqrt().cpu().numpy()
    return per_sample, per_sample.mean(axis=0)


@dataclass(frozen=True)
class Saliency:
    """Which input steps mattered: |d score / d x| for the score of one class (the prediction)."""

    target: int  # the class whose score (logit) was differentiated
    per_input: np.ndarray  # (T, I) absolute gradient for every input value
    per_step: np.ndarray  # (T,) L2 norm of each step's gradient: one number per row (or pixel)


def saliency(model: SequenceClassifier, x: Tensor, target: int | None = None) -> Saliency:
    """Gradient of one class's logit (default: the predicted class) w.r.t. each input step of x (T, I).

    Large values mark the steps whose pixels would change the score most if they changed: the rows
    that mattered. Computed through the from-scratch cells, so it runs on any device in eval mode.
    """
    if x.dim() != 2:
        raise ValueError(f"saliency takes one sequence of shape (steps, inputs), got {tuple(x.shape)}")
    with _eval_mode(model) as device, torch.enable_grad():
        inputs = x.to(device, torch.float32).detach().unsqueeze(0).requires_grad_(True)  # (1, T, I)
        logits, _ = model.forward_traced(inputs)  # (1, C)
        target = int(logits.argmax()) if target is None else target
        (grad,) = torch.autograd.grad(logits[0, target], inputs)
    per_input = grad[0].abs().cpu().numpy()  # (T, I)
    return Saliency(target=target, per_input=per_input, per_step=np.linalg.norm(per_input, axis=1))


def pixel_map(values: np.ndarray, order: str) -> np.ndarray:
    """Put per-step (T,) or per-input (T, I) values back on the 28x28 image, wherever `order` read them.

    A per-step value fills every pixel of its step (a whole row for order "rows").
    """
    index = step_pixel_indices(order).numpy()  # (T, I) flat pixel read at step t, input i
    values = np.asarray(values, dtype=np.float32)
    if values.shape == index.shape[:1]:
        values = np.repeat(values[:, None], index.shape[1], axis=1)
    if values.shape != index.shape:
        raise ValueError(f"order {order!r} reads {index.shape} values; got shape {values.shape}")
    image = np.empty(SIDE * SIDE, dtype=np.float32)
    image[index.ravel()] = values.ravel()
    return image.reshape(SIDE, SIDE)


def step_masks(order: str, step: int) -> tuple[np.ndarray, np.ndarray]:
    """(seen, current): bool (28, 28) masks of the pixels read in steps 1..step and at `step` itself."""
    index = step_pixel_indices(order).numpy()  # (T, I)
    if not 1 <= step <= len(index):
        raise ValueError(f"step={step} is outside 1..{len(index)} for order {order!r}")
    seen = np.zeros(SIDE * SIDE, dtype=bool)
    seen[index[:step].ravel()] = True
    current = np.zeros(SIDE * SIDE, dtype=bool)
    current[index[step - 1]] = True
    return seen.reshape(SIDE, SIDE), current.reshape(SIDE, SIDE)
