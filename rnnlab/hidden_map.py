"""A 2-D map of hidden states by principal components: how the network lays out what it has read."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class HiddenMap:
    """Samples placed on the plane of their two directions of largest variance."""

    coords: Tensor  # float32 (N, 2), first column along the direction of largest variance
    explained: Tensor  # float32 (2,), share of the total variance each axis holds


def pca_2d(features: Tensor) -> HiddenMap:
    """Project features (N, F) onto their first two principal components, by an exact SVD.

    Exact rather than randomised (torch.pca_lowrank): a few thousand samples of a few hundred
    features decompose in milliseconds, and the map must not move between two looks at one run.
    Each axis's sign is fixed so its largest loading is positive, for the same reason. With a
    single feature, or a single distinct sample, the second axis is all zeros.
    """
    if features.dim() != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 samples of shape (N, F), got {tuple(features.shape)}")
    x = features.double()
    x = x - x.mean(0)  # (N, F), centred
    u, s, vh = torch.linalg.svd(x, full_matrices=False)  # u (N, K), s (K,), vh (K, F)
    k = min(2, len(s))
    signs = vh[:k].gather(1, vh[:k].abs().argmax(1, keepdim=True)).sign().squeeze(1)  # (k,)
    signs[signs == 0] = 1
    coords = torch.zeros(len(x), 2, dtype=torch.float64)
    coords[:, :k] = u[:, :k] * s[:k] * signs  # (N, k), the projections x @ v
    total = (s**2).sum()
    explained = torch.zeros(2, dtype=torch.float64)
    if total > 0:
        explained[:k] = s[:k] ** 2 / total
    return HiddenMap(coords=coords.float(), explained=explained.float())
