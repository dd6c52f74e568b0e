"""Tests for rnnlab.data: IDX parsing, dataset sources and caching, and the sequence views."""

import gzip
import os
import struct
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import data
from rnnlab.availability import availability
from rnnlab.config import ORDERS
from rnnlab.data import (
    CLASSES,
    FILES,
    DatasetUnavailable,
    IdxError,
    dataset_on_device,
    find_source,
    load_dataset,
    pixel_permutation,
    read_idx,
    sequence_shape,
    step_pixel_indices,
    to_sequences,
    write_idx,
)
from tests.conftest import write_tiny_dataset

SHARED_MNIST = Path("/work/shared/data/MNIST/raw")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """Every test starts with an empty cache and can never reach for the network."""
    monkeypatch.setenv("RNNLAB_OFFLINE", "1")
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    data.clear_cache()
    yield
    data.clear_cache()


def random_images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def write_dataset(root: Path, folder: str = "MNIST", n_train: int = 64, n_test: int = 32, gz=(1, 2)) -> Path:
    """A tiny dataset in torchvision's layout; files whose index is in `gz` are gzipped."""
    raw = root / folder / "raw"
    gen = torch.Generator().manual_seed(1)
    tensors = (
        random_images(n_train, seed=2),
        torch.randint(0, 10, (n_train,), dtype=torch.uint8, generator=gen),
        random_images(n_test, seed=3),
        torch.randint(0, 10, (n_test,), dtype=torch.uint8, generator=gen),
    )
    for i, (file, tensor) in enumerate(zip(FILES, tensors, strict=True)):
        write_idx(raw / (file + ".gz" if i in gz else file), tensor)
    return raw


# --- IDX files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "tensor", [random_images(5), torch.arange(7, dtype=torch.uint8)], ids=["images", "labels"]
)
def test_read_idx_round_trips_write_idx(tmp_path, suffix, tensor):
    path = tmp_path / f"x-ubyte{suffix}"
    write_idx(path, tensor)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == torch.uint8
    assert torch.equal(back, tensor)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    labels = torch.arange(10, dtype=torch.uint8)
    write_idx(tmp_path / "a.gz", labels)
    (tmp_path / "a.gz").rename(tmp_path / "gzipped-without-suffix")
    write_idx(tmp_path / "plain", labels)
    (tmp_path / "plain").rename(tmp_path / "plain-named.gz")
    assert torch.equal(read_idx(tmp_path / "gzipped-without-suffix"), labels)
    assert torch.equal(read_idx(tmp_path / "plain-named.gz"), labels)


def _labels_header(n: int) -> bytes:
    return struct.pack(">II", 0x801, n)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"", "too few"),
        (b"\x00\x00", "too few"),
        (struct.pack(">II", 0x12345678, 3) + b"abc", "magic"),
        (struct.pack(">II", 0x802, 3) + b"abc", "magic"),  # 2-D
        (struct.pack(">II", 0xD01, 3) + b"\x00" * 12, "type code 0x0d"),  # float32 labels
        (_labels_header(5) + b"abc", "truncated"),
        (_labels_header(3) + b"abcd", "trailing"),
        (struct.pack(">IIII", 0x803, 2, 28, 28) + b"\x00" * 100, "truncated"),
        (struct.pack(">II", 0x803, 2), "header"),
        (_labels_header(0), "empty shape"),
        (b"\x1f\x8b" + b"not really gzip", "gzip"),
        (gzip.compress(_labels_header(4) + b"ab", mtime=0), "truncated"),
    ],
)
def test_read_idx_rejects_broken_files_naming_them(tmp_path, content, complaint):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(IdxError, match=complaint) as info:
        read_idx(path)
    assert "broken-idx1-ubyte" in str(info.value)


@pytest.mark.parametrize(
    "tensor",
    [torch.zeros(3, dtype=torch.float32), torch.zeros(2, 3, dtype=torch.uint8)],
    ids=["float", "2-D"],
)
def test_write_idx_refuses_what_it_cannot_write(tmp_path, tensor):
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "x", tensor)


