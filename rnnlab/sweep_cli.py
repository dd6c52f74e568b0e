"""`python -m rnnlab sweep`: vary settings over many trials from a terminal, with a bar over trials.

Every setting of `train` is a flag here too. A flag given one value sets it for every trial; a
flag given a list ("lstm,gru") or a range ("1e-3..1e-2:log") makes it an axis of the sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys

import pandas as pd
from tqdm import tqdm

from rnnlab.config import HELP, RunConfig
from rnnlab.lab import Lab
from rnnlab.store import RunNotFound
from rnnlab.sweep import ENGINES, MAX_TRIALS, Axis, SweepSpec, parse_axis
from rnnlab.sweep_lab import SweepLab
from rnnlab.sweep_runner import wait
from rnnlab.sweep_table import best_trial

EXIT_OK, EXIT_BAD_ARGUMENTS, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 5, 130


def add_sweep_command(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sweep = commands.add_parser(
        "sweep", parents=[common], help="train many trials over settings, stopping weak ones early"
    )
    for f in dataclasses.fields(RunConfig):
        if f.name == "epochs":
            continue
        sweep.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=None,
            metavar="VALUE[,VALUE...]|LOW..HIGH[:log]",
            help=f"{HELP[f.name]} One value, a list, or a range to sample.",
        )
    sweep.add_argument("--trials", type=int, default=12, help=f"how many trials to train (1 to {MAX_TRIALS})")
    sweep.add_argument("--epochs", type=int, default=3, help="the most epochs a trial may train")
    sweep.add_argument(
        "--prune",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop weak trials early (successive halving on the quick test accuracy)",
    )
    sweep.add_argument(
        "--sweep-seed", type=int, default=0, help="seed of the search (which trials, in what order)"
    )
    sweep.add_argument("--name", default="", help="display name of the sweep; trials are named after it")
    sweep.add_argument(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("RNNLAB_ENGINE", "local"),
        help="where trials train: local worker processes or a Ray cluster (default: $RNNLAB_ENGINE or local)",
    )
    sweep.add_argument(
        "--address",
        default=os.environ.get("RNNLAB_RAY_ADDRESS", ""),
        help="a Ray cluster's address (host:port) for --engine ray; empty starts Ray on this machine",
    )
    for kind, default in (("cpus", 1.0), ("gpus", 0.0)):
        sweep.add_argument(
            f"--{kind}-per-trial",
            type=float,
            default=default,
            help=f"{kind.upper()} Ray reserves for each trial (--engine ray only; default {default:g})",
        )
    sweep.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="trials training at once, the cores shared among them "
        "(default: $RNNLAB_MAX_CONCURRENT, else 1 on a CPU and 2 on a GPU)",
    )
    sweep.add_argument(
        "--continue",
        dest="continue_id",
        default="",
        metavar="SWEEP_ID",
        help="continue a stopped or interrupted sweep with its saved settings (flags but --parallel ignored)",
    )
    sweep.set_defaults(handler=cmd_sweep)
    listing = commands.add_parser("sweeps", parents=[common], help="list the sweeps in the runs dir")
    listing.set_defaults(handler=cmd_sweeps)


def cmd_sweeps(lab: Lab, args: argparse.Namespace) -> int:
    records = SweepLab(lab).list_sweeps()
    if not records:
        print(f"no sweeps in {lab.store.root}")
    for record in records:
        what = f"{record.spec.trials} trials x {record.spec.epochs} epochs" if record.spec else record.message
        print(f"{record.sweep_id}  {record.state:<11}  {what}  {record.name}")
    return EXIT_OK


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The SweepSpec the flags describe; ValueError naming the axis or field when they don't make one."""
    axes: list[Axis] = []
    base: dict[str, object] = {}
    for f in dataclasses.fields(RunConfig):
        text = getattr(args, f.name, None)
        if f.name == "epochs" or text is None:
            continue
        axis = parse_axis(f.name, text)
        if axis.is_range or len(axis.values) > 1:
            axes.append(axis)
        else:
            base[f.name] = axis.values[0]
    return SweepSpec(
        base=RunConfig(**base),
        axes=tuple(axes),
        trials=args.trials,
        epochs=args.epochs,
        prune=args.prune,
        seed=args.sweep_seed,
        engine=args.engine,
        address=args.address if args.engine == "ray" else "",
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        name=args.name,
    )


def cmd_sweep(lab: Lab, args: argparse.Namespace) -> int:
    sweeps = SweepLab(lab)
    try:
        if args.continue_id:  # the saved spec, its cut-off trials trained on, then the rest
            sweep_id = args.continue_id
            spec = sweeps.store.load_spec(sweep_id)
            sweeps.continue_sweep(sweep_id, args.parallel)
        else:
            spec = spec_from_args(args)
            sweep_id = sweeps.start(spec, args.parallel)
    except (ValueError, RunNotFound) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    runner = sweeps.runner(sweep_id)
    assert runner is not None
    print(f"sweep {sweep_id} in {sweeps.store.path(sweep_id)}", file=sys.stderr)
    with tqdm(total=spec.trials, unit="trial", dynamic_ncols=True, file=sys.stderr) as bar:

        def update() -> None:
            table = sweeps.trials(sweep_id)
            done = int(table["state"].isin(("finished", "pruned", "stopped", "diverged", "failed")).sum())
            bar.update(min(done, spec.trials) - bar.n)
            best = best_trial(table)
            if best is not None:
                bar.set_postfix(best=f"{best['score']:.2%}", refresh=False)

        try:
            wait(runner, update)
        except KeyboardInterrupt:
            sweeps.shutdown()
            print(
                f"error: interrupted; sweep {sweep_id} stopped (continue it with --continue {sweep_id})",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
    sweeps.shutdown()
    if runner.error:
        print(f"error: sweep failed: {runner.error}", file=sys.stderr)
        return EXIT_FAILED
    table = sweeps.trials(sweep_id)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    best = best_trial(table)
    if best is None:
        print("error: no trial finished an epoch, so there is no best", file=sys.stderr)
        return EXIT_FAILED
    print(f"best: trial {best['trial']} ({best['run id']}), test accuracy {best['score']:.2%}")
    print(train_command(sweeps.lab.store.load_config(str(best["run id"]))))
    return EXIT_OK


def train_command(config: RunConfig) -> str:
    """The `python -m rnnlab train` line that trains `config` again: every setting not at its default."""
    defaults = RunConfig()
    words = ["python", "-m", "rnnlab", "train"]
    for f in dataclasses.fields(RunConfig):
        value = getattr(config, f.name)
        if value == getattr(defaults, f.name):
            continue
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{f.name.replace('_', '-')}")
        else:
            words += [flag, repr(value) if isinstance(value, float) else str(value)]
    return shlex.join(words)
