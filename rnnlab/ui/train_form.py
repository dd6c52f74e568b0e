"""The Train page's settings: RunConfig widgets (Data, Model, Optimisation), presets, URL sync, Start."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from rnnlab.availability import availability
from rnnlab.config import CHOICES, DATASETS, HELP, ORDER_WORDS, RunConfig
from rnnlab.device import available_devices
from rnnlab.lab import Lab
from rnnlab.plots.training import schedule_figure
from rnnlab.precision import auto_precision
from rnnlab.presets import PRESETS
from rnnlab.query import CONFIG_KEYS, FIELD_TYPES, config_from_params, values_to_params
from rnnlab.run_events import LrRecord
from rnnlab.schedules import plan
from rnnlab.ui.format import plain
from rnnlab.ui.train_start import start_controls

KEY = "train_cfg_"  # widget key prefix: KEY + RunConfig field name
PRESET_KEY = "train_preset"
NOTES_KEY = "train_notes"  # notes about the URL's values, shown until the next Start or preset
WRITTEN_KEY = "train_url_written"  # the config params this session last put in the URL
FILLED_KEY = "train_filled_from"  # (run name, LrRecord) of the run "Train again" copied into the form
PERSIST = "session"  # keep the form when the person visits another page and comes back

LABELS: dict[str, dict[str, str]] = {
    "dataset": {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothing", "kmnist": "KMNIST kana"},
    "order": {order: words.choice for order, words in ORDER_WORDS.items()},
    "cell": {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"},
    "nonlinearity": {"tanh": "tanh", "relu": "ReLU"},
    "readout": {"last": "last state", "mean": "mean over steps", "all": "all steps, concatenated"},
    "optimizer": {
        "sgd": "SGD",
        "momentum": "SGD + momentum 0.9",
        "adam": "Adam",
        "adamw": "AdamW",
        "rmsprop": "RMSprop",
    },
    "device": {"auto": "auto", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple MPS"},
    "schedule": {
        "constant": "constant",
        "one-cycle": "one-cycle",
        "cosine": "cosine, linear warm-up",
        "step": "step decay",
    },
    "precision": {"auto": "auto", "fp32": "fp32", "bf16": "bf16 (mixed)", "fp16": "fp16 (mixed)"},
    "augment": {
        "none": "none",
        "shift": "shift up to 2 pixels",
        "flip": "mirror left-right",
        "flip-shift": "mirror and shift",
    },
}


# The form's words for each field: its widgets' labels, and what a message about a bad value names.
FIELD_LABELS: dict[str, str] = {
    "dataset": "Dataset",
    "order": "Read each image as",
    "train_subset": "Training images",
    "augment": "Augment training images",
    "cell": "Cell",
    "nonlinearity": "Nonlinearity (plain RNN only)",
    "hidden_size": "Hidden units",
    "num_layers": "Layers",
    "dropout": "Dropout",
    "readout": "Readout",
    "bidirectional": "Bidirectional",
    "optimizer": "Optimiser",
    "lr": "Learning rate",
    "schedule": "Learning-rate schedule",
    "warmup": "Warm-up",
    "decay_every": "Decay every",
    "decay_factor": "Decay factor",
    "batch_size": "Batch size",
    "epochs": "Epochs",
    "weight_decay": "Weight decay",
    "grad_clip": "Gradient clip",
    "seed": "Seed",
    "log_every": "Log every (steps)",
    "eval_every": "Quick test every",
    "eval_subset": "Quick test images",
    "device": "Device",
    "precision": "Precision",
}


def fill_form(config: RunConfig) -> None:
    """Put a config into the widgets (call before they are drawn: from a callback or the page top)."""
    for name, value in config.to_dict().items():
        st.session_state[KEY + name] = value


def fill_from_run(config: RunConfig, run_name: str, lr: LrRecord) -> None:
    """For "Train again with these settings": the form takes a run's config, ready for one change.

    The learning rate is the one the run started with, so the new run starts as the old one did;
    a rate set by hand while it trained is named beside the form, one click from being the start.
    """
    fill_form(config)
    st.session_state[PRESET_KEY] = None
    st.session_state[NOTES_KEY] = []
    st.session_state[FILLED_KEY] = (run_name, lr)


def _copied_notice() -> None:
    """What "Train again" copied, and the learning rate set by hand during that run, if any."""
    filled = st.session_state.get(FILLED_KEY)
    if not filled:
        return
    name, lr = filled
    text = (
        f"Settings copied from **{plain(name)}**, with the learning rate it started with ({lr.start:g}). "
        "Change one thing and start: the same seed gives the same initial weights and data order, so the "
        "two runs compare fairly."
    )
    if lr.by_hand:
        text += f" While it trained, its learning rate was set by hand: {lr.history()}."
    st.success(text, icon=":material/content_copy:")
    if lr.by_hand and not math.isclose(st.session_state.get(KEY + "lr", lr.start), lr.by_hand[-1].lr):
        st.button(
            f"Start from {lr.by_hand[-1].lr:g} instead",
            key="train_use_hand_lr",
            icon=":material/tune:",
            on_click=st.session_state.__setitem__,
            args=(KEY + "lr", lr.by_hand[-1].lr),
            help="Put the last learning rate set by hand into the form as the starting learning rate.",
        )


def settings_form(lab: Lab) -> None:
    """Draw the whole form; Start launches the run and points ?run= at it for the run panel."""
    _seed_from_url()
    st.selectbox(
        "Preset",
        list(PRESETS),
        index=None,
        key=PRESET_KEY,
        format_func=lambda key: PRESETS[key].title,
        placeholder="Start from a preset…",
        on_change=_apply_preset,
        help="Fill the form with a known setup: networks tuned to reach a good accuracy fast "
        "(Fashion-MNIST fast and best, digits fast), the classic tutorials' networks, a strong "
        "GRU, or the hard pixel-by-pixel task. Change anything afterwards.",
    )
    preset = st.session_state.get(PRESET_KEY)
    if preset in PRESETS:
        claim = PRESETS[preset].claim
        st.caption(PRESETS[preset].description + (f" Measured: {claim}" if claim else ""))
    notes = st.session_state.get(NOTES_KEY) or []
    if notes:
        listed = "\n- ".join(plain(note) for note in notes)
        st.warning(f"Some settings in the link could not be used:\n\n- {listed}", icon=":material/link:")
    _copied_notice()
    start_area = st.container()  # Start sits above the long form, where it is seen without scrolling
    values, sizes = _widgets(lab)
    _sync_url(values)
    try:
        config, problem = RunConfig(**values), ""
    except ValueError as e:
        config, problem = None, _named(str(e))
    with start_area:
        started = start_controls(lab, config, problem, sizes)
    if started:
        st.session_state[NOTES_KEY] = []
        st.session_state[FILLED_KEY] = None
        st.rerun()  # the sidebar and the run panel show the new run at once


def _named(problem: str) -> str:
    """RunConfig's message, led by the field's name on the form: "Hidden units: hidden_size=0 is …"."""
    field = problem.split("=", 1)[0]
    return f"**{FIELD_LABELS[field]}**: {problem}" if field in FIELD_LABELS else problem


def _widgets(lab: Lab) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """The RunConfig fields as widgets: their values (which may not form a valid config), and the
    chosen dataset's (train, test) image counts when it is on this machine."""
    v: dict[str, Any] = {}
    with st.container(border=True):
        st.markdown("**Data**")
        v["dataset"] = _choice("dataset")
        found = availability(v["dataset"], lab.data_dir)
        if not found.available:
            ready = [
                LABELS["dataset"][d]
                for d in DATASETS
                if d != v["dataset"] and availability(d, lab.data_dir).available
            ]
            instead = f" Ready here now: {', '.join(ready)}." if ready else ""
            st.warning(
                f"**{LABELS['dataset'][v['dataset']]} is not on this machine yet.** {found.message}{instead}",
                icon=":material/download:",
            )
        v["order"] = _choice("order")
        everything = f"all {found.images[0]:,}" if found.images else "all"
        v["train_subset"] = _number("train_subset", step=1000, label=f"Training images (0 = {everything})")
        v["augment"] = _choice("augment")
        if v["dataset"] != "fashion-mnist" and "flip" in v["augment"]:
            st.caption("A mirrored digit or kana is often another character: try shift for these images.")
    with st.container(border=True):
        st.markdown("**Model**")
        v["cell"] = _choice("cell", segmented=True)
        if v["cell"] != "rnn":  # LSTM/GRU gates fix their own nonlinearities; show what they use
            st.session_state[KEY + "nonlinearity"] = "tanh"
        v["nonlinearity"] = _choice(
            "nonlinearity",
            segmented=True,
            disabled=v["cell"] != "rnn",
            extra_help="\n\nOnly for the plain RNN: LSTM and GRU gates use sigmoid and tanh by design.",
        )
        left, right = st.columns(2)
        v["hidden_size"] = _number("hidden_size", left, step=16)
        v["num_layers"] = _number("num_layers", right)
        left, right = st.columns(2)
        v["dropout"] = _number("dropout", left, step=0.05, format="%.2f")
        v["readout"] = _choice("readout", right)
        v["bidirectional"] = st.toggle(
            "Bidirectional", key=KEY + "bidirectional", help=HELP["bidirectional"], persist_state=PERSIST
        )
    with st.container(border=True):
        st.markdown("**Optimisation**")
        left, right = st.columns(2)
        v["optimizer"] = _choice("optimizer", left)
        v["lr"] = _number("lr", right, step=1e-4, format="%g")
        _schedule_widgets(v)
        left, right = st.columns(2)
        v["batch_size"] = _number("batch_size", left, step=16)
        v["epochs"] = _number("epochs", right)
        left, right = st.columns(2)
        v["weight_decay"] = _number("weight_decay", left, step=1e-4, format="%g")
        v["grad_clip"] = _number("grad_clip", right, step=0.5, format="%g")
        v["seed"] = _number("seed")
        _schedule_preview(v, found.images)
    with st.expander("Advanced: monitoring and device", icon=":material/tune:"):
        left, right = st.columns(2)
        v["log_every"] = _number("log_every", left)
        v["eval_every"] = _number("eval_every", right, step=50)
        left, right = st.columns(2)
        v["eval_subset"] = _number("eval_subset", left, step=100)
        here = available_devices()
        v["device"] = _choice("device", right, extra_help=f"\n\nHere: {', '.join(here)}.")
        if v["device"] not in here:
            missing = LABELS["device"][v["device"]]
            st.warning(f"No {missing} on this machine: choose auto or CPU.", icon=":material/memory:")
        auto = auto_precision(v["device"] if v["device"] in here else "auto")
        v["precision"] = _choice("precision", left, extra_help=f"\n\nHere, auto means {auto}.")
    return v, found.images