def test_real_mnist_test_set_parses():
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"{SHARED_MNIST} is absent")
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    assert labels.shape == (10000,)
    assert sorted(labels.unique().tolist()) == list(range(10))
    assert labels[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]  # the famous first digits of t10k


# --- loading -----------------------------------------------------------------------------------


def test_load_dataset_from_torchvision_layout(tmp_path):
    raw = write_dataset(tmp_path)
    ds = load_dataset("mnist", tmp_path)
    assert ds.name == "mnist"
    assert ds.classes == CLASSES["mnist"] == tuple("0123456789")
    assert ds.train_images.shape == (64, 28, 28) and ds.train_images.dtype == torch.uint8
    assert ds.train_labels.shape == (64,) and ds.train_labels.dtype == torch.int64
    assert ds.test_images.shape == (32, 28, 28) and ds.test_images.dtype == torch.uint8
    assert ds.test_labels.shape == (32,) and ds.test_labels.dtype == torch.int64
    assert torch.equal(ds.train_images, random_images(64, seed=2))
    assert torch.equal(ds.test_images, random_images(32, seed=3))
    assert ds.source == str(raw.resolve())
    assert find_source("mnist", tmp_path) == raw.resolve()


def test_load_dataset_prefers_plain_file_over_gz(tmp_path):
    raw = write_dataset(tmp_path, gz=())
    write_idx(raw / "t10k-images-idx3-ubyte.gz", random_images(32, seed=99))
    assert torch.equal(load_dataset("mnist", tmp_path).test_images, random_images(32, seed=3))


def test_load_dataset_uses_data_dir_env(tmp_path, monkeypatch):
    write_dataset(tmp_path, folder="KMNIST")
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path))
    assert data.default_data_dir() == tmp_path
    ds = load_dataset("kmnist")
    assert ds.classes[:4] == ("o", "ki", "su", "tsu")


