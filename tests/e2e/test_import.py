"""Importing a run zip in the browser: a good one appears in the table, a hostile one is refused in words."""

from __future__ import annotations

import io
import pickle
import zipfile

from playwright.sync_api import expect

from rnnlab.bundle import export_bundle
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from tests.e2e.conftest import AppServer, wait_for_app

TINY = RunConfig(hidden_size=16, lr=1e-2, batch_size=32, epochs=1, eval_every=0, train_subset=64)


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def upload(page, name: str, data: bytes) -> None:
    page.get_by_text("Import a run").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        {"name": name, "mimeType": "application/zip", "buffer": data}
    )
    page.get_by_role("button", name="Import").filter(has_text="Import").last.click()
    wait_for_app(page)


def test_import_a_run_and_refuse_a_hostile_zip(app_server: AppServer, page, tmp_path) -> None:
    source = Lab(runs_dir=tmp_path / "elsewhere", data_dir=app_server.data_dir)
    run = source.start(TINY, name="from another machine")
    assert run.join(60) and run.status().state == "finished"
    good = export_bundle(source.store, run.run_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", RunConfig().to_json())
        archive.writestr("model.pt", pickle.dumps({"model": Exploit()}))

    page.goto(app_server.url)
    expect(page.get_by_text("Where to go")).to_be_visible(timeout=60_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible(timeout=60_000)

    upload(page, "evil.zip", buffer.getvalue())
    expect(page.get_by_text("Not imported: model.pt is not a loadable rnnlab checkpoint")).to_be_visible(
        timeout=30_000
    )
    assert not any(app_server.runs_dir.iterdir()), "a refused zip leaves nothing behind"

    page.reload()
    wait_for_app(page)
    upload(page, "run.zip", good)
    expect(page.get_by_text("Imported from another machine (imported).")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    assert len(list(app_server.runs_dir.iterdir())) == 1
