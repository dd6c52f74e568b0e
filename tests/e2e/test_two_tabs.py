"""Two browsers steer one run: each sees what the other did; only the owner's browser may stop it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, wait_for_app
from tests.e2e.train_page import button, progress, set_number

LINK = "/train?batch_size=16&log_every=2&eval_every=0&lr=0.01&hidden_size=16"


def test_pause_in_one_tab_resume_in_another_stop_in_the_first(app_server: AppServer, open_tab) -> None:
    first, second = open_tab(), open_tab()  # each its own session
    first.goto(app_server.url + LINK)
    expect(first.get_by_role("heading", name="Train", exact=True)).to_be_visible(timeout=60_000)
    wait_for_app(first)
    set_number(first, "Epochs", 500, "epochs")
    button(first, "Start training").click()
    expect(progress(first)).to_contain_text("running", timeout=60_000)
    run_id = re.search(r"[?&]run=([\w-]+)", first.url).group(1)

    second.goto(f"{app_server.url}/train?run={run_id}")
    expect(progress(second)).to_contain_text("running", timeout=60_000)
    expect(button(second, "Pause")).to_be_enabled(timeout=60_000)
    button(second, "Pause").click()
    expect(progress(second)).to_contain_text("paused", timeout=30_000)
    expect(progress(first)).to_contain_text("paused", timeout=30_000)  # the other tab follows by itself
    step = re.search(r"step ([\d,]+)", progress(first).inner_text()).group(1)
    first.wait_for_timeout(1500)
    expect(progress(first)).to_contain_text(f"step {step} ")  # paused means paused for everyone

    button(first, "Resume").click()
    expect(progress(first)).to_contain_text("running", timeout=30_000)
    expect(progress(second)).to_contain_text("running", timeout=30_000)
    expect(progress(second)).not_to_contain_text(f"step {step} ", timeout=30_000)  # it trains again

    # Another browser may pause and resume, but only the run's owner stops it (rnnlab/ownership.py);
    # a second tab of the owner's own browser is the same owner.
    expect(button(second, "Stop")).to_be_disabled()
    same_browser = open_tab(beside=first)
    same_browser.goto(f"{app_server.url}/train?run={run_id}")
    expect(progress(same_browser)).to_contain_text("running", timeout=60_000)
    expect(button(same_browser, "Stop")).to_be_enabled(timeout=30_000)
    button(same_browser, "Stop").click()
    expect(progress(first)).to_contain_text("stopped", timeout=30_000)
    expect(progress(second)).to_contain_text("stopped", timeout=30_000)
    expect(button(first, r"Continue for \d+ more epochs")).to_be_visible()  # a stopped run can go on
