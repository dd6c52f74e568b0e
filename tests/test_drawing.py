"""Canvas -> 28x28 preprocessing (MNIST's recipe, the naive resize, blank canvases) and the Draw figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.config import ORDERS, RunConfig
from rnnlab.data import read_idx
from rnnlab.drawing import (
    BOX,
    best_digit_run,
    class_probabilities,
    ink,
    is_empty,
    naive_resize,
    prepare,
    render_strokes,
)
from rnnlab.models import SequenceClassifier
from rnnlab.plots.drawing import TOP_COLOUR, input_image_figure, probability_bars
from rnnlab.store import RunSummary


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    weights = image.astype(float)
    return float((ys * weights).sum() / weights.sum()), float((xs * weights).sum() / weights.sum())


def ink_box(image: np.ndarray, level: int = 128) -> tuple[int, int]:
    """(height, width) of the pixels brighter than `level`."""
    rows = np.flatnonzero((image > level).any(1))
    cols = np.flatnonzero((image > level).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def canvas_like(digit: np.ndarray, background: str) -> np.ndarray:
    """A 28x28 digit upscaled 10x into a 280x280 RGBA canvas image, white ink on black or on transparent."""
    big = np.kron(digit, np.ones((10, 10), dtype=np.uint8))  # (280, 280)
    rgba = np.zeros((*big.shape, 4), dtype=np.uint8)
    if background == "transparent":
        rgba[..., :3], rgba[..., 3] = 255, big
    else:
        rgba[..., :3], rgba[..., 3] = big[..., None], 255
    return rgba


def test_a_stroke_is_cropped_scaled_to_20_px_and_centred_by_mass():
    """An off-centre L in a corner of the canvas comes back 20 px tall, aspect kept, mass in the middle."""
    canvas = render_strokes([np.array([[40, 20], [40, 140], [100, 140]])], width=12)  # 120 tall, 60 wide
    image = prepare(canvas, "mnist")
    assert image.dtype == np.uint8 and image.shape == (28, 28)
    assert image.max() == 255
    height, width = ink_box(image)
    assert height == BOX
    assert abs(width - BOX * (60 + 12) / (120 + 12)) <= 1.5  # the bounding box includes the pen's width
    cy, cx = centre_of_mass(image)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1  # within 1 px of the middle
    # MNIST's own digits have their centre of mass at pixel index 14.0 +- 0.5 (a whole-pixel shift)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_a_wide_stroke_is_scaled_by_its_longer_side():
    canvas = render_strokes([np.array([[30, 200], [250, 200]])], width=10)
    height, width = ink_box(prepare(canvas, "mnist"))
    assert width == BOX and height <= 3


def test_the_naive_resize_keeps_a_small_digit_small_and_off_centre():
    """Why centring matters: the naive view leaves a corner doodle in the corner, tiny."""
    canvas = render_strokes([np.array([[30, 20], [30, 80]])], width=10)
    naive = naive_resize(ink(canvas))
    height, _ = ink_box(naive)
    cy, cx = centre_of_mass(naive)
    assert height <= 8 and cx < 6 and cy < 10
    assert prepare(canvas, "naive").tolist() == naive.tolist()


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((280, 280, 4), np.uint8),  # transparent
        np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # opaque black
        render_strokes([np.array([[100, 100], [101, 101]])], width=3),  # a stray speck
        np.full((50, 40), 0.02, np.float32),  # faint grey noise, no stroke
    ],
    ids=["transparent", "black", "speck", "faint"],
)
def test_a_blank_or_near_blank_canvas_is_empty(canvas):
    assert is_empty(ink(canvas))
    for method in ("mnist", "naive"):
        assert prepare(canvas, method) is None


def test_a_single_dot_is_not_empty():
    assert not is_empty(ink(render_strokes([np.array([[140, 140]])], width=20)))


@pytest.mark.parametrize("background", ["black", "transparent"])
def test_an_mnist_digit_drawn_on_a_canvas_comes_back_as_itself(real_mnist_dir: Path, background: str):
    """Real digits, upscaled 10x like a canvas drawing, return to their own pixels (up to a 1 px shift
    when the centre of mass sits halfway between two pixels)."""
    digits = read_idx(real_mnist_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte")[:25].numpy()
    for digit in digits:
        image = prepare(canvas_like(digit, background), "mnist").astype(float) / 255
        errors = [
            np.abs(np.roll(image, (dy, dx), axis=(0, 1)) - digit / 255).mean()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
        assert min(errors) < 0.01, f"mean abs error {min(errors):.3f}"


def test_ink_reads_rgb_grey_and_float_and_rejects_other_shapes():
    white = np.full((4, 4, 3), 255, np.uint8)
    assert np.allclose(ink(white), 1.0)
    assert ink(np.full((4, 4), 0.5)).max() == pytest.approx(0.5)
    half_transparent = np.dstack([white, np.full((4, 4), 128, np.uint8)])
    assert ink(half_transparent).max() == pytest.approx(128 / 255, abs=1e-3)
    with pytest.raises(ValueError, match="canvas image"):
        ink(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="unknown preprocessing"):
        prepare(white, "sideways")


@pytest.mark.parametrize("order", ORDERS)
def test_class_probabilities_for_every_order(order: str):
    torch.manual_seed(0)
    model = SequenceClassifier.from_config(RunConfig(order=order, hidden_size=8), 10).eval()
    image = prepare(render_strokes([np.array([[140, 40], [140, 240]])]), "mnist")
    probabilities = class_probabilities(model, image, order)
    assert probabilities.shape == (10,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert (probabilities >= 0).all()


def summary(run_id: str, dataset: str, state: str, best: object) -> RunSummary:
    return RunSummary(run_id, run_id, state, RunConfig(dataset=dataset), {"best_test_acc": best})


def test_best_digit_run_is_the_most_accurate_finished_digit_run():
    runs = [
        summary("fashion", "fashion-mnist", "finished", 0.99),  # not digits
        summary("live", "mnist", "running", 0.98),  # not finished
        summary("ok", "mnist", "finished", 0.90),
        summary("best", "kmnist", "finished", 0.95),
        summary("unknown", "mnist", "finished", None),
        RunSummary("broken", "broken", "finished", None, {}, error="config.json is unreadable"),
    ]
    assert best_digit_run(runs).run_id == "best"
    assert best_digit_run(runs[:2]) is None
    assert best_digit_run([runs[4]]).run_id == "unknown"


def test_figures_show_the_image_and_highlight_the_predicted_class():
    image = np.zeros((28, 28), np.uint8)
    image[5:20, 14] = 255
    heatmap = input_image_figure(image).data[0]
    assert np.asarray(heatmap.z).shape == (28, 28) and heatmap.zmax == 255
    bars = probability_bars([0.1, 0.7, 0.2], ["a", "b", "c"]).data[0]
    assert list(bars.marker.color).index(TOP_COLOUR) == 1
    assert list(bars.text) == ["10.0%", "70.0%", "20.0%"]
    with pytest.raises(ValueError):
        probability_bars([0.5, 0.5], ["a", "b", "c"])
