"""A session's story as a picture: where each life, wait, deadline and event goes on an
SVG canvas. The template draws what this computes; nothing here knows HTML.

The axis is ordered, not to scale: every distinct instant (an event, a deadline) gets a
step of its own, and the time between two steps is written between them. Events a
millisecond apart and a deadline an hour later stay readable side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from greentic_session.adapters.web.stories import Band, lives_of, waits_of
from greentic_session.adapters.web.time_axis import Tick, axis
from greentic_session.domain.audit import EventType, SessionEvent

LEFT, RIGHT, PAD = 96.0, 48.0, 36.0
"""Room for the lanes' names; the right margin; the space before the first step."""
MIN_WIDTH, MIN_STEP = 1180.0, 72.0
LIFE_Y, WAIT_Y, DEADLINE_Y, EVENT_Y = 48.0, 92.0, 136.0, 172.0
BAND_HEIGHT, CHAR_WIDTH = 28.0, 6.9
"""A band's height; about how wide a character of its 12 px label is."""
LABEL_ROOM = 150.0


@dataclass(frozen=True)
class Mark:
    """One event: a dot at its instant, its label and what its tooltip says."""

    x: float
    y: float
    kind: str
    version: int
    label: str
    who: str
    tip: str


@dataclass(frozen=True)
class Span:
    """A band drawn from x1 to x2; `open_start`/`open_end`: it goes on past the window."""

    x1: float
    x2: float
    label: str
    tip: str
    ending: str
    open_start: bool
    open_end: bool


@dataclass
class Picture:
    width: float
    height: float
    lives: list[Span] = field(default_factory=list)
    waits: list[Span] = field(default_factory=list)
    deadlines: list[Tick] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    times: list[Tick] = field(default_factory=list)
    gaps: list[Tick] = field(default_factory=list)
    lane_y: dict[str, float] = field(default_factory=dict)
    day: str = ""
    """The first instant's date (the time labels give hours, minutes, seconds)."""


def draw(events: Sequence[SessionEvent], window: Sequence[SessionEvent], now: datetime) -> Picture:
    """The picture of `window` (a page of `events`, the key's whole history): lives and
    waits come from the whole history, clipped to the window's instants. Each event has a
    step of its own (two events of one instant too); a deadline gets one where it falls."""
    lives, waits = lives_of(events, now), waits_of(events, now)
    due = {w.deadline for w in waits if w.deadline and (w.end is None or w.deadline <= w.end)}
    due |= {e.expires_at for e in window if e.type is EventType.WAIT_EXPIRED and e.expires_at}
    shown = sorted(d for d in due if _inside(d, window))  # not those a clear made moot
    steps = sorted([(e.recorded_at, 0, e.version) for e in window] + [(d, 1, 0) for d in shown])
    instants = [instant for instant, _, _ in steps]
    step = max(MIN_STEP, (MIN_WIDTH - LEFT - RIGHT - 2 * PAD) / max(len(steps) - 1, 1))
    width = max(MIN_WIDTH, LEFT + RIGHT + 2 * PAD + step * (len(steps) - 1))
    xs = [LEFT + PAD + i * step for i in range(len(steps))]
    at_version = {version: x for (_, kind, version), x in zip(steps, xs, strict=True) if not kind}
    slot: dict[datetime, float] = {}
    for instant, x in zip(instants, xs, strict=True):
        slot.setdefault(instant, x)  # a band starts or ends at its instant's first step
    edge = (LEFT, width - RIGHT)
    picture = Picture(width=width, height=EVENT_Y + LABEL_ROOM)
    picture.lane_y = {"lives": LIFE_Y, "waits": WAIT_Y, "deadline": DEADLINE_Y, "events": EVENT_Y}
    picture.day = instants[0].strftime("%Y-%m-%d") if instants else ""
    picture.marks = [_mark(e, at_version[e.version]) for e in window]
    picture.lives = [_span(b, slot, edge, instants) for b in lives if _meets(b, instants)]
    picture.waits = [_span(b, slot, edge, instants) for b in waits if _meets(b, instants)]
    picture.deadlines = [Tick(slot[d], "deadline") for d in shown]
    picture.times, picture.gaps = axis(instants, xs, step)
    return picture


def _inside(instant: datetime, window: Sequence[SessionEvent]) -> bool:
    return bool(window) and window[0].recorded_at <= instant <= _window_end(window)


def _window_end(window: Sequence[SessionEvent]) -> datetime:
    last = window[-1]
    later = [w for w in (last.expires_at,) if w is not None and w > last.recorded_at]
    return later[0] if later else last.recorded_at


def _meets(band: Band, instants: list[datetime]) -> bool:
    if not instants:
        return False
    return band.start <= instants[-1] and (band.end is None or band.end >= instants[0])


def _x(instant: datetime, slot: dict[datetime, float], edge: tuple[float, float],
       instants: list[datetime]) -> float:
    if instant in slot:
        return slot[instant]
    if instant < instants[0]:
        return edge[0]
    if instant > instants[-1]:
        return edge[1]
    after = next(i for i in instants if i > instant)  # between two steps: at the later one
    return slot[after]


def _span(band: Band, slot: dict[datetime, float], edge: tuple[float, float],
          instants: list[datetime]) -> Span:
    x1 = _x(band.start, slot, edge, instants)
    x2 = max(x1 + 6, edge[1] if band.end is None else _x(band.end, slot, edge, instants))
    return Span(
        x1=x1, x2=x2, label=_fit(band, x2 - x1), tip=band.tip, ending=band.ending,
        open_start=band.start < instants[0], open_end=band.end is None or band.end > instants[-1],
    )


def _fit(band: Band, width: float) -> str:
    """The band's label with how it ended, as much of it as its width holds."""
    room = int((width - 14) / CHAR_WIDTH)
    for text in (f"{band.label} · {band.ending}" if band.ending else band.label, band.label):
        if len(text) <= room:
            return text
    return band.label[: room - 1] + "…" if room > 1 else ""


def _mark(e: SessionEvent, x: float) -> Mark:
    label = f"v{e.version} {e.type.value}" + (" (erased)" if e.erased else "")
    if e.superseded_by:
        label += f" by {e.superseded_by[:8]}"
    who = " · ".join(part for part in (e.actor, e.trace_id and f"trace {e.trace_id}") if part)
    return Mark(x, EVENT_Y, e.type.value, e.version, label, who, _tip(e))


def _tip(e: SessionEvent) -> str:
    erased = " (content erased)" if e.erased else ""
    lines = [f"v{e.version} {e.type.value}{erased} at {e.recorded_at.isoformat()}",
             f"actor: {e.actor or '-'}", f"trace: {e.trace_id or '-'}"]
    if e.superseded_by:
        lines.append(f"superseded by {e.superseded_by}")
    if e.erasure_reason:
        lines.append(f"erased {e.erased_events} events: {e.erasure_reason}")
    if e.scope is not None:
        lines.append(f"scope: {e.scope.conversation} (user {e.user_id or '-'})")
    if e.expires_at is not None:
        lines.append(f"deadline: {e.expires_at.isoformat()}")
    return "\n".join(lines)
