"""The Runs page's import: a run exported elsewhere (a zip) becomes a run here, checked first."""

from __future__ import annotations

import streamlit as st

from rnnlab.bundle import BundleError
from rnnlab.lab import Lab
from rnnlab.store import RunsDirError
from rnnlab.ui.format import plain
from rnnlab.ui.run_actions import FLASH_KEY


def import_run(lab: Lab) -> None:
    """An uploader for a zip from 'Download run (zip)'; the imported run opens like any other."""
    with st.expander("Import a run", icon=":material/upload_file:"):
        upload = st.file_uploader(
            "Run bundle (.zip)",
            type=["zip"],
            key="runs_import_file",
            help="A zip made by 'Download run (zip)' on this page, here or on another machine. Its config "
            "and weights are checked before anything is saved; it gets a new id here.",
        )
        clicked = st.button(
            "Import",
            key="runs_import_button",
            disabled=upload is None,
            icon=":material/upload:",
            help="Check the zip and add its run to this lab under a new id"
            if upload
            else "Choose a zip first",
        )
        if clicked:
            try:
                run_id = lab.import_bundle(upload.getvalue())
            except (BundleError, RunsDirError) as e:
                st.error(f"Not imported: {plain(str(e))}")
                return
            name = lab.summary(run_id).name
            st.session_state[FLASH_KEY] = ("success", f"Imported **{plain(name)}**.", None)
            st.rerun()