def _schedule_widgets(v: dict[str, Any]) -> None:
    """The schedule and its settings; those the chosen schedule ignores are shown greyed out."""
    v["schedule"] = _choice("schedule")
    warm, every, factor = st.columns(3)
    v["warmup"] = _number(
        "warmup", warm, step=0.05, format="%.2f", disabled=v["schedule"] not in ("one-cycle", "cosine")
    )
    v["decay_every"] = _number("decay_every", every, disabled=v["schedule"] != "step")
    v["decay_factor"] = _number(
        "decay_factor", factor, step=0.1, format="%g", disabled=v["schedule"] != "step"
    )


def _schedule_preview(v: dict[str, Any], sizes: tuple[int, int] | None) -> None:
    """The planned rate of every step, drawn before Start, for any schedule but constant."""
    if v["schedule"] == "constant" or not sizes:
        return
    names = (
        "lr",
        "schedule",
        "warmup",
        "decay_every",
        "decay_factor",
        "epochs",
        "batch_size",
        "train_subset",
    )
    try:
        config = RunConfig(**{name: v[name] for name in names})
    except ValueError:
        return  # Start names the problem
    images = min(config.train_subset or sizes[0], sizes[0])
    steps_per_epoch = math.ceil(images / config.batch_size)
    figure = schedule_figure(plan(config, steps_per_epoch))
    st.plotly_chart(figure, key="train_schedule_preview", config={"displayModeBar": False})


