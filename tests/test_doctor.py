"""The training doctor on a labelled set of small runs, each trained by the real loop on tiny data.

Every pathological config must get its diagnosis, healthy runs none, and the under-trained run of
the issue (few steps at Adam's default rate) must be told to train longer, never to lower its rate.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from rnnlab import signals
from rnnlab.config import RunConfig
from rnnlab.data import write_idx
from rnnlab.doctor import diagnose, report
from rnnlab.job import Job
from rnnlab.metrics import COLUMNS, SIGNAL_COLUMNS
from rnnlab.models import SequenceClassifier
from rnnlab.remedies import divergence_message, fix_name
from rnnlab.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BASE = RunConfig(
    hidden_size=16, batch_size=32, epochs=2, log_every=4, eval_every=0, eval_subset=64, device="cpu"
)


class MemoryHost:
    """The trainer's Host kept in memory: the run's rows and last status, no worker, no folder."""

    def __init__(self) -> None:
        self.rows_seen: list[dict[str, Any]] = []

    def status(self, record: dict[str, Any], active: bool) -> None:
        pass

    def rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows_seen.extend(rows)

    def flush(self) -> None:
        pass

    def checkpoint(self, checkpoint: dict[str, Any]) -> None:
        pass

    def weights(self, request: int, step: int, state: Any) -> None:
        pass

    def commands(self, wait: float) -> list:
        return []


def train(config: RunConfig, data_dir: Path) -> tuple[str, pd.DataFrame]:
    host = MemoryHost()
    state, _ = Trainer(Job("doctor-case", config, "case", data_dir=str(data_dir), threads=1), host).run()
    return str(state), pd.DataFrame(host.rows_seen, columns=COLUMNS)


@pytest.fixture(scope="module")
def noise_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pure noise with random labels: nothing to learn, only images to memorise."""
    g = torch.Generator().manual_seed(0)
    root = tmp_path_factory.mktemp("noise")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 256), ("t10k", 128)):
        write_idx(
            raw / f"{split}-images-idx3-ubyte",
            torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
        )
        write_idx(raw / f"{split}-labels-idx1-ubyte", torch.randint(0, 10, (n,), generator=g).to(torch.uint8))
    return root


# (label, config, data: "bars" learnable / "noise" random labels, the diagnosis it must receive)
CASES = [
    (
        "relu-sgd-lr10",
        BASE.replace(cell="rnn", nonlinearity="relu", optimizer="sgd", lr=10.0, hidden_size=32),
        "bars",
        "exploding",
    ),
    ("lstm-adam-lr0.3", BASE.replace(lr=0.3, grad_clip=1.0), "bars", "lr_too_high"),
    ("sgd-lr1e-5", BASE.replace(optimizer="sgd", lr=1e-5), "bars", "lr_too_low"),
    (
        "tanh-rnn-pixels",
        BASE.replace(cell="rnn", order="pixels", train_subset=128, epochs=1, log_every=2),
        "bars",
        "vanishing",
    ),
    (
        "tanh-rnn-sgd-lr3",
        BASE.replace(cell="rnn", optimizer="sgd", lr=3.0, grad_clip=10.0),
        "bars",
        "saturated",
    ),
    (
        "relu-rnn-sgd-lr5",
        BASE.replace(cell="rnn", nonlinearity="relu", optimizer="sgd", lr=5.0),
        "bars",
        "dead_relu",
    ),
    (
        "memorise-64",
        BASE.replace(hidden_size=32, lr=1e-2, train_subset=64, batch_size=16, epochs=25),
        "noise",
        "overfitting",
    ),
    (
        "lstm-16-steps",
        BASE.replace(train_subset=256, batch_size=16, epochs=1, log_every=20),
        "bars",
        "still_learning",
    ),
    ("tiny-lstm-noise", BASE.replace(hidden_size=2, batch_size=64, epochs=40, log_every=8), "noise", "stuck"),
]
HEALTHY = [
    BASE.replace(cell="gru", lr=3e-2, epochs=8, log_every=8),
    BASE.replace(cell="gru", lr=3e-2, epochs=8, log_every=8, order="columns"),
]


