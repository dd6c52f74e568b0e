"""Cost guard and ownership on a shared server: what one visitor may start, and whose run is whose."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rnnlab.config import RunConfig
from rnnlab.cost import Speed, estimate
from rnnlab.guard import LimitExceeded, Limits, check_cost, check_queue, start_within_limits
from rnnlab.ownership import admins_from_env, browser_owner, may_manage, user_owner
from rnnlab.store import RunStore
from rnnlab.ui.owner import NOT_YOURS

APP = str(Path(__file__).resolve().parents[1] / "router.py")
SPEED = Speed("cpu", "lstm", step_s=1e-4, batch_s=1e-3, flops=5e10)  # a fixed machine: no timing here
LIMITS = Limits(max_memory_bytes=8 * 2**30, max_hours=12, max_active=8, max_active_per_owner=3)
# The link: 1024 x 4 bidirectional, pixel order, batches of 4096 (its first step asked 13 GB).
HUGE = RunConfig(hidden_size=1024, num_layers=4, bidirectional=True, order="pixels", batch_size=4096)
TINY = RunConfig(hidden_size=8, batch_size=64, epochs=1, train_subset=128, eval_every=0)


def test_a_run_past_the_memory_limit_is_refused_with_what_to_change() -> None:
    with pytest.raises(LimitExceeded, match=r"of memory and this server allows one run .* smaller batch"):
        check_cost(HUGE, estimate(HUGE, SPEED), LIMITS, memory_bytes=128 * 2**30)
    check_cost(TINY, estimate(TINY, SPEED), LIMITS, memory_bytes=128 * 2**30)  # a small run passes


def test_a_run_past_the_time_limit_is_refused() -> None:
    slow = RunConfig(order="pixels", epochs=1000)
    found = estimate(slow, SPEED)
    assert found.memory_bytes < LIMITS.max_memory_bytes
    with pytest.raises(LimitExceeded, match=r"would take about .* fewer epochs"):
        check_cost(slow, found, LIMITS, memory_bytes=0)


def test_queue_caps_per_server_and_per_owner() -> None:
    mine = [
        {"state": "running", "owner": "a"},
        {"state": "queued", "owner": "a"},
        {"state": "finished", "owner": "a"},
    ]
    check_queue(mine, "a", LIMITS)  # two active of three allowed
    with pytest.raises(LimitExceeded, match="you already have 3 runs"):
        check_queue([*mine, {"state": "paused", "owner": "a"}], "a", LIMITS)
    crowd = [{"state": "queued", "owner": f"o{i}"} for i in range(8)]
    with pytest.raises(LimitExceeded, match="this server already has 8 runs"):
        check_queue(crowd, "b", LIMITS)


def test_limits_come_from_the_environment_and_bad_values_name_the_setting() -> None:
    limits = Limits.from_env({"RNNLAB_MAX_RUN_GB": "2", "RNNLAB_MAX_ACTIVE_PER_OWNER": "1"})
    assert (limits.max_memory_bytes, limits.max_active_per_owner, limits.max_active) == (2 * 10**9, 1, 8)
    for bad in ("lots", "-1", "0", "1e400"):
        with pytest.raises(ValueError, match="RNNLAB_MAX_ACTIVE_RUNS"):
            Limits.from_env({"RNNLAB_MAX_ACTIVE_RUNS": bad})


def test_thirty_quick_starts_from_one_owner_queue_three(lab) -> None:
    long = TINY.replace(epochs=1000)  # still training (or queued) when the thirtieth click comes
    started, refused = [], []
    for _ in range(30):
        try:
            started.append(start_within_limits(lab, long, "", "session:a", LIMITS))
        except LimitExceeded as e:
            refused.append(str(e))
    assert len(started) == 3 and len(refused) == 27 and "you already have 3" in refused[0]
    assert {lab.store.summary(run.run_id).status["owner"] for run in started} == {"session:a"}
    other = start_within_limits(lab, long, "", "session:b", LIMITS)  # another owner still may
    for run in [*started, other]:
        run.stop()


def test_who_may_change_a_run() -> None:
    admins = admins_from_env({"RNNLAB_ADMINS": " Teacher@School.org , "})
    assert admins == frozenset({"teacher@school.org"})
    assert may_manage("session:a", "session:a", admins)
    assert not may_manage("session:a", "session:b", admins)
    assert not may_manage(user_owner("x@y"), browser_owner("cookie"), admins)
    assert may_manage(user_owner("x@y"), user_owner("teacher@school.org"), admins), "an admin may"
    assert may_manage("", "session:b", admins) and may_manage(None, "session:b", admins), "no owner: anyone"
    assert browser_owner("secret-cookie").startswith("browser:") and "secret" not in browser_owner(
        "secret-cookie"
    )


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def test_the_runs_page_offers_changes_only_to_the_owner(app_runs_dir) -> None:
    store = RunStore(app_runs_dir)
    theirs = store.create(TINY, name="theirs", tags={"owner": "session:someone-else"})
    everyones = store.create(TINY, name="from the CLI")
    for run_id in (theirs, everyones):
        store.write_status(run_id, {"state": "stopped"})
    at = open_page("runs", run=theirs)
    assert NOT_YOURS in " ".join(c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "runs_delete"]
    assert [t.key for t in at.text_input] == ["runs_search"], "no rename field"
    at = open_page("runs", run=everyones)
    assert [b for b in at.button if b.key == "runs_delete"]


def test_the_train_page_refuses_a_run_past_the_limits_before_and_at_start(app_runs_dir, monkeypatch) -> None:
    monkeypatch.setenv("RNNLAB_MAX_RUN_GB", "4")
    at = open_page(
        "train", hidden_size="1024", num_layers="4", bidirectional="true", order="pixels", batch_size="4096"
    )
    assert "This server will not start it" in " ".join(e.value for e in at.error)
    at.button(key="train_start").click().run()
    assert not at.exception and "Could not start the run" in " ".join(e.value for e in at.error)
    assert not RunStore(app_runs_dir).list_runs()
