"""The live feed: a run's progress and charts as JSON, which the Train page's panel polls over HTTP.

Why not a fragment that reruns every 2 s: on a small machine the browser shares the cores with the
run, and a rerun costs it far more than the numbers it shows. Streamlit re-renders the page's
elements, and a Plotly chart whose figure changed is mounted afresh (its element id comes from
its figure). The panel (rnnlab/ui/live_panel.js) instead asks this feed for what moved and
updates its charts in place with Plotly.react. The page reruns only when the run's state changes,
for the controls that fit the new state.

`payload` is also what the page embeds when it draws the panel, so the first paint needs no
request, and a server without the feed's routes (the router script run on its own, AppTest)
still shows every number: there the panel asks the page to rerun instead.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from rnnlab.lab import Lab
from rnnlab.plots.training import accuracy_figure, loss_figure, lr_figure
from rnnlab.run_events import run_events
from rnnlab.run_progress import epoch_text, shown_epoch, step_text
from rnnlab.run_status import RunStatus
from rnnlab.schedules import Plan, plan
from rnnlab.store import BrokenRun, RunNotFound
from rnnlab.ui.format import STATE_ICONS, duration, percent

FEED_PATH = "/rnnlab/live/{run_id}"
PLOTLY_PATH = "/rnnlab/plotly.min.js"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
POLL_S = 2.0  # how often a live panel asks for news
# A chart is rebuilt when a row of its own arrived, and while only new rows arrive no more often
# than this (a new state or event rebuilds all three at once; a chart of under two rows, at once).
REDRAW_EVERY_S = {"loss": 0.0, "accuracy": 4.0, "lr": 10.0}
CACHED_VIEWS = 32  # (run, smoothing) pairs whose built charts are kept


@dataclass(frozen=True)
class _Drawn:
    """A chart as last built: what it showed (`common`: run, state, events; `data`: its points),
    when, and its figure as JSON (built once, sent to every panel that lacks this revision)."""

    common: tuple
    data: int
    json: str
    built_at: float
    revision: str  # unique per build, so a panel can say which build it shows


_views: OrderedDict[tuple[str, float], dict[str, _Drawn]] = OrderedDict()
_views_lock = threading.Lock()
_builds = itertools.count(1)


def payload(lab: Lab, run_id: str, smoothing: float, have: Mapping[str, str] | None = None) -> str:
    """The run's state, progress line, figures table and every chart whose revision is not in
    `have` ({chart: revision} the panel already shows), as one JSON text.

    Raises RunNotFound or BrokenRun when the run cannot be read at all; unreadable metrics come
    back as an `error` beside the progress.
    """
    status = lab.status(run_id)
    head = {
        "run_id": run_id,
        "state": status.state,
        "live": status.live,
        "progress": status.progress,
        "line": f"{epoch_text(status)} · {step_text(status)}",
        "icon": STATE_ICONS.get(status.state, ("", "gray")),
        "cells": _cells(status),
        "error": "",
    }
    charts: dict[str, str] = {}
    try:
        drawn = _charts(lab, status, smoothing)
    except (RunNotFound, BrokenRun) as e:
        head["error"] = f"This run's metrics cannot be read: {e}"
    else:
        have = have or {}
        for name, chart in drawn.items():
            same = have.get(name) == chart.revision
            charts[name] = f'{{"revision": "{chart.revision}", "figure": {"null" if same else chart.json}}}'
    # Each figure is kept as JSON text: spliced in, not parsed and encoded again at every poll.
    body = ", ".join(f'"{name}": {text}' for name, text in charts.items())
    return json.dumps(head)[:-1] + f', "charts": {{{body}}}}}'


def _cells(status: RunStatus) -> list[list[str]]:
    speed = f"{status.samples_per_s:,.0f}" if status.samples_per_s > 0 and not status.done else "–"
    return [
        ["Epoch", f"{shown_epoch(status)} / {status.epochs}"],
        ["Step", f"{status.step:,}"],
        ["Samples/s", speed],
        ["Elapsed", duration(status.elapsed_s)],
        ["ETA", duration(status.eta_s)],
        ["Best test", percent(status.best_test_acc)],
    ]


def _charts(lab: Lab, status: RunStatus, smoothing: float) -> dict[str, _Drawn]:
    """The three charts, each rebuilt only when what it draws moved (see REDRAW_EVERY_S); shared by
    every panel and tab that watches this run with this smoothing."""
    frame = lab.metrics(status.run_id)  # a snapshot copy; the run keeps training meanwhile
    events = run_events(frame, status.state, status.step)
    config = lab.config(status.run_id)
    common = (status.run_id, status.state, len(events))
    kinds = frame["kind"] if "kind" in frame else pd.Series(dtype=str)
    logged, tested = int((kinds == "step").sum()), int(kinds.isin(("eval", "epoch")).sum())
    moved = {"loss": logged, "accuracy": tested, "lr": logged}  # the rows each chart draws
    shared = {"uirevision": status.run_id, "events": events}
    schedule = _plan(config, status)
    builders: dict[str, Callable[[], plotly.graph_objects.Figure]] = {
        "loss": lambda: loss_figure(frame, smoothing, **shared),
        "accuracy": lambda: accuracy_figure(frame, **shared),
        "lr": lambda: lr_figure(frame, **shared, plan=schedule),
    }
    key = (status.run_id, smoothing)
    with _views_lock:
        view = _views.setdefault(key, {})
        _views.move_to_end(key)
        while len(_views) > CACHED_VIEWS:
            _views.popitem(last=False)
        now = time.monotonic()
        for name, data in moved.items():
            drawn = view.get(name)
            current = drawn is not None and drawn.common == common
            # Until a chart has two rows it draws no line: it takes each new row at once. After
            # that, no more often than REDRAW_EVERY_S.
            held = current and drawn.data >= 2 and now - drawn.built_at < REDRAW_EVERY_S[name]
            if not (current and drawn.data == data) and not held:
                view[name] = _Drawn(common, data, builders[name]().to_json(), now, str(next(_builds)))
        return dict(view)


def _plan(config, status: RunStatus) -> Plan | None:
    """The planned learning rate of every step, for any schedule but constant."""
    if config.schedule == "constant" or not status.total_steps:
        return None
    return plan(config, status.total_steps // config.epochs)


def routes(lab: Callable[[], Lab | None]) -> list[Route]:
    """The feed and Plotly's own script (the panel draws with it), for `st.App(routes=...)`.
    `lab` returns the server's Lab, or None before a page has created it."""

    def feed(request: Request) -> Response:
        current = lab()
        if current is None:
            return Response("no lab yet: open a page of the app first", status_code=503)
        try:
            smoothing = min(max(float(request.query_params.get("smoothing", "0.6")), 0.0), 0.99)
        except ValueError:
            return Response("smoothing must be a number", status_code=400)
        have = dict(
            part.split(":", 1) for part in request.query_params.get("have", "").split(",") if ":" in part
        )
        try:
            text = payload(current, request.path_params["run_id"], smoothing, have)
        except (RunNotFound, BrokenRun) as e:
            return Response(str(e), status_code=404)
        return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})

    def plotly_js(request: Request) -> Response:
        return FileResponse(
            PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    return [Route(FEED_PATH, feed), Route(PLOTLY_PATH, plotly_js)]
