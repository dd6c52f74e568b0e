"""Training samples/s: the classic tutorial loop (torchvision + DataLoader) against rnnlab's Run.

Run from the repository root:  python -m bench.train_throughput [--reps 5] [--threads 1]

Both sides train the same model (nn.LSTM(28, 128, batch_first) + Linear(128, 10) on the last step,
Adam, batch 128) on the same data: the real MNIST test set (10,000 digits), written as the training
split of a torchvision-layout data dir, since the 60k training set is not available offline.

What is timed, per repetition, on a fresh model: `--steps` optimizer steps after `--warmup` steps.
- classic: wall time of the loop over the DataLoader (PIL -> ToTensor per image, collate, forward,
  backward, step, `loss.item()` every step, as the tutorials do).
- rnnlab: the Run's own step-phase clock (bench.common.step_phase_speed): the "step" metrics rows
  hold samples/s per logging interval, timed inside the training thread, so the time of exactly
  the steps after the warm-up is known. That leaves out what the classic loop does not do (building
  the run folder, the epoch-end test evaluation, the checkpoint) and keeps in all rnnlab does per step.
The two sides alternate (ABBA order) in one process; the medians and their ratio are printed.

Threads matter on a busy CPU. libgomp (torch's OpenMP) lets idle workers spin for a long while
after each parallel region, unless it manages more threads than there are cores, in which case it
spins only briefly. A Run trains in its own thread; had the classic loop run in the main thread,
the main thread's idle OpenMP team would make every Run spin briefly while the classic loop spins
fully, and on a loaded machine that alone made the classic loop ~10x slower. So each measured loop
(and the classic dataset's parsing) runs in a fresh thread of its own, with denormals flushed in it,
and the main thread does no parallel torch work: both sides train in the same threading regime,
the one a single training thread has, in a tutorial script and in the app alike.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from bench.common import DEFAULT_MNIST_RAW, build_mnist_dir, median, spread, step_phase_speed
from rnnlab.config import RunConfig
from rnnlab.data import load_dataset
from rnnlab.lab import Lab

HIDDEN, BATCH, INPUTS, CLASSES = 128, 128, 28, 10
T = TypeVar("T")


class TutorialLSTM(nn.Module):
    """The tutorials' model: zero (h0, c0) passed explicitly, logits from the last step's output."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUTS, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(1, x.size(0), HIDDEN, device=x.device)  # (layers, batch, hidden)
        c0 = torch.zeros(1, x.size(0), HIDDEN, device=x.device)
        out, _ = self.lstm(x, (h0, c0))  # (batch, 28 steps, hidden)
        return self.fc(out[:, -1, :])  # (batch, classes)


def in_fresh_thread(fn: Callable[..., T], *args: object) -> T:
    """Run `fn` in a new thread (with its own OpenMP team, denormals flushed) and return its result."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        torch.set_flush_denormal(True)  # as the trainer does: before this thread's team exists
        try:
            result.append(fn(*args))
        except BaseException as e:  # re-raised in the caller
            errors.append(e)

    thread = threading.Thread(target=target, name="bench-classic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def classic_loader(data_dir: Path) -> torch.utils.data.DataLoader:
    """torchvision's MNIST with ToTensor and a shuffling DataLoader, built once as a tutorial does."""
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(root=str(data_dir), train=True, transform=transforms.ToTensor())
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)


def classic_speed(loader: torch.utils.data.DataLoader, warmup: int, steps: int, device: str) -> float:
    """Samples/s of the tutorial loop over `steps` steps after `warmup`, on a fresh model."""
    torch.manual_seed(0)
    model = TutorialLSTM().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    samples, started = 0, 0.0
    for i, (images, labels) in enumerate(loader):
        if i == warmup:
            samples, started = 0, time.perf_counter()
        if i == warmup + steps:
            break
        images = images.reshape(-1, 28, 28).to(device)  # (batch, 1, 28, 28) -> (batch, 28 rows, 28)
        labels = labels.to(device)
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss = loss.item()  # the tutorials' per-step read, a device sync on GPUs
        samples += len(labels)
    assert math.isfinite(running_loss)
    return samples / (time.perf_counter() - started)


