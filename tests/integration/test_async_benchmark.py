"""The asyncio benchmark section at a tiny size (0.5 s, 1 and 2 tasks), so it cannot rot
between its long runs: every subject gets its rows, every target a verdict.

LangGraph's saver comes with the `bench` extra, which CI does not install: where it is
missing, its rows and its target are left out and a note says how to get them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.async_concurrency import main
from benchmarks.config import PG_URL_VARIABLE
from benchmarks.langgraph_baseline import saver_installed

pytestmark = pytest.mark.postgres

LANGGRAPH_INSTALLED = saver_installed()
RATE = re.compile(r"^[\d,]+$")
EXPECTED_ROWS = {
    *(
        (s, w, c)
        for s in ("ours async", "ours to_thread")
        for w in ("update + get cycle", "turn")
        for c in ("1 task", "2 tasks")
    ),
    *(
        ("ours sync", w, c)
        for w in ("update + get cycle", "turn")
        for c in ("1 thread", "2 threads")
    ),
}
if LANGGRAPH_INSTALLED:
    EXPECTED_ROWS |= {("langgraph async", "update + get cycle", c) for c in ("1 task", "2 tasks")}


def table_rows(report: str, title: str) -> list[list[str]]:
    """The cells of the table under `## title`, its head and alignment rows left out."""
    section = report.split(f"## {title}")[1].split("## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.fixture(scope="module")
def run(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    markdown = tmp_path_factory.mktemp("async-bench") / "async.md"
    tiny = ["--seconds", "0.5", "--tasks", "1,2", "--threads", "1,2", "--markdown", str(markdown)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PG_URL_VARIABLE, pg_dsn)
        return main(tiny), markdown


def test_every_subject_workload_and_concurrency_gets_a_measured_row(run: tuple[str, Path]) -> None:
    rows = table_rows(run[0], "Cycles on PostgreSQL")
    assert {(r[0], r[1], r[2]) for r in rows} == EXPECTED_ROWS
    assert len(rows) == len(EXPECTED_ROWS)
    assert all(RATE.match(r[3]) and r[3] != "0" for r in rows), rows
    assert all(RATE.match(r[6]) and r[6] != "0" for r in rows), rows  # CPU µs a cycle


def test_every_asyncio_row_has_the_loops_lag_and_no_thread_row_has_one(
    run: tuple[str, Path],
) -> None:
    rows = table_rows(run[0], "Cycles on PostgreSQL")
    asyncio_rows = [r for r in rows if r[2].endswith(("task", "tasks"))]
    thread_rows = [r for r in rows if r[2].endswith(("thread", "threads"))]
    assert len(asyncio_rows) + len(thread_rows) == len(rows)
    assert all(r[7] and r[8] and r[9] for r in asyncio_rows), asyncio_rows
    assert not any(r[7] or r[8] or r[9] for r in thread_rows), thread_rows


def test_every_target_gets_a_pass_or_a_miss(run: tuple[str, Path]) -> None:
    targets = table_rows(run[0], "Targets at 2 tasks")
    assert len(targets) == 5
    judged = [row for row in targets if LANGGRAPH_INSTALLED or "langgraph" not in row[0]]
    assert len(judged) == (5 if LANGGRAPH_INSTALLED else 4)
    assert all(row[3] in ("PASS", "MISS") for row in judged), targets


def test_without_the_bench_extra_langgraph_is_left_out_with_a_note(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_URL_VARIABLE, pg_dsn)
    monkeypatch.setattr("benchmarks.async_concurrency.saver_installed", lambda: False)
    report = main(["--seconds", "0.2", "--tasks", "1", "--subjects", "langgraph async"])
    assert not [line for line in report.splitlines() if line.startswith("| langgraph async")]
    assert "- langgraph async not measured: pip install -e '.[bench]'" in report.splitlines()


def test_the_loops_own_lag_with_no_task_is_given_beside_the_targets(
    run: tuple[str, Path],
) -> None:
    floor = [line for line in run[0].splitlines() if line.startswith("The loop's lag with no task")]
    assert len(floor) == 1
    assert re.search(r"worst [\d.,]+ ms, p99 [\d.,]+ ms, p50 [\d.,]+ ms\.$", floor[0]), floor


def test_the_before_and_after_show_the_sync_and_the_async_store_on_both_backends(
    run: tuple[str, Path],
) -> None:
    rows = table_rows(run[0], "Before and after")
    callers = {(r[0], r[1]) for r in rows}
    assert callers == {
        (backend, caller)
        for backend in ("sqlite", "postgres")
        for caller in ("sync store in a coroutine", "async store, awaited")
    }


def test_the_saved_markdown_is_the_printed_report(run: tuple[str, Path]) -> None:
    report, markdown = run
    assert markdown.read_text() == report
