"""The progress bar of the long commands (verify, rebuild, export, import, sweep).

Shown on stderr when it is a terminal, and never with `--json` or in a pipe, where
nothing but the result is printed. It turns the library's `Progress` callback into a rich
bar: events done (of the total, when known), the rate and the time left.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bar
from rich.text import Text

from greentic_session.domain.progress import Progress, no_progress


class RateColumn(ProgressColumn):
    """Events per second, as rich measures them over the last few updates."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("? events/s" if speed is None else f"{speed:,.0f} events/s")


@contextmanager
def progress_bar(
    what: str, *, as_json: bool, stream: TextIO | None = None, force_terminal: bool = False
) -> Iterator[Progress]:
    """A `Progress` callback drawing a bar labelled `what` on `stream` (stderr), or one
    that draws nothing with `--json` or off a terminal. `force_terminal`: draw it anyway
    (for tests). An operation that starts counting again from 0 (an import's write pass,
    after its check pass) starts the bar again."""
    console = Console(file=stream, stderr=stream is None, force_terminal=force_terminal or None)
    if as_json or not console.is_terminal:
        yield no_progress
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=None)
        reached = 0

        def report(done: int, total: int | None) -> None:
            nonlocal reached
            if done < reached:
                bar.reset(task, total=total)
            bar.update(task, completed=done, total=total)
            reached = done

        yield report
