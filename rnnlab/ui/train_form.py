"""The Train page's settings: RunConfig widgets (Data, Model, Optimisation), presets, URL sync, Start."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from rnnlab.availability import availability
from rnnlab.config import CHOICES, DATASETS, HELP, LIMITS, RunConfig
from rnnlab.device import available_devices
from rnnlab.lab import Lab
from rnnlab.models import count_parameters
from rnnlab.presets import PRESETS, matching_preset
from rnnlab.query import CONFIG_KEYS, FIELD_TYPES, config_from_params, values_to_params
from rnnlab.store import RunsDirError
from rnnlab.ui.widgets import RUN_PARAM

KEY = "train_cfg_"  # widget key prefix: KEY + RunConfig field name
PRESET_KEY = "train_preset"
NAME_KEY = "train_name"
NOTES_KEY = "train_notes"  # notes about the URL's values, shown until the next Start or preset
WRITTEN_KEY = "train_url_written"  # the config params this session last put in the URL
FILLED_KEY = "train_filled_from"  # name of the run whose settings "Train again" copied into the form
PERSIST = "session"  # keep the form when the person visits another page and comes back

LABELS: dict[str, dict[str, str]] = {
    "dataset": {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothing", "kmnist": "KMNIST kana"},
    "order": {
        "rows": "rows: 28 steps of 28 pixels",
        "columns": "columns: 28 steps of 28 pixels",
        "pixels": "pixels: 784 steps of 1 pixel",
        "permuted": "permuted pixels: 784 steps of 1",
    },
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
}


def fill_form(config: RunConfig) -> None:
    """Put a config into the widgets (call before they are drawn: from a callback or the page top)."""
    for name, value in config.to_dict().items():
        st.session_state[KEY + name] = value


def fill_from_run(config: RunConfig, run_name: str) -> None:
    """For "Train again with these settings": the form takes a run's config, ready for one change."""
    fill_form(config)
    st.session_state[PRESET_KEY] = None
    st.session_state[NOTES_KEY] = []
    st.session_state[FILLED_KEY] = run_name


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
        help="Fill the form with a known setup: the classic tutorials' networks, a strong GRU, or the "
        "hard pixel-by-pixel task. Change anything afterwards.",
    )
    preset = st.session_state.get(PRESET_KEY)
    if preset in PRESETS:
        st.caption(PRESETS[preset].description)
    notes = st.session_state.get(NOTES_KEY) or []
    if notes:
        listed = "\n- ".join(_plain(note) for note in notes)
        st.warning(f"Some settings in the link could not be used:\n\n- {listed}", icon="🔗")
    filled = st.session_state.get(FILLED_KEY)
    if filled:
        st.success(
            f"Settings copied from **{_plain(filled)}**. Change one thing and start: the same seed gives "
            "the same initial weights and data order, so the two runs compare fairly.",
            icon=":material/content_copy:",
        )
    start_area = st.container()  # Start sits above the long form, where it is seen without scrolling
    values = _widgets(lab)
    _sync_url(values)
    try:
        config, problem = RunConfig(**values), ""
    except ValueError as e:
        config, problem = None, str(e)
    with start_area:
        _start(lab, config, problem)


