"""Evaluation of a trained model on a dataset split: batched, on the model's device, no gradients."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.data import to_sequences


@dataclass(frozen=True)
class Score:
    loss: float
    accuracy: float
    count: int


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, order: str, batch_size: int = 1000
) -> torch.Tensor:
    """Logits for uint8 images (N, 28, 28), computed in batches on the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        chunks = [
            model(to_sequences(images[i : i + batch_size].to(device), order))
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, 0, device=device)


def score(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, order: str) -> Score:
    """Mean cross-entropy and accuracy; one device sync at the end, not one per batch."""
    if len(images) == 0:
        raise ValueError("cannot score a model on an empty set of images")
    logits = predict_logits(model, images, order)
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return Score(loss=loss, accuracy=accuracy, count=len(images))