def test_load_dataset_is_cached_and_parses_once_under_concurrency(tmp_path, monkeypatch):
    write_dataset(tmp_path)
    calls = []
    real_read_idx = data.read_idx
    monkeypatch.setattr(data, "read_idx", lambda path: calls.append(path) or real_read_idx(path))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(load_dataset("mnist", tmp_path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 4
    assert all(r is results[0] for r in results)
    assert load_dataset("mnist", str(tmp_path)) is results[0]  # str and Path name the same folder
    data.clear_cache()
    assert load_dataset("mnist", tmp_path) is not results[0]


def test_dataset_on_device_is_cached(tmp_path):
    write_dataset(tmp_path)
    on_cpu = dataset_on_device("mnist", tmp_path, "cpu")
    assert on_cpu is dataset_on_device("mnist", tmp_path, torch.device("cpu"))
    assert on_cpu.train_images.device.type == "cpu"
    assert torch.equal(on_cpu.train_labels, load_dataset("mnist", tmp_path).train_labels)


@pytest.mark.parametrize("offline_by", ["argument", "environment"])
def test_missing_file_names_the_files_and_the_folder(tmp_path, offline_by):
    raw = write_dataset(tmp_path)
    (raw / "train-labels-idx1-ubyte.gz").unlink()
    download = False if offline_by == "argument" else None
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("mnist", tmp_path, download=download)
    message = str(info.value)
    assert all(file in message for file in FILES)
    assert f"{raw.resolve()}/" in message
    assert ".gz" in message and "internet" in message


def test_failed_download_is_dataset_unavailable(tmp_path, monkeypatch):
    import torchvision

    def no_network(**kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", no_network)
    with pytest.raises(DatasetUnavailable, match="Downloading failed") as info:
        load_dataset("mnist", tmp_path, download=True)
    assert str((tmp_path / "MNIST" / "raw").resolve()) in str(info.value)


def test_download_into_data_dir_then_parse(tmp_path, monkeypatch):
    import torchvision

    seen = {}

    def fake_download(root, train, download):
        seen.update(root=root, download=download)
        write_dataset(Path(root), gz=(0, 1, 2, 3))

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_download)
    ds = load_dataset("mnist", tmp_path, download=True)
    assert seen == {"root": str(tmp_path.resolve()), "download": True}
    assert ds.train_images.shape == (64, 28, 28)


@pytest.mark.parametrize(
    ("n_labels", "label_max", "side", "complaint"),
    [(63, 9, 28, "64 images but .* 63 labels"), (64, 10, 28, "label 10"), (64, 9, 14, "28x28")],
    ids=["count mismatch", "label out of range", "wrong size"],
)
def test_inconsistent_files_raise_clear_errors(tmp_path, n_labels, label_max, side, complaint):
    raw = write_dataset(tmp_path, gz=())
    labels = torch.full((n_labels,), label_max, dtype=torch.uint8)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    write_idx(raw / "train-images-idx3-ubyte", torch.zeros(64, side, side, dtype=torch.uint8))
    with pytest.raises(IdxError, match=complaint):
        load_dataset("mnist", tmp_path, download=False)


def test_unknown_dataset_lists_the_allowed_names(tmp_path):
    with pytest.raises(ValueError, match="mnist, fashion-mnist, kmnist"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason=f"{DEBIAN_FASHION} is absent")
def test_fashion_mnist_from_debian_system_folder(tmp_path):
    ds = load_dataset("fashion-mnist", tmp_path, download=False)
    assert ds.source == str(DEBIAN_FASHION)
    assert ds.train_images.shape == (60000, 28, 28)
    assert ds.test_images.shape == (10000, 28, 28)
    assert ds.train_labels.bincount().tolist() == [6000] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


# --- availability ------------------------------------------------------------------------------


def test_availability_present_says_where(tmp_path):
    raw = write_dataset(tmp_path)
    status = availability("mnist", tmp_path)
    assert status.available and status.source == str(raw.resolve())
    assert str(raw.resolve()) in status.message


def test_availability_missing_says_what_to_do(tmp_path, monkeypatch):
    offline = availability("kmnist", tmp_path)
    assert not offline.available and offline.source is None
    assert all(file in offline.message for file in FILES)
    assert str((tmp_path / "KMNIST" / "raw").resolve()) in offline.message
    assert "automatically" not in offline.message
    monkeypatch.delenv("RNNLAB_OFFLINE")
    online = availability("kmnist", tmp_path)
    assert "downloads automatically on first use when online" in online.message.lower()


# --- sequence views ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "shape"),
    [
        ("rows", (28, 28)),
        ("row-pairs", (14, 56)),
        ("columns", (28, 28)),
        ("pixels", (784, 1)),
        ("permuted", (784, 1)),
    ],
)
def test_sequence_shapes(order, shape):
    images = random_images(3)
    assert sequence_shape(order) == shape
    assert step_pixel_indices(order).shape == shape
    seqs = to_sequences(images, order)
    assert seqs.shape == (3, *shape) and seqs.dtype == torch.float32


def test_views_read_the_pixels_they_promise():
    images = random_images(4)
    scaled = images.float() / 255
    assert torch.equal(to_sequences(images, "rows"), scaled)
    pairs = to_sequences(images, "row-pairs")  # step t: row 2t, then row 2t + 1, left to right
    assert torch.equal(pairs[:, 3], torch.cat([scaled[:, 6], scaled[:, 7]], dim=1))
    assert torch.equal(to_sequences(images, "columns"), scaled.transpose(1, 2))
    assert torch.equal(to_sequences(images, "pixels"), scaled.flatten(1).unsqueeze(-1))
    permuted = to_sequences(images, "permuted")
    assert torch.equal(permuted.squeeze(-1).sort(dim=1).values, scaled.flatten(1).sort(dim=1).values)
    assert not torch.equal(permuted, to_sequences(images, "pixels"))


def test_permutation_is_fixed_and_complete():
    perm = pixel_permutation()
    assert torch.equal(perm, pixel_permutation())
    assert torch.equal(perm.sort().values, torch.arange(784))
    assert torch.equal(step_pixel_indices("permuted").flatten(), perm)
    assert torch.equal(to_sequences(random_images(2), "permuted"), to_sequences(random_images(2), "permuted"))


def test_step_pixel_indices_is_a_copy():
    step_pixel_indices("rows").zero_()
    assert step_pixel_indices("rows")[1, 0] == 28


@pytest.mark.parametrize("bad", [torch.zeros(2, 28, 28), torch.zeros(2, 784, dtype=torch.uint8)], ids=str)
def test_to_sequences_rejects_wrong_input(bad):
    with pytest.raises(ValueError, match=r"uint8 \(B, 28, 28\)"):
        to_sequences(bad, "rows")


def test_unknown_order_lists_the_allowed_ones():
    for call in (sequence_shape, step_pixel_indices, lambda o: to_sequences(random_images(1), o)):
        with pytest.raises(ValueError, match="rows, row-pairs, columns, pixels, permuted"):
            call("diagonal")


@settings(max_examples=40, deadline=None)
@given(
    pixels=st.binary(min_size=2 * 784, max_size=2 * 784),
    order=st.sampled_from(ORDERS),
)
def test_to_sequences_agrees_with_step_pixel_indices(pixels, order):
    """Whatever the image, step t input i holds exactly pixel step_pixel_indices[t, i] / 255."""
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(2, 28, 28)
    idx = step_pixel_indices(order)
    expected = images[:, idx // 28, idx % 28].float() / 255  # (B, T, I), indexed by row and column
    assert torch.equal(to_sequences(images, order), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_and_device_copy_on_cuda(tmp_path):
    write_dataset(tmp_path)
    on_gpu = dataset_on_device("mnist", tmp_path, "cuda")
    assert on_gpu.train_images.is_cuda and on_gpu is dataset_on_device("mnist", tmp_path, "cuda")
    for order in ORDERS:
        seqs = to_sequences(on_gpu.test_images, order)
        assert seqs.is_cuda
        assert torch.equal(seqs.cpu(), to_sequences(on_gpu.test_images.cpu(), order))


def test_idx_count_reads_the_header_alone_and_availability_reports_the_sizes(tmp_path: Path):
    """Forms say "0 = all 60,000" from a few header bytes, plain or gzipped; a bad file says nothing."""
    images = torch.zeros(7, 28, 28, dtype=torch.uint8)
    write_idx(tmp_path / "plain-idx3-ubyte", images)
    write_idx(tmp_path / "packed-idx3-ubyte.gz", images[:3])
    (tmp_path / "junk").write_bytes(b"\x1f\x8bnot gzip at all")
    assert data.idx_count(tmp_path / "plain-idx3-ubyte") == 7
    assert data.idx_count(tmp_path / "packed-idx3-ubyte.gz") == 3
    assert data.idx_count(tmp_path / "junk") is None and data.idx_count(tmp_path / "missing") is None
    root = write_tiny_dataset(tmp_path / "data", "MNIST", n_train=40, n_test=12)
    assert availability("mnist", root).images == (40, 12)
    assert availability("kmnist", root).images is None


def test_parsed_files_are_cached_and_mapped_until_the_file_changes(tmp_path, parsed_data_cache) -> None:
    """A gzipped IDX file is parsed once per version; later loads map the cached bytes."""
    from rnnlab.data_cache import cached_idx

    source = tmp_path / "images-idx3-ubyte.gz"
    images = torch.arange(2 * 28 * 28).remainder(251).to(torch.uint8).view(2, 28, 28)
    write_idx(source, images)
    parses: list[Path] = []

    def parse(path: Path) -> torch.Tensor:
        parses.append(path)
        return read_idx(path)

    first = cached_idx(source, parse)
    again = cached_idx(source, parse)
    assert len(parses) == 1 and torch.equal(first, again) and torch.equal(again, images)
    write_idx(source, torch.zeros(3, 28, 28, dtype=torch.uint8))
    os.utime(source, ns=(1, 1))  # a new version, whatever the clock's resolution
    changed = cached_idx(source, parse)
    assert len(parses) == 2 and changed.shape == (3, 28, 28) and int(changed.sum()) == 0
    unpacked = tmp_path / "labels-idx1-ubyte"
    write_idx(unpacked, torch.zeros(4, dtype=torch.uint8))
    cached_idx(unpacked, parse)
    assert len(parses) == 3, "unpacked files are read directly, never copied into the cache"
