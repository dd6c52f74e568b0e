"""The Sweep page's form: which settings to vary and over what, the base settings, the cost, Start.

Its settings live in the URL (?vary=cell,lr&cell=lstm,gru&lr=1e-3..1e-2:log&trials=12...), so a
sweep can be shared or reloaded before it starts; the URL is read once per session, then written.
"""

from __future__ import annotations

import contextlib
from typing import Any

import streamlit as st

from rnnlab.config import CHOICES, HELP, RunConfig
from rnnlab.cost import measured_speed, rough_duration
from rnnlab.device import usable_device
from rnnlab.lab import Lab
from rnnlab.store import RunsDirError
from rnnlab.sweep import ENGINES, FIELD_TYPES, FIXED_FIELDS, MAX_TRIALS, SweepSpec, parse_axis
from rnnlab.sweep_cost import sweep_seconds
from rnnlab.sweep_lab import SweepLab
from rnnlab.ui.train_form import FIELD_LABELS

KEY = "sweep_form_"
SWEEP_PARAM = "sweep"  # ?sweep=<sweep id> shows that sweep
VARIABLE = [name for name in FIELD_TYPES if name not in FIXED_FIELDS]
BASE_FIELDS = ("dataset", "order", "train_subset", "eval_every")  # the rest keep RunConfig's defaults
FIRST_AXES = ("cell", "lr")  # a new visitor's sweep, ready to start
SUGGESTED = {"cell": "lstm,gru", "hidden_size": "32,64,128", "lr": "1e-3..1e-2:log", "num_layers": "1,2"}
AXIS_HELP = " To sweep: list values separated by commas (lstm,gru), or give a range low..high to sample, "
AXIS_HELP += "with :log for a log scale (1e-4..1e-2:log)."
PLAN = {"trials": 12, "epochs": 3, "prune": True, "sweep_seed": 0, "engine": "local", "address": ""}


def sweep_form(lab: Lab, sweeps: SweepLab) -> None:
    """Draw the form; on Start, start the sweep and point ?sweep= at it."""
    _read_url_once()
    vary = st.multiselect(
        "Settings to vary",
        VARIABLE,
        format_func=lambda name: FIELD_LABELS.get(name, name),
        key=KEY + "vary",
        help="Each chosen setting becomes an axis of the sweep; the others stay as set below.",
    )
    axes_text = {}
    for name in vary:
        axes_text[name] = st.text_input(
            f"{FIELD_LABELS.get(name, name)}: values to try",
            value=SUGGESTED.get(name, _default_text(name)),
            key=KEY + "axis_" + name,
            help=HELP[name] + AXIS_HELP,
        )
    with st.expander("Settings every trial shares", expanded=False):
        base = {name: _base_widget(name) for name in BASE_FIELDS if name not in vary}
    left, right = st.columns(2)
    plan = {
        "trials": left.number_input(
            "Trials", 1, MAX_TRIALS, PLAN["trials"], key=KEY + "trials", help="How many settings to train."
        ),
        "epochs": right.number_input(
            "Epochs per trial", 1, 1000, PLAN["epochs"], key=KEY + "epochs", help=HELP["epochs"]
        ),
        "prune": left.toggle(
            "Stop weak trials early",
            PLAN["prune"],
            key=KEY + "prune",
            help="Successive halving on the quick test accuracy: after a ninth of its epochs each trial "
            "waits until all have got there, then the best third go on and the others stop; the same "
            "again after a third. The time of the trials stopped goes to the others.",
        ),
        "sweep_seed": right.number_input(
            "Search seed",
            0,
            2**31 - 1,
            PLAN["sweep_seed"],
            key=KEY + "sweep_seed",
            help="Fixes which settings are tried, and in what order.",
        ),
        "engine": left.radio(
            "Where trials train",
            ENGINES,
            key=KEY + "engine",
            horizontal=True,
            help="local: worker processes on this machine. ray: a Ray cluster (started here if no address).",
        ),
    }
    plan["address"] = ""
    if plan["engine"] == "ray":
        plan["address"] = right.text_input(
            "Ray address",
            key=KEY + "address",
            help="host:port of a Ray cluster's head; empty: Ray here.",
        )
    _write_url(vary, axes_text, base, plan)
    try:
        spec = _spec(axes_text, base, plan)
    except ValueError as e:
        st.error(f"Cannot start this sweep: {e}", icon=":material/error:")
        return
    _cost(lab, spec)
    if st.button(
        "Start sweep", type="primary", key=KEY + "start", help="Train the trials; the best come first"
    ):
        try:
            sweep_id = sweeps.start(spec)
        except (ValueError, OSError, RunsDirError, RuntimeError) as e:
            st.error(f"Could not start the sweep: {e}", icon=":material/error:")
            return
        st.query_params[SWEEP_PARAM] = sweep_id
        st.rerun()


