"""Time to accuracy: the seed recipe and each time-to-accuracy preset, as whole training processes.

Run from the repository root:  python -m bench.time_to_accuracy [--quick] [--only KEY ...]

In one launch, one after the other, each recipe is a whole `python -m rnnlab train` process (import,
data loading, model, training, every epoch's full test pass), timed by the wall clock from its
launch. Each epoch's test accuracy line is stamped with the seconds since launch as it arrives, so
"time to 88%" is how long a person waits from pressing Enter to the first epoch at or above 88%.

- seed recipe: the seed tutorials' LSTM-128, Adam 1e-3, batch 128, no schedule, 10 epochs, on
  Fashion-MNIST (its full 60,000 / 10,000).
- fashion-fast and fashion-best: those presets, on Fashion-MNIST.
- digits-fast: that preset on the MNIST this project reaches offline: the 10,000 real test digits
  split 8,000 train / 2,000 test (bench.common.build_split_mnist_dir), `--mnist-raw` names their folder.

First, the first run: the Train page's defaults (RunConfig(), on Fashion-MNIST, since MNIST's
training set is not reachable offline) started through a Lab as the page starts them, timed from
Start to the first quick-test point, which is what a newcomer sees first.

`--quick` trains each recipe for one epoch on 2,000 training images: the whole table in well under
a minute, to check the benchmark works, not to measure anything. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.common import DEFAULT_MNIST_RAW, ROOT, build_split_mnist_dir
from rnnlab.config import RunConfig
from rnnlab.lab import Lab

THRESHOLDS = (0.85, 0.88, 0.90, 0.91, 0.97)
EPOCH_LINE = re.compile(r"epoch (\d+): .*\| test loss \S+ acc ([\d.]+)%")
SEED_RECIPE = [
    *("--dataset", "fashion-mnist", "--cell", "lstm", "--hidden-size", "128", "--optimizer", "adam"),
    *("--lr", "1e-3", "--batch-size", "128", "--schedule", "constant", "--epochs", "10"),
    *("--readout", "last", "--grad-clip", "0", "--eval-every", "100"),  # the seed's own defaults
]


@dataclass(frozen=True)
class Recipe:
    key: str
    args: list[str]
    digits: bool = False  # trains on the 8,000/2,000 split of the real MNIST test digits
    targets: tuple[tuple[float, float], ...] = ()  # (accuracy, within seconds) the issue asks for


RECIPES = (
    Recipe("seed-recipe", SEED_RECIPE),
    Recipe("fashion-fast", ["--preset", "fashion-fast"], targets=((0.88, 60), (0.90, 120))),
    Recipe("fashion-best", ["--preset", "fashion-best"], targets=((0.91, 300),)),
    Recipe("digits-fast", ["--preset", "digits-fast"], digits=True, targets=((0.97, 60),)),
)


@dataclass
class Result:
    key: str
    seconds: float = math.nan  # the whole process
    epochs: list[tuple[float, float]] = field(default_factory=list)  # (seconds since launch, test acc)
    code: int = 0

    def time_to(self, accuracy: float) -> float:
        return next((t for t, acc in self.epochs if acc >= accuracy - 1e-9), math.nan)

    @property
    def final(self) -> float:
        return self.epochs[-1][1] if self.epochs else math.nan

    @property
    def best(self) -> float:
        return max((acc for _, acc in self.epochs), default=math.nan)


def train(recipe: Recipe, extra: list[str], runs_dir: Path, data_dir: Path | None) -> Result:
    """One whole `python -m rnnlab train` process; its epoch lines are timed as they arrive."""
    command = [sys.executable, "-m", "rnnlab", "train", *recipe.args, *extra, "--runs-dir", str(runs_dir)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    result = Result(recipe.key)
    start = time.monotonic()
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        buffer = b""
        while chunk := process.stdout.read1(4096):  # tqdm redraws with \r; epoch lines end in \n
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for line in lines:
                if match := EPOCH_LINE.search(line.decode(errors="replace")):
                    result.epochs.append((time.monotonic() - start, float(match[2]) / 100))
                    print(f"  {result.epochs[-1][0]:6.1f} s  epoch {match[1]}  test {match[2]}%", flush=True)
    result.code = process.returncode
    result.seconds = time.monotonic() - start
    return result


def first_run(runs_dir: Path, limit_s: float = 120.0) -> str:
    """Seconds from Start to the first quick-test accuracy of the Train page's defaults, in words."""
    lab = Lab(runs_dir=runs_dir)
    start = time.monotonic()
    run = lab.start(RunConfig(dataset="fashion-mnist"), name="first run")
    try:
        while time.monotonic() - start < limit_s and run.alive:
            frame = lab.metrics(run.run_id).reindex(columns=["step", "quick_test_acc"])
            quick = frame.dropna(subset=["quick_test_acc"])
            if len(quick):
                seconds, row = time.monotonic() - start, quick.iloc[0]
                accuracy = row.quick_test_acc
                return f"quick test at step {row.step:.0f}, {seconds:.1f} s after Start: {accuracy:.1%}"
            time.sleep(0.05)
        return f"no quick test point within {limit_s:.0f} s ({run.status().state})"
    finally:
        lab.shutdown()


