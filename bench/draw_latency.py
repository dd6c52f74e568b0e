"""Draw page latency: canvas RGBA (280x280) -> 28x28 input -> class probabilities, per drawing.

Run from the repository root:  python -m bench.draw_latency [--drawings 300] [--threads 1]

Random drawings (1 to 3 strokes of random walks, pen 10 to 30 px) are rendered first, untimed, as
white-on-black RGBA like the page's canvas. Then each drawing goes through what the page runs after
every stroke, each stage timed on its own with `time.perf_counter`:
- png: decoding the canvas's PNG into an RGBA array (what `CanvasResult.image_data` does);
- prepare: `rnnlab.drawing.prepare` (MNIST-style or naive), RGBA -> uint8 (28, 28);
- predict: `rnnlab.drawing.class_probabilities` with an LSTM (128 hidden units by default) on the CPU;
- trace: `rnnlab.replay.trace`, the step-by-step view the page draws below the prediction.
The target is p95 <= 30 ms for prepare + predict. The model's weights are untrained: the work per
drawing does not depend on them.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch
from PIL import Image

from bench.common import median
from rnnlab.config import ORDERS, RunConfig
from rnnlab.data import to_sequences
from rnnlab.drawing import METHODS, class_probabilities, prepare, render_strokes
from rnnlab.models import SequenceClassifier
from rnnlab.replay import trace

CANVAS = (280, 280)
TARGET_MS = 30.0


def random_drawing(rng: np.random.Generator) -> np.ndarray:
    """uint8 RGBA (280, 280, 4): a few random-walk strokes, as a person's scribble of a digit."""
    strokes = []
    for _ in range(rng.integers(1, 4)):
        start = rng.uniform(40, 240, size=2)
        steps = rng.normal(0, 25, size=(rng.integers(4, 16), 2))
        strokes.append(np.clip(start + np.cumsum(steps, axis=0), 5, 275))
    return render_strokes(strokes, width=float(rng.uniform(10, 30)), size=CANVAS)


def png(canvas: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=300, help="random drawings timed per method")
    parser.add_argument("--warmup", type=int, default=20, help="drawings run first, untimed")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden units")
    parser.add_argument("--order", default="rows", choices=ORDERS, help="how the model reads the image")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the page shares a server)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = RunConfig(cell="lstm", hidden_size=args.hidden, order=args.order, device="cpu")
    model = SequenceClassifier.from_config(config, 10).eval()
    rng = np.random.default_rng(args.seed)
    drawings = [png(random_drawing(rng)) for _ in range(args.drawings + args.warmup)]

    print(
        f"{args.drawings} random {CANVAS[0]}x{CANVAS[1]} drawings; LSTM {args.hidden} hidden, order "
        f"{args.order}, CPU, {args.threads} torch thread(s); times in ms"
    )
    print(f"{'method':<8} {'stage':<17} {'median':>8} {'p95':>8}")
    for method in METHODS:
        times: dict[str, list[float]] = {"png": [], "prepare": [], "predict": [], "trace": [], "total": []}
        blank = 0
        for i, data in enumerate(drawings):
            t0 = time.perf_counter()
            canvas = np.asarray(Image.open(io.BytesIO(data)))
            t1 = time.perf_counter()
            image = prepare(canvas, method)
            t2 = time.perf_counter()
            if image is None:
                blank += 1
                continue
            class_probabilities(model, image, config.order)
            t3 = time.perf_counter()
            trace(model, to_sequences(torch.from_numpy(image)[None], config.order)[0])
            t4 = time.perf_counter()
            if i >= args.warmup:
                for stage, seconds in (
                    ("png", t1 - t0),
                    ("prepare", t2 - t1),
                    ("predict", t3 - t2),
                    ("trace", t4 - t3),
                    ("total", t3 - t1),
                ):
                    times[stage].append(seconds * 1000)
        for stage, label in (
            ("png", "png decode"),
            ("prepare", "prepare"),
            ("predict", "predict"),
            ("total", "prepare + predict"),
            ("trace", "trace (step view)"),
        ):
            print(f"{method:<8} {label:<17} {median(times[stage]):8.2f} {p95(times[stage]):8.2f}")
        verdict = "meets" if p95(times["total"]) <= TARGET_MS else "MISSES"
        print(f"{method:<8} p95 prepare + predict {verdict} the {TARGET_MS:g} ms target ({blank} blank)")


if __name__ == "__main__":
    main()
