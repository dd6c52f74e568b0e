"""Pages (AppTest) over hostile run folders and names: every page draws, every user string is plain text."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rnnlab.store import RunStore
from tests.test_hostile_files import hostile_folders, saved_run

APP = str(Path(__file__).resolve().parents[1] / "router.py")
PAGES = ["home", "train", "runs", "inside", "evaluate", "draw"]
NAMES = ["![a](http://host/x.png)", "[Session expired: log in again](http://host)"]
REFLECTED = "x` ![r](http://host/a.png)`"
CODE_SPAN = re.compile(r"`[^`]*`")
PLAIN_VALUES = {
    "selectbox": ("options:", "raw_value:"),
    "multiselect": ("options:", "raw_values:"),
    "text_input": ("default:", "value:"),
}
LIVE_MARKDOWN = re.compile(r"(?<!\\)\]\((?:http|/)")  # ](http… not escaped: a link or an image


def open_page(page: str, **params: str | list[str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, (page, at.exception)
    return at


def rendered_markdown(at: AppTest) -> list[str]:
    """The text of every element but tables and charts (never markdown), code spans removed."""

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    texts = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or node.type in ("arrow_data_frame", "dataframe", "plotly_chart"):
            continue
        lines = str(proto).replace('\\"', '"').splitlines()
        if node.type in PLAIN_VALUES:  # the options of a select box and an input's text are never markdown
            lines = [line for line in lines if not line.startswith(PLAIN_VALUES[node.type])]
        texts.append(CODE_SPAN.sub("", "\n".join(lines)))
    return texts


def live_links(at: AppTest) -> list[str]:
    return [text[:200] for text in rendered_markdown(at) if LIVE_MARKDOWN.search(text)]


def test_every_page_draws_beside_hostile_run_folders(app_runs_dir, tmp_path) -> None:
    store = RunStore(app_runs_dir)
    saved_run(store, elapsed_s=1e300)
    outside = tmp_path / "secret.json"
    outside.write_text('{"name": "SECRET"}')
    hostile_folders(store, outside)
    for page in PAGES:
        at = open_page(page)
        assert not any("SECRET" in text for text in rendered_markdown(at)), page
    table = next(d for d in open_page("runs").dataframe if d.key == "runs_table").value
    assert (table["state"] == "broken").sum() == 7


def test_run_names_and_url_ids_are_shown_as_plain_text(app_runs_dir) -> None:
    store = RunStore(app_runs_dir)
    ids = [saved_run(store) for _ in NAMES]
    for run_id, name in zip(ids, NAMES, strict=True):
        store.rename(run_id, name)
    for page in PAGES:
        assert not live_links(open_page(page)), page
        assert not live_links(open_page(page, run=REFLECTED)), page
    at = open_page("runs", run=ids)  # both selected: the actions header names the managed run
    assert not live_links(at)
    at.button(key="runs_delete").click().run()
    assert not live_links(at)
    at.button(key="runs_delete_confirm").click().run()
    flash = [text for text in rendered_markdown(at) if "Deleted" in text]
    assert flash and not live_links(at)


def test_the_probe_sees_a_live_link() -> None:
    """The check above would catch a name left unescaped (it reads the markdown the browser gets)."""
    assert LIVE_MARKDOWN.search('body: "Deleted **![a](http://host/x.png)**."')
    assert not LIVE_MARKDOWN.search(r'body: "Deleted **\\!\\[a\\]\\(http\\://host/x\\.png\\)**."')
