"""Mixed precision for training steps: which dtype a run's `precision` means on a device, and its context.

Only the training step runs in lower precision (weights, optimizer state and evaluation stay fp32),
so the accuracy a run reports is measured the same way whatever precision trained it. Inspection
and the from-scratch cells never see autocast: they replay a trained model at full precision.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

from rnnlab.config import PRECISIONS
from rnnlab.device import pick_device

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def training_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain fp32.

    auto: bf16 on a CUDA GPU that has it (else fp16), bf16 on a CPU with native bf16 arithmetic
    (AVX512-BF16 or AMX; elsewhere bf16 is emulated and slower than fp32), fp32 otherwise.
    An explicit bf16/fp16 is honoured wherever torch can run it, even when it is slow.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not allowed; choose one of: {', '.join(PRECISIONS)}")
    if precision == "fp32" or device.type not in ("cpu", "cuda"):
        return None
    if precision != "auto":
        return _DTYPES[precision]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def auto_precision(device: str = "auto") -> str:
    """What `precision="auto"` trains in on this machine for a device choice: fp32, bf16 or fp16."""
    return describe(training_dtype("auto", pick_device(device)))


def describe(dtype: torch.dtype | None) -> str:
    """The short name a status line shows: fp32, bf16 or fp16."""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """torch.autocast for a training step, or nothing at all for fp32."""
    if dtype is None:
        yield
        return
    # oneDNN's 16-bit RNN kernels need the CPU's bf16 instructions; elsewhere they refuse to build,
    # so there the recurrent layers keep torch's own fp32 kernels and only the readout is in 16 bits.
    if device.type != "cpu" or (dtype is torch.bfloat16 and cpu_has_native_bf16()):
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield
        return
    was = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False  # the worker's one training thread: no one else sees it
    try:
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield
    finally:
        torch.backends.mkldnn.enabled = was


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
    if dtype is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def backward_and_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: Iterable[torch.nn.Parameter],
    grad_clip: float,
    scaler: torch.amp.GradScaler | None,
    inspect: Callable[[], None] | None = None,
) -> None:
    """Gradients, optional clipping and the update; with fp16's scaler, clipping sees true gradients.

    `inspect` runs between backward and clipping, on the true (unscaled, unclipped) gradients.
    """
    if scaler is None:
        loss.backward()
        if inspect is not None:
            inspect()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if inspect is not None:
        inspect()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (Linux reports it in /proc/cpuinfo)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return "avx512_bf16" in flags or "amx_bf16" in flags
