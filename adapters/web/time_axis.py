"""The timeline's axis: a label for each instant (hours, minutes, seconds; the month and day
where a day begins) and, between two steps, the time that passed, since steps are evenly
spaced whatever lies between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


def axis(instants: list[datetime], xs: list[float], step: float) -> tuple[list[Tick], list[Tick]]:
    """The time labels (thinned where steps are narrow) and the gaps between the steps at
    `xs` (the instants in order, two events of one instant included: "same")."""
    every = max(1, round(64 / step))  # a time label needs about 64 px
    times, gaps = [], []
    for i, instant in enumerate(instants):
        if i % every == 0 and (i == 0 or instant != instants[i - 1]):
            new_day = i > 0 and instants[i - 1].date() != instant.date()
            times.append(Tick(xs[i], instant.strftime("%m-%d %H:%M" if new_day else "%H:%M:%S")))
        if i:
            gap = instant - instants[i - 1]
            gaps.append(Tick((xs[i - 1] + xs[i]) / 2, "+" + _duration(gap) if gap else "same"))
    return times, gaps


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds * 1000:.3g}ms"
