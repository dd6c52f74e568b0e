"""Training-image augmentation: each mode does exactly what it says, reproducibly, and runs learn with it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.augment import MAX_SHIFT, augment_batch
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from tests.test_trainer import FAST, finish


def _images(count: int = 16) -> torch.Tensor:
    """Distinct uint8 images with a blank 2-pixel border, so a shift moves content without losing any."""
    images = torch.zeros(count, 28, 28, dtype=torch.uint8)
    images[:, 2:-2, 2:-2] = torch.randint(1, 256, (count, 24, 24), generator=torch.Generator().manual_seed(1))
    return images


def _shifts(image: torch.Tensor) -> list[torch.Tensor]:
    """Every shift of one image by up to MAX_SHIFT pixels each way, zeros filling in."""
    padded = F.pad(image, (MAX_SHIFT,) * 4)
    span = range(2 * MAX_SHIFT + 1)
    return [padded[dy : dy + 28, dx : dx + 28] for dy in span for dx in span]


def test_none_returns_the_batch_untouched() -> None:
    images = _images()
    assert augment_batch(images, "none", seed=0, step=3) is images


def test_flip_mirrors_some_images_and_leaves_the_others() -> None:
    images = _images(64)
    out = augment_batch(images, "flip", seed=0, step=0)
    mirrored = [bool(torch.equal(o, i.flip(-1))) for o, i in zip(out, images, strict=True)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, images, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 10 < sum(mirrored) < 54  # about half of 64


def test_shift_moves_each_image_by_at_most_two_pixels_and_keeps_its_content() -> None:
    images = _images(32)
    out = augment_batch(images, "shift", seed=5, step=7)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    for shifted, image in zip(out, images, strict=True):
        assert any(torch.equal(shifted, s) for s in _shifts(image))
        assert int(shifted.sum()) == int(image.sum())  # the border was blank: nothing is cut off
    assert not torch.equal(out, images)


def test_flip_shift_is_a_shift_of_the_image_or_of_its_mirror() -> None:
    images = _images(32)
    out = augment_batch(images, "flip-shift", seed=0, step=1)
    for shifted, image in zip(out, images, strict=True):
        views = _shifts(image) + _shifts(image.flip(-1))
        assert any(torch.equal(shifted, v) for v in views)


def test_the_same_seed_and_step_give_the_same_views() -> None:
    """A run continued from a checkpoint sees at step N what an uninterrupted one saw."""
    images = _images()
    first = augment_batch(images, "flip-shift", seed=3, step=40)
    assert torch.equal(first, augment_batch(images, "flip-shift", seed=3, step=40))
    assert not torch.equal(first, augment_batch(images, "flip-shift", seed=3, step=41))


def test_an_unknown_mode_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="augment='rotate' is not allowed; choose one of: none, shift"):
        RunConfig(augment="rotate")


@pytest.mark.parametrize("mode", ["shift", "flip-shift"])
def test_runs_with_augmentation_learn_tiny_data(lab: Lab, mode: str) -> None:
    status = finish(lab.start(FAST.replace(augment=mode)))
    assert status.state == "finished", status.message
    assert status.best_test_acc > 0.4  # ten classes: chance is 10%