def _choice(
    name: str,
    where: Any = st,
    *,
    segmented: bool = False,
    disabled: bool = False,
    extra_help: str = "",
) -> str:
    """A selectbox (or a compact segmented control) over CHOICES[name], labelled in words."""
    common = {
        "key": KEY + name,
        "format_func": LABELS[name].__getitem__,
        "help": HELP[name] + extra_help,
        "disabled": disabled,
        "persist_state": PERSIST,
    }
    label = FIELD_LABELS[name]
    if segmented:
        return where.segmented_control(label, CHOICES[name], required=True, **common)
    return where.selectbox(label, CHOICES[name], **common)


def _number(
    name: str,
    where: Any = st,
    *,
    step: float = 1,
    format: str | None = None,
    label: str | None = None,
    disabled: bool = False,
) -> Any:
    """A number input for a field; ints stay ints.

    Without min/max on purpose: a browser refuses an out-of-range value silently (the field turns
    red, the server keeps the old value), and Start would then train with what the person did not
    mean. Here every typed value reaches RunConfig, which names the field and its range.
    """
    cast = int if FIELD_TYPES[name] == "int" else float
    return where.number_input(
        label or FIELD_LABELS[name],
        step=cast(step),
        format=format,
        key=KEY + name,
        help=HELP[name],
        disabled=disabled,
        persist_state=PERSIST,
    )


def _seed_from_url() -> None:
    """Fill the widgets from the URL on a first visit, or when a link brings new settings.

    A URL this session wrote itself is left alone, so the person's edits are never overwritten.
    """
    url = {k: v for k, v in st.query_params.to_dict().items() if k in CONFIG_KEYS}
    first_visit = any(KEY + name not in st.session_state for name in CONFIG_KEYS)
    if first_visit or (url and url != st.session_state.get(WRITTEN_KEY)):
        config, notes = config_from_params(url)
        fill_form(config)
        st.session_state[NOTES_KEY] = notes
        st.session_state[WRITTEN_KEY] = url


def _sync_url(values: dict[str, Any]) -> None:
    """Mirror the form in the URL (only values that differ from the defaults); other params stay."""
    wanted = values_to_params(values)
    params = st.query_params.to_dict()
    if {k: v for k, v in params.items() if k in CONFIG_KEYS} != wanted:
        others = {k: v for k, v in params.items() if k not in CONFIG_KEYS}
        st.query_params.from_dict({**wanted, **others})
    st.session_state[WRITTEN_KEY] = wanted


def _apply_preset() -> None:
    key = st.session_state.get(PRESET_KEY)
    if key in PRESETS:
        fill_form(PRESETS[key].config)
        st.session_state[NOTES_KEY] = []
        st.session_state[FILLED_KEY] = None
