"""Dashboard overhead: a run's samples/s with the live Train page open, against a bare fp32 loop.

Run from the repository root:  python -m bench.dashboard_overhead [--reps 3] [--threads N] [--quick]

One `streamlit run app.py` server (a temporary runs dir; a data dir built from the real MNIST test
set) and one headless Chromium tab. Each repetition measures two things, alternating (ABBA):
- "tab open": a run started from the Train page as a person does (a link with the settings, then
  Start training); the tab stays on the page, whose live panel asks the server for news every 2 s
  and redraws its progress and charts while the run trains in its worker process;
- "bare": `python -m bench.loops bare`, the same model and steps in fp32 on the same uint8 tensors
  in the main thread of a fresh process, with no app, no server and no browser.
The run is the tutorials' LSTM (hidden 128, batch 128, Adam 1e-3, rows, fp32) on 78 full batches
(9,984 images) for `--epochs` epochs, without quick test evaluations; its speed is its own
step-phase clock read from metrics.csv (bench.common.step_phase_speed) over every step after the
warm-up, so the page load, the run's set-up and its epoch-end test evaluations are not counted. The
bare loop trains the same number of steps, a new data order every 78. Timed windows of ten seconds
or so hold many redraws of the page, not one or two. Also printed: the CPU the server process and its
workers, and Chromium, used per second of each run. `--threads N` sets the workers' torch threads
(RNNLAB_TORCH_THREADS) and the bare loop's; by default both keep their own policy, as shipped.
Target: tab open >= 85% of bare. `--quick`: one repetition of one epoch, a smoke check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.common import DEFAULT_MNIST_RAW, ROOT, build_mnist_dir, median, spread, step_phase_speed
from rnnlab.store import RunStore
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, AppServer, serve_app, wait_for_app

BATCH = 128
BATCHES = 78  # full batches in the 10,000 real MNIST test digits, the benchmark's training set
TERMINAL = ("finished", "stopped", "diverged", "failed")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One run: its step-phase speed and the CPU seconds per wall second the server process itself,
    its workers and the browser used."""

    samples_per_s: float
    server_cpu: float
    worker_cpu: float
    browser_cpu: float


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (all their threads); vanished ones count 0."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / TICKS


def descendants(root: int) -> list[int]:
    """Every process below `root` in the process tree (Playwright's driver and Chromium's processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def start_from_train_page(page, app: AppServer, settings: dict[str, object]) -> str:
    """Open the Train page from a settings link, press Start training; returns the new run's id."""
    before = {p.name for p in app.runs_dir.iterdir()}
    page.goto(f"{app.url}/train?{urlencode(settings)}")
    wait_for_app(page)
    page.get_by_test_id("stMain").get_by_role("button", name="Start training").click()
    deadline = time.monotonic() + 120
    while not (new := {p.name for p in app.runs_dir.iterdir()} - before):
        if time.monotonic() > deadline:
            raise SystemExit("pressing Start training created no run within 2 minutes")
        time.sleep(0.1)
    return new.pop()


def wait_until_done(app: AppServer, run_id: str, timeout: float = 1800) -> dict:
    """Poll the run's status.json (a small file read twice a second; the same in both conditions)."""
    path = app.runs_dir / run_id / "status.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # not yet written, or mid-replace
            status = {}
        if status.get("state") in TERMINAL:
            return status
        time.sleep(0.5)
    raise SystemExit(f"run {run_id} did not finish within {timeout:g} s")


def measure(page, app: AppServer, settings: dict[str, object], warmup: int) -> Sample:
    run_id = start_from_train_page(page, app, settings)
    workers = descendants(app.process.pid)
    server_tree = [app.process.pid, *workers]
    browser = [p for p in descendants(os.getpid()) if p not in server_tree]
    groups = ([app.process.pid], workers, browser)
    cpu_before, began = [cpu_seconds(g) for g in groups], time.monotonic()
    status = wait_until_done(app, run_id)
    wall = time.monotonic() - began
    if status["state"] != "finished":
        raise SystemExit(f"run {run_id} ended {status['state']}: {status.get('message', '')}")
    metrics = RunStore(app.runs_dir).load_metrics(run_id)
    return Sample(
        samples_per_s=step_phase_speed(metrics, warmup, BATCH),
        **{
            name: (cpu_seconds(group) - before) / wall
            for name, group, before in zip(
                ("server_cpu", "worker_cpu", "browser_cpu"), groups, cpu_before, strict=True
            )
        },
    )


