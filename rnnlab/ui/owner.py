"""Who is looking: the owner id of this browser session (rnnlab/ownership.py has the model)."""

from __future__ import annotations

import secrets

import streamlit as st

from rnnlab.ownership import OWNER_KEY, admins_from_env, browser_owner, may_manage, user_owner
from rnnlab.store import RunSummary

SESSION_OWNER_KEY = "owner_session_token"
BROWSER_COOKIE = "_streamlit_xsrf"  # set once per browser by the server (XSRF protection is on)
NOT_YOURS = (
    "Started in another browser or session: only whoever started it (or an admin) may stop, "
    "rename, continue or delete it. You can watch, compare, evaluate and export it."
)


def viewer() -> str:
    """The signed-in user where sign-in is configured, else this browser, else this session."""
    try:
        if st.user.is_logged_in and st.user.email:
            return user_owner(str(st.user.email))
    except (AttributeError, KeyError, RuntimeError):  # no authentication configured
        pass
    cookie = st.context.cookies.get(BROWSER_COOKIE)
    if isinstance(cookie, bytes):
        cookie = cookie.decode("utf-8", "replace")
    if isinstance(cookie, str) and cookie:
        return browser_owner(_xsrf_token(cookie))
    if SESSION_OWNER_KEY not in st.session_state:
        st.session_state[SESSION_OWNER_KEY] = f"session:{secrets.token_hex(8)}"
    return st.session_state[SESSION_OWNER_KEY]


def may_change(summary: RunSummary) -> bool:
    """Whether this viewer may stop, rename, continue or delete the run."""
    return may_manage(summary.status.get(OWNER_KEY), viewer(), admins_from_env())


def _xsrf_token(cookie: str) -> str:
    """The browser's XSRF token inside the cookie: version 2 cookies ("2|mask|masked|time") carry
    it XOR-masked with a mask that changes whenever the cookie is written again, so only the
    unmasked token is the same in every tab and after every reload."""
    parts = cookie.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return cookie
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return cookie
    if not mask:
        return cookie
    return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex()
