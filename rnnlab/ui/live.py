"""The Train page's run panel: pick a run, steer it while it trains, watch it live, continue it."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from rnnlab.config import LIMITS, RunConfig
from rnnlab.lab import Lab
from rnnlab.models import count_parameters
from rnnlab.plots.training import accuracy_figure, loss_figure, lr_figure
from rnnlab.run_events import LrRecord, lr_record, run_events
from rnnlab.run_progress import epoch_text, shown_epoch, step_text
from rnnlab.run_status import RunStatus
from rnnlab.schedules import plan
from rnnlab.store import BrokenRun, RunNotFound, RunsDirError
from rnnlab.ui.doctor_view import doctor_panel
from rnnlab.ui.follow import follow_new_runs, remember_live, watch_for_new_runs
from rnnlab.ui.format import duration, percent, plain, state_badge
from rnnlab.ui.owner import NOT_YOURS, may_change
from rnnlab.ui.train_form import LABELS, fill_from_run
from rnnlab.ui.widgets import pick_run

REFRESH_S = 1.0
DOCTOR_REFRESH_S = 2.0
PICK_KEY = "train_run_pick"
SEEN_KEY = "train_run_seen"  # (state, epochs completed) the page was drawn for
FIGURES_KEY = "train_figures"  # (signature, figures): rebuilt only when the run moved
SMOOTHING_KEY = "train_smoothing"
CONTINUABLE = ("finished", "stopped", "interrupted")
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def run_panel(lab: Lab) -> None:
    """The run named by ?run= (else the newest): controls that fit its state, then its charts."""
    follow_new_runs(lab, PICK_KEY)
    summary = pick_run(
        lab,
        key=PICK_KEY,
        label="Run",
        unusable="has broken files: the Runs page says which and why",
        help="The run shown below. Live runs update about once a second.",
    )
    if summary is None:
        st.info(
            "No runs yet. Choose settings on the left (or a preset) and press **Start training**: "
            "the loss, accuracy and learning rate appear here as the network learns.",
            icon=":material/monitoring:",
        )
        watch_for_new_runs(lab)
        return
    try:
        status = lab.status(summary.run_id)
        config = lab.config(summary.run_id)
    except (RunNotFound, BrokenRun) as e:
        st.error(f"This run cannot be shown: {plain(str(e))}", icon=":material/error:")
        return
    st.session_state[SEEN_KEY] = (status.state, status.epoch)
    st.caption(_describe(config, status))
    live = not (status.done or status.state == "interrupted")
    with st.container():  # one element whatever the state, so the charts below keep their place
        if live:
            _live_controls(lab, status)
        else:
            _after_controls(lab, status, config)
    # The charts are a fragment for every state (ticking only while the run is live), so when a run
    # starts or ends its progress line and charts are replaced in place, never shown twice.
    st.fragment(_charts_panel, run_every=REFRESH_S if live else None)(lab, summary.run_id, live)
    st.markdown("#### Doctor", help="What went wrong in this run, from its own signals, and fixes to try.")
    st.fragment(doctor_panel, run_every=DOCTOR_REFRESH_S if live else None)(lab, summary.run_id, "train")
    if not live:
        watch_for_new_runs(lab)


def _live_controls(lab: Lab, status: RunStatus) -> None:
    """Pause / Resume / Stop and a live learning-rate change; the run applies them between steps."""
    run = lab.get(status.run_id)
    if run is None:  # listed as live on disk but trained by another process: nothing to steer here
        st.info("This run trains in another process; its charts update when it saves.")
        return
    # The notice keeps its slot in every state: were it inserted only while queued, the buttons
    # below would move, and the page would show the old ones beside the new until it redrew.
    notice = st.empty()
    if status.state == "queued":
        training = sum(
            1 for r in lab.live_runs() if r.run_id != status.run_id and r.status().state == "running"
        )
        text = (
            f"Waiting for a free training slot: {lab.max_concurrent} run(s) train at once here. It starts "
            "by itself when a running one ends; stop one to start this sooner."
            if training >= lab.max_concurrent
            else "Starting: a worker process is loading the data and building the network."
        )
        notice.info(text, icon=":material/hourglass_top:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        pause = st.button(
            "Pause",
            key="train_pause",
            icon=":material/pause:",
            disabled=status.state != "running",
            help="Hold training after the current step; the weights stay in memory.",
        )
        resume = st.button(
            "Resume",
            key="train_resume",
            icon=":material/play_arrow:",
            disabled=status.state != "paused",
            help="Carry on from the step where it paused.",
        )
        mine = may_change(lab.summary(status.run_id))
        stop = st.button(
            "Stop",
            key="train_stop",
            icon=":material/stop:",
            disabled=not mine,
            help="End the run now and save its weights; you can continue it later for more epochs."
            if mine
            else NOT_YOURS,
        )
        # No min/max here: the browser would refuse an out-of-range value without telling the
        # server, and Set would then apply the old one. The run checks the value and says why.
        new_lr = st.number_input(
            "Learning rate (live)",
            value=status.lr,
            step=1e-4,
            format="%g",
            key=f"train_live_lr_{status.run_id}",
            width=150,
            help="Change the learning rate of the running optimiser. The change shows as a step in the "
            "learning-rate chart; try lowering it when the loss stops falling. With a schedule, the rest "
            "of the schedule is scaled by the same ratio: it keeps its shape around the new rate.",
        )
        set_lr = st.button("Set", key="train_set_lr", help="Apply this learning rate from the next step.")
    if pause:
        run.pause()
        st.toast("Pausing after the current step…")
    if resume:
        run.resume()
    if stop and mine:
        run.stop()
        st.toast("Stopping; the weights at this step are saved.")
    if set_lr:
        try:
            run.set_lr(new_lr)
        except ValueError:
            low, high = LIMITS["lr"]
            st.error(
                f"Not set: a learning rate of {new_lr:g} is out of range; use {low:g} to {high:g}. The run "
                f"keeps {status.lr:g}.",
                icon=":material/block:",
            )
        else:
            st.toast(f"Learning rate set to {new_lr:g} from the next step")


def _after_controls(lab: Lab, status: RunStatus, config: RunConfig) -> None:
    """What a finished or failed run offers: its message, training again, and continuing it."""
    if status.state in ("diverged", "failed"):
        st.error(f"**This run {status.state}.** {status.message}", icon=":material/error:")
    elif status.message:
        st.info(status.message, icon=":material/info:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.button(
            "Train again with these settings",
            key="train_again",
            icon=":material/content_copy:",
            on_click=fill_from_run,
            args=(config, status.name, _lr_record(lab, status, config)),
            help="Copy this run's settings into the form, with the learning rate it started with (a "
            "rate set by hand while it trained is offered too). Change one thing and start: the same seed "
            "gives the same initial weights and data order, so the comparison is fair.",
        )
        if status.state not in CONTINUABLE or not lab.has_checkpoint(status.run_id):
            return
        if not may_change(lab.summary(status.run_id)):
            st.caption(NOT_YOURS)
            return
        extra = st.number_input(  # no min/max: the run checks, and says why (a browser would not)
            "More epochs",
            value=min(config.epochs, 10),
            key=f"train_more_{status.run_id}",
            width=130,
            help="How many epochs to add, from the saved checkpoint (weights and optimiser state).",
        )
        clicked = st.button(
            f"Continue for {extra} more epoch{'s' if extra != 1 else ''}",
            key="train_continue",
            icon=":material/fast_forward:",
            help="Train this run further from its checkpoint; its curves carry on where they stopped.",
        )
    if clicked:
        try:
            lab.continue_run(status.run_id, int(extra))
        except (ValueError, BrokenRun, RunNotFound, RunsDirError) as e:
            st.error(
                f"Cannot continue this run for {extra} more epochs: {plain(str(e))}", icon=":material/error:"
            )
        else:
            st.rerun()


def _lr_record(lab: Lab, status: RunStatus, config: RunConfig) -> LrRecord:
    try:
        frame = lab.metrics(status.run_id)
    except (RunNotFound, BrokenRun):  # the charts say why; the record falls back to the status
        frame = pd.DataFrame()
    return lr_record(config.lr, status.lr, frame)


def _charts_panel(lab: Lab, run_id: str, live: bool) -> None:
    """Progress and the three charts; a live run's are redrawn about once a second from snapshots.

    A new state or epoch redraws the whole page once: a new state brings new controls (Resume after
    Pause, Continue after finishing), and a new epoch the sidebar too, so the two never name
    different epochs for long.
    """
    try:
        status = lab.status(run_id)
    except (RunNotFound, BrokenRun):
        st.rerun(scope="app")
    if live:
        if (status.state, status.epoch) != st.session_state.get(SEEN_KEY):
            st.rerun(scope="app")
        remember_live(lab)  # runs started while this one is watched wait in the sidebar
    try:
        _charts(lab, status)
    except (RunNotFound, BrokenRun) as e:
        st.error(f"This run's metrics cannot be read: {plain(str(e))}", icon=":material/error:")


def _charts(lab: Lab, status: RunStatus) -> None:
    """Progress and the three charts: few elements, since a live page redraws them every second."""
    _progress(status)
    loss, accuracy, lr = _figures(lab, status, _smoothing())
    st.plotly_chart(loss, key="train_chart_loss", config=CHART_CONFIG)
    left, right = st.columns([3, 2])
    left.plotly_chart(accuracy, key="train_chart_accuracy", config=CHART_CONFIG)
    right.plotly_chart(lr, key="train_chart_lr", config=CHART_CONFIG)


def _smoothing() -> float:
    return st.slider(
        "Loss smoothing",
        min_value=0.0,
        max_value=0.99,
        value=0.6,
        step=0.01,
        key=SMOOTHING_KEY,
        width=320,
        help="Exponential moving average over the logged losses, as in TensorBoard: 0 shows the raw "
        "curve, 0.9 and above shows the trend. The raw curve stays faint behind it.",
    )


def _figures(lab: Lab, status: RunStatus, smoothing: float) -> tuple[go.Figure, go.Figure, go.Figure]:
    """The three charts, rebuilt only when the run moved or the smoothing changed: refreshes stay cheap."""
    signature = (status.run_id, status.step, status.epoch, status.state, smoothing)
    cached = st.session_state.get(FIGURES_KEY)
    if cached is not None and cached[0] == signature:
        return cached[1]
    frame = lab.metrics(status.run_id)  # a snapshot copy; the run keeps training meanwhile
    events = run_events(frame, status.state, status.step)
    config = lab.config(status.run_id)
    planned = (
        plan(config, status.total_steps // config.epochs)
        if config.schedule != "constant" and status.total_steps
        else None
    )
    figures = (
        loss_figure(frame, smoothing, uirevision=status.run_id, events=events),
        accuracy_figure(frame, uirevision=status.run_id, events=events),
        lr_figure(frame, uirevision=status.run_id, events=events, plan=planned),
    )
    st.session_state[FIGURES_KEY] = (signature, figures)
    return figures


def _progress(status: RunStatus) -> None:
    text = f"{state_badge(status.state)} · {epoch_text(status)} · {step_text(status)}"
    st.progress(status.progress, text=text)
    speed = f"{status.samples_per_s:,.0f}" if status.samples_per_s > 0 and not status.done else "–"
    cells = {
        "Epoch": f"{shown_epoch(status)} / {status.epochs}",
        "Step": f"{status.step:,}",
        "Samples/s": speed,
        "Elapsed": duration(status.elapsed_s),
        "ETA": duration(status.eta_s),
        "Best test": percent(status.best_test_acc),
    }
    # One markdown table, not a dozen elements: the browser redraws this every second.
    st.markdown(
        "| " + " | ".join(cells) + " |\n|" + "---|" * len(cells) + "\n| " + " | ".join(cells.values()) + " |"
    )


def _describe(config: RunConfig, status: RunStatus) -> str:
    """One line that says what this run is, under the run picker."""
    cell = LABELS["cell"][config.cell] + (f" ({config.nonlinearity})" if config.cell == "rnn" else "")
    shape = f"{config.hidden_size}×{config.num_layers}" + (" bidirectional" if config.bidirectional else "")
    lr = (
        f"lr {config.lr:g}"
        if config.schedule == "constant"
        else f"{config.schedule} schedule, peak lr {config.lr:g}"
    )
    if config.schedule == "constant" and math.isfinite(status.lr) and not math.isclose(status.lr, config.lr):
        lr = f"lr {config.lr:g} at the start, {status.lr:g} {'at the end' if status.done else 'now'}"
    parts = [
        f"{LABELS['dataset'][config.dataset]} by {config.order}",
        f"{cell} {shape}, readout {config.readout}",
        f"{LABELS['optimizer'][config.optimizer]} {lr}, batch {config.batch_size}",
        f"{count_parameters(config):,} parameters",
        f"seed {config.seed}",
    ]
    if status.device:
        parts.append(f"{status.device} {status.precision}".strip())
    return " · ".join(parts)
