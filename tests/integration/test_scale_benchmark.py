"""The scale benchmark's machinery at a tiny size, so it cannot rot between its long runs.

`python -m benchmarks.scale` fills stores of 10k-1M events and runs each audit operation in
a fresh process; here it runs the same code on 200 events, SQLite only, in a temporary
folder (its export cache and its report too).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.scale import main
from benchmarks.scale_operation import OPERATIONS

MEASURED = re.compile(r"^[\d.,]+ (ms|s), [\d,]+ MB$")
TIMED_OUT = re.compile(r"^fails: timeout after [\d.,]+ (ms|s)$")


def first_table(report: str) -> dict[str, str]:
    """operation → its cell in the report's first table (one store, so one cell a row)."""
    rows: dict[str, str] = {}
    for line in report.split("## ")[1].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny export, generated once for the module's runs."""
    return tmp_path_factory.mktemp("scale-cache")


def run_tiny(tmp_path: Path, cache: Path, *options: str) -> str:
    markdown = tmp_path / "scale.md"
    tiny = ["--sizes", "200", "--backends", "sqlite", "--cache", str(cache)]
    report = main([*tiny, "--markdown", str(markdown), *options])
    assert markdown.read_text() == report + "\n"
    return report


def test_every_audit_operation_gets_a_measured_row(tmp_path: Path, cache: Path) -> None:
    rows = first_table(run_tiny(tmp_path, cache))
    assert list(rows) == list(OPERATIONS)
    unmeasured = {name: cell for name, cell in rows.items() if not MEASURED.match(cell)}
    assert not unmeasured


def test_an_operation_past_its_timeout_is_a_failing_row_not_a_crash(
    tmp_path: Path, cache: Path
) -> None:
    rows = first_table(run_tiny(tmp_path, cache, "--timeout", "0.01"))
    assert list(rows) == list(OPERATIONS)
    assert all(TIMED_OUT.match(cell) for cell in rows.values()), rows
