"""The one place that picks the torch device a run trains on."""

from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    """cuda > mps > cpu for "auto"; an explicit choice that this machine lacks is an error, not a fallback."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was asked for, but no CUDA GPU is available here; use 'auto' or 'cpu'"
        )
    if name == "mps" and not _mps_available():
        raise ValueError(
            "device='mps' was asked for, but Apple's MPS is not available here; use 'auto' or 'cpu'"
        )
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={name!r} is not allowed; choose one of: auto, cpu, cuda, mps")
    return torch.device(name)


def usable_device(name: str) -> torch.device:
    """The run's own device when this machine has it; a run copied from a GPU box falls back to the CPU.

    For reading a trained model (evaluation, replay, drawing), where any device gives the same answer.
    """
    try:
        return pick_device(name)
    except ValueError:
        return torch.device("cpu")


def available_devices() -> list[str]:
    """Devices a person can choose on this machine, for help texts and menus."""
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
