"""The Train form's Start area: the reason it cannot start, Start itself, the run's name and its cost."""

from __future__ import annotations

import streamlit as st

from rnnlab.config import RunConfig
from rnnlab.cost import concerns, device_memory, estimate, measured_speed, rough_duration, size
from rnnlab.device import usable_device
from rnnlab.guard import Limits, check_cost, start_within_limits
from rnnlab.lab import Lab
from rnnlab.presets import matching_preset
from rnnlab.store import RunsDirError
from rnnlab.ui.format import plain
from rnnlab.ui.owner import viewer
from rnnlab.ui.widgets import RUN_PARAM

NAME_KEY = "train_name"
STARTED_KEY = "train_started"  # the name of the run just started: its toast, and an empty name field


def start_controls(lab: Lab, config: RunConfig | None, problem: str, sizes: tuple[int, int] | None) -> bool:
    """Start (disabled while the settings are invalid, with the reason), the name, and what it will cost.

    Returns True when a run was started (the caller reruns the page). The name field sits under the
    button: the button's tooltip opens above it, and must not cover the field the next run's name
    goes in.
    """
    started = st.session_state.pop(STARTED_KEY, None)
    if started is not None:
        st.session_state[NAME_KEY] = ""  # a name is for one run; the next gets its own
        st.toast(f"Started {plain(started)}", icon=":material/play_arrow:")
    if problem:
        st.error(f"These settings cannot train yet. {problem}.", icon=":material/block:")
    clicked = st.button(
        "Start training",
        key="train_start",
        type="primary",
        icon=":material/play_arrow:",
        disabled=config is None,
        width="stretch",
        help="Start a run with these settings; it keeps training if you leave or reload the page.",
    )
    name = st.text_input(
        "Run name (optional)",
        key=NAME_KEY,
        max_chars=80,
        placeholder="e.g. lstm baseline",
        help="A name to find this run by on the Runs page; empty names are made from the settings.",
    )
    if config is None:
        if clicked:  # the click came with a value the form cannot accept (typed, then Start at once)
            st.error("Not started: fix the setting named above first.", icon=":material/block:")
        return False
    if clicked:
        try:
            run = start_within_limits(lab, config, name, viewer(), Limits.from_env(), sizes)
        except (ValueError, OSError, RunsDirError) as e:
            st.error(f"Could not start the run: {plain(str(e))}", icon=":material/error:")
            return False
        st.query_params[RUN_PARAM] = run.run_id
        st.session_state[STARTED_KEY] = run.status().name
        return True
    _cost(lab, config, sizes)
    return False


def _cost(lab: Lab, config: RunConfig, sizes: tuple[int, int] | None) -> None:
    """Parameters, memory and time on this machine, and a warning for runs of hours or too much memory."""
    device = usable_device(config.device)
    with st.spinner("Measuring how fast this machine trains…"):
        speed = measured_speed(device.type, config.cell, lab.cpu_threads)
    found = estimate(config, speed, *(sizes or ()))
    preset = matching_preset(config)
    same = f", exactly the *{preset.title}* preset" if preset else ""
    where = "GPU" if device.type == "cuda" else device.type.upper()
    st.caption(
        f"**{found.parameters:,}** trainable parameters{same}. About **{rough_duration(found.epoch_s)}** "
        f"per epoch and **{rough_duration(found.total_s)}** in all on this {where}, and "
        f"{size(found.memory_bytes)} of memory. Settings below; the URL keeps them for sharing.",
        help="Estimated from a short measurement of this machine's speed (a run already training shares "
        "it, and slows both). The memory counts the weights, their gradients and the optimiser's state, "
        "what one batch keeps for the backward pass, and the dataset.",
    )
    memory = device_memory(device)
    try:
        check_cost(config, found, Limits.from_env(), memory)
    except ValueError as e:  # past this server's limits: Start will refuse it, say so now
        st.error(f"This server will not start it: {plain(str(e))}.", icon=":material/block:")
        return
    what = "the GPU" if device.type == "cuda" else "this machine's memory"
    for concern in concerns(config, found, memory, what):
        st.warning(concern, icon=":material/hourglass_bottom:")
