"""Where the commands print: rich for people (colour only on a terminal), JSON for programs."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click
from pydantic import BaseModel
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from greentic_session.domain.instants import instant_text

PIPE_WIDTH = 160
"""Tables written to a pipe or file are this wide: no wrapping at an arbitrary 80."""


def write(renderable: RenderableType, *, stderr: bool = False) -> None:
    """On a terminal: colour, its width. Elsewhere: plain text, `PIPE_WIDTH` wide, and no
    trailing blanks (rich pads every line of a table or grid to its full width)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        Console(file=stream, highlight=False).print(renderable)
        return
    out = Console(file=io.StringIO(), highlight=False, no_color=True, width=PIPE_WIDTH)
    with out.capture() as captured:
        out.print(renderable)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    stream.flush()


Result = BaseModel | Sequence[BaseModel] | Sequence[str] | Sequence[dict[str, Any]] | dict[str, Any]


def answer(as_json: bool, result: Result, human: RenderableType | str) -> None:
    """The result as JSON with `--json`, else `human` (a plain string is never rich markup)."""
    if as_json:
        emit_json(result)
    else:
        write(Text(human) if isinstance(human, str) else human)


def emit_json(value: Result) -> None:
    """Pydantic's JSON form of the result, indented; nothing else goes to stdout."""
    click.echo(json.dumps(_plain(value), indent=2, ensure_ascii=False))


def _plain(value: Result) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return value
    return [_plain(item) if isinstance(item, BaseModel) else item for item in value]


def say(message: str, *, stderr: bool = False) -> None:
    """One line for people; user text is never read as rich markup."""
    write(Text(message), stderr=stderr)


def when(instant: datetime | None) -> str:
    """UTC to the microsecond, with Z (as the JSON output): `--at` takes it back exactly."""
    return "-" if instant is None else instant_text(instant)


def fields(rows: Iterable[tuple[str, str | Text]]) -> Table:
    """A two-column grid of labels and values."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else Text(value))
    return grid


def table(title: str, columns: Iterable[str], whole: Iterable[str] = ()) -> Table:
    """A table with a title; the `whole` columns (times, hashes) are never wrapped."""
    whole = set(whole)
    grid = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        grid.add_column(column, overflow="fold", no_wrap=column in whole)
    return grid


def add_row(grid: Table, *cells: object) -> None:
    grid.add_row(*(Text("-" if cell is None else str(cell)) for cell in cells))
