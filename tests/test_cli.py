"""The CLI end to end: train with progress, list runs, evaluate; one-line errors with distinct codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab import cli
from rnnlab.config import RunConfig
from rnnlab.presets import PRESETS
from rnnlab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--hidden", "16", "--batch-size", "64", "--lr", "0.01", "--log-every", "2", "--eval-every", "0"]


def run_cli(args: list[str], tmp_path: Path, data_dir: Path) -> int:
    return cli.main([*args, "--runs-dir", str(tmp_path / "runs"), "--data-dir", str(data_dir)])


def test_train_runs_and_eval(tmp_path, tiny_data_dir, capsys) -> None:
    code = run_cli(["train", *SMALL, "--epochs", "2", "--name", "cli run"], tmp_path, tiny_data_dir)
    out = capsys.readouterr()
    assert code == cli.EXIT_OK, out.err
    assert "epoch 1: train loss" in out.out and "epoch 2: train loss" in out.out
    assert "finished" in out.out and "best test accuracy" in out.out
    assert "doctor:" in out.out or "fix:" in out.out, "train prints the doctor's diagnosis at its end"

    assert run_cli(["runs"], tmp_path, tiny_data_dir) == cli.EXIT_OK
    listing = capsys.readouterr().out
    assert "cli run" in listing and "finished" in listing and "lstm" in listing
    run_id = next((tmp_path / "runs").iterdir()).name

    assert run_cli(["eval", run_id], tmp_path, tiny_data_dir) == cli.EXIT_OK
    line = capsys.readouterr().out
    assert run_id in line and "test (256 images)" in line and "accuracy" in line

    assert run_cli(["doctor", run_id], tmp_path, tiny_data_dir) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith(f"{run_id} (finished, ") and ("doctor:" in text or "fix:" in text)
    assert run_cli(["doctor", "no-such-run"], tmp_path, tiny_data_dir) == cli.EXIT_NO_SUCH_RUN


def test_every_config_field_has_a_flag() -> None:
    import dataclasses

    from rnnlab.config import RunConfig

    text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for field in dataclasses.fields(RunConfig):
        assert f"--{field.name.replace('_', '-')}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hidden", "0"], "hidden_size=0 is out of range"),
        (["--cell", "lstm", "--nonlinearity", "relu"], "applies only to cell='rnn'"),
        (["--dropout", "0.5"], "dropout"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, tiny_data_dir, capsys, args, message) -> None:
    assert run_cli(["train", *args], tmp_path, tiny_data_dir) == cli.EXIT_BAD_ARGUMENTS
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "nothing saved"


def test_unavailable_dataset_exits_3(tmp_path, capsys) -> None:
    code = run_cli(["train", *SMALL], tmp_path, tmp_path / "no-data")
    assert code == cli.EXIT_DATASET_UNAVAILABLE
    assert "train-images-idx3-ubyte" in capsys.readouterr().err


def test_divergence_exits_4(tmp_path, tiny_data_dir, capsys) -> None:
    args = ["train", "--cell", "rnn", "--nonlinearity", "relu", "--lr", "10", "--optimizer", "sgd"]
    args += ["--hidden", "32", "--batch-size", "32", "--log-every", "2", "--epochs", "3"]
    assert run_cli(args, tmp_path, tiny_data_dir) == cli.EXIT_DIVERGED
    out = capsys.readouterr()
    assert "diverged" in out.err
    assert (
        "Diverged: exploding gradients" in out.out
        and "fix: gradient clipping at 1  (grad_clip=1.0)" in out.out
    )


def test_unknown_run_exits_6(tmp_path, tiny_data_dir, capsys) -> None:
    assert run_cli(["eval", "no-such-run"], tmp_path, tiny_data_dir) == cli.EXIT_NO_SUCH_RUN
    assert run_cli(["eval", "../../etc/passwd"], tmp_path, tiny_data_dir) == cli.EXIT_NO_SUCH_RUN
    assert "not a valid run id" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path, tiny_data_dir) -> None:
    """The real `python -m rnnlab` process: argparse errors and the runs listing."""
    env = {**os.environ, "RNNLAB_RUNS_DIR": str(tmp_path / "runs"), "RNNLAB_DATA_DIR": str(tiny_data_dir)}
    bad = subprocess.run(
        [sys.executable, "-m", "rnnlab", "train", "--cell", "cnn"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "invalid choice: 'cnn'" in bad.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "rnnlab", "runs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0 and "no runs in" in listing.stdout


def test_a_preset_fills_the_flags_and_given_flags_override_it() -> None:
    parse = cli.build_parser().parse_args
    fast = PRESETS["fashion-fast"].config
    assert cli.config_from_args(parse(["train", "--preset", "fashion-fast"])) == fast
    changed = cli.config_from_args(
        parse(["train", "--preset", "fashion-fast", "--epochs", "3", "--lr", "3e-3"])
    )
    assert changed == fast.replace(epochs=3, lr=3e-3)  # 3e-3 is the default, and it still overrides
    assert cli.config_from_args(parse(["train", "--no-bidirectional"])) == RunConfig()


def test_presets_lists_every_key_title_and_claim(capsys) -> None:
    assert cli.main(["presets"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    for preset in PRESETS.values():
        assert preset.key in out and preset.title in out
        assert (preset.claim or "not measured by bench/time_to_accuracy.py") in out


def test_ctrl_c_stops_the_run_with_its_weights_saved(tmp_path, tiny_data_dir) -> None:
    """Ctrl-C reaches the whole process group, worker included; the run still stops in order."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "rnnlab", "train", "--runs-dir", str(runs)]
    command += ["--data-dir", str(tiny_data_dir), "--hidden", "16", "--batch-size", "32", "--epochs", "500"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, **quiet)
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob("*/model.pt")) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == cli.EXIT_INTERRUPTED, stderr[-500:]
    assert "stopped and its weights saved" in stderr
    run_dir = next(runs.iterdir())
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "stopped" and "weights at this step were saved" in status["message"]
    assert RunStore(runs).load_checkpoint(run_dir.name)["step"] == status["step"]
