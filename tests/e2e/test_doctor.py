"""Browser test: the Doctor panel tells an under-trained run to train longer, and one click tries it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rnnlab.store import RunStore
from tests.e2e.conftest import ARTIFACTS, AppServer, wait_for_app
from tests.e2e.train_page import button, progress
from tests.fabricate import under_trained_run

FIX = "Try: train 4x longer (1 to 4 epochs)"


def test_one_click_fix_starts_a_linked_run_and_both_are_overlaid(page: Page, app_server: AppServer) -> None:
    """Train page: the diagnosis and its fix; the fix trains as a new run; Runs: the two overlaid."""
    store = RunStore(app_server.runs_dir)
    original = under_trained_run(store)
    page.goto(f"{app_server.url}/train?run={original}")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("Still learning when it stopped")).to_be_visible(timeout=60_000)
    expect(main.get_by_role("button", name=re.compile("lower learning rate"))).to_have_count(0)
    button(page, re.escape(FIX)).click()
    page.wait_for_url(re.compile(r"[?&]run=(?!" + original + ")"))
    child = next(s.run_id for s in store.list_runs() if s.status.get("fix_of") == original)
    assert store.load_config(child).epochs == 4
    expect(progress(page)).to_contain_text("finished", timeout=90_000)
    expect(main.get_by_text("This run tries the fix")).to_contain_text(
        "train 4x longer (1 to 4 epochs) on short run", timeout=30_000
    )

    page.goto(f"{app_server.url}/runs?run={original}&run={child}")
    wait_for_app(page)
    doctor = main.get_by_text("Fixes tried")
    expect(doctor).to_be_visible(timeout=60_000)  # retried: the page may redraw as the fix's run ends
    # Compare overlays the pair, and the Doctor panel does too: two pairs of charts.
    expect(main.get_by_test_id("stPlotlyChart")).to_have_count(4, timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "doctor-runs-page.png"), full_page=True)
