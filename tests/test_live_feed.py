"""The live feed the Train page's panel polls: what it sends, what it holds back, how it refuses."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.metrics import COLUMNS
from rnnlab.ui import live_feed
from tests.test_page_train import SMALL, fabricated_run, points, step_rows


@pytest.fixture
def finished(lab: Lab) -> str:
    run = lab.start(RunConfig(**{**SMALL, "epochs": 2}))
    assert run.join(60) and run.status().state == "finished"
    return run.run_id


def request(run_id: str, query: str = "") -> Request:
    return Request(
        {"type": "http", "method": "GET", "path_params": {"run_id": run_id}, "query_string": query.encode()}
    )


def endpoints(lab: Lab | None):
    feed, plotly_js = live_feed.routes(lambda: lab)
    assert feed.path == live_feed.FEED_PATH and plotly_js.path == live_feed.PLOTLY_PATH
    return feed.endpoint, plotly_js.endpoint


def test_the_payload_carries_progress_figures_and_every_chart_from_the_run(lab, finished):
    news = json.loads(live_feed.payload(lab, finished, 0.6))
    assert news["state"] == "finished" and not news["live"] and news["progress"] == 1.0
    assert news["line"].startswith("epoch 2 of 2") and news["icon"] == ["check_circle", "green"]
    assert dict(news["cells"])["Epoch"] == "2 / 2" and not news["error"]
    titles = {name: chart["figure"]["layout"]["title"]["text"] for name, chart in news["charts"].items()}
    assert titles == {"loss": "Training loss", "accuracy": "Accuracy", "lr": "Learning rate"}
    raw = news["charts"]["loss"]["figure"]["data"][0]
    assert points(raw["x"]) == lab.metrics(finished).query("kind == 'step'")["step"].tolist()


def test_a_chart_the_panel_already_shows_is_not_sent_again(lab, finished):
    first = json.loads(live_feed.payload(lab, finished, 0.6))
    have = {name: chart["revision"] for name, chart in first["charts"].items()}
    again = json.loads(live_feed.payload(lab, finished, 0.6, have))
    assert {name: chart["revision"] for name, chart in again["charts"].items()} == have
    assert all(chart["figure"] is None for chart in again["charts"].values())
    smoother = json.loads(live_feed.payload(lab, finished, 0.9, have))  # another smoothing: new charts
    assert smoother["charts"]["loss"]["figure"] is not None


def test_the_route_answers_json_and_refuses_what_it_cannot_serve(lab, finished):
    feed, plotly_js = endpoints(lab)
    answer = feed(request(finished, "smoothing=0.3&have=loss:x,junk"))
    assert answer.status_code == 200 and answer.media_type == "application/json"
    assert json.loads(answer.body)["charts"]["loss"]["figure"] is not None
    assert feed(request(finished, "smoothing=lots")).status_code == 400
    missing = feed(request("20990101-000000-mnist-lstm-0000"))
    assert missing.status_code == 404 and b"20990101-000000-mnist-lstm-0000" in missing.body
    assert endpoints(None)[0](request(finished)).status_code == 503  # before any page made the Lab
    script = plotly_js(request(finished))
    assert script.status_code == 200 and live_feed.PLOTLY_JS.stat().st_size > 1_000_000


def test_each_chart_takes_new_rows_by_its_own_clock(lab, monkeypatch):
    """A chart of under two rows takes the next at once; then the learning rate waits REDRAW_EVERY_S."""
    status = {"state": "stopped", "epoch": 1, "step": 10, "total_steps": 100, "lr": 0.001}
    run_id = fabricated_run(lab, step_rows(10, 10, 0.001), status)
    clock = [1000.0]
    monkeypatch.setattr(live_feed.time, "monotonic", lambda: clock[0])

    def revisions() -> dict[str, str]:
        news = json.loads(live_feed.payload(lab, run_id, 0.6))
        return {name: chart["revision"] for name, chart in news["charts"].items()}

    def log(step: int) -> None:
        lab.store.append_metrics(run_id, step_rows(step, step, 0.001), COLUMNS)

    first = revisions()
    assert revisions() == first  # nothing moved: nothing rebuilt
    log(20)
    second = revisions()
    assert second["loss"] != first["loss"] and second["lr"] != first["lr"]  # one row drew no line yet
    clock[0] += 1
    log(30)
    third = revisions()
    assert third["loss"] != second["loss"] and third["lr"] == second["lr"]  # the rate waits its turn
    assert third["accuracy"] == first["accuracy"]  # no test row arrived
    clock[0] += live_feed.REDRAW_EVERY_S["lr"]
    assert revisions()["lr"] != third["lr"]
