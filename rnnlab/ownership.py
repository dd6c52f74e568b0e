"""Whose run is whose on a shared server: owners, admins, and who may change a run.

A run started from the app records its owner in status.json: the signed-in user (`user:<email>`)
where the server has Streamlit's authentication configured, else the browser that started it
(`browser:<digest>`, from the server's own XSRF cookie, hashed, so it holds across tabs and
reloads of that browser), else the session (`session:<token>`, until the tab is closed or
reloaded). Only the owner, or an admin named in the server setting RNNLAB_ADMINS (a
comma-separated list of signed-in users' emails), may stop, rename, continue or delete it; anyone
may watch, pause, compare, evaluate or export it.

Runs with no owner are everyone's: runs from the CLI (started by the person at the machine, on
their own account), runs saved before owners existed, and imported runs of a server without
sign-in. So nothing saved before becomes unmanageable.
"""

from __future__ import annotations

import hashlib
import os

ADMINS_ENV = "RNNLAB_ADMINS"
OWNER_KEY = "owner"


def admins_from_env(env: dict[str, str] | None = None) -> frozenset[str]:
    """The emails of signed-in users who may manage every run (empty: no admins)."""
    text = (os.environ if env is None else env).get(ADMINS_ENV, "")
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def user_owner(email: str) -> str:
    return f"user:{email.strip().lower()}"


def browser_owner(cookie: str) -> str:
    """An owner id for a browser from a cookie the server set; only a digest is ever stored."""
    return f"browser:{hashlib.sha256(cookie.encode('utf-8', 'replace')).hexdigest()[:24]}"


def may_manage(owner: object, viewer: str, admins: frozenset[str]) -> bool:
    """Whether `viewer` may stop, rename, continue or delete a run owned by `owner`."""
    if not isinstance(owner, str) or not owner:
        return True  # the CLI's runs, and runs from before owners: everyone's
    if owner == viewer:
        return True
    return viewer.startswith("user:") and viewer.removeprefix("user:") in admins
