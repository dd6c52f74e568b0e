"""Sweeps: a 12-trial grid with early stopping against the same grid trained to the end, and the local
engine's trials per minute against the same runs started one after another, all in one launch.

Run from the repository root:  python -m bench.sweep [--quick] [--parallel N]

The grid is cell {lstm, gru} x hidden size {32, 64} x learning rate {3e-4, 1e-3, 3e-3}, Adam,
batch 128, 4 epochs a trial, on Fashion-MNIST (Debian's full 60,000 / 10,000). One after another:
1. the sweep with early stopping (successive halving on the quick test accuracy),
2. the same sweep without it (every trial trains all its epochs),
3. the sweep's 12 runs started one after another through the Lab, each waited for.
Sweeps train `--parallel` trials at once (default: one per core, one torch thread each). An untimed
2-trial sweep first starts the worker processes and has each load the data.
Targets: early stopping at least 2x faster, with the same best trial or one within 0.5 points;
the local engine's trials per minute above the one-after-another rate.

`--quick` trains a 12-trial grid of tiny networks for 2 epochs on 1,000 images: under a minute, to
check the benchmark works, not to measure anything. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_FASHION_RAW, build_fashion_dir
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.sweep import SweepSpec, parse_axis
from rnnlab.sweep_lab import SweepLab
from rnnlab.sweep_table import best_trial

FULL = {"hidden_size": "32,64", "base": {}, "epochs": 4}
QUICK = {
    "hidden_size": "8,16",
    "base": {"train_subset": 1000, "eval_every": 4, "eval_subset": 200},
    "epochs": 2,
}


def run_sweep(spec: SweepSpec, runs: Path, data: Path, parallel: int) -> tuple[float, object, float]:
    """Seconds from Start to the sweep's end, its best trial (a table row), the epochs its trials trained."""
    lab = Lab(runs_dir=runs, data_dir=data, max_concurrent=parallel, cpu_threads=1)
    sweeps = SweepLab(lab)
    started = time.perf_counter()
    sweep_id = sweeps.start(spec, parallel)
    sweeps.runner(sweep_id).join()
    seconds = time.perf_counter() - started
    table = sweeps.trials(sweep_id)
    statuses = [lab.status(run_id) for run_id in table["run id"]]
    epochs = sum(s.step / s.total_steps * s.epochs for s in statuses if s.total_steps)
    sweeps.shutdown()
    lab.shutdown()
    return seconds, best_trial(table), epochs


def run_one_by_one(spec: SweepSpec, runs: Path, data: Path) -> float:
    """The grid's runs through the Lab, each started when the one before it ended."""
    lab = Lab(runs_dir=runs, data_dir=data, max_concurrent=1, cpu_threads=1)
    lab.warm_up()
    started = time.perf_counter()
    for point in spec.grid or []:
        run = lab.start(spec.trial_config(point))
        run.join()
    seconds = time.perf_counter() - started
    lab.shutdown()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny networks, 1,000 images: checks it works")
    parser.add_argument(
        "--fashion-raw", type=Path, default=DEFAULT_FASHION_RAW, help="Fashion-MNIST's folder"
    )
    parser.add_argument("--parallel", type=int, default=max(1, os.cpu_count() or 1), help="trials at once")
    args = parser.parse_args()
    shape = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-sweep-") as tmp:
        data = build_fashion_dir(args.fashion_raw, Path(tmp) / "data")
        base = RunConfig(dataset="fashion-mnist", batch_size=128, **shape["base"])
        axes = (
            parse_axis("cell", "lstm,gru"),
            parse_axis("hidden_size", shape["hidden_size"]),
            parse_axis("lr", "3e-4,1e-3,3e-3"),
        )
        spec = SweepSpec(base, axes, trials=12, epochs=shape["epochs"], prune=True, seed=0)
        # Untimed: start the workers and let each load the data once, so no side pays for that.
        warm = base.replace(train_subset=128, eval_subset=100)
        run_sweep(SweepSpec(warm, (axes[0],), trials=2, epochs=1), Path(tmp) / "warm-up", data, args.parallel)
        pruned_s, pruned_best, pruned_epochs = run_sweep(spec, Path(tmp) / "pruned", data, args.parallel)
        full_s, full_best, full_epochs = run_sweep(
            SweepSpec(base, axes, trials=12, epochs=spec.epochs, prune=False),
            Path(tmp) / "full",
            data,
            args.parallel,
        )
        sequential_s = run_one_by_one(spec, Path(tmp) / "one-by-one", data)

    def settings(best: object) -> str:
        return ", ".join(f"{a.field}={best[a.field]}" for a in axes) if best is not None else "none"

    quick = " (quick)" if args.quick else ""
    print(f"12-trial grid, {spec.epochs} epochs a trial, {args.parallel} at once{quick}")
    for name, seconds, best, epochs in (
        ("early stopping:", pruned_s, pruned_best, pruned_epochs),
        ("to the end:", full_s, full_best, full_epochs),
    ):
        score = f"best {best['score']:.2%} ({settings(best)})"
        print(f"  {name:15s} {seconds:7.1f} s, {epochs:4.0f} epochs trained, {score}")
    gap = (full_best["score"] - pruned_best["score"]) * 100
    same = settings(pruned_best) == settings(full_best)
    print(
        f"  speed-up {full_s / pruned_s:.2f}x (target >= 2x); best trial {'same' if same else 'different'}, "
        f"{gap:+.2f} points (target within 0.5)"
    )
    print("Trials per minute, every trial to the end:")
    print(f"  local engine, {args.parallel} at once: {12 / full_s * 60:6.2f}")
    print(f"  one after another:      {12 / sequential_s * 60:6.2f}  (ratio {sequential_s / full_s:.2f}x)")


if __name__ == "__main__":
    main()
