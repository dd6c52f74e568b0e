"""Robustness: how accuracy falls as test images are blurred by noise or turned, over a small range."""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn

from rnnlab.models import predict_logits

# Noise is in units of full brightness (1 = black to white); angles are in degrees, counterclockwise.
LEVELS: dict[str, tuple[float, ...]] = {
    "noise": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    "rotation": (0.0, 10.0, 20.0, 30.0, 45.0, 60.0),
}


def perturb(images: Tensor, kind: str, level: float, seed: int = 0) -> Tensor:
    """uint8 (N, 28, 28) -> uint8 (N, 28, 28): Gaussian noise of std `level`, or a turn by `level` degrees.

    The result stays uint8, so it goes through the very path training used (`to_sequences`); the
    noise is seeded, so a curve is the same every time it is drawn. Level 0 returns the images as they are.
    """
    if kind not in LEVELS:
        raise ValueError(f"unknown perturbation {kind!r}; choose one of {', '.join(LEVELS)}")
    if level < 0:
        raise ValueError(f"{kind} level {level} must be zero or more")
    if level == 0:
        return images
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(images.shape, generator=generator).to(images.device) * (255 * level)
        return (images.float() + noise).round_().clamp_(0, 255).to(torch.uint8)
    import torchvision.transforms.functional as TF  # slow to import; only rotation needs it

    turned = TF.rotate(images.unsqueeze(1), float(level), interpolation=TF.InterpolationMode.BILINEAR)
    return turned.squeeze(1)  # (N, 28, 28), corners filled with black


def robustness_curve(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    order: str,
    kind: str,
    levels: tuple[float, ...] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Accuracy at each level of one perturbation: columns level, accuracy (level 0 = plain accuracy)."""
    if len(images) == 0:
        raise ValueError("cannot measure robustness on an empty set of images")
    if kind not in LEVELS:
        raise ValueError(f"unknown perturbation {kind!r}; choose one of {', '.join(LEVELS)}")
    levels = LEVELS[kind] if levels is None else levels
    accuracies = []
    for level in levels:
        logits = predict_logits(model, perturb(images, kind, level, seed), order)
        accuracies.append((logits.argmax(1) == labels.to(logits.device)).float().mean())
    return pd.DataFrame({"level": list(levels), "accuracy": torch.stack(accuracies).tolist()})
