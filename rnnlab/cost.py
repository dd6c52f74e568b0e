"""What a run will cost before it starts: its parameters, its memory and its time on this machine.

Time comes from a model of recurrent training with three numbers measured here: a cost per sequence
step of a batch (the recurrent loop runs step by step, whatever the batch size), a cost per batch
(drawing it, the loss, the update) and the arithmetic throughput of the matrix products. They are
measured once per process, device and cell by timing a few real training steps of three small
networks (`measured_speed`, under a second on a CPU). Not from the speed of finished runs: it says
little about a configuration unlike them, a new machine has none, and they ran under other loads.
"""

from __future__ import annotations

import functools
import math
import os
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnlab.config import RunConfig
from rnnlab.data import sequence_shape, to_sequences
from rnnlab.models import SequenceClassifier, count_parameters

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
TRAIN_FACTOR = 3.0  # a training step is a forward pass and a backward pass about twice its cost
FLOAT_BYTES = 4
EVAL_BATCH = 1000  # the batch predict_logits evaluates the test set in
SLOW_S = 3600.0  # a run longer than this gets a warning before it starts
MEMORY_SHARE = 0.8  # a run that needs more than this share of the device's memory gets a warning
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 1}  # tensors per weight
DATASET_SIZES = (60_000, 10_000)  # train and test images of each dataset in its full release


@dataclass(frozen=True)
class Speed:
    """How fast this machine trains one kind of cell: the three numbers of the time model."""

    device: str
    cell: str
    step_s: float  # seconds per sequence step, per layer and direction, of one training batch
    batch_s: float  # seconds per batch besides: drawing it, the loss, the optimiser's update
    flops: float  # floating-point operations per second sustained by a training step


@dataclass(frozen=True)
class Estimate:
    """The cost of one configuration; memory in bytes, times in seconds."""

    parameters: int
    weights_bytes: int  # weights, their gradients and the optimiser's state
    activations_bytes: int  # what one training batch keeps for the backward pass
    data_bytes: int  # the dataset, copied to the device once
    epoch_s: float
    total_s: float

    @property
    def memory_bytes(self) -> int:
        return self.weights_bytes + self.activations_bytes + self.data_bytes


def forward_flops(config: RunConfig, num_classes: int = 10) -> float:
    """Floating-point operations of one forward pass over one image (recurrence and readout)."""
    steps, inputs = sequence_shape(config.order)
    hidden, directions = config.hidden_size, 2 if config.bidirectional else 1
    gates = GATES[config.cell]
    total = 0.0
    for layer in range(config.num_layers):
        layer_inputs = inputs if layer == 0 else hidden * directions
        total += 2.0 * gates * (layer_inputs + hidden) * hidden * directions * steps
    features = hidden * directions * (steps if config.readout == "all" else 1)
    return total + 2.0 * features * num_classes


def memory(config: RunConfig, train_images: int, test_images: int) -> tuple[int, int, int]:
    """(weights + gradients + optimiser state, one batch's saved activations, dataset) in bytes."""
    parameters = count_parameters(config)
    weights = parameters * FLOAT_BYTES * (2 + OPTIMIZER_STATE[config.optimizer])
    steps, inputs = sequence_shape(config.order)
    hidden, directions = config.hidden_size, 2 if config.bidirectional else 1
    # Per step, layer and direction the backward pass keeps the gate activations and the state(s).
    per_step = config.num_layers * directions * hidden * (GATES[config.cell] + 2)
    activations = config.batch_size * steps * (per_step + inputs) * FLOAT_BYTES
    # The whole dataset goes to the device once (uint8 pixels, int64 labels); a subset is a copy of part.
    subset = min(config.train_subset, train_images) if config.train_subset else 0
    data = (train_images + test_images + subset) * (28 * 28 + 8)
    return weights, activations, data


def estimate(
    config: RunConfig, speed: Speed, train_images: int = DATASET_SIZES[0], test_images: int = DATASET_SIZES[1]
) -> Estimate:
    """Time per epoch (training, the quick tests and the full test pass) and memory of `config`."""
    n_train = min(config.train_subset or train_images, train_images)
    steps, _ = sequence_shape(config.order)
    loops = steps * config.num_layers * (2 if config.bidirectional else 1)  # sequential steps per batch
    flops = forward_flops(config)
    batches = math.ceil(n_train / config.batch_size)
    train_s = batches * (loops * speed.step_s + speed.batch_s) + TRAIN_FACTOR * n_train * flops / speed.flops
    quick_tests = batches // config.eval_every if config.eval_every else 0
    evaluated = test_images + quick_tests * min(config.eval_subset, test_images)
    eval_batches = math.ceil(test_images / EVAL_BATCH) + quick_tests * math.ceil(
        min(config.eval_subset, test_images) / EVAL_BATCH
    )
    # A pass without gradients: half the loop's cost per step, and the forward arithmetic at the rate
    # training sustains (not a third of it: batches of 1000 images over hundreds of steps are
    # limited by memory traffic more than by arithmetic; measured 2 to 10x slower per flop).
    eval_s = eval_batches * loops * speed.step_s / 2 + evaluated * flops / speed.flops
    epoch_s = train_s + eval_s
    weights, activations, data = memory(config, train_images, test_images)
    return Estimate(count_parameters(config), weights, activations, data, epoch_s, epoch_s * config.epochs)