def report(results: list[Result], recipes: dict[str, Recipe]) -> None:
    head = f"{'recipe':<15}" + "".join(f"{f'to {t:.0%}':>10}" for t in THRESHOLDS)
    print(f"\n{head}{'final':>9}{'best':>8}{'epochs':>8}{'process':>9}")
    for r in results:
        times = "".join(f"{_seconds(r.time_to(t)):>10}" for t in THRESHOLDS)
        failed = f"  (exit code {r.code})" if r.code else ""
        print(
            f"{r.key:<15}{times}{_percent(r.final):>9}{_percent(r.best):>8}{len(r.epochs):>8}"
            f"{_seconds(r.seconds):>9}{failed}"
        )
    print("\ntargets (seconds from launch, whole process):")
    by_key = {r.key: r for r in results}
    for r in results:
        for accuracy, within in recipes[r.key].targets:
            took = r.time_to(accuracy)
            verdict = "met" if took <= within else "NOT met"
            print(f"  {r.key}: {accuracy:.0%} within {within} s: {_seconds(took)} -> {verdict}")
    fast, seed = by_key.get("fashion-fast"), by_key.get("seed-recipe")
    if fast and seed:
        ratio = seed.time_to(0.85) / fast.time_to(0.85)
        verdict = "met" if ratio >= 3 else "NOT met"
        shown = f"{ratio:.1f}x" if math.isfinite(ratio) else "not measurable (a side did not reach 85%)"
        print(f"  fashion-fast reaches 85% at least 3x sooner than the seed recipe: {shown} -> {verdict}")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if math.isfinite(value) else "-"


def _percent(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch on 2,000 training images each")
    parser.add_argument("--only", nargs="+", choices=[r.key for r in RECIPES], help="run only these")
    parser.add_argument("--mnist-raw", type=Path, default=DEFAULT_MNIST_RAW, help="real MNIST test set")
    args = parser.parse_args()
    extra = ["--epochs", "1", "--train-subset", "2000"] if args.quick else []
    chosen = [r for r in RECIPES if not args.only or r.key in args.only]
    print(
        f"time to accuracy: {len(chosen)} recipes as whole processes, one after another; "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, threads {torch.get_num_threads()}"
        + (" (--quick: 1 epoch on 2,000 images each; not a measurement)" if args.quick else "")
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="rnnlab-tta-") as tmp:
        digits_dir = (
            build_split_mnist_dir(args.mnist_raw, Path(tmp) / "digits")
            if any(r.digits for r in chosen)
            else None
        )
        print(f"first run, the Train page's defaults on Fashion-MNIST: {first_run(Path(tmp) / 'first')}")
        for recipe in chosen:
            data_dir = digits_dir if recipe.digits else None
            print(f"{recipe.key}: python -m rnnlab train {' '.join(recipe.args + extra)}", flush=True)
            results.append(train(recipe, extra, Path(tmp) / "runs", data_dir))
    report(results, {r.key: r for r in RECIPES})


if __name__ == "__main__":
    main()