def bare(data_dir: Path, warmup: int, steps: int, threads: int) -> Sample:
    """The bare loop in a process of its own (torch threads as given, else torch's default)."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    command = [sys.executable, "-m", "bench.loops", "bare", str(data_dir), "mnist", str(steps), str(warmup)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return Sample(
        samples_per_s=float(done.stdout.split()[-1]), server_cpu=0.0, worker_cpu=0.0, browser_cpu=0.0
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-raw", type=Path, default=DEFAULT_MNIST_RAW, help="folder of t10k-*.gz")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each condition (alternating)")
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing starts")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of 78 batches per run")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads of the workers and the bare loop (0: the defaults, all cores per run)",
    )
    parser.add_argument("--quick", action="store_true", help="one repetition of 20 steps: a smoke check")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.epochs = 1, 1
    log_every = 10  # an epoch's last step also ends a row, so no row spans an epoch's end
    if args.warmup % log_every or not 0 <= args.warmup < BATCHES or args.epochs < 1:
        parser.error(f"--warmup must be a multiple of 10 below {BATCHES}; --epochs at least 1")
    steps = args.epochs * BATCHES - args.warmup
    settings = {  # the tutorials' LSTM, Adam 1e-3, batch 128, fp32
        "hidden_size": 128,
        "optimizer": "adam",
        "lr": 1e-3,
        "schedule": "constant",
        "batch_size": BATCH,
        "precision": "fp32",
        "epochs": args.epochs,
        "train_subset": BATCHES * BATCH,
        "log_every": log_every,
        "eval_every": 0,
    }
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        data_dir = build_mnist_dir(args.mnist_raw, Path(tmp) / "data")
        (runs := Path(tmp) / "runs").mkdir()
        with (
            serve_app(runs, data_dir, Path(tmp) / "streamlit.log", torch_threads=args.threads or None) as app,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.url)  # the first visit lets app.py's router take over
            wait_for_app(page)
            threads = args.threads or f"default ({os.cpu_count()} per run)"
            print(
                f"LSTM hidden 128, batch {BATCH}, {steps} timed steps after {args.warmup} warm-up, "
                f"{args.reps} reps each, torch threads: {threads}, {os.cpu_count()} CPUs"
            )
            samples: dict[str, list[Sample]] = {"tab open": [], "bare": []}
            for rep in range(args.reps):
                for name in ("tab open", "bare") if rep % 2 == 0 else ("bare", "tab open"):
                    if name == "bare":
                        samples[name].append(bare(data_dir, args.warmup, steps, args.threads))
                    else:
                        samples[name].append(measure(page, app, settings, args.warmup))
                latest = "  ".join(f"{k} {v[-1].samples_per_s:7,.0f}" for k, v in samples.items())
                print(f"  rep {rep + 1}: {latest}")
            browser.close()
    speeds = {name: [s.samples_per_s for s in runs] for name, runs in samples.items()}
    for name, runs in samples.items():
        print(
            f"{name + ':':9s} {median(speeds[name]):7,.0f} samples/s (median; reps {spread(speeds[name])}); "
            f"CPU per second: server {median([s.server_cpu for s in runs]):.2f}, "
            f"its workers {median([s.worker_cpu for s in runs]):.2f}, "
            f"Chromium {median([s.browser_cpu for s in runs]):.2f}"
        )
    ratio = median(speeds["tab open"]) / median(speeds["bare"])
    print(f"tab open / bare fp32 loop: {ratio:.0%} (target >= 85%)")


if __name__ == "__main__":
    main()
