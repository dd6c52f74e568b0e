"""`python -m rnnlab train|runs|eval|presets|sweep`: the same runs as the app, from a terminal."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Sequence

import pandas as pd
from tqdm import tqdm

from rnnlab.config import CHOICES, HELP, RunConfig
from rnnlab.data import DatasetUnavailable, load_dataset
from rnnlab.doctor import diagnose, report
from rnnlab.lab import Lab
from rnnlab.models import score
from rnnlab.presets import PRESETS
from rnnlab.run_handle import RunHandle
from rnnlab.runs_table import runs_table
from rnnlab.store import BrokenRun, RunNotFound
from rnnlab.sweep_cli import add_sweep_command

EXIT_OK = 0
EXIT_BAD_ARGUMENTS = 2  # argparse's own code for bad usage, kept for config errors too
EXIT_DATASET_UNAVAILABLE = 3
EXIT_DIVERGED = 4
EXIT_FAILED = 5
EXIT_NO_SUCH_RUN = 6
EXIT_INTERRUPTED = 130
# Short spellings people reach for first (the tutorials say "hidden" and "layers").
ALIASES = {"hidden_size": ["--hidden"], "num_layers": ["--layers"], "grad_clip": ["--clip"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lab = lab_for(args)
    try:
        return args.handler(lab, args)
    except (RunNotFound, BrokenRun) as e:
        return fail(str(e), EXIT_NO_SUCH_RUN)
    except DatasetUnavailable as e:
        return fail(str(e), EXIT_DATASET_UNAVAILABLE)


def lab_for(args: argparse.Namespace) -> Lab:
    """The Lab a command works through. A sweep's `--parallel` is how many runs it lets train at
    once (without it, a CPU's Lab trains one, and a sweep's second trial would wait as queued)."""
    return Lab(
        runs_dir=getattr(args, "runs_dir", None),  # presets: none
        data_dir=getattr(args, "data_dir", None),
        max_concurrent=getattr(args, "parallel", None),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnnlab", description="Train and inspect recurrent networks."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", help="folder of runs (default: $RNNLAB_RUNS_DIR or ./runs)")
    common.add_argument(
        "--data-dir", help="folder of datasets in torchvision's layout (default: $RNNLAB_DATA_DIR or ./data)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", parents=[common], help="train a run with a progress bar")
    train.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="start from a preset's settings (`python -m rnnlab presets` lists them); flags given "
        "with it override its values",
    )
    defaults = RunConfig()
    for f in dataclasses.fields(RunConfig):
        _add_config_flag(train, f.name, f.type, getattr(defaults, f.name))
    train.add_argument("--name", default="", help="display name of the run (default: made from its settings)")
    train.set_defaults(handler=cmd_train)

    presets = commands.add_parser("presets", help="list the presets: key, title and measured claim")
    presets.set_defaults(handler=cmd_presets)

    runs = commands.add_parser("runs", parents=[common], help="list the runs in the runs dir")
    runs.set_defaults(handler=cmd_runs)

    evaluate = commands.add_parser("eval", parents=[common], help="score a saved run on its dataset")
    evaluate.add_argument("run_id", help="a run id as listed by `python -m rnnlab runs`")
    evaluate.add_argument("--split", choices=("test", "train"), default="test", help="which split to score")
    evaluate.set_defaults(handler=cmd_eval)
    add_sweep_command(commands, common)

    doctor = commands.add_parser(
        "doctor", parents=[common], help="say what went wrong in a run and what to try"
    )
    doctor.add_argument("run_id", help="a run id as listed by `python -m rnnlab runs`")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def _add_config_flag(parser: argparse.ArgumentParser, name: str, kind: str, default: object) -> None:
    """A flag whose absence leaves no attribute (SUPPRESS), so a preset knows what was given."""
    flags = [f"--{name.replace('_', '-')}", *ALIASES.get(name, [])]
    help_text = f"{HELP[name]} (default: {default})"
    if kind == "bool":
        parser.add_argument(
            *flags,
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=help_text,
        )
    else:
        parse = {"int": int, "float": float}.get(kind, str)
        parser.add_argument(
            *flags,
            dest=name,
            type=parse,
            default=argparse.SUPPRESS,
            choices=CHOICES.get(name),
            help=help_text,
        )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the flags describe, over the preset's (or the defaults'); ValueError (naming the
    field) when they don't make one."""
    preset = getattr(args, "preset", None)
    base = PRESETS[preset].config if preset else RunConfig()
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig) if hasattr(args, f.name)}
    return base.replace(**given)


