"""Mixed precision on real data: the same Fashion-MNIST run in bf16 and in fp32, accuracy and speed.

Run from the repository root:  python -m bench.precision [--epochs 3] [--quick]

Both runs train the tutorials' LSTM (hidden 128, Adam peaking at 1e-3, batch 128, rows) from the same
seed on full Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist), one after the other in
rnnlab's own worker, and are scored on the full 10,000-image test set in fp32. Printed: each
run's final test accuracy, the difference in points (target: bf16 within 0.5 points of fp32),
and each run's median training samples/s from its own step rows. bf16 is only faster where the
CPU has bf16 instructions (AVX512-BF16 or AMX) or on a GPU; `auto` picks it only there.
`--quick` trains 50 batches once each: a check that both precisions run, not a figure.

The learning rate follows a cosine schedule by default (`--schedule`): at a constant rate the test
accuracy after a few epochs swings by a point or two from epoch to epoch and seed to seed, more
than the 0.5 points this compares; an annealed end settles it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import DEFAULT_FASHION_RAW, build_fashion_dir, median
from rnnlab.config import SCHEDULES, RunConfig
from rnnlab.lab import Lab
from rnnlab.precision import auto_precision


def train(lab: Lab, config: RunConfig) -> tuple[float, float]:
    """Final test accuracy and median samples/s of one run."""
    run = lab.start(config, name=f"bench {config.precision}")
    run.join()
    status = run.status()
    if status.state != "finished":
        raise SystemExit(f"the {config.precision} run ended {status.state}: {status.message}")
    metrics = run.metrics()
    final = metrics[metrics["kind"] == "epoch"].iloc[-1]
    speed = median(metrics[metrics["kind"] == "step"]["samples_per_s"].dropna().tolist())
    return float(final["test_acc"]), speed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-raw", type=Path, default=DEFAULT_FASHION_RAW, help="its .gz files")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run")
    parser.add_argument("--seed", type=int, default=0, help="seed of both runs")
    parser.add_argument("--schedule", choices=SCHEDULES, default="cosine", help="learning-rate schedule")
    parser.add_argument("--quick", action="store_true", help="50 batches each: a smoke check")
    args = parser.parse_args(argv)
    base = RunConfig(
        dataset="fashion-mnist",
        hidden_size=128,
        optimizer="adam",
        lr=1e-3,
        schedule=args.schedule,
        warmup=0.05,
        batch_size=128,
        epochs=1 if args.quick else args.epochs,
        train_subset=50 * 128 if args.quick else 0,
        eval_every=0,
        seed=args.seed,
        device="cpu",
    )
    print(
        f"LSTM 128 on Fashion-MNIST, {base.epochs} epoch(s), {base.schedule} schedule, seed {args.seed}; "
        f"auto here: {auto_precision('cpu')}"
    )
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        data_dir = build_fashion_dir(args.fashion_raw, Path(tmp) / "data")
        lab = Lab(runs_dir=Path(tmp) / "runs", data_dir=data_dir, max_concurrent=1)
        results = {p: train(lab, base.replace(precision=p)) for p in ("fp32", "bf16")}
        lab.shutdown()
    for precision, (accuracy, speed) in results.items():
        print(f"{precision}: test accuracy {accuracy:.2%}, {speed:,.0f} samples/s (median of its step rows)")
    gap = (results["bf16"][0] - results["fp32"][0]) * 100
    speedup = results["bf16"][1] / results["fp32"][1]
    print(f"bf16 - fp32: {gap:+.2f} points (target: within 0.5 points); bf16 speed {speedup:.2f}x")


if __name__ == "__main__":
    main()