def concerns(config: RunConfig, estimate: Estimate, memory_bytes: int, where: str) -> list[str]:
    """Sentences for a person about to start: a run that takes hours, or needs more memory than there is.

    `memory_bytes` is what the device has (0: unknown); `where` names it ("the GPU").
    """
    found = []
    if estimate.total_s > SLOW_S:
        tries = ["fewer epochs", "a training subset", "a smaller hidden size"]
        if config.order in ("pixels", "permuted"):
            tries.append("reading by rows (28 steps) instead of pixels (784 steps)")
        found.append(
            f"This run would take about {rough_duration(estimate.total_s)} here "
            f"({rough_duration(estimate.epoch_s)} per epoch). Try {', '.join(tries[:-1])} or {tries[-1]}."
        )
    if memory_bytes and estimate.memory_bytes > MEMORY_SHARE * memory_bytes:
        found.append(
            f"It needs about {size(estimate.memory_bytes)} of memory, more than {where} can give "
            f"({size(memory_bytes)}): it would fail or swap. A smaller batch size or hidden size, or "
            "fewer layers, needs less."
        )
    return found


def device_memory(device: torch.device) -> int:
    """Bytes of memory a run on `device` can use: the GPU's own, else the machine's RAM (0: unknown)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


@functools.cache
def measured_speed(device: str, cell: str, threads: int | None = None) -> Speed:
    """Time a few training steps of three small networks of `cell` on `device`, once per process.

    Two tiny ones (8 units, batch 4), reading by rows (28 steps) and by pixels (784 steps), cost
    almost nothing but their step-by-step loop and the per-batch work; a larger one (128 units,
    batch 128, rows) is mostly arithmetic. Three timings, three unknowns. `threads` is the number
    of CPU threads runs train with (None: torch's setting). Under a second on a CPU.
    """
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        rows, pixels, large = (
            RunConfig(cell=cell, hidden_size=8, batch_size=4),
            RunConfig(cell=cell, hidden_size=8, batch_size=4, order="pixels"),
            RunConfig(cell=cell, hidden_size=128, batch_size=128),
        )
        target = torch.device(device)
        t_rows, t_pixels, t_large = (
            _time_step(c, target, 2 if c is pixels else 4) for c in (rows, pixels, large)
        )
    finally:
        torch.set_num_threads(before)

    def work(config: RunConfig) -> float:
        return TRAIN_FACTOR * config.batch_size * forward_flops(config)

    def steps(config: RunConfig) -> int:
        return sequence_shape(config.order)[0]

    # The loop's cost per step from the two tiny runs, then the arithmetic rate from the large one.
    step_s = max(t_pixels - t_rows, 0.0) / (steps(pixels) - steps(rows))
    flops = (work(large) - work(rows)) / max(t_large - t_rows, 1e-9)
    step_s = max(step_s - (work(pixels) - work(rows)) / flops / (steps(pixels) - steps(rows)), 0.0)
    batch_s = max(t_rows - steps(rows) * step_s - work(rows) / flops, 0.0)
    return Speed(device, cell, step_s, batch_s, flops)


def _time_step(config: RunConfig, device: torch.device, repeats: int) -> float:
    """Seconds per training step of `config`, as the trainer takes one: the median of a few after a
    warm-up (the median, not the best: a run shares the machine as the measurement does).

    The update is plain SGD written out, which costs what any optimiser's does to within the noise
    and spares the page the seconds torch.optim takes to import.
    """
    generator = torch.Generator().manual_seed(0)
    model = SequenceClassifier.from_config(config).to(device)
    images = torch.randint(0, 256, (256, 28, 28), generator=generator, dtype=torch.uint8).to(device)
    labels = torch.randint(0, 10, (256,), generator=generator).to(device)
    order = torch.randperm(256, generator=generator).to(device)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        idx = order[: config.batch_size]
        x = to_sequences(images.index_select(0, idx), config.order)  # (batch, steps, inputs)
        loss = F.cross_entropy(model(x), labels.index_select(0, idx))
        model.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-1e-3)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def rough_duration(seconds: float) -> str:
    """A rough duration in words: '40 s', '12 min', '3.5 h', '2 days'."""
    if not math.isfinite(seconds):
        return "an unknown time"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def size(n_bytes: float) -> str:
    """'820 MB', '21 GB' (decimal units, as memory is sold)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"
