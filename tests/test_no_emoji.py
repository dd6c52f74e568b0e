"""What the app shows renders everywhere: no emoji (Chromium without an emoji font draws empty boxes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rnnlab.run_state import RunState
from rnnlab.ui.format import state_badge

ROOT = Path(__file__).resolve().parents[1]
SHOWN = [ROOT / "router.py", *sorted((ROOT / "app_pages").glob("*.py")), *sorted(ROOT.glob("rnnlab/**/*.py"))]
# Pictographs, dingbats and symbols that fonts without colour emoji lack, and the emoji variation selector.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u23e9-\u23fa\ufe0f]")


def strings(path: Path) -> list[str]:
    """Every string literal of a module: what its pages could show."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = (node for node in ast.walk(tree) if isinstance(node, ast.Constant))
    return [node.value for node in constants if isinstance(node.value, str)]


@pytest.mark.parametrize("path", SHOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_emoji_in_any_text_the_app_can_show(path: Path):
    found = [s for s in strings(path) if EMOJI.search(s)]
    assert not found, f"{path.relative_to(ROOT)} shows emoji: {found[:3]}"


@pytest.mark.parametrize("state", [*RunState, "broken"])
def test_every_state_has_a_material_icon_and_its_word(state: str):
    badge = state_badge(state)
    assert re.fullmatch(rf":\w+\[:material/\w+: {state}\]", badge), badge
