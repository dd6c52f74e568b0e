"""Datasets as uint8 tensors: where the IDX files come from, how they parse, how images become sequences."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import math
import os
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.config import DATASETS, ORDERS
from rnnlab.data_cache import cached_idx

FOLDERS: dict[str, str] = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
CLASSES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}
# Debian/Ubuntu packages that install a dataset into its SYSTEM_DIRS folder.
APT_PACKAGES: dict[str, str] = {"fashion-mnist": "dataset-fashion-mnist"}

SIDE = 28
_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
# Seeds the one fixed pixel permutation; changing it would silently change what old "permuted" runs saw.
_PERMUTATION_SEED = 1234


class DatasetUnavailable(RuntimeError):
    """No folder holds the four IDX files and they could not be downloaded."""


class IdxError(ValueError):
    """An IDX file is unreadable or does not hold what a dataset needs."""


@dataclass(frozen=True)
class ImageDataset:
    """Both splits of one dataset, kept as uint8 so a whole set fits on a GPU at a quarter of float's size."""

    name: str
    classes: tuple[str, ...]
    train_images: torch.Tensor  # uint8 (N, 28, 28)
    train_labels: torch.Tensor  # int64 (N,)
    test_images: torch.Tensor  # uint8 (M, 28, 28)
    test_labels: torch.Tensor  # int64 (M,)
    source: str

    def to(self, device: torch.device | str) -> ImageDataset:
        """Copy onto `device` once, so training draws batches by index without host-to-device traffic."""
        return dataclasses.replace(
            self,
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            test_images=self.test_images.to(device),
            test_labels=self.test_labels.to(device),
        )


def default_data_dir() -> Path:
    """`$RNNLAB_DATA_DIR` lets CI and shared machines point every entry point at one copy of the data."""
    return Path(os.environ.get("RNNLAB_DATA_DIR") or "data")


def read_idx(path: str | Path) -> torch.Tensor:
    """Parse a uint8 IDX file ourselves, since recompressed copies fail torchvision's md5 check.

    Gzip is detected by its magic bytes rather than the name, so renamed files still load.
    Anything but a well-formed 1-D or 3-D uint8 file raises `IdxError` naming the file.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise IdxError(f"{path} is not a valid gzip file: {exc}") from exc
    if len(data) < 4:
        raise IdxError(f"{path} is not an IDX file: it holds {len(data)} bytes, too few for a header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or ndim not in (1, 3):
        raise IdxError(
            f"{path} is not an IDX file of labels or images: magic 0x{data[:4].hex()}, "
            "expected 0x00000801 (labels) or 0x00000803 (images)"
        )
    if dtype != _UBYTE:
        raise IdxError(f"{path} holds data type code 0x{dtype:02x}; only unsigned bytes (0x08) are supported")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path} is truncated inside its header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if 0 in dims:
        raise IdxError(f"{path} declares an empty shape {dims}")
    expected = header + math.prod(dims)
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "followed by trailing bytes"
        raise IdxError(
            f"{path} is {problem}: shape {dims} needs {expected} bytes, the file holds {len(data)}"
        )
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).reshape(dims)


def idx_count(path: str | Path) -> int | None:
    """How many items (images or labels) an IDX file holds, from its header alone; None if unreadable.

    Reads a few bytes, however large the file, so forms can say "all 60,000" without loading it.
    """
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
        with (gzip.open if gzipped else open)(path, "rb") as f:
            header = f.read(8)
    except (OSError, EOFError, zlib.error):
        return None
    if len(header) < 8 or header[:2] != b"\x00\x00" or header[3] not in (1, 3):
        return None
    return struct.unpack(">I", header[4:8])[0]


def write_idx(path: str | Path, tensor: torch.Tensor) -> None:
    """Write the format `read_idx` reads, so tests and benchmarks can build tiny datasets on disk."""
    if tensor.dtype != torch.uint8 or tensor.dim() not in (1, 3):
        raise ValueError(
            f"write_idx takes a uint8 tensor with 1 or 3 dims, got {tensor.dtype} {tuple(tensor.shape)}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(f">HBB{tensor.dim()}I", 0, _UBYTE, tensor.dim(), *tensor.shape)
    payload = header + tensor.detach().cpu().contiguous().numpy().tobytes()
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def find_source(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The first folder holding all four files, local data dir before system folders; never downloads."""
    _check_name(name)
    for folder in (raw_dir(name, data_dir), *SYSTEM_DIRS.get(name, ())):
        if all(find_file(folder, file) for file in FILES):
            return folder
    return None


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool | None = None) -> ImageDataset:
    """Parse a dataset once per process, downloading it only when no folder already holds it.

    `download` defaults to True unless `$RNNLAB_OFFLINE` is "1". Concurrent callers for the same
    dataset wait for one parse instead of each reading tens of megabytes.
    """
    _check_name(name)
    root = _resolve(data_dir)
    return _cached(_datasets, (name, root), lambda: _load(name, root, download))


