"""No module of the store but the seam touches a private name of the eventsourcing library.

The seam is `adapters/storage/library_seams.py`: every private or undocumented part of the
library the store uses is reached from there (its docstring numbers the assumptions, which
`tests/unit/test_library_assumptions.py` and `tests/integration/test_library_assumptions_*.py`
check). The scan reads the sources of `domain`, `projections` and `adapters` through the
installed package, so it runs alike in a checkout and against the installed wheel; the
tests after the first guard the scan: it reads every module, knows the library's private
names, and finds the uses the seams replaced.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import eventsourcing
from eventsourcing.domain import Aggregate
from eventsourcing.popo import POPOApplicationRecorder

import greentic_session
from greentic_session.adapters.storage import library_seams

PACKAGE = Path(greentic_session.__file__).resolve().parent
"""The package's folder: `greentic_session/` of a checkout (its layers link to the root's
folders) or of site-packages. The sources are read from here, never from the repository
root, which CI's copy of `tests/` has not beside it."""
SEAM = PACKAGE / "adapters" / "storage" / "library_seams.py"
LAYERS = ("domain", "projections", "adapters")


# -- the seams are the only place that touches the library's private names ------------------

PYTHON_DUNDERS = frozenset(
    name
    for kind in (
        object,
        type,
        int,
        list,
        dict,
        property,
        BaseException,
        type(lambda: None),
        type(iter([])),
        contextlib.AbstractContextManager,
    )
    for name in dir(kind)
) | {"__post_init__", "__signature__", "__set_name__", "__del__", "__delete__", "__wrapped__"}
"""Python's own special names: the library defining one of them is no private name of it."""

UNDOCUMENTED_HOOKS = {
    "__wrapped__": re.compile(r"__wrapped__"),
    "unwrap": re.compile(r"\bunwrap\b"),
    ".pool =": re.compile(r"\.pool\s*=(?!=)"),
    "after_connect_func": re.compile(r"\bafter_connect_func\b"),
}
"""Undocumented parts of the library that are not private names: the retry decorator's
`__wrapped__` (or `inspect.unwrap` to reach it), the datastore's pool swapped, the
library's connection set-up."""

ISSUE_NAMES = {
    "_assert_uniqueness",
    "_update_table",
    "_stored_events",
    "_stored_events_index",
    "_database_lock",
    "_insert_events",
    "_create",
    "__base_init__",
}
"""The private names the issue found used with no guard."""


def _is_private(name: str) -> bool:
    return name.startswith("_") and name not in PYTHON_DUNDERS


def _self_stores(tree: ast.AST) -> set[str]:
    """Attributes assigned on `self` or `cls` in `tree`."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    }


@cache
def library_private_names() -> frozenset[str]:
    """Every private name the library's source binds: private functions, methods, classes
    and module names, attributes it assigns, and its own special names (`__base_init__`)."""
    names: set[str] = set()
    for path in Path(eventsourcing.__file__).parent.rglob("*.py"):
        if "tests" in path.relative_to(Path(eventsourcing.__file__).parent).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(name for name in names if _is_private(name))


@cache
def library_attributes(cls: type) -> frozenset[str]:
    """The library's private names a library class has: on the class, and assigned on its
    objects by the library's code."""
    names = set(dir(cls))
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "eventsourcing":
            with contextlib.suppress(OSError, TypeError, SyntaxError):
                names |= _self_stores(ast.parse(textwrap.dedent(inspect.getsource(base))))
    return frozenset(names & library_private_names())


def _classes_of(module: ModuleType) -> Iterator[type]:
    """The classes the module defines, nested ones included."""
    pending = [v for v in vars(module).values() if isinstance(v, type)]
    while pending:
        cls = pending.pop()
        if cls.__module__ != module.__name__:
            continue
        yield cls
        pending += [v for v in vars(cls).values() if isinstance(v, type)]


def _class_source(cls: type) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return None


def touches_of_the_library(path: Path, module: ModuleType) -> list[str]:
    """Where `path` (the source of `module`) touches a private or undocumented part of the
    library: "line: what" for each.

    - an attribute `x._name` read or written whose name is private to the library and
      that no class of ours binds on itself (ours may share a name with the library's);
    - a class of ours, derived from a library class, that defines or assigns a private
      name that library class has (an override of, or write into, its internals);
    - an undocumented hook of `UNDOCUMENTED_HOOKS`.
    """
    source = path.read_text()
    tree = ast.parse(source)
    library = library_private_names()
    ours = _self_stores(tree) | {
        statement.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for statement in node.body
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = [
        f"{path.name}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in library and node.attr not in ours
    ]
    for cls in _classes_of(module):
        bases = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] == "eventsourcing"]
        if not bases:
            continue
        theirs = frozenset().union(*(library_attributes(b) for b in bases))
        class_tree = _class_source(cls)
        defined = set(vars(cls)) | (_self_stores(class_tree) if class_tree else set())
        found += [
            f"{path.name}: {cls.__qualname__} defines .{name} of {bases[0].__qualname__}"
            for name in sorted(defined & theirs)
        ]
    for hook, pattern in UNDOCUMENTED_HOOKS.items():
        for match in pattern.finditer(source):
            found.append(f"{path.name}:{source.count(chr(10), 0, match.start()) + 1}: {hook}")
    return found


