"""The layout is the architecture: each layer imports only the layers inside it, and every
import names the package (`greentic_session.…`), never a folder as a top-level module."""

from __future__ import annotations

import ast
from pathlib import Path

import greentic_session

PACKAGE = Path(greentic_session.__file__).resolve().parent
"""The layers' sources: in a checkout `greentic_session/` links to the root's folders; under
`.ci/run` the tests run from a copy of `tests/` against the installed wheel."""
ROOT = Path(__file__).resolve().parents[2]
"""Where `tests/` and `benchmarks/` are (the checkout, or the copy `.ci/run` makes)."""
LAYERS = [
    "domain",
    "projections",
    "adapters/storage",
    "adapters/service",
    "adapters/bootstrap",
    "adapters/web",
    "adapters/cli",
]
"""Innermost first: a module may import its own layer and the ones before it, never after."""


def _modules(folder: str) -> list[Path]:
    files = sorted((PACKAGE / folder).rglob("*.py"))
    assert files, f"no modules under {folder}: the layout moved, update LAYERS"
    return files


def _imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "greentic_session" or len(parts) < 2:
        return None
    inner = "/".join(parts[1:3]) if parts[1] == "adapters" else parts[1]
    return LAYERS.index(inner) if inner in LAYERS else None


def test_no_layer_imports_a_layer_outside_it() -> None:
    upward = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for own, folder in enumerate(LAYERS)
        for path in _modules(folder)
        for name in _imported(path)
        if (layer := _layer_of(name)) is not None and layer > own
    ]
    assert upward == []


def test_the_scan_sees_imports_between_layers() -> None:
    """Guards the test above: it must find the inward imports the code is made of."""
    inward = {
        (folder, LAYERS[layer])
        for own, folder in enumerate(LAYERS)
        for path in _modules(folder)
        for name in _imported(path)
        if (layer := _layer_of(name)) is not None and layer < own
    }
    assert ("adapters/bootstrap", "adapters/service") in inward
    assert ("adapters/service", "adapters/storage") in inward
    assert ("projections", "domain") in inward


def test_no_module_imports_a_folder_as_a_top_level_package() -> None:
    sources = [PACKAGE / "domain", PACKAGE / "projections", PACKAGE / "adapters", PACKAGE]
    files = [path for folder in sources for path in sorted(folder.glob("**/*.py"))]
    files += [path for folder in ("tests", "benchmarks") for path in (ROOT / folder).rglob("*.py")]
    assert len(files) > 150
    bare = [
        f"{path} imports {name}"
        for path in files
        for name in _imported(path)
        if name.split(".")[0] in {"domain", "projections", "adapters"}
    ]
    assert bare == []
