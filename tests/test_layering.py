"""The layers of the house hold: core -> plots -> ui -> pages, never back up, and no import cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rnnlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def files(folder: Path, *, recursive: bool = False) -> list[Path]:
    return sorted(folder.rglob("*.py") if recursive else folder.glob("*.py"))


CORE = [p for p in files(PACKAGE, recursive=True) if not {"plots", "ui"} & set(p.relative_to(PACKAGE).parts)]
PLOTS = files(PACKAGE / "plots")
PAGES = [*files(ROOT / "app_pages"), ROOT / "app.py", ROOT / "router.py"]


def starts(names: set[str], *prefixes: str) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_the_core_never_imports_streamlit_plots_or_ui(path: Path) -> None:
    assert not starts(imports(path), "streamlit", "plotly", "rnnlab.plots", "rnnlab.ui")


@pytest.mark.parametrize("path", PLOTS, ids=lambda p: p.name)
def test_plots_never_import_streamlit_or_ui(path: Path) -> None:
    assert not starts(imports(path), "streamlit", "rnnlab.ui")


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_pages_never_import_torch_directly(path: Path) -> None:
    """Pages read widgets and call the core; tensors and training stay below them."""
    assert not starts(imports(path), "torch", "torchvision")


def test_core_modules_import_no_cycle() -> None:
    """Following imports between rnnlab's own modules never leads back to where it started."""
    modules = {module_name(p): p for p in files(PACKAGE, recursive=True)}
    graph = {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}
    visiting, done, cycles = set(), set(), []

    def visit(name: str, trail: list[str]) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append(" -> ".join([*trail[trail.index(name) :], name]))
            return
        visiting.add(name)
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert not cycles, cycles


@pytest.mark.parametrize("path", [*files(PACKAGE / "ui"), *PAGES], ids=lambda p: p.name)
def test_pages_reach_runs_only_through_the_lab(path: Path) -> None:
    """The Lab is the one door: no page or view reaches into its store, its slots or run folders."""
    text = path.read_text(encoding="utf-8")
    assert not re.findall(r"\blab\.(?:store|slots)\b|CHECKPOINT_FILE", text)