def source_files() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (PACKAGE / layer).rglob("*.py"))


def module_of(path: Path) -> ModuleType:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return importlib.import_module(".".join(["greentic_session", *parts]))


def test_no_module_but_the_seam_touches_a_private_name_of_the_library() -> None:
    files = [path for path in source_files() if path != SEAM]
    touches = [touch for path in files for touch in touches_of_the_library(path, module_of(path))]
    assert touches == [], (
        "private or undocumented parts of eventsourcing are reached outside "
        "adapters/storage/library_seams.py; reach them through a seam there, and state "
        "the assumption in its docstring and in a test of tests/unit/test_library_assumptions.py "
        "or tests/integration/test_library_assumptions_*.py:\n  " + "\n  ".join(touches)
    )


def test_the_scan_reads_every_module_of_the_three_layers() -> None:
    files = {path.resolve() for path in source_files()}
    imported = {
        Path(str(importlib.import_module(info.name).__file__)).resolve()
        for info in pkgutil.walk_packages(greentic_session.__path__, "greentic_session.")
        if info.name.split(".")[1] in LAYERS
    } | {
        Path(str(importlib.import_module(f"greentic_session.{layer}").__file__)).resolve()
        for layer in LAYERS
    }
    assert files == imported, (
        f"the scan reads {len(files)} files, the package has {len(imported)} modules: "
        f"{sorted(map(str, files ^ imported))}"
    )
    assert len(files) >= 50, f"only {len(files)} source files found under {PACKAGE}"
    assert SEAM.resolve() in files


def test_the_library_names_include_those_the_issue_found() -> None:
    missing = ISSUE_NAMES - library_private_names()
    assert not missing, f"the scan of the library's source misses {sorted(missing)}"
    attributes = library_attributes(POPOApplicationRecorder)
    assert {"_database_lock", "_stored_events", "_update_table"} <= attributes


def test_the_scan_finds_what_the_seam_holds() -> None:
    touches = "\n".join(touches_of_the_library(SEAM, library_seams))
    for held in ("._insert_events", "__wrapped__", ".pool =", "after_connect_func"):
        assert held in touches, f"the scan does not see {held} in the seam:\n{touches}"


OLD_USES = """
import inspect
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder


class Memory(POPOApplicationRecorder):
    def _assert_uniqueness(self, stored_events, **kwargs):
        super()._assert_uniqueness(stored_events, **kwargs)

    def _update_table(self, stored_events, **kwargs):
        return super()._update_table(stored_events, **kwargs)

    def snapshot(self):
        with self._database_lock:
            return self._stored_events, self._stored_events_index


class Sqlite(SQLiteApplicationRecorder):
    def _insert_events(self, c, stored_events, **kwargs):
        return super()._insert_events(c, stored_events, **kwargs)


class Postgres(PostgresApplicationRecorder):
    select_notifications = inspect.unwrap(PostgresApplicationRecorder.select_notifications)

    def __init__(self, datastore, *, events_table_name):
        datastore.pool = None
        super().__init__(datastore, events_table_name=events_table_name)


def start(cls, event_class):
    return cls._create(event_class)


def restore(cls, state):
    session = cls.__new__(cls)
    session.__base_init__(state.id, state.version, state.now)
    return session
"""


def test_the_scan_catches_the_uses_the_seams_replaced(tmp_path: Path) -> None:
    path = tmp_path / "old_uses.py"
    path.write_text(OLD_USES)
    spec = importlib.util.spec_from_file_location("old_uses", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_uses"] = module
    try:
        spec.loader.exec_module(module)
        touches = "\n".join(touches_of_the_library(path, module))
    finally:
        del sys.modules["old_uses"]
    for name in sorted(ISSUE_NAMES):
        assert f".{name}" in touches, f"the scan misses {name}:\n{touches}"
    for hook in ("unwrap", ".pool ="):
        assert hook in touches, f"the scan misses {hook}:\n{touches}"
    assert "Memory defines ._update_table" in touches and "Sqlite defines ._insert_events" in (
        touches
    )


def test_a_class_of_ours_may_share_a_private_name_with_an_unrelated_library_class() -> None:
    """`Session._record` is ours: the library's `_record` is `Application`'s."""
    assert "_record" in library_private_names()
    assert "_record" not in library_attributes(Aggregate)
    assert not [
        touch
        for touch in touches_of_the_library(
            PACKAGE / "domain" / "aggregate.py", module_of(PACKAGE / "domain" / "aggregate.py")
        )
    ]
