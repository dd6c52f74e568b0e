"""Browser fixtures: a real `streamlit run app.py` on a free port, driven by Playwright in Chromium."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class AppServer:
    url: str
    runs_dir: Path
    data_dir: Path
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(
    runs_dir: Path,
    data_dir: Path,
    log: Path,
    timeout: float = 90.0,
    torch_threads: int | None = 1,
    script: str = "app.py",
) -> Iterator[AppServer]:
    """Start the app as a user would (streamlit run app.py) with its own runs and data folders.

    `script` "router.py" serves the pages without app.py's routes (no live feed).

    `torch_threads` (OMP_NUM_THREADS and the app's RNNLAB_TORCH_THREADS) defaults to 1 for tests:
    the browser, the server and pytest share the cores, and OpenMP workers that spin between ops
    made tiny runs 10-50x slower on a busy machine. None keeps the app's own policy, as benchmarks
    of the app as shipped need.
    """
    port = free_port()
    env = {
        **os.environ,
        "RNNLAB_RUNS_DIR": str(runs_dir),
        "RNNLAB_DATA_DIR": str(data_dir),
        "RNNLAB_OFFLINE": "1",
    }
    if torch_threads is not None:
        env["OMP_NUM_THREADS"] = env["RNNLAB_TORCH_THREADS"] = str(torch_threads)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{log.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not answer within {timeout:g} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield AppServer(url, runs_dir, data_dir, process, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def app_server(tmp_path: Path, tiny_data_dir: Path) -> Iterator[AppServer]:
    """A fresh app per test over an empty runs dir and the tiny datasets."""
    runs = tmp_path / "runs"
    runs.mkdir()
    with serve_app(runs, tiny_data_dir, tmp_path / "streamlit.log") as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set $CHROMIUM)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_tab(browser, request) -> Iterator[Callable[..., Page]]:
    """Opens browser tabs, each in its own context (its own Streamlit session) unless `beside` names a
    tab whose context it shares. On failure each tab's screenshot and main-area text go to
    test-artifacts/<test name>-<n>.png/.txt, so a failure in CI shows what every tab showed."""
    tabs: list[Page] = []
    contexts = []

    def open_tab(beside: Page | None = None) -> Page:
        if beside is None:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(30_000)
            contexts.append(context)
        else:
            context = beside.context
        tabs.append(context.new_page())
        return tabs[-1]

    yield open_tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for n, tab in enumerate(tabs, start=1):
            stem = request.node.name if len(tabs) == 1 else f"{request.node.name}-{n}"
            with contextlib.suppress(Exception):
                tab.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
                main = tab.get_by_test_id("stMain").inner_text(timeout=5_000)
                (ARTIFACTS / f"{stem}.txt").write_text(f"{tab.url}\n\n{main}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_tab) -> Page:
    """A new browser tab (see open_tab for what a failure leaves behind)."""
    return open_tab()


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished its current script run (no 'Running...' status widget)."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
