"""Training throughput: rnnlab against the seed tutorials' script and a bare loop, each its own process.

Run from the repository root:  python -m bench.train_throughput [--reps 3] [--quick]

Both comparisons use full Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist, unpacked once
into a temporary torchvision-layout folder that every side reads) and the tutorials' model:
nn.LSTM(28, 128, batch_first) + Linear(128, 10) on the last step, Adam 1e-3, batch 128.

1. Whole process, end to end: the wall time of `python -m rnnlab train` for one epoch (default
   precision, no quick evaluations) against `python -m bench.loops seed`, the seed tutorials'
   script as they write it (torchvision FashionMNIST + ToTensor, a shuffling DataLoader in the
   main thread, the test accuracy at the end). Both count everything a person waits for: the
   interpreter, imports, parsing the data, training, the test pass. Target on 2 cores: >= 1.5x.
   Also printed: what the last run's worker spent starting (import_s, the parsed-data load data_s,
   building the model model_s), from its status.json.
2. The training step, fp32: a run's own step-phase clock (bench.common.step_phase_speed, timed in
   its worker) against `python -m bench.loops bare`, the same model and steps on the same uint8
   tensors in the main thread of a fresh process. Target: >= 0.95x (rnnlab adds nothing).

The sides alternate (ABBA order); medians and their ratios are printed. `--quick` trains 30
batches instead of an epoch and does one repetition: a check that everything runs, not a figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_FASHION_RAW, ROOT, build_fashion_dir, median, spread, step_phase_speed
from bench.loops import BATCH, HIDDEN
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.store import RunStore

FASHION_TRAIN = 60_000


def wall_time(command: list[str]) -> float:
    """Seconds from launching a process to its exit; a failure stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def rnnlab_command(data_dir: Path, runs_dir: Path, batches: int) -> list[str]:
    flags = {
        "--dataset": "fashion-mnist",
        "--hidden": HIDDEN,
        "--optimizer": "adam",
        "--lr": 1e-3,
        "--schedule": "constant",
        "--batch-size": BATCH,
        "--epochs": 1,
        "--eval-every": 0,
        "--train-subset": 0 if batches * BATCH >= FASHION_TRAIN else batches * BATCH,
        "--runs-dir": runs_dir,
        "--data-dir": data_dir,
    }
    return [sys.executable, "-m", "rnnlab", "train", *(str(x) for kv in flags.items() for x in kv)]


def seed_command(data_dir: Path, batches: int) -> list[str]:
    limit = batches if batches * BATCH < FASHION_TRAIN else 0
    return [sys.executable, "-m", "bench.loops", "seed", str(data_dir), str(limit)]


def step_config(warmup: int, steps: int) -> RunConfig:
    """One epoch of exactly warmup + steps full batches in fp32, logged every 10 steps, no quick evals."""
    return RunConfig(
        dataset="fashion-mnist",
        hidden_size=HIDDEN,
        optimizer="adam",
        lr=1e-3,
        batch_size=BATCH,
        epochs=1,
        train_subset=(warmup + steps) * BATCH,
        log_every=10,
        eval_every=0,
        precision="fp32",
        device="cpu",
    )


def rnnlab_step_speed(lab: Lab, config: RunConfig, warmup: int) -> float:
    run = lab.start(config, name="bench")
    run.join()
    status = run.status()
    if status.state != "finished":
        raise SystemExit(f"the rnnlab run ended {status.state}: {status.message}")
    return step_phase_speed(run.metrics(), warmup, config.batch_size)


def bare_step_speed(data_dir: Path, warmup: int, steps: int) -> float:
    command = [
        sys.executable,
        "-m",
        "bench.loops",
        "bare",
        str(data_dir),
        "fashion-mnist",
        str(steps),
        str(warmup),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def alternate(reps: int, sides: dict[str, object]) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            results[name].append(sides[name]())
        print(f"  rep {rep + 1}: " + "  ".join(f"{k} {v[-1]:,.2f}" for k, v in results.items()), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fashion-raw", type=Path, default=DEFAULT_FASHION_RAW, help="folder of the .gz files"
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each side (alternating)")
    parser.add_argument("--warmup", type=int, default=20, help="steps before the step clock starts")
    parser.add_argument("--steps", type=int, default=200, help="timed steps in the step comparison")
    parser.add_argument("--quick", action="store_true", help="30 batches, one repetition: a smoke check")
    args = parser.parse_args(argv)
    reps, batches = (1, 30) if args.quick else (args.reps, FASHION_TRAIN // BATCH + 1)
    warmup, steps = (10, 20) if args.quick else (args.warmup, args.steps)
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        data_dir = build_fashion_dir(args.fashion_raw, Path(tmp) / "data")
        runs_dir = Path(tmp) / "runs"
        what = "one epoch" if batches * BATCH >= FASHION_TRAIN else f"{batches} batches (quick)"
        print(f"1. whole process, {what} of Fashion-MNIST, LSTM {HIDDEN}, batch {BATCH}: wall seconds")
        walls = alternate(
            reps,
            {
                "seed": lambda: wall_time(seed_command(data_dir, batches)),
                "rnnlab": lambda: wall_time(rnnlab_command(data_dir, runs_dir, batches)),
            },
        )
        seed, ours = median(walls["seed"]), median(walls["rnnlab"])
        print(f"seed tutorial script: {seed:6.1f} s (median; reps {spread(walls['seed'])})")
        print(f"python -m rnnlab train: {ours:4.1f} s (median; reps {spread(walls['rnnlab'])})")
        print(f"speed-up rnnlab vs seed: {seed / ours:.2f}x (target >= 1.5x on 2 cores)")
        startup = RunStore(runs_dir).list_runs()[0].status.get("startup", {})
        print("worker start-up of the last run (s): " + ", ".join(f"{k} {v}" for k, v in startup.items()))

        print(f"2. training step, fp32, {steps} steps after {warmup}: samples/s")
        lab = Lab(runs_dir=runs_dir, data_dir=data_dir, max_concurrent=1)
        config = step_config(warmup, steps)
        speeds = alternate(
            reps,
            {
                "bare": lambda: bare_step_speed(data_dir, warmup, steps),
                "rnnlab": lambda: rnnlab_step_speed(lab, config, warmup),
            },
        )
        bare, ours = median(speeds["bare"]), median(speeds["rnnlab"])
        print(f"bare main-thread loop: {bare:8,.0f} samples/s (median; reps {spread(speeds['bare'])})")
        print(f"rnnlab worker, fp32:   {ours:8,.0f} samples/s (median; reps {spread(speeds['rnnlab'])})")
        print(f"ratio rnnlab/bare: {ours / bare:.2f}x (target >= 0.95x)")
        lab.shutdown()


if __name__ == "__main__":
    main()
