"""Training-image augmentation: new views of each training image every epoch, against overfitting.

A recurrent network reading rows memorises the training images after a few epochs on
Fashion-MNIST (the test accuracy stops rising while the training accuracy keeps climbing).
Shifting each image by a pixel or two, and mirroring clothes left to right, gives the network
views it has not seen, which is the cheapest regulariser there is: it works on the uint8 batch
on its own device, costs far less than the recurrent step and adds no weights.

Only training batches are augmented; the test set, the quick test, inspection and drawing see
the images as they are. Each batch's draw is seeded by the run's seed and the global step, so a
run continued from a checkpoint sees the same views as one that never stopped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# The largest shift, in pixels, in each direction: 2 of 28 keeps every garment and digit whole.
MAX_SHIFT = 2


def augment_batch(images: torch.Tensor, mode: str, seed: int, step: int) -> torch.Tensor:
    """uint8 (B, 28, 28) -> uint8 (B, 28, 28): `mode` is none, shift, flip or flip-shift.

    shift moves each image by up to MAX_SHIFT pixels up/down and left/right (zeros fill in, the
    background colour of both datasets); flip mirrors a random half of the images left to right.
    """
    if mode == "none":
        return images
    generator = torch.Generator(device=images.device).manual_seed(seed * 1_000_003 + step)
    if "flip" in mode:
        mirrored = torch.rand(len(images), device=images.device, generator=generator) < 0.5
        images = torch.where(mirrored[:, None, None], images.flip(-1), images)
    if "shift" in mode:
        images = _shifted(images, generator)
    return images


def _shifted(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image cut from a zero-padded copy at its own random offset: two gathers, no loop."""
    batch, height, width = images.shape
    padded = F.pad(images, (MAX_SHIFT,) * 4)  # (B, H + 2s, W + 2s)
    span = 2 * MAX_SHIFT + 1
    offsets = torch.randint(0, span, (2, batch), device=images.device, generator=generator)
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # (B, H)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # (B, W)
    picked_rows = padded.gather(1, rows[:, :, None].expand(-1, -1, padded.shape[2]))  # (B, H, W + 2s)
    return picked_rows.gather(2, cols[:, None, :].expand(-1, height, -1))  # (B, H, W)
