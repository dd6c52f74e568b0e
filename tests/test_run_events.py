"""A run's events and learning rates read from its metrics (with event rows, and old frames without),
and the progress numbers every page shows."""

from __future__ import annotations

import math

import pandas as pd

from rnnlab.config import RunConfig
from rnnlab.metrics import COLUMNS
from rnnlab.remedies import divergence_message
from rnnlab.run_events import lr_record, run_events
from rnnlab.run_progress import epoch_text, shown_epoch, step_text
from rnnlab.run_status import RunStatus


def row(kind: str, step: int, lr: float = math.nan, event: str | None = None, **values: float) -> dict:
    where = {"step": step, "epoch": step / 10, "time": step / 100}
    return {"kind": kind, **where, "lr": lr, "event": event, **values}


def frame(rows: list[dict], columns: list[str] = COLUMNS) -> pd.DataFrame:
    return pd.DataFrame(rows).reindex(columns=columns)


def test_event_rows_become_events_in_step_order_and_the_hand_set_lr_history():
    metrics = frame(
        [
            row("step", 10, 1e-3, loss=2.0),
            row("event", 15, 3e-4, "lr"),
            row("step", 20, 3e-4, loss=1.5),
            row("event", 20, event="paused"),
            row("event", 20, event="resumed"),
            row("event", 30, event="lr"),  # an lr event without its value says nothing: left out
            row("event", 35, 1e-4, "lr"),
            row("event", 40, event="diverged"),
            row("event", 41, event="nonsense"),
        ]
    )
    events = run_events(metrics)
    assert [(e.kind, e.step) for e in events] == [
        ("lr", 15),
        ("paused", 20),
        ("resumed", 20),
        ("lr", 35),
        ("diverged", 40),
    ]
    assert events[0].text == "lr set to 0.0003" and events[0].epoch == 1.5
    record = lr_record(1e-3, 1e-4, metrics)
    assert (record.start, record.last) == (1e-3, 1e-4) and record.changed
    assert record.history() == "0.001, then 0.0003 from step 15, 0.0001 from step 35"


def test_frames_from_before_event_rows_read_their_hand_set_lr_from_the_step_rows():
    old = frame(
        [row("step", 10, 1e-3), row("eval", 10), row("step", 20, 1e-3), row("step", 30, 3e-4)],
        [c for c in COLUMNS if c != "event"],  # no `event` column at all
    )
    (change,) = run_events(old)
    assert (change.kind, change.step, change.lr) == ("lr", 30, 3e-4)
    assert lr_record(1e-3, None, old).last == 3e-4  # no status lr: the last change is the last lr
    diverged = run_events(old, state="diverged", step=33)  # the status tells where an old run diverged
    assert [e.kind for e in diverged] == ["lr", "diverged"] and diverged[-1].step == 33


def test_a_run_that_never_changed_its_lr_says_so_and_empty_frames_are_fine():
    steady = lr_record(1e-3, 1e-3, frame([row("step", 10, 1e-3), row("step", 20, 1e-3)]))
    assert not steady.changed and not steady.by_hand and steady.history() == "0.001"
    assert run_events(pd.DataFrame()) == [] and lr_record(0.01, None, pd.DataFrame()).last == 0.01
    scheduled = lr_record(1e-3, 2e-4, frame([row("step", 10, 1e-3), row("step", 20, 2e-4)]))
    assert not scheduled.by_hand and scheduled.changed  # with event rows only events count as by hand


def status(state: str, epoch: int, step: int, epochs: int = 5, per_epoch: int = 10) -> RunStatus:
    return RunStatus(
        run_id="r",
        name="r",
        state=state,
        message="",
        epoch=epoch,
        epochs=epochs,
        step=step,
        total_steps=per_epoch * epochs,
        lr=1e-3,
        loss=math.nan,
        samples_per_s=0.0,
        elapsed_s=0.0,
        best_test_acc=math.nan,
        device="cpu",
    )


def test_a_run_that_diverged_mid_epoch_is_in_the_epoch_its_message_names():
    """Two epochs completed, then the loss exploded at step 25: "epoch 3" in the message and the status."""
    message = divergence_message(RunConfig(), 1e-3, math.nan, 25, 2)  # the trainer's 0-based epoch index
    assert "(epoch 3)" in message
    assert epoch_text(status("diverged", epoch=2, step=25)) == "epoch 3 of 5"


def test_every_state_names_the_epoch_a_person_expects():
    assert shown_epoch(status("running", 0, 0)) == 1  # starting
    assert shown_epoch(status("running", 2, 20)) == 3  # at a boundary: the next one trains
    assert shown_epoch(status("paused", 2, 24)) == 3
    assert shown_epoch(status("finished", 5, 50)) == 5  # never "epoch 6 of 5"
    assert shown_epoch(status("stopped", 2, 20)) == 2  # stopped right after epoch 2
    assert shown_epoch(status("stopped", 2, 21)) == 3
    assert shown_epoch(status("interrupted", 1, 15)) == 2
    assert shown_epoch(status("queued", 0, 0)) == 1
    assert step_text(status("running", 2, 1234, per_epoch=1000)) == "step 1,234 of 5,000"
