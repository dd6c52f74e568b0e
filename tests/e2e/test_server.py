"""The server's settings as served: no usage stats, XSRF on, uploads no larger than a genuine run, no files
from runs/ or data/."""

from __future__ import annotations

import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from rnnlab.bundle import max_bundle_bytes
from rnnlab.config import RunConfig
from rnnlab.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def test_config_toml_locks_the_server_down() -> None:
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["browser"]["gatherUsageStats"] is False
    assert settings["server"]["enableXsrfProtection"] is True
    assert settings["server"]["enableStaticServing"] is False
    # as large as the largest genuine run's zip (its weights and Adam state), and no larger
    largest = RunConfig(hidden_size=1024, num_layers=4, bidirectional=True, readout="all", order="pixels")
    upload = settings["server"]["maxUploadSize"] * 2**20
    assert max_bundle_bytes(largest) <= upload < 1.1 * max_bundle_bytes(largest)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


HOSTILE_PATHS = [
    "/runs/{run_id}/config.json",
    "/app/static/../runs/{run_id}/config.json",
    "/app/static/runs/{run_id}/config.json",
    "/static/../../runs/{run_id}/config.json",
    "/media/../runs/{run_id}/config.json",
    "/{run_id}/config.json",
    "/data/MNIST/raw/train-labels-idx1-ubyte",
    "/MNIST/raw/train-labels-idx1-ubyte",
]


def test_runs_and_data_are_never_served_as_files(app_server) -> None:
    store = RunStore(app_server.runs_dir)
    run_id = store.create(RunConfig(hidden_size=77, seed=424242))
    secret = b"424242"
    assert secret in (store.path(run_id) / "config.json").read_bytes()
    for path in HOSTILE_PATHS:
        status, body = fetch(app_server.url + path.format(run_id=run_id))
        assert secret not in body, f"{path} served a run file"
        assert b"\x00\x00\x08\x01" not in body, f"{path} served an IDX file"
        assert status in (200, 400, 403, 404), path  # the app's own page or a refusal, never the file


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app(app_server, page) -> None:
    """The very first request to a fresh server may name any page: it gets the router's frame and the page."""
    from playwright.sync_api import expect

    from tests.e2e.conftest import wait_for_app

    for path, heading in (("/runs", "Runs"), ("/evaluate", "Evaluate"), ("/inside", "Inside the RNN")):
        page.goto(app_server.url + path)
        wait_for_app(page)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
        nav = page.get_by_test_id("stSidebarNav")
        for title in ("Home", "Train", "Runs", "Inside", "Evaluate", "Draw"):
            expect(nav.get_by_role("link", name=title, exact=True)).to_be_visible()
