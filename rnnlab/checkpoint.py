"""Loading model.pt without trusting it: bounded bytes, known entries, dense float32 weights that fit.

`torch.load(weights_only=True)` already refuses code, but a file that loads can still hurt: a
1 MB file whose DEFLATE-compressed records inflate to a gigabyte, a 10 KB file of stride-0 tensors
that poses as a 100-million-parameter model, float64 or 1e30 weights that overflow on the first
step, or 11 classes where every page expects 10. Each is refused here, before a page sees it, with
a reason that names the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from rnnlab.config import RunConfig
from rnnlab.models import count_parameters
from rnnlab.run_setup import model_from_weights
from rnnlab.safe_files import UnsafeFile, open_regular

CHECKPOINT_FILE = "model.pt"
CHECKPOINT_FORMAT = 1
CHECKPOINT_KEYS = frozenset(
    {"model", "optimizer", "step", "epoch", "config", "num_classes", "format", "test_accuracy"}
)
NUM_CLASSES = 10  # every dataset rnnlab trains on has ten classes
MAX_WEIGHT = 1e6  # trained recurrent weights sit within ±100; a million is already broken
MAX_COUNT = 10**12
OPTIMIZER_COPIES = 2  # Adam and AdamW keep two tensors per weight; the others one or none
SLACK_BYTES = 4 * 2**20  # the pickled structure, step counters and zip headers


class BrokenCheckpoint(ValueError):
    """model.pt cannot be trusted; the message says why (the store turns it into a broken run)."""


def max_checkpoint_bytes(config: RunConfig) -> int:
    """The most bytes a genuine checkpoint of `config` holds: fp32 weights and the optimizer's copies."""
    return count_parameters(config, NUM_CLASSES) * 4 * (1 + OPTIMIZER_COPIES) + SLACK_BYTES


def load_checkpoint_file(
    path: Path, root: Path, config: RunConfig, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The checkpoint at `path` for a run with `config`, or BrokenCheckpoint saying why not."""
    limit = max_checkpoint_bytes(config)
    try:
        handle = open_regular(path, root, limit)
    except FileNotFoundError:
        raise BrokenCheckpoint(f"{path.name} is missing: the run has not finished an epoch yet") from None
    except UnsafeFile as e:
        raise BrokenCheckpoint(str(e)) from None
    with handle:
        _check_records(handle, path.name, limit)
        handle.seek(0)
        try:
            data = torch.load(handle, map_location=map_location, weights_only=True)
        except Exception as e:  # torch raises many types for corrupt, truncated or hostile files
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BrokenCheckpoint(
                f"{path.name} is not a loadable rnnlab checkpoint ({reason[:200]})"
            ) from None
    check_checkpoint(data, config, path.name)
    return data


def check_checkpoint(data: Any, config: RunConfig, name: str = CHECKPOINT_FILE) -> None:
    """Refuse anything a checkpoint rnnlab wrote for `config` would not be."""
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise BrokenCheckpoint(f"{name} is not an rnnlab checkpoint (no model weights inside)")
    if unknown := sorted(str(k)[:40] for k in data if k not in CHECKPOINT_KEYS):
        shown = ", ".join(unknown[:5])
        raise BrokenCheckpoint(f"{name} holds entries an rnnlab checkpoint never has: {shown}")
    classes = data.get("num_classes", NUM_CLASSES)
    if type(classes) is not int or classes != NUM_CLASSES:
        raise BrokenCheckpoint(f"{name} is for {str(classes)[:20]} classes; rnnlab models have {NUM_CLASSES}")
    for key in ("step", "epoch"):
        value = data.get(key, 0)
        if type(value) is not int or not 0 <= value <= MAX_COUNT:
            raise BrokenCheckpoint(f"{name} has a {key} of {str(value)[:20]}, not a count")
    weights = data["model"]
    for key, tensor in weights.items():
        if not isinstance(tensor, torch.Tensor):
            raise BrokenCheckpoint(f"{name} holds model entries that are not tensors")
        _check_tensor(tensor, f"weight {str(key)[:60]}", name)
        if not torch.isfinite(tensor).all():
            raise BrokenCheckpoint(f"{name}: weight {str(key)[:60]} holds NaN or infinite values")
        if tensor.numel() and tensor.abs().max().item() > MAX_WEIGHT:
            raise BrokenCheckpoint(f"{name}: weight {str(key)[:60]} holds values beyond ±{MAX_WEIGHT:g}")
    try:
        model_from_weights(config, weights, NUM_CLASSES)
    except (RuntimeError, TypeError, ValueError) as e:
        raise BrokenCheckpoint(f"{name} does not match this run's config: {str(e).splitlines()[0]}") from None
    optimizer = data.get("optimizer")
    if optimizer is not None:
        if not isinstance(optimizer, dict):
            raise BrokenCheckpoint(f"{name} holds an optimizer state that is not a mapping")
        for tensor in _tensors(optimizer, depth=0):
            _check_tensor(tensor, "optimizer state", name, dtypes=(torch.float32, torch.int64))


def _check_records(handle: Any, name: str, limit: int) -> None:
    """torch.save writes an uncompressed zip: refuse compressed records and sizes past `limit`."""
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise BrokenCheckpoint(f"{name} is not a loadable rnnlab checkpoint (not a torch zip file)") from None
    if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
        raise BrokenCheckpoint(f"{name} holds compressed records, which torch.save never writes")
    if sum(info.file_size for info in infos) > limit:
        raise BrokenCheckpoint(
            f"{name} unpacks to more than the {limit:,} bytes a checkpoint of this run's config can hold"
        )


def _check_tensor(
    tensor: torch.Tensor, what: str, name: str, dtypes: tuple[torch.dtype, ...] = (torch.float32,)
) -> None:
    if tensor.dtype not in dtypes:
        raise BrokenCheckpoint(f"{name}: {what} is {str(tensor.dtype).removeprefix('torch.')}, not float32")
    needed = (tensor.storage_offset() + tensor.numel()) * tensor.element_size()
    if not tensor.is_contiguous() or tensor.untyped_storage().nbytes() < needed:
        raise BrokenCheckpoint(f"{name}: {what} is not a dense tensor (stride 0 or a strided view)")


def _tensors(value: Any, depth: int) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if depth > 6:
        raise BrokenCheckpoint("the optimizer state is nested deeper than any optimizer writes")
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return []
    return [t for item in items for t in _tensors(item, depth + 1)]