def cmd_train(lab: Lab, args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as e:
        return fail(str(e), EXIT_BAD_ARGUMENTS)
    load_dataset(config.dataset, lab.data_dir)  # fail fast, before a run folder exists
    run = lab.start(config, name=args.name)
    print(f"run {run.run_id} in {lab.store.path(run.run_id)}", file=sys.stderr)
    try:
        watch(run)
    except KeyboardInterrupt:
        run.stop()
        run.join()
        return fail(f"interrupted; run {run.run_id} stopped and its weights saved", EXIT_INTERRUPTED)
    status = run.status()
    if status.state in ("finished", "diverged"):
        print(report(diagnose(lab.metrics(run.run_id), config, status.state)))
    if status.state == "diverged":
        return fail(status.message, EXIT_DIVERGED)
    if status.state != "finished":
        return fail(f"run {status.state}: {status.message}", EXIT_FAILED)
    print(f"finished {run.run_id}: best test accuracy {status.best_test_acc:.2%} in {status.elapsed_s:.1f} s")
    return EXIT_OK


def cmd_doctor(lab: Lab, args: argparse.Namespace) -> int:
    """The doctor's diagnoses of a run on disk (or training here), with the evidence and the fixes."""
    status = lab.status(args.run_id)
    config = lab.store.load_config(args.run_id)
    print(f"{args.run_id} ({status.state}, {status.step:,} steps):")
    print(report(diagnose(lab.metrics(args.run_id), config, status.state)))
    return EXIT_OK


def watch(run: RunHandle, poll_s: float = 0.25) -> None:
    """A tqdm bar over steps, with loss and speed; one line per finished epoch."""
    epochs_shown = 0
    with tqdm(total=None, unit="step", dynamic_ncols=True, file=sys.stderr) as bar:
        while True:
            status = run.status()
            if status.total_steps and bar.total != status.total_steps:
                bar.total = status.total_steps
            bar.update(status.step - bar.n)
            if not math.isnan(status.loss):
                bar.set_postfix(
                    loss=f"{status.loss:.4f}", samples_per_s=f"{status.samples_per_s:,.0f}", refresh=False
                )
            bar.set_description(
                f"{status.state} epoch {min(status.epoch + 1, status.epochs)}/{status.epochs}"
            )
            if status.epoch > epochs_shown or status.done:  # copy the metrics only when there is news
                epochs = run.metrics().query("kind == 'epoch'")
                for row in epochs.iloc[epochs_shown:].itertuples():
                    bar.write(
                        f"epoch {row.epoch:g}: train loss {row.train_loss:.4f} acc {row.train_acc:.2%} | "
                        f"test loss {row.test_loss:.4f} acc {row.test_acc:.2%}"
                    )
                epochs_shown = len(epochs)
            if status.done and not run.alive:
                break
            time.sleep(poll_s)


def cmd_presets(lab: Lab, args: argparse.Namespace) -> int:
    for preset in PRESETS.values():
        claim = preset.claim or "not measured by bench/time_to_accuracy.py"
        print(f"{preset.key:<24} {preset.title}\n{'':<24} {claim}")
    return EXIT_OK


def cmd_runs(lab: Lab, args: argparse.Namespace) -> int:
    table = runs_table(lab.list_runs())
    if table.empty:
        print(f"no runs in {lab.store.root}")
        return EXIT_OK
    shown = table.drop(columns=["finished at"], errors="ignore")
    with pd.option_context("display.max_colwidth", 40, "display.width", 200):
        print(shown.to_string(index=False))
    return EXIT_OK


def cmd_eval(lab: Lab, args: argparse.Namespace) -> int:
    model, config = lab.load_model(args.run_id)
    data = load_dataset(config.dataset, lab.data_dir)
    images, labels = (
        (data.test_images, data.test_labels)
        if args.split == "test"
        else (data.train_images, data.train_labels)
    )
    result = score(model, images, labels, config.order)
    print(
        f"{args.run_id} on {config.dataset} {args.split} ({result.count} images): "
        f"accuracy {result.accuracy:.2%}, loss {result.loss:.4f}"
    )
    return EXIT_OK


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
