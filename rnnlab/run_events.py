"""What happened to a run besides its steps: hand-set learning rates, pauses, continues, its end.

Read from the metrics frame, where the trainer writes rows of kind "event" (an `event` column names
what happened; for "lr" the `lr` column holds the new value). Frames written before event rows
existed have no `event` column; their hand-set learning rates are read back from the `lr` column
of the step rows instead (nothing else could change it then), so old runs tell the same story.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from rnnlab.values import finite_or

EVENT_KINDS = ("lr", "paused", "resumed", "continued", "stopped", "diverged")


@dataclass(frozen=True)
class Event:
    """One thing that happened at a step; `lr` is the new learning rate of an "lr" event, else NaN."""

    kind: str
    step: int
    epoch: float
    time: float
    lr: float = math.nan

    @property
    def text(self) -> str:
        """A few words for a chart label or a table cell."""
        if self.kind == "lr":
            return f"lr set to {self.lr:g}"
        return self.kind


@dataclass(frozen=True)
class LrRecord:
    """The learning rates a run trained with: where it started, where it ended, what a hand set between."""

    start: float
    last: float
    by_hand: tuple[Event, ...]  # "lr" events in step order

    @property
    def changed(self) -> bool:
        return bool(self.by_hand) or not math.isclose(self.start, self.last)

    def history(self) -> str:
        """'0.001, then 0.0003 from step 120': the whole story in one line for tables."""
        if not self.by_hand:
            return f"{self.start:g}" if not self.changed else f"{self.start:g}, then {self.last:g}"
        changes = ", ".join(f"{e.lr:g} from step {e.step:,}" for e in self.by_hand)
        return f"{self.start:g}, then {changes}"


def run_events(frame: pd.DataFrame, state: str = "", step: int | None = None) -> list[Event]:
    """Every event of a run in step order.

    `state` and `step` are the run's status: a run that diverged before event rows existed gets its
    "diverged" event from them, at the step it stopped.
    """
    if frame is None or frame.empty or "kind" not in frame.columns:
        found: list[Event] = []
    elif "event" in frame.columns:
        found = _event_rows(frame)
    else:
        found = _lr_steps(frame)
    if state == "diverged" and step is not None and not any(e.kind == "diverged" for e in found):
        last = _last_row(frame)
        found.append(Event("diverged", int(step), last.get("epoch", math.nan), last.get("time", math.nan)))
    return sorted(found, key=lambda e: e.step)


def lr_record(start: float, last: float | None, frame: pd.DataFrame) -> LrRecord:
    """A run's learning rates: `start` from its config, `last` from its status (None: not known)."""
    by_hand = tuple(e for e in run_events(frame) if e.kind == "lr")
    final = finite_or(last, None)
    if final is None:
        final = by_hand[-1].lr if by_hand else start
    return LrRecord(float(start), float(final), by_hand)


def _event_rows(frame: pd.DataFrame) -> list[Event]:
    rows = frame[(frame["kind"] == "event") & frame["event"].isin(EVENT_KINDS)]
    found = []
    for row in rows.to_dict("records"):
        step = finite_or(_number(row.get("step")), None)
        if step is None:
            continue
        lr = finite_or(_number(row.get("lr")), math.nan) if row["event"] == "lr" else math.nan
        if row["event"] == "lr" and math.isnan(lr):
            continue  # an lr event without its value says nothing a person can use
        found.append(
            Event(
                row["event"],
                int(step),
                finite_or(_number(row.get("epoch")), math.nan),
                finite_or(_number(row.get("time")), math.nan),
                lr,
            )
        )
    return found


def _lr_steps(frame: pd.DataFrame) -> list[Event]:
    """Hand-set learning rates of an old frame: the first step row logged with each new value."""
    if "lr" not in frame.columns or "step" not in frame.columns:
        return []
    steps = frame[frame["kind"] == "step"]
    lr = pd.to_numeric(steps["lr"], errors="coerce")
    steps = steps[lr.notna()].assign(lr=lr[lr.notna()])
    values = steps["lr"].to_numpy()
    found = []
    for i in range(1, len(values)):
        if not math.isclose(values[i], values[i - 1]):
            row = steps.iloc[i]
            found.append(
                Event(
                    "lr",
                    int(finite_or(_number(row["step"]), 0)),
                    finite_or(_number(row.get("epoch")), math.nan),
                    finite_or(_number(row.get("time")), math.nan),
                    float(values[i]),
                )
            )
    return found


def _last_row(frame: pd.DataFrame) -> dict[str, float]:
    if frame is None or frame.empty:
        return {}
    row = frame.iloc[-1]
    return {k: finite_or(_number(row.get(k)), math.nan) for k in ("epoch", "time")}


def _number(value: object) -> object:
    """A CSV cell as a number when it reads as one (a hand-edited file may hold text)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value.item() if hasattr(value, "item") else value