def dataset_on_device(name: str, data_dir: str | Path | None, device: torch.device | str) -> ImageDataset:
    """One device copy per process, shared by every run that trains on it."""
    _check_name(name)
    root = _resolve(data_dir)
    device = torch.empty(0, device=device).device  # "cuda" and "cuda:0" must share one copy
    return _cached(_on_device, (name, root, device), lambda: load_dataset(name, root).to(device))


def clear_cache() -> None:
    """Forget parsed and device copies, so tests can load from fresh folders."""
    with _lock:
        _datasets.clear()
        _on_device.clear()
        _key_locks.clear()


def sequence_shape(order: str) -> tuple[int, int]:
    """(steps T, inputs per step I): what a model built for `order` must accept."""
    steps, inputs = _index_table(order).shape
    return steps, inputs


def pixel_permutation() -> torch.Tensor:
    """The fixed permutation of 784 pixels; seeded so every process and run sees the same one."""
    generator = torch.Generator().manual_seed(_PERMUTATION_SEED)
    return torch.randperm(SIDE * SIDE, generator=generator, device="cpu")


def step_pixel_indices(order: str) -> torch.Tensor:
    """int64 (T, I): the flat pixel (row * 28 + col) read at step t, input i; what an order means."""
    return _index_table(order).clone()