def bare_speed(images: torch.Tensor, labels: torch.Tensor, warmup: int, steps: int, device: str) -> float:
    """The floor for any loop: the same model and steps on uint8 tensors already on the device,
    nothing else. rnnlab near this means its own machinery costs nothing; what is left is compute."""
    torch.manual_seed(0)
    model = TutorialLSTM().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = images.to(device), labels.to(device)
    order = torch.randperm(len(images), device=device)
    started = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            started = time.perf_counter()
        idx = order[i * BATCH : (i + 1) * BATCH]
        x = images.index_select(0, idx).float().div_(255)  # (batch, 28 rows, 28)
        loss = nn.functional.cross_entropy(model(x), labels.index_select(0, idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    assert math.isfinite(loss.item())
    return steps * BATCH / (time.perf_counter() - started)


def rnnlab_config(warmup: int, steps: int, log_every: int, device: str) -> RunConfig:
    """The same setup as a RunConfig: one epoch of exactly warmup + steps full batches, no quick evals."""
    return RunConfig(
        dataset="mnist",
        order="rows",
        cell="lstm",
        hidden_size=HIDDEN,
        readout="last",
        optimizer="adam",
        lr=1e-3,
        batch_size=BATCH,
        epochs=1,
        train_subset=(warmup + steps) * BATCH,
        log_every=log_every,
        eval_every=0,
        device=device,
    )


def rnnlab_speed(lab: Lab, config: RunConfig, warmup: int) -> float:
    """Samples/s of a Run over the steps after `warmup` (see step_phase_speed)."""
    run = lab.start(config, name="bench")
    run.join()
    status = run.status()
    if status.state != "finished":
        raise SystemExit(f"the rnnlab run ended {status.state}: {status.message}")
    return step_phase_speed(run.metrics(), warmup, config.batch_size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-raw", type=Path, default=DEFAULT_MNIST_RAW, help="folder of t10k-*.gz")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each side (alternating)")
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing starts")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per repetition")
    parser.add_argument("--log-every", type=int, default=10, help="rnnlab logging interval (steps)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device for both sides")
    args = parser.parse_args(argv)
    if args.warmup % args.log_every or args.steps % args.log_every:
        parser.error("--warmup and --steps must be multiples of --log-every")
    if (args.warmup + args.steps) * BATCH > 10_000:
        parser.error("--warmup + --steps must fit in one pass over 10,000 images (78 batches of 128)")
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        data_dir = build_mnist_dir(args.mnist_raw, Path(tmp) / "data")
        loader = in_fresh_thread(classic_loader, data_dir)
        lab = Lab(runs_dir=Path(tmp) / "runs", data_dir=data_dir, max_concurrent=1)
        config = rnnlab_config(args.warmup, args.steps, args.log_every, args.device)
        print(
            f"LSTM hidden {HIDDEN}, batch {BATCH}, {args.steps} timed steps after {args.warmup} warm-up, "
            f"{args.reps} reps each, device {args.device}, torch threads {torch.get_num_threads()}"
        )
        data = load_dataset("mnist", data_dir)
        measure: dict[str, Callable[[], float]] = {
            "classic": lambda: in_fresh_thread(classic_speed, loader, args.warmup, args.steps, args.device),
            "rnnlab": lambda: rnnlab_speed(lab, config, args.warmup),
            "bare": lambda: in_fresh_thread(
                bare_speed, data.train_images, data.train_labels, args.warmup, args.steps, args.device
            ),
        }
        speeds: dict[str, list[float]] = {"classic": [], "rnnlab": [], "bare": []}
        for rep in range(args.reps):
            sides = ("classic", "rnnlab", "bare")
            for side in sides if rep % 2 == 0 else sides[::-1]:
                speeds[side].append(measure[side]())
            print(f"  rep {rep + 1}: " + "  ".join(f"{k} {v[-1]:8,.0f}" for k, v in speeds.items()))
        classic, rnnlab = median(speeds["classic"]), median(speeds["rnnlab"])
        print(f"classic tutorial loop: {classic:8,.0f} samples/s (median; reps {spread(speeds['classic'])})")
        print(f"rnnlab Run:            {rnnlab:8,.0f} samples/s (median; reps {spread(speeds['rnnlab'])})")
        bare = median(speeds["bare"])
        print(f"bare tensor loop:      {bare:8,.0f} samples/s (median; reps {spread(speeds['bare'])})")
        print(f"ratio rnnlab/classic:  {rnnlab / classic:.2f}x (target >= 1.5x on CPU)")
        print(f"ratio rnnlab/bare:     {rnnlab / bare:.2f}x (1.00x: rnnlab adds nothing to the compute)")


if __name__ == "__main__":
    main()