@pytest.mark.parametrize(("label", "config", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pathological_run_gets_its_diagnosis(
    label, config, data, expected, tiny_data_dir, noise_data_dir
) -> None:
    state, frame = train(config, tiny_data_dir if data == "bars" else noise_data_dir)
    diagnoses = diagnose(frame, config, state)
    codes = [d.code for d in diagnoses]
    assert expected in codes, f"{label}: {report(diagnoses)}"
    found = diagnoses[codes.index(expected)]
    assert found.evidence and 1 <= len(found.fixes) <= 3
    for fix in found.fixes:  # every fix is a valid config that changes what it says
        changed = fix.apply(config)
        assert changed != config and all(getattr(changed, k) == v for k, v in fix.changes.items())


@pytest.mark.parametrize("config", HEALTHY, ids=["gru-rows", "gru-columns"])
def test_healthy_run_gets_no_diagnosis(config: RunConfig, tiny_data_dir: Path) -> None:
    state, frame = train(config, tiny_data_dir)
    assert state == "finished"
    assert frame.query("kind == 'epoch'").test_acc.iloc[-1] > 0.9
    assert diagnose(frame, config, state) == [], report(diagnose(frame, config, state))


def test_under_trained_run_is_told_to_train_longer_never_a_lower_rate(tiny_data_dir: Path) -> None:
    """The issue's case in small: a default LSTM stopped after 16 steps, still near chance."""
    config = BASE.replace(train_subset=256, batch_size=16, epochs=1, log_every=20)
    state, frame = train(config, tiny_data_dir)
    diagnoses = diagnose(frame, config, state)
    assert diagnoses[0].code == "still_learning", report(diagnoses)
    first = diagnoses[0].fixes[0]
    assert (
        first.changes == {"epochs": 4}
        and fix_name("my run", first) == "my run · train 4x longer (1 to 4 epochs)"
    )
    assert not any(
        fix.changes.get("lr", 0) < config.lr for d in diagnoses for fix in d.fixes if "lr" in fix.changes
    )


def test_signal_columns_are_recorded_at_logging_intervals(tiny_data_dir: Path) -> None:
    config = BASE.replace(num_layers=2, train_subset=128, log_every=2)
    _, frame = train(config, tiny_data_dir)
    steps, epochs = frame[frame.kind == "step"], frame[frame.kind == "epoch"]
    for column in (
        "grad_norm",
        "grad_norm_l0",
        "grad_norm_l1",
        "grad_norm_head",
        "update_ratio",
        "saturated",
        "hidden_norm",
    ):
        assert steps[column].map(math.isfinite).all() and (steps[column] >= 0).all(), column
    assert steps.grad_norm_l2.isna().all(), "no third layer, no third column value"
    total = (steps.grad_norm_l0**2 + steps.grad_norm_l1**2 + steps.grad_norm_head**2) ** 0.5
    assert total.values == pytest.approx(steps.grad_norm.values, rel=1e-4)
    assert steps.dead_relu.isna().all(), "an LSTM has no ReLU units"
    assert epochs.grad_ratio_time.map(math.isfinite).all()
    assert (epochs.acc_gap == epochs.train_acc - epochs.test_acc).all()


def test_unit_health_is_measured_every_few_seconds_and_at_an_epochs_last_row(monkeypatch) -> None:
    """The step-by-step replay is dear (4% of a small LSTM's training at every row): between
    measures a row repeats the latest, and an epoch's last row, which the doctor reads, is fresh."""
    model = SequenceClassifier.from_config(RunConfig(hidden_size=8))
    probe = signals.Probe(torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8), torch.zeros(40), "rows")
    clock, measured = [100.0], []
    monkeypatch.setattr(signals.time, "monotonic", lambda: clock[0])
    health = signals.unit_health
    monkeypatch.setattr(signals, "unit_health", lambda m, x: measured.append(clock[0]) or health(m, x))
    rows = []
    for seconds, fresh in (
        (0.0, False),
        (0.5, False),
        (0.5, True),
        (0.5, False),
        (signals.HEALTH_EVERY_S, False),
    ):
        clock[0] += seconds
        rows.append(probe.interval(model, fresh=fresh))
    assert measured == [100.0, 101.0, 101.5 + signals.HEALTH_EVERY_S]
    assert rows[1]["hidden_norm"] == rows[0]["hidden_norm"] and math.isfinite(rows[3]["saturated"])


def test_a_run_from_before_the_signals_still_gets_diagnosed() -> None:
    """Old metrics.csv files have none of the signal columns; loss and accuracy still tell overfitting."""
    rows = [{"kind": "step", "step": 10 * e, "loss": 2.0 / e} for e in range(1, 9)] + [
        {
            "kind": "epoch",
            "step": 10 * e,
            "epoch": e,
            "train_acc": 0.5 + 0.06 * e,
            "test_acc": 0.5,
            "test_loss": 1.0 + 0.1 * e,
        }
        for e in range(1, 9)
    ]
    frame = pd.DataFrame(rows)
    assert not set(SIGNAL_COLUMNS) & set(frame.columns)
    assert [d.code for d in diagnose(frame, RunConfig(epochs=8))] == ["overfitting"]
    assert diagnose(pd.DataFrame(), RunConfig()) == []


def test_divergence_message_names_where_and_what_to_try() -> None:
    text = divergence_message(RunConfig(cell="rnn", nonlinearity="relu"), 0.5, math.nan, 42, 1)
    assert "nan at step 42 (epoch 2)" in text and "checkpoint was kept" in text
    for advice in ("gradient clipping", "lower learning rate 0.5 to 0.05", "tanh"):
        assert advice in text


def test_a_live_run_is_diagnosed_as_it_trains_but_never_told_it_stopped_early() -> None:
    """The Train page reads a live run's frame: a climbing loss shows at once, a falling one is fine."""
    climbing = pd.DataFrame([{"kind": "step", "step": 10 * i, "loss": 2.3 + 0.4 * i} for i in range(6)])
    assert [d.code for d in diagnose(climbing, BASE, "running")] == ["lr_too_high"]
    falling = pd.DataFrame(
        [{"kind": "step", "step": 4 * i, "loss": 2.3 - 0.05 * i, "loss_slope": -0.01} for i in range(1, 5)]
    )
    assert diagnose(falling, BASE, "running") == []
    assert [d.code for d in diagnose(falling, BASE, "finished")] == ["still_learning"]
