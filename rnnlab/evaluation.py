"""Evaluation of a trained model on a dataset split: batched, on the model's device, no gradients."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data import to_sequences
from rnnlab.models import SequenceClassifier

DEFAULT_LIMIT = 2000  # test images evaluated by default: enough for stable numbers, quick on a CPU
STEP_POINTS = 28  # at most this many points on the accuracy-versus-steps curve


@dataclass(frozen=True)
class Evaluation:
    """One pass over test images: everything the Evaluate page shows, on the CPU, free of the model.

    `step_accuracy[j]` is the accuracy of classifying from the first `steps[j]` steps only; see
    `prefix_logits` for what that means for each readout.
    """

    indices: Tensor  # int64 (N,), positions of the images given (the test split's first N)
    labels: Tensor  # int64 (N,)
    probabilities: Tensor  # float32 (N, classes), softmax of the logits
    features: Tensor  # float32 (N, F), the final hidden state the readout works from
    steps: Tensor  # int64 (S,), ascending, the last one is the sequence length T
    step_accuracy: Tensor  # float32 (S,)
    loss: float

    @property
    def predictions(self) -> Tensor:
        return self.probabilities.argmax(1)  # (N,)

    @property
    def accuracy(self) -> float:
        return (self.predictions == self.labels).float().mean().item()

    @property
    def num_classes(self) -> int:
        return self.probabilities.shape[1]


@torch.no_grad()
def evaluate(
    model: SequenceClassifier,
    images: Tensor,
    labels: Tensor,
    order: str,
    *,
    batch_size: int = 500,
    step_points: int = STEP_POINTS,
) -> Evaluation:
    """Run the test images (uint8 (N, 28, 28)) through the model once, in batches on its device.

    Each batch's recurrent outputs serve three readings at once: the logits, the readout's features
    (for the hidden-state map) and the per-prefix logits (for accuracy versus steps seen), so the
    long recurrence runs once, not three times.
    """
    if len(images) == 0:
        raise ValueError("cannot evaluate a model on an empty set of images")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    device = next(model.parameters()).device
    steps = step_schedule(model.seq_len, step_points)
    was_training = model.training
    model.eval()
    probabilities, features, losses = [], [], []
    step_correct = torch.zeros(len(steps), device=device)
    try:
        for i in range(0, len(images), batch_size):
            x = to_sequences(images[i : i + batch_size].to(device), order)  # (B, T, I)
            y = labels[i : i + batch_size].to(device)  # (B,)
            outputs, _ = model.rnn(x)  # (B, T, hidden*directions)
            logits = model.read_out(outputs)  # (B, classes)
            losses.append(F.cross_entropy(logits, y, reduction="sum"))
            probabilities.append(logits.softmax(1).float().cpu())
            features.append(final_features(model, outputs).float().cpu())
            for j, t in enumerate(steps.tolist()):
                early = logits if t == model.seq_len else prefix_logits(model, x, outputs, t)
                step_correct[j] += (early.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    n = len(images)
    return Evaluation(
        indices=torch.arange(n),
        labels=labels.long().cpu(),
        probabilities=torch.cat(probabilities),
        features=torch.cat(features),
        steps=steps,
        step_accuracy=(step_correct / n).float().cpu(),
        loss=(torch.stack(losses).sum() / n).item(),
    )


def step_schedule(seq_len: int, points: int = STEP_POINTS) -> Tensor:
    """Steps t (1..T) at which to read early: every step for short sequences, evenly spaced otherwise."""
    if points < 1:
        raise ValueError(f"points={points}: ask for at least one point on the curve")
    return torch.linspace(seq_len / min(points, seq_len), seq_len, min(points, seq_len)).round().long()


def prefix_logits(model: SequenceClassifier, x: Tensor, outputs: Tensor, t: int) -> Tensor:
    """Logits from the first t of T steps only: the model as if the sequence ended at step t.

    A one-directional network's outputs for the prefix x[:, :t] are the first t outputs of the full
    pass, so they are reused; a bidirectional one reads the prefix again, since its backward
    direction must start at step t. readout="last" then reads h_t and "mean" the mean of the first t
    outputs. readout="all" needs all T outputs, so the unseen steps count as zero (silence): only the
    head's weights for steps already read contribute.
    """
    prefix = model.rnn(x[:, :t])[0] if model.bidirectional else outputs[:, :t]  # (B, t, hidden*dirs)
    if model.readout == "all":
        prefix = F.pad(prefix, (0, 0, 0, model.seq_len - t))  # (B, T, hidden*dirs), zeros after t
    return model.read_out(prefix)


def final_features(model: SequenceClassifier, outputs: Tensor) -> Tensor:
    """What the readout reads (B, F): the final state for "last", the mean output for "mean".

    readout="all" reads every step's output (T x hidden wide), too wide for a map of thousands of
    samples, so it is represented by the final state, as "last" would read it.
    """
    if model.readout == "mean":
        return outputs.mean(dim=1)  # (B, hidden*directions)
    H = model.hidden_size
    final = outputs[:, -1, :H]  # (B, hidden): the forward direction ends at the last step
    if model.bidirectional:
        final = torch.cat([final, outputs[:, 0, H:]], dim=-1)  # the backward one ends at the first
    return final


def confusion_matrix(labels: Tensor, predictions: Tensor, num_classes: int) -> Tensor:
    """int64 (classes, classes): row = true class, column = predicted class, entry = count."""
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {tuple(labels.shape)} and predictions {tuple(predictions.shape)} differ")
    flat = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def per_class_accuracy(confusion: Tensor) -> Tensor:
    """float (classes,): share of each true class predicted right; NaN for a class with no samples."""
    totals = confusion.sum(1).double()
    return (confusion.diagonal().double() / totals).where(totals > 0, torch.nan)


def examples_table(evaluation: Evaluation, top: int = 3) -> pd.DataFrame:
    """One row per evaluated image: where it is, its truth, the prediction and the top-k guesses.

    Columns: test_index (position in the test split), true, predicted, correct, confidence (probability of the
    prediction), p_true (probability of the truth), top_classes and top_probs (lists, best first).
    """
    probs = evaluation.probabilities
    top_probs, top_classes = probs.topk(min(top, evaluation.num_classes), dim=1)  # (N, k) each
    predicted = evaluation.predictions
    return pd.DataFrame(
        {
            "test_index": evaluation.indices.tolist(),
            "true": evaluation.labels.tolist(),
            "predicted": predicted.tolist(),
            "correct": (predicted == evaluation.labels).tolist(),
            "confidence": top_probs[:, 0].tolist(),
            "p_true": probs.gather(1, evaluation.labels.view(-1, 1)).squeeze(1).tolist(),
            "top_classes": top_classes.tolist(),
            "top_probs": top_probs.tolist(),
        }
    )


def select_examples(
    table: pd.DataFrame, true: int | None = None, predicted: int | None = None
) -> pd.DataFrame:
    """Rows of one confusion cell (either side may be None for any), most confident first.

    With neither given, the mistakes: what a person looks at first. The most confident ones lead,
    since a confident mistake says more about the network than a coin toss does.
    """
    rows = table if true is not None or predicted is not None else table[~table["correct"]]
    if true is not None:
        rows = rows[rows["true"] == true]
    if predicted is not None:
        rows = rows[rows["predicted"] == predicted]
    return rows.sort_values(["confidence", "test_index"], ascending=[False, True])
