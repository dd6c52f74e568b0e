"""Shared fixtures: tiny learnable datasets written by the tests, a Lab per test, no stray threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from rnnlab.data import FOLDERS, clear_cache, read_idx, write_idx
from rnnlab.lab import Lab

os.environ["RNNLAB_OFFLINE"] = "1"  # tests never try the network
# One torch thread per worker: tiny models gain nothing from more, and on a machine busy with
# other work extra OpenMP threads only spin waiting for each other.
os.environ.setdefault("RNNLAB_TORCH_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def parsed_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Parsed datasets are cached in a folder of this session, not the user's cache (workers inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["RNNLAB_CACHE_DIR"] = str(folder)
    return folder


ROOT = Path(__file__).resolve().parents[1]
MNIST_RAW_CANDIDATES = [
    Path(os.environ.get("RNNLAB_MNIST_RAW", "/nonexistent")),
    ROOT.parent / "shared" / "data" / "MNIST" / "raw",
    ROOT / "data" / "MNIST" / "raw",
]


def synthetic_images(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Class k is a bright bar across rows 2k+3..2k+4 on faint noise: learnable in any order."""
    n = len(labels)
    images = torch.randint(0, 60, (n, 28, 28), generator=generator, dtype=torch.uint8)
    rows = 2 * labels + 3
    offsets = torch.randint(0, 8, (n,), generator=generator)
    for i in range(n):
        r, c = int(rows[i]), int(offsets[i])
        images[i, r : r + 2, 4 + c : 16 + c] = 255
    return images


def write_tiny_dataset(
    root: Path, folder: str = "MNIST", n_train: int = 512, n_test: int = 256, seed: int = 0
) -> Path:
    """Four IDX files in torchvision's layout under root/<folder>/raw; returns root."""
    g = torch.Generator().manual_seed(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = torch.arange(n) % 10
        labels = labels[torch.randperm(n, generator=g)].to(torch.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", synthetic_images(labels.long(), g))
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding tiny MNIST, Fashion-MNIST and KMNIST look-alikes (512 train, 256 test)."""
    root = tmp_path_factory.mktemp("data")
    for seed, folder in enumerate(FOLDERS.values()):
        write_tiny_dataset(root, folder, seed=seed)
    return root


@pytest.fixture(scope="session")
def real_mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real handwritten digits: 2,000 train / 500 held-out images cut from the real MNIST test set."""
    source = next((p for p in MNIST_RAW_CANDIDATES if (p / "t10k-images-idx3-ubyte.gz").is_file()), None)
    if source is None:
        pytest.skip(
            "the real MNIST test set (t10k-*-ubyte.gz) is not here; set RNNLAB_MNIST_RAW to its folder"
        )
    images = read_idx(source / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(source / "t10k-labels-idx1-ubyte.gz")
    root = tmp_path_factory.mktemp("real-mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", images[:2000])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:2000])
    write_idx(raw / "t10k-images-idx3-ubyte", images[2000:2500])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[2000:2500])
    return root


@pytest.fixture
def lab(tmp_path: Path, tiny_data_dir: Path):
    """A Lab over a fresh runs dir and the tiny datasets; every run is stopped after the test."""
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1)
    yield lab
    lab.shutdown(timeout=30)


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny tensors: extra torch threads only wait on each other on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_training_threads_left():
    """Every test must leave no training thread running behind it."""
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stray = [t.name for t in threading.enumerate() if t.name.startswith("rnnlab-run-")]
        if not stray:
            break
        time.sleep(0.05)
    clear_cache()
    assert not stray, f"training threads left running: {stray}"


@pytest.fixture
def app_runs_dir(tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The app (as AppTest runs it) over a fresh runs folder and the tiny data; a fresh Lab per test,
    its runs stopped afterwards."""
    import streamlit as st

    from rnnlab.ui.state import get_lab

    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tiny_data_dir))
    st.cache_resource.clear()
    yield runs
    get_lab().shutdown(timeout=60)
    st.cache_resource.clear()