def _spec(axes_text: dict[str, str], base: dict[str, Any], plan: dict[str, Any]) -> SweepSpec:
    axes = tuple(parse_axis(name, text) for name, text in axes_text.items())
    return SweepSpec(
        RunConfig(**base),
        axes,
        trials=int(plan["trials"]),
        epochs=int(plan["epochs"]),
        prune=bool(plan["prune"]),
        seed=int(plan["sweep_seed"]),
        engine=plan["engine"],
        address=plan["address"].strip(),
    )


def _cost(lab: Lab, spec: SweepSpec) -> None:
    device = usable_device(spec.base.device)
    with st.spinner("Measuring how fast this machine trains…"):
        seconds = sweep_seconds(
            spec, lambda cell: measured_speed(device.type, cell, lab.cpu_threads), lab.max_concurrent
        )
    pruned = " at most; stopping weak trials early usually saves much of it" if spec.prune else ""
    st.caption(
        f"{spec.trials} trials × {spec.epochs} epochs: about **{rough_duration(seconds)}** on this machine"
        f"{pruned}, {lab.max_concurrent} at a time.",
        help="Trials x epochs x the seconds per epoch measured here, for the settings at each axis's ends.",
    )


def _base_widget(name: str) -> Any:
    label, key, default = FIELD_LABELS.get(name, name), KEY + "base_" + name, getattr(RunConfig(), name)
    if name in CHOICES:
        options = list(CHOICES[name])
        return st.selectbox(label, options, index=options.index(default), key=key, help=HELP[name])
    return st.number_input(label, min_value=0, value=int(default), step=1, key=key, help=HELP[name])


def _default_text(name: str) -> str:
    value = getattr(RunConfig(), name)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _read_url_once() -> None:
    """Fill the widgets from the URL on a session's first visit (later, the widgets are the truth)."""
    if st.session_state.get(KEY + "read"):
        return
    st.session_state[KEY + "read"] = True
    params = st.query_params
    vary = [name for name in params.get("vary", "").split(",") if name in VARIABLE]
    if "vary" in params or KEY + "vary" not in st.session_state:
        st.session_state[KEY + "vary"] = vary if "vary" in params else list(FIRST_AXES)
    for name in vary:
        if name in params:
            st.session_state[KEY + "axis_" + name] = params[name]
    for name in BASE_FIELDS:
        if name in params and name not in vary:
            with contextlib.suppress(ValueError, IndexError):  # a bad value in a link: the default stays
                st.session_state[KEY + "base_" + name] = parse_axis(name, params[name]).values[0]
    for name, default in PLAN.items():
        if name in params:
            raw = params[name]
            if isinstance(default, bool):
                st.session_state[KEY + name] = raw in ("1", "true")
            elif isinstance(default, int):
                if raw.isdigit():
                    st.session_state[KEY + name] = int(raw)
            elif name != "engine" or raw in ENGINES:
                st.session_state[KEY + name] = raw


def _write_url(vary: list[str], axes: dict[str, str], base: dict[str, Any], plan: dict[str, Any]) -> None:
    wanted = {"vary": ",".join(vary), **axes, **{k: str(v) for k, v in base.items()}}
    wanted.update(
        {k: ("1" if v else "0") if isinstance(v, bool) else str(v) for k, v in plan.items() if v != ""}
    )
    keep = {k: v for k, v in st.query_params.to_dict().items() if k == SWEEP_PARAM}
    if st.query_params.to_dict() != {**wanted, **keep}:
        st.query_params.from_dict({**wanted, **keep})
