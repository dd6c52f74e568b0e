"""Sweep: axes to vary over a base RunConfig, validated as strictly as RunConfig, saved as JSON.

A sweep's spec says what to try (the axes), how much (trials, epochs per trial) and whether weak
trials stop early. It is parsed from the CLI's and the URL's short strings ("lstm,gru",
"1e-3..1e-2:log") and checked once, before anything starts: a bad axis is one ValueError that
names it and says what is allowed.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from rnnlab.config import CHOICES, LIMITS, RunConfig

MAX_TRIALS = 200  # a sweep larger than this is a mistake on one machine, and slow on a small cluster
ENGINES = ("local", "ray")
SCALES = ("linear", "log")
FIXED_FIELDS = ("epochs",)  # set by the sweep's own epochs per trial
FIELD_TYPES = {f.name: f.type for f in fields(RunConfig)}
SAVED = ("trials", "epochs", "prune", "seed", "engine", "address", "cpus_per_trial", "gpus_per_trial", "name")


@dataclass(frozen=True)
class Axis:
    """One setting to vary: a list of values to try, or a numeric range sampled on a linear or log scale."""

    field: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    scale: str = "linear"

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def text(self) -> str:
        """The short form `parse_axis` reads back: "lstm,gru" or "0.001..0.01:log"."""
        if self.is_range:
            return f"{_number(self.low)}..{_number(self.high)}" + (":log" if self.scale == "log" else "")
        return ",".join(_number(v) if not isinstance(v, str) else v for v in self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "text": self.text()}


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep tries and how: every trial is `base` with the axes' values and `epochs` epochs."""

    base: RunConfig
    axes: tuple[Axis, ...]
    trials: int = 12
    epochs: int = 3
    prune: bool = True
    seed: int = 0
    engine: str = "local"
    address: str = ""  # a Ray cluster's address; empty: start a local Ray (engine "ray" only)
    cpus_per_trial: float = 1.0  # what Ray reserves for each trial (engine "ray" only)
    gpus_per_trial: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def grid(self) -> list[dict[str, Any]] | None:
        """Every combination of the axes' values when all axes are lists, in axis order; else None."""
        if any(axis.is_range for axis in self.axes):
            return None
        names = [axis.field for axis in self.axes]
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(a.values for a in self.axes))
        ]

    def trial_config(self, params: dict[str, Any]) -> RunConfig:
        """The RunConfig of one trial; ValueError (naming the fields) when the combination is invalid."""
        return self.base.replace(**params, epochs=self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "axes": [axis.to_dict() for axis in self.axes],
            **{k: getattr(self, k) for k in SAVED},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        if not isinstance(data, dict) or not isinstance(data.get("axes"), list):
            raise ValueError("a sweep spec must be a JSON object with a list of axes")
        axes = tuple(parse_axis(str(a.get("field", "")), str(a.get("text", ""))) for a in data["axes"])
        rest = {k: data[k] for k in SAVED if k in data}
        return cls(base=RunConfig.from_dict(data.get("base", {})), axes=axes, **rest)


def parse_axis(field: str, text: str) -> Axis:
    """An axis from its short form: "a,b,c" (values) or "low..high[:log|:linear]" (a range).

    Values are read as the field's type; the field and every value are checked like RunConfig's.
    """
    field = field.replace("-", "_")
    kind = _field_kind(field)
    text = text.strip()
    if not text:
        raise ValueError(f"axis {field}: no values given; list values (a,b,c) or give a range (low..high)")
    if ".." in text:
        bounds, _, scale = text.partition(":")
        low_text, _, high_text = bounds.partition("..")
        if kind not in ("int", "float"):
            raise ValueError(
                f"axis {field}: a range needs a numeric field; list the values of {field} instead"
            )
        low, high = (_read(field, kind, t) for t in (low_text, high_text))
        axis = Axis(field, low=low, high=high, scale=scale.strip() or "linear")
        _check_axis(RunConfig(), axis)  # a range's bounds and scale do not depend on the base config
        return axis
    return Axis(field, values=tuple(_read(field, kind, t) for t in text.split(",")))


def validate(spec: SweepSpec) -> None:
    """Raise one ValueError naming the axis (or field) and what is allowed; return None when all is well."""
    if not isinstance(spec.base, RunConfig):
        raise ValueError("base must be a RunConfig")
    _check_int("trials", spec.trials, 1, MAX_TRIALS)
    _check_int("epochs", spec.epochs, *map(int, LIMITS["epochs"]))
    _check_int("seed", spec.seed, *map(int, LIMITS["seed"]))
    if not isinstance(spec.prune, bool):
        raise ValueError(f"prune={spec.prune!r} must be true or false")
    if spec.engine not in ENGINES:
        raise ValueError(f"engine={spec.engine!r} is not allowed; choose one of: {', '.join(ENGINES)}")
    if spec.address and spec.engine != "ray":
        raise ValueError("address applies only to engine='ray' (the address of a Ray cluster's head)")
    for name, low in (("cpus_per_trial", 0.01), ("gpus_per_trial", 0.0)):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 1024:
            raise ValueError(f"{name}={value!r} is out of range; allowed: {low:g} to 1024")
    if (spec.cpus_per_trial, spec.gpus_per_trial) != (1.0, 0.0) and spec.engine != "ray":
        raise ValueError("cpus_per_trial and gpus_per_trial apply only to engine='ray' (Ray reserves them)")
    if not spec.axes:
        raise ValueError("a sweep needs at least one axis: a setting to vary and the values to try")
    seen: set[str] = set()
    for axis in spec.axes:
        if axis.field in seen:
            raise ValueError(f"axis {axis.field} is given twice; give each setting one axis")
        seen.add(axis.field)
        _check_axis(spec.base, axis)
    grid = spec.grid
    if grid is not None and spec.trials > len(grid):
        raise ValueError(
            f"trials={spec.trials} is more than the {len(grid)} combinations of the axes' values; "
            f"ask for at most {len(grid)} trials, or make an axis a range (low..high)"
        )
    for point in corner_points(spec):
        try:
            spec.trial_config(point)
        except ValueError as e:
            shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ValueError(f"the trial {shown} is not a valid run: {e}") from None


def corner_points(spec: SweepSpec, limit: int = 4096) -> list[dict[str, Any]]:
    """Settings that span the sweep: its grid, or each range at both ends with every listed value."""
    options = [(a.low, a.high) if a.is_range else a.values for a in spec.axes]
    names = [a.field for a in spec.axes]
    return [
        {k: int(v) if FIELD_TYPES[k] == "int" else v for k, v in zip(names, combo, strict=True)}
        for combo in itertools.islice(itertools.product(*options), limit)
    ]


def _check_axis(base: RunConfig, axis: Axis) -> None:
    kind = _field_kind(axis.field)
    if axis.is_range:
        if axis.scale not in SCALES:
            raise ValueError(f"axis {axis.field}: scale {axis.scale!r} is not allowed; choose linear or log")
        low, high = axis.low, axis.high
        if kind not in ("int", "float") or axis.field not in LIMITS:
            raise ValueError(f"axis {axis.field}: a range needs a numeric field; list its values instead")
        lo, hi = LIMITS[axis.field]
        if not (low is not None and high is not None and lo <= low < high <= hi):
            raise ValueError(
                f"axis {axis.field}: range {_number(low)}..{_number(high)} is not allowed: a range "
                f"must run upwards within {_number(lo)} to {_number(hi)}"
            )
        if axis.scale == "log" and low <= 0:
            raise ValueError(f"axis {axis.field}: a log range must start above 0, not at {_number(low)}")
        return
    if not axis.values:
        raise ValueError(f"axis {axis.field}: no values given; list at least one")
    if len(set(axis.values)) != len(axis.values):
        raise ValueError(f"axis {axis.field}: a value is listed twice")
    for value in axis.values:
        try:
            base.replace(**{axis.field: value})
        except ValueError as e:
            raise ValueError(f"axis {axis.field}: {e}") from None


def _field_kind(field: str) -> str:
    if field in FIXED_FIELDS:
        raise ValueError(
            f"axis {field}: a sweep sets {field} itself (its epochs per trial); vary another field"
        )
    if field not in FIELD_TYPES:
        raise ValueError(f"axis {field}: unknown setting; choose from: {', '.join(sorted(FIELD_TYPES))}")
    return FIELD_TYPES[field]


def _read(field: str, kind: str, text: str) -> Any:
    """One value from text, as the field's type (the values of a choice field are kept as given)."""
    text = text.strip()
    try:
        if kind == "bool":
            return {"true": True, "false": False, "1": True, "0": False}[text.lower()]
        if kind == "int":
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "float":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
    except (ValueError, KeyError):
        raise ValueError(f"axis {field}: {text!r} is not a {kind}") from None
    if not text:
        raise ValueError(f"axis {field}: an empty value; allowed: {', '.join(CHOICES.get(field, ('text',)))}")
    return text


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is out of range; allowed: whole numbers {low} to {high}")


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
