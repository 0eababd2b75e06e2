"""The realistic traffic of the scale benchmark, and the export that carries it.

Each session is created, updated with a ~1 KB context, waits on a scope of its own with a
1 h TTL, is updated again, then is cleared (60%), removed (30%) or left waiting (10%): 5, 5
and 4 events, about 4.9 a session. Sessions run in windows of `WINDOW`, phase by phase, so
the log interleaves them as live traffic does. A `StepClock` moves one second each time it
is read: the log's times are reproducible, and lie in the past, so every wait left is due
for `sweep_expired` when the benchmark runs.

`cached_export` runs the mix through `memory://` stores (a fresh one per `CHUNK_SESSIONS`, so
the generator's memory stays small; chains are per stream and sessions never share a
scope, so the chunks' exports concatenate into one valid export) and writes it as JSON
Lines once per size and library version. `fill_store` runs the same mix through the public
API of any store (in several processes), for when import cannot fill it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import greentic_session
from benchmarks.inputs import WAIT_TTL, data_of, spread_user, tenant_ctx
from greentic_session import ReplyScope, SessionStore, open_store

CLOCK_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 100  # sessions in flight together
CHUNK_SESSIONS = 10_000  # sessions per memory:// store while generating an export
EVENTS = {"cleared": 5, "removed": 5, "waiting": 4}


class StepClock:
    """A clock that moves one second each time it is read: writes get distinct, ordered times."""

    def __init__(self, start: datetime = CLOCK_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def outcome(n: int) -> str:
    """Session n's fate: 6 in 10 cleared, 3 removed, 1 left waiting."""
    return "cleared" if n % 10 < 6 else "removed" if n % 10 < 9 else "waiting"


def sessions_for(events: int) -> int:
    """The fewest sessions whose mix reaches `events` events."""
    count = total = 0
    while total < events:
        total += EVENTS[outcome(count)]
        count += 1
    return count


def events_of(sessions: int) -> int:
    return sum(EVENTS[outcome(n)] for n in range(sessions))


@dataclass(frozen=True)
class Probe:
    """One session of the mix, cleared after its wait: the subject of `history` and `explain`."""

    session_key: str
    user: str
    conversation: str
    thread: str
    waiting_at: str  # an instant (ISO 8601) while its wait was live

    def scope(self) -> ReplyScope:
        return ReplyScope(conversation=self.conversation, thread=self.thread)


def scope_of(n: int) -> ReplyScope:
    return ReplyScope(conversation=f"chat-{n:07d}", thread=f"topic-{n % 7}")


def run_mix(
    store: SessionStore, clock: StepClock, first: int, count: int, probe_n: int
) -> Probe | None:
    """Sessions first..first+count-1 of the mix, through the store's public API; returns the
    probe if session `probe_n` is among them."""
    probe: Probe | None = None
    for start in range(first, first + count, WINDOW):
        numbers = range(start, min(start + WINDOW, first + count))
        keys = {
            n: store.create_session(tenant_ctx(spread_user(n)), data_of(spread_user(n), 0))
            for n in numbers
        }
        for n in numbers:
            store.update_session(keys[n], data_of(spread_user(n), 1))
        for n in numbers:
            user = spread_user(n)
            store.register_wait(
                tenant_ctx(user), user, scope_of(n), keys[n], data_of(user, 2), ttl=WAIT_TTL
            )
            if n == probe_n:
                probe = Probe(
                    str(keys[n]),
                    user,
                    scope_of(n).conversation,
                    str(scope_of(n).thread),
                    (clock.now + timedelta(milliseconds=500)).isoformat(),
                )
        for n in numbers:
            store.update_session(keys[n], data_of(spread_user(n), 3))
        for n in numbers:
            user = spread_user(n)
            if outcome(n) == "cleared":
                store.clear_wait(tenant_ctx(user), user, scope_of(n))
            elif outcome(n) == "removed":
                store.remove_session(keys[n])
    return probe


def probe_at(sessions: int) -> int:
    """The middle session of a run of `sessions`, rounded down to one that is cleared."""
    return (sessions // 2) // 10 * 10


def _fill_share(url: str, first: int, count: int, probe_n: int) -> Probe | None:
    """One worker's sessions; its clock starts where its share of the run would."""
    clock = StepClock(CLOCK_START + timedelta(seconds=6 * first))
    with open_store(url, clock=clock) as store:
        return run_mix(store, clock, first, count, probe_n)


def fill_store(url: str, events: int, workers: int = 1) -> Probe:
    """The mix through the public API of the store at `url` (one transaction a write: slow),
    split over `workers` spawned processes, each with its share of the sessions."""
    sessions = sessions_for(events)
    with open_store(url):  # creates the tables before the workers race to
        pass
    shares = [sessions // workers + (1 if i < sessions % workers else 0) for i in range(workers)]
    firsts = [sum(shares[:i]) for i in range(workers)]
    args = [
        (url, first, share, probe_at(sessions)) for first, share in zip(firsts, shares, strict=True)
    ]
    if workers <= 1:
        probes = [_fill_share(*args[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            probes = pool.starmap(_fill_share, args)
    found = [probe for probe in probes if probe is not None]
    assert len(found) == 1
    return found[0]


def library_fingerprint() -> str:
    """A digest of the library's sources: an export made by other code is made again."""
    root = Path(greentic_session.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Export:
    path: Path
    events: int
    sessions: int
    probe: Probe


def write_export(path: Path, events: int) -> Export:
    sessions = sessions_for(events)
    clock = StepClock()
    probe: Probe | None = None
    written = 0
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        for first in range(0, sessions, CHUNK_SESSIONS):
            count = min(CHUNK_SESSIONS, sessions - first)
            with open_store("memory://", clock=clock) as store:
                probe = run_mix(store, clock, first, count, probe_at(sessions)) or probe
                written += store.export_events(out)
    if written != events_of(sessions) or probe is None:
        raise RuntimeError(f"the mix wrote {written} events, expected {events_of(sessions)}")
    partial.replace(path)
    found = Export(path, written, sessions, probe)
    meta = {"events": written, "sessions": sessions, "probe": asdict(probe)}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return found


def cached_export(folder: Path, events: int) -> tuple[Export, bool]:
    """The export of the mix for `events`, made once per size and library version; and whether
    it came from the cache."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mix-{events}-{library_fingerprint()}.jsonl"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        found = json.loads(meta.read_text())
        probe = Probe(**found["probe"])
        return Export(path, found["events"], found["sessions"], probe), True
    return write_export(path, events), False