def _widgets(lab: Lab) -> dict[str, Any]:
    """The RunConfig fields as widgets; returns their values (which may not form a valid config)."""
    v: dict[str, Any] = {}
    with st.container(border=True):
        st.markdown("**Data**")
        v["dataset"] = _choice("dataset", "Dataset")
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
        v["order"] = _choice("order", "Read each image as")
        v["train_subset"] = _number("train_subset", "Training images (0 = all)", step=1000)
    with st.container(border=True):
        st.markdown("**Model**")
        v["cell"] = _choice("cell", "Cell", segmented=True)
        if v["cell"] != "rnn":  # LSTM/GRU gates fix their own nonlinearities; show what they use
            st.session_state[KEY + "nonlinearity"] = "tanh"
        v["nonlinearity"] = _choice(
            "nonlinearity",
            "Nonlinearity (plain RNN only)",
            segmented=True,
            disabled=v["cell"] != "rnn",
            extra_help="\n\nOnly for the plain RNN: LSTM and GRU gates use sigmoid and tanh by design.",
        )
        left, right = st.columns(2)
        v["hidden_size"] = _number("hidden_size", "Hidden units", left, step=16)
        v["num_layers"] = _number("num_layers", "Layers", right)
        left, right = st.columns(2)
        v["dropout"] = _number("dropout", "Dropout", left, step=0.05, format="%.2f")
        v["readout"] = _choice("readout", "Readout", right)
        v["bidirectional"] = st.toggle(
            "Bidirectional", key=KEY + "bidirectional", help=HELP["bidirectional"], persist_state=PERSIST
        )
    with st.container(border=True):
        st.markdown("**Optimisation**")
        left, right = st.columns(2)
        v["optimizer"] = _choice("optimizer", "Optimiser", left)
        v["lr"] = _number("lr", "Learning rate", right, step=1e-4, format="%g")
        left, right = st.columns(2)
        v["batch_size"] = _number("batch_size", "Batch size", left, step=16)
        v["epochs"] = _number("epochs", "Epochs", right)
        left, right = st.columns(2)
        v["weight_decay"] = _number("weight_decay", "Weight decay", left, step=1e-4, format="%g")
        v["grad_clip"] = _number("grad_clip", "Gradient clip", right, step=0.5, format="%g")
        v["seed"] = _number("seed", "Seed")
    with st.expander("Advanced: monitoring and device", icon=":material/tune:"):
        left, right = st.columns(2)
        v["log_every"] = _number("log_every", "Log every (steps)", left)
        v["eval_every"] = _number("eval_every", "Quick test every", right, step=50)
        left, right = st.columns(2)
        v["eval_subset"] = _number("eval_subset", "Quick test images", left, step=100)
        here = available_devices()
        v["device"] = _choice("device", "Device", right, extra_help=f"\n\nHere: {', '.join(here)}.")
        if v["device"] not in here:
            missing = LABELS["device"][v["device"]]
            st.warning(f"No {missing} on this machine: choose auto or CPU.", icon=":material/memory:")
    return v


def _choice(
    name: str,
    label: str,
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
    if segmented:
        return where.segmented_control(label, CHOICES[name], required=True, **common)
    return where.selectbox(label, CHOICES[name], **common)


def _number(name: str, label: str, where: Any = st, *, step: float = 1, format: str | None = None) -> Any:
    """A number input bounded by LIMITS[name]; ints stay ints."""
    low, high = LIMITS[name]
    cast = int if FIELD_TYPES[name] == "int" else float
    return where.number_input(
        label,
        min_value=cast(low),
        max_value=cast(high),
        step=cast(step),
        format=format,
        key=KEY + name,
        help=HELP[name],
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


def _start(lab: Lab, config: RunConfig | None, problem: str) -> None:
    """Run name, Start (disabled while the settings are invalid, with the reason) and the model's size."""
    if problem:
        st.error(f"These settings cannot train yet: {problem}.", icon=":material/block:")
    name_column, button_column = st.columns(2, vertical_alignment="bottom")
    name = name_column.text_input(
        "Run name (optional)",
        key=NAME_KEY,
        max_chars=80,
        placeholder="e.g. lstm baseline",
        help="A name to find this run by on the Runs page; empty names are made from the settings.",
    )
    clicked = button_column.button(
        "Start training",
        key="train_start",
        type="primary",
        icon=":material/play_arrow:",
        disabled=config is None,
        width="stretch",
        help="Start a run with these settings. It trains in the background: leave the page, reload it "
        "or open a second tab, and it is still here.",
    )
    if clicked and config is not None:
        try:
            run = lab.start(config, name)
        except (ValueError, OSError, RunsDirError) as e:
            st.error(f"Could not start the run: {e}", icon=":material/error:")
            return
        st.query_params[RUN_PARAM] = run.run_id
        st.session_state[NOTES_KEY] = []
        st.session_state[FILLED_KEY] = None
        st.toast(f"Started {_plain(run.status().name)}", icon=":material/play_arrow:")
    count = f"{count_parameters(config):,}" if config else "–"
    preset = matching_preset(config) if config else None
    same = f", exactly the *{preset.title}* preset" if preset else ""
    st.caption(f"**{count}** trainable parameters{same}. Settings below; the URL keeps them for sharing.")


def _plain(text: str) -> str:
    """Text from a URL or a run name, shown literally: no links, emphasis or icons made of it."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)
