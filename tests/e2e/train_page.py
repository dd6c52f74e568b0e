"""The Train page as the browser tests drive it: its buttons, its progress line, its number fields."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.e2e.conftest import wait_for_app


def button(page: Page, label: str):
    """A button by its words; its accessible name starts with the icon's ligature (e.g. 'pause Pause')."""
    return page.get_by_test_id("stMain").get_by_role("button", name=re.compile(rf"(^|\s){label}$"))


def progress(page: Page):
    """The run panel's progress line, e.g. 'play_circle running · epoch 1 of 6 · step 39 of 192' (the first
    word is a Material icon's name, which its font draws as the icon)."""
    return page.get_by_test_id("stMain").get_by_test_id("stProgress")


def set_number(page: Page, label: str, value: int, param: str) -> None:
    """Type into a number input and commit it (Enter), as a person does; done when the URL shows it."""
    field = page.get_by_test_id("stMain").get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_url(re.compile(rf"[?&]{param}={value}(&|$)"))  # the rerun ran and synced the URL
    wait_for_app(page)