def to_sequences(images: torch.Tensor, order: str) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float32 (B, T, I) in [0, 1] on the same device, by one gather per batch.

    Equal, for every order, to gathering `step_pixel_indices(order)` from the flattened image.
    """
    if images.dtype != torch.uint8 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(
            f"to_sequences takes uint8 (B, 28, 28) images, got {images.dtype} {tuple(images.shape)}"
        )
    if _reads_in_raster_order(order):  # the training hot path: a view of the image is the sequence
        return images.reshape(len(images), *sequence_shape(order)).float().div_(255)
    idx = _device_table(order, images.device)
    return images.flatten(1)[:, idx].float().div_(255)  # (B, T, I)


_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}
_datasets: dict[tuple, ImageDataset] = {}
_on_device: dict[tuple, ImageDataset] = {}


def _cached(store: dict[tuple, ImageDataset], key: tuple, make: Callable[[], ImageDataset]) -> ImageDataset:
    """A lock per key: callers for the same key wait for one `make`; others are not held up by it."""
    with _lock:
        key_lock = _key_locks.setdefault((id(store), *key), threading.Lock())
    with key_lock:
        if key not in store:
            store[key] = make()
        return store[key]


def _load(name: str, root: Path, download: bool | None) -> ImageDataset:
    folder = find_source(name, root)
    if folder is None:
        if download is None:
            download = not offline()
        if not download:
            raise DatasetUnavailable(missing_message(name, root))
        _download(name, root)
        folder = find_source(name, root)
        if folder is None:
            raise DatasetUnavailable(
                f"The download finished without the files. {missing_message(name, root)}"
            )
    train_images, train_labels = _read_split(name, folder, FILES[0], FILES[1])
    test_images, test_labels = _read_split(name, folder, FILES[2], FILES[3])
    return ImageDataset(
        name, CLASSES[name], train_images, train_labels, test_images, test_labels, str(folder)
    )


def _download(name: str, root: Path) -> None:
    """torchvision fetches, checks and unpacks all four files into root/<Folder>/raw in one call."""
    import torchvision  # imported here: it is slow to import and only needed the first time online

    try:
        getattr(torchvision.datasets, FOLDERS[name])(root=str(root), train=True, download=True)
    except Exception as exc:  # network, mirror, checksum or disk: all mean the same to the person waiting
        raise DatasetUnavailable(f"Downloading failed ({exc}). {missing_message(name, root)}") from exc


def _read_split(
    name: str, folder: Path, images_file: str, labels_file: str
) -> tuple[torch.Tensor, torch.Tensor]:
    images_path, labels_path = find_file(folder, images_file), find_file(folder, labels_file)
    assert images_path is not None and labels_path is not None  # find_source checked both exist
    images, labels = cached_idx(images_path, read_idx), cached_idx(labels_path, read_idx)
    if images.dim() != 3 or images.shape[1:] != (SIDE, SIDE):
        raise IdxError(f"{images_path} should hold 28x28 images, it holds shape {tuple(images.shape)}")
    if labels.dim() != 1:
        raise IdxError(f"{labels_path} should hold labels (1-D), it holds shape {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise IdxError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "they must come from the same release"
        )
    if int(labels.max()) >= len(CLASSES[name]):
        raise IdxError(
            f"{labels_path} holds label {int(labels.max())}, but {name} has {len(CLASSES[name])} classes"
        )
    return images, labels.long()


def _apt_hint(name: str) -> str:
    package = APT_PACKAGES.get(name)
    return f" On Debian or Ubuntu, `apt-get install {package}` provides them." if package else ""


def missing_message(name: str, root: Path) -> str:
    """What DatasetUnavailable says: which files, where it looked, where to put them."""
    looked = ", ".join(str(d) for d in (raw_dir(name, root), *SYSTEM_DIRS.get(name, ())))
    return (
        f"{name} is not on disk: no folder holds all of {', '.join(FILES)} (looked in {looked}). "
        f"Put the four files, plain or .gz, in {raw_dir(name, root)}/; "
        f"downloading them needs internet.{_apt_hint(name)}"
    )


def find_file(folder: Path, file: str) -> Path | None:
    """One of the four files in a folder, plain or gzipped."""
    for candidate in (folder / file, folder / f"{file}.gz"):
        if candidate.is_file():
            return candidate
    return None


def raw_dir(name: str, data_dir: str | Path | None) -> Path:
    """The folder a dataset's four files belong in, in torchvision's layout under the data dir."""
    return _resolve(data_dir) / FOLDERS[name] / "raw"


def _resolve(data_dir: str | Path | None) -> Path:
    return Path(default_data_dir() if data_dir is None else data_dir).expanduser().resolve()


def offline() -> bool:
    """True when $RNNLAB_OFFLINE=1: never try to download (tests, air-gapped machines)."""
    return os.environ.get("RNNLAB_OFFLINE") == "1"


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


@functools.cache
def _index_table(order: str) -> torch.Tensor:
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    # On the CPU whatever the caller's default device: a table first built under count_parameters'
    # meta device would otherwise stay cached as data-less meta tensors and break every run after.
    grid = torch.arange(SIDE * SIDE, device="cpu").view(SIDE, SIDE)  # grid[row, col] = row * 28 + col
    tables = {
        "rows": grid,  # step t reads row t, left to right: the tutorials' view
        "row-pairs": grid.reshape(SIDE // 2, 2 * SIDE),  # step t reads rows 2t and 2t + 1
        "columns": grid.t().contiguous(),  # step t reads column t, top to bottom
        "pixels": grid.reshape(-1, 1),  # one pixel per step, raster order
        "permuted": pixel_permutation().view(-1, 1),  # one pixel per step, fixed shuffled order
    }
    return tables[order]


@functools.cache
def _reads_in_raster_order(order: str) -> bool:
    """Whether steps and inputs read the pixels in the image's own memory order (rows, row pairs,
    pixels): then the sequence is a reshape of the images, with no gather."""
    return bool(torch.equal(_index_table(order).flatten(), torch.arange(SIDE * SIDE)))


@functools.cache
def _device_table(order: str, device: torch.device) -> torch.Tensor:
    return _index_table(order).to(device)
