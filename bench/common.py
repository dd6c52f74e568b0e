"""Shared benchmark helpers: a data dir built from the real MNIST test set, and robust summaries."""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd
import torch

from rnnlab.data import read_idx, write_idx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_RAW = ROOT.parent / "shared" / "data" / "MNIST" / "raw"
DEFAULT_FASHION_RAW = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
TEST_SPLIT = 1000  # images in the written test split: only rnnlab's epoch-end evaluation reads it


def build_mnist_dir(raw: Path, root: Path, test_split: int = TEST_SPLIT) -> Path:
    """Write the real MNIST test set as the *training* split of a torchvision-layout data dir.

    The files are unpacked (`<root>/MNIST/raw/train-images-idx3-ubyte`, ...) because torchvision's
    MNIST checks for exactly those names; rnnlab reads the same folder. The 60k training set is not
    available offline, so the 10k real test digits stand in for it, and the first `test_split` of
    them double as a small test split. Returns `root`.
    """
    images_gz, labels_gz = raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"
    if not (images_gz.is_file() and labels_gz.is_file()):
        raise SystemExit(f"real MNIST test set not found: expected {images_gz} and {labels_gz}")
    images, labels = read_idx(images_gz), read_idx(labels_gz)  # uint8 (10000, 28, 28), uint8 (10000,)
    out = root / "MNIST" / "raw"
    write_idx(out / "train-images-idx3-ubyte", images)
    write_idx(out / "train-labels-idx1-ubyte", labels)
    write_idx(out / "t10k-images-idx3-ubyte", images[:test_split])
    write_idx(out / "t10k-labels-idx1-ubyte", labels[:test_split])
    return root


def build_fashion_dir(raw: Path, root: Path) -> Path:
    """Write full Fashion-MNIST, unpacked, in torchvision's layout (`<root>/FashionMNIST/raw/...`).

    torchvision's FashionMNIST(download=False) looks for exactly these unpacked names, and Debian
    ships them gzipped; rnnlab reads the same folder, so both sides parse the same files. Returns root.
    """
    names = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
    if not all((raw / f"{name}.gz").is_file() for name in names):
        raise SystemExit(f"Fashion-MNIST not found in {raw} (apt-get install dataset-fashion-mnist)")
    out = root / "FashionMNIST" / "raw"
    for name in names:
        write_idx(out / name, read_idx(raw / f"{name}.gz"))
    return root


def build_split_mnist_dir(raw: Path, root: Path, train: int = 8000) -> Path:
    """Write the 10,000 real MNIST test digits as a data dir split in two: `train` of them (8,000 by
    default) as the training split, the other 2,000 as the test split, which no training step sees.

    The offline stand-in for MNIST where a held-out accuracy is measured. The split is a fixed
    shuffle (seed 0), so both parts mix the test set's two halves (its first 5,000 digits are
    known to be neater than its last 5,000). Returns `root`.
    """
    images_gz, labels_gz = raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"
    if not (images_gz.is_file() and labels_gz.is_file()):
        raise SystemExit(f"real MNIST test set not found: expected {images_gz} and {labels_gz}")
    images, labels = read_idx(images_gz), read_idx(labels_gz)  # uint8 (10000, 28, 28), uint8 (10000,)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    fit, held_out = order[:train], order[train:]
    out = root / "MNIST" / "raw"
    write_idx(out / "train-images-idx3-ubyte", images[fit])
    write_idx(out / "train-labels-idx1-ubyte", labels[fit])
    write_idx(out / "t10k-images-idx3-ubyte", images[held_out])
    write_idx(out / "t10k-labels-idx1-ubyte", labels[held_out])
    return root


def step_phase_speed(metrics: pd.DataFrame, warmup: int, batch_size: int) -> float:
    """Samples/s of a run over its steps after `warmup`, from its own per-interval step clock.

    Each "step" metrics row holds samples/s over its logging interval, timed inside the training
    thread from the interval's first step to its loss sync, so samples/speed summed over the rows
    after the warm-up is the time of exactly those steps: no run set-up, no epoch-end test
    evaluation, no checkpoint. Assumes full batches (a training subset that is a multiple of the
    batch size) and no quick evaluations (eval_every 0), which would land inside an interval.
    """
    rows = metrics[metrics["kind"] == "step"]
    previous = rows["step"].shift(fill_value=0)
    timed = previous >= warmup
    if not timed.any():
        raise ValueError(f"no logged steps after the {warmup} warm-up steps")
    samples = (rows["step"] - previous)[timed] * batch_size
    seconds = (samples / rows["samples_per_s"][timed]).sum()
    return float(samples.sum() / seconds)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """`min..max` of repetitions, so a reader sees how noisy the machine was."""
    return f"{min(values):,.0f}..{max(values):,.0f}" if values else "-"
