"""A drawing on a canvas (RGBA, any size) -> the 28x28 uint8 image a model trained on MNIST expects."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.data import SIDE
from rnnlab.models import predict_logits
from rnnlab.store import RunSummary
from rnnlab.values import finite_or

METHODS = ("mnist", "naive")
METHOD_LABELS = {"mnist": "MNIST-style", "naive": "Naive resize"}
DIGIT_DATASETS = ("mnist", "kmnist")  # datasets whose classes a person can draw from memory

BOX = 20  # MNIST scaled each digit's longer side to 20 px, leaving a 4 px margin in the 28x28 field
INK_LEVEL = 0.1  # grey above this counts as ink when finding the drawing's bounding box
MIN_INK = 1e-3  # total ink below this fraction of the canvas area is a blank canvas (a stray speck)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's convert("L")


def ink(canvas: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]: how much bright stroke covers each pixel.

    Takes RGBA (H, W, 4), RGB (H, W, 3) or grey (H, W), as uint8 (0-255) or float (0-1).
    For RGBA the luminance is weighted by alpha, so white strokes read the same on an opaque black
    background and on a transparent one (where the background pixels are black with alpha 0).
    """
    array = np.asarray(canvas)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255
    elif np.issubdtype(array.dtype, np.floating):
        array = np.clip(array.astype(np.float32), 0, 1)
    else:
        raise ValueError(f"a canvas image must be uint8 or float, got {array.dtype}")
    if array.ndim == 2:
        return array
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"a canvas image must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    grey = array[..., :3] @ _LUMA  # (H, W)
    if array.shape[2] == 4:
        grey = grey * array[..., 3]
    return grey


def is_empty(grey: np.ndarray) -> bool:
    """A blank or near-blank canvas: no ink at all, or less than a speck's worth of it."""
    return not (grey > INK_LEVEL).any() or float(grey.sum()) < MIN_INK * grey.size


def mnist_style(grey: np.ndarray) -> np.ndarray:
    """uint8 (28, 28): MNIST's own recipe, so a drawing looks like the digits the model trained on.

    Crop to the ink's bounding box; scale the longer side to 20 px keeping the aspect ratio, with
    anti-aliasing (so a thick stroke becomes grey edges, not jagged ones); stretch the contrast so the
    brightest pixel is 255 as in MNIST (a thin pen would otherwise read as faint ink); paste into
    28x28 so the centre of mass falls on the middle of the field.
    """
    rows = np.flatnonzero((grey > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((grey > INK_LEVEL).any(axis=0))
    if len(rows) == 0:
        raise ValueError("the canvas holds no ink; check is_empty() first")
    crop = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w)
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = _resize(crop, size)  # (<=20, <=20)
    small /= max(float(small.max()), 1e-6)
    field = np.zeros((SIDE, SIDE), dtype=np.float32)
    top, left = _centring_offset(small)
    _paste(field, small, top, left)
    return _to_uint8(field)


def naive_resize(grey: np.ndarray) -> np.ndarray:
    """uint8 (28, 28): the whole canvas shrunk as it is; a small or off-centre digit stays so."""
    return _to_uint8(_resize(grey, (SIDE, SIDE)))


def prepare(canvas: np.ndarray, method: str = "mnist") -> np.ndarray | None:
    """The model's input image, uint8 (28, 28) like the datasets' images; None for a blank canvas.

    uint8 is the contract because it is exactly what training saw: `to_sequences` divides by 255.
    """
    if method not in METHODS:
        raise ValueError(f"unknown preprocessing {method!r}; choose one of {', '.join(METHODS)}")
    grey = ink(canvas)
    if is_empty(grey):
        return None
    return mnist_style(grey) if method == "mnist" else naive_resize(grey)


def class_probabilities(model: torch.nn.Module, image: np.ndarray, order: str) -> np.ndarray:
    """float (C,): softmax over classes for one uint8 (28, 28) image read in the run's `order`."""
    images = torch.from_numpy(np.ascontiguousarray(image, dtype=np.uint8))[None]  # (1, 28, 28)
    logits = predict_logits(model, images, order)  # (1, C)
    return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()


def best_digit_run(summaries: list[RunSummary]) -> RunSummary | None:
    """The finished run on a digit dataset with the best test accuracy: the page's default model."""

    def accuracy(summary: RunSummary) -> float:
        return finite_or(summary.status.get("best_test_acc"), -1.0)

    digits = [
        s
        for s in summaries
        if not s.broken
        and s.state == "finished"
        and s.config is not None
        and s.config.dataset in DIGIT_DATASETS
    ]
    return max(digits, key=accuracy, default=None)


def render_strokes(
    strokes: list[np.ndarray], width: float = 20.0, size: tuple[int, int] = (280, 280)
) -> np.ndarray:
    """uint8 RGBA (H, W, 4): white round-capped strokes on opaque black, as the Draw page's canvas makes.

    Each stroke is float (N, 2) of (x, y) canvas points joined by straight segments; edges are
    anti-aliased by coverage. Tests and the latency benchmark draw with it instead of a mouse.
    """
    grey = np.zeros(size, dtype=np.float32)
    ys, xs = np.indices(size, dtype=np.float32)
    radius = width / 2
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float32).reshape(-1, 2)
        ends = points[1:] if len(points) > 1 else points  # a single point is a dot
        for a, b in zip(points[: len(ends)], ends, strict=True):
            grey = np.maximum(grey, _segment_coverage(xs, ys, a, b, radius))
    canvas = np.zeros((*size, 4), dtype=np.uint8)
    canvas[..., :3] = _to_uint8(grey)[..., None]
    canvas[..., 3] = 255
    return canvas


def _segment_coverage(
    xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float
) -> np.ndarray:
    """float (H, W): how much of each pixel lies within `radius` of the segment a-b."""
    ab = b - a
    length2 = max(float(ab @ ab), 1e-12)
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / length2, 0, 1)  # nearest point's position
    distance = np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))
    return np.clip(radius - distance + 0.5, 0, 1)


def _resize(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear with anti-aliasing: when shrinking, each output pixel averages the pixels it covers."""
    tensor = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))[None, None]  # (1, 1, H, W)
    if size[0] <= grey.shape[0] and size[1] <= grey.shape[1]:
        out = F.interpolate(tensor, size=size, mode="area")
    else:
        out = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    return out[0, 0].clamp_(0, 1).numpy()


def _centring_offset(image: np.ndarray) -> tuple[int, int]:
    """(top, left) shifting the image by whole pixels so its centre of mass lands nearest pixel (14, 14).

    That is where MNIST's own digits have theirs (row and column 14.0 +- 0.3 over the test set, the
    spread of a whole-pixel shift), half a pixel past the geometric middle 13.5 in index terms.
    """
    total = float(image.sum())
    ys, xs = np.indices(image.shape)
    centre = SIDE / 2
    cy, cx = float((ys * image).sum()) / total, float((xs * image).sum()) / total
    return round(centre - cy), round(centre - cx)


def _paste(field: np.ndarray, image: np.ndarray, top: int, left: int) -> None:
    """Copy `image` into `field` at (top, left), dropping whatever falls outside, as MNIST did."""
    h, w = image.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, field.shape[0]), min(left + w, field.shape[1])
    field[y0:y1, x0:x1] = image[y0 - top : y1 - top, x0 - left : x1 - left]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
