"""A PostgreSQL server that goes away and comes back under an open store (issue #5).

What a caller may rely on: during an outage every call fails with `SessionError`
(`unavailable`, the driver's error chained) within the connect timeout (`?connect_timeout=N`,
5 s by default) plus a small margin, and never hangs; once the server is back the same store
works again, from the first call; nothing it acknowledged is lost.

The tests start a private server of their own (initdb in a temporary folder, a free port),
once for the module, so stopping it, crashing it or freezing it disturbs nothing else. Each
test gets its own schema and finds the server running. They print what they measured
(`pytest -rP` shows it).
"""

from __future__ import annotations

import getpass
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from urllib.parse import urlencode

import pytest

from greentic_session import (
    ErrorCode,
    ReplyScope,
    SessionData,
    SessionError,
    SessionKey,
    open_store,
)
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.domain.audit import EventType
from tests.support import make_ctx, make_data, make_scope

pytestmark = [pytest.mark.postgres, pytest.mark.stress]

CTX = make_ctx(user="alice")
USER = "alice"
BOUND = 2  # seconds: the connect timeout these tests set (the smallest libpq honours)
DEFAULT_BOUND = 5  # without `?connect_timeout`
MARGIN = 1.0  # thread scheduling, the pool's bookkeeping, a busy CI machine
HANG = 30.0  # a call still running after this long is reported as hung, not waited for


class PrivateServer:
    def __init__(self, folder: Path) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin"))
        if not binaries:
            reason = "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        self.bin = Path(binaries[-1])
        self.data = folder / "data"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.running = False
        self.frozen: list[int] = []
        folder.chmod(0o777)
        self._run(f"{self.bin / 'initdb'} -D {self.data} -A trust -U postgres")

    def url(self, connect_timeout: int | None = BOUND) -> str:
        """A fresh schema on this server, so each test starts from an empty store."""
        query = [("schema", f"t_{uuid.uuid4().hex[:16]}")]
        if connect_timeout is not None:
            query.append(("connect_timeout", str(connect_timeout)))
        return f"{self.dsn}?{urlencode(query)}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = self.data / "server.log"  # not our pipes: a server holding them never lets go
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -l {log} -o '{options}' -w start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are told and the server shuts down cleanly; `immediate`: every
        server process quits at once, as in a crash (the next start recovers from the WAL)."""
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -m {mode} -w stop")
        self.running = False

    def freeze(self) -> None:
        """Every server process stopped in its tracks (SIGSTOP): its sockets stay open and
        the kernel still accepts connections, but nothing ever answers."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        self.frozen = [postmaster, *_children(postmaster)]
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def _run(self, command: str) -> None:
        """The server refuses to run as root: as root, run it as the postgres user."""
        if getpass.getuser() == "root":
            args = ["su", "postgres", "-c", command]
        else:
            args = ["sh", "-c", command]
        subprocess.run(args, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _children(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


@pytest.fixture(scope="module")
def private_server() -> Iterator[PrivateServer]:
    if getpass.getuser() == "root" and shutil.which("su") is None:
        pytest.skip("running as root without su: cannot start a private server")
    # Not under pytest's tmp_path: its parents are private to root, and the server's own
    # user must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="greentic-pg-"))
    try:
        private = PrivateServer(folder)
        yield private
        private.thaw()
        if private.running:
            private.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(private_server: PrivateServer) -> Iterator[PrivateServer]:
    """The private server, running at the start of the test and again after it."""
    if not private_server.running:
        private_server.start()
    yield private_server
    private_server.thaw()
    if not private_server.running:
        private_server.start()


class SilentListener:
    """Holds a port and never answers: it accepts connections and stays silent, or, with
    `accept=False`, leaves them in a minimal backlog (later ones are never even accepted by
    the kernel)."""

    def __init__(self, port: int, *, accept: bool) -> None:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64 if accept else 0)
        self._socket.settimeout(0.05)
        self._accepted: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept if accept else self._done.wait)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                self._accepted.append(self._socket.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        for connection in self._accepted:
            connection.close()
        self._socket.close()


@contextmanager
def silent_server(server: PrivateServer, *, accept: bool = True) -> Iterator[None]:
    """The server stopped and its port held by a listener that never answers."""
    server.stop()
    listener = SilentListener(server.port, accept=accept)
    try:
        yield
    finally:
        listener.close()


# -- calls and what became of them -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    seconds: float
    error: Exception | None = None
    finished: bool = True

    def __str__(self) -> str:
        if not self.finished:
            return f"still running after {self.seconds:.1f} s (hung)"
        if self.error is None:
            return f"succeeded in {self.seconds:.3f} s"
        return f"{type(self.error).__name__} after {self.seconds:.3f} s: {self.error}"


def timed(call: Callable[[], object]) -> Outcome:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:  # judged by the caller
        return Outcome(time.monotonic() - started, exc)
    return Outcome(time.monotonic() - started)


def all_at_once(
    calls: dict[str, Callable[[], object]], patience: float = HANG
) -> dict[str, Outcome]:
    """Each call in a thread of its own, all started together and each timed on its own. A
    call still running after `patience` seconds is left behind (a daemon thread) as hung."""
    outcomes: dict[str, Outcome] = {}
    barrier = threading.Barrier(len(calls))

    def run(name: str, call: Callable[[], object]) -> None:
        barrier.wait()
        outcomes[name] = timed(call)

    threads = [
        threading.Thread(target=run, args=(name, call), daemon=True) for name, call in calls.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + patience
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return {name: outcomes.get(name, Outcome(patience, finished=False)) for name in calls}


def is_unavailable(outcome: Outcome) -> bool:
    error = outcome.error
    return (
        isinstance(error, SessionError)
        and error.code is ErrorCode.UNAVAILABLE
        and error.__cause__ is not None  # the driver's own reason, for the operator
    )


def assert_unavailable_within(outcomes: dict[str, Outcome], bound: float) -> None:
    print(f"during the outage (bound {bound} s + {MARGIN} s):")
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    wrong = [
        f"{name}: {outcome}"
        for name, outcome in outcomes.items()
        if not (is_unavailable(outcome) and outcome.seconds <= bound + MARGIN)
    ]
    assert not wrong, f"not unavailable within {bound} s + {MARGIN} s:\n" + "\n".join(wrong)


def wait_until(condition: Callable[[], bool], what: str, seconds: float = HANG) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s in vain for {what}"
        time.sleep(0.01)


# -- every kind of call ----------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A session waiting in a scope: two events, so versions 1 and 2 exist."""

    key: SessionKey
    scope: ReplyScope


def seed(store: EventSourcedSessionStore) -> Seeded:
    scope = make_scope("conversation-1")
    key = store.create_session(CTX, make_data(CTX, node="seeded"))
    store.register_wait(CTX, USER, scope, key, make_data(CTX, node="waiting"))
    return Seeded(key, scope)


def every_call(store: EventSourcedSessionStore, seeded: Seeded) -> dict[str, Callable[[], object]]:
    """Every store method that reaches the database, on the seeded session."""
    key, scope = seeded.key, seeded.scope
    return {
        "get_session": lambda: store.get_session(key),
        "find_wait_by_scope": lambda: store.find_wait_by_scope(CTX, USER, scope),
        "list_waits_for_user": lambda: store.list_waits_for_user(CTX, USER),
        "create_session": lambda: store.create_session(CTX, make_data(CTX, node="created")),
        "update_session": lambda: store.update_session(key, make_data(CTX, node="updated")),
        "register_wait": lambda: store.register_wait(
            CTX, USER, make_scope("conversation-2"), key, make_data(CTX, node="waiting-2")
        ),
        "clear_wait": lambda: store.clear_wait(CTX, USER, scope),
        "remove_session": lambda: store.remove_session(key),
        "sweep_expired": lambda: store.sweep_expired(),
        "history": lambda: store.history(key),
        "get_session_at": lambda: store.get_session_at(key, version=1),
        "diff": lambda: store.diff(key, 1, 2),
        "explain": lambda: store.explain(CTX, USER, scope),
        "verify": lambda: store.verify(),
        "rebuild_projections": lambda: store.rebuild_projections(),
        "export_events": lambda: store.export_events(io.StringIO()),
        "import_events": lambda: store.import_events(io.StringIO("")),
        "current_read_models": lambda: store.current_read_models(),
        "replay_read_models": lambda: store.replay_read_models(),
    }


def warm_up(store: EventSourcedSessionStore, seeded: Seeded) -> None:
    """Several pooled connections, all idle: what a restart leaves broken under the store."""

    def read() -> None:
        for _ in range(30):
            store.get_session(seeded.key)

    for name, outcome in all_at_once({f"reader {n}": read for n in range(6)}).items():
        assert outcome.error is None, f"{name}: {outcome}"


def opened(url: str) -> EventSourcedSessionStore:
    store = open_store(url)
    assert isinstance(store, EventSourcedSessionStore)
    return store


# -- during an outage --------------------------------------------------------------------------


def test_every_call_during_an_outage_is_unavailable_within_the_connect_timeout(
    server: PrivateServer,
) -> None:
    with opened(server.url()) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        server.stop()
        assert_unavailable_within(all_at_once(every_call(store, seeded)), BOUND)
        closing = timed(store.close)
    print(f"  close: {closing}")
    assert closing.error is None and closing.seconds <= BOUND + MARGIN, closing


def test_without_the_option_calls_and_opening_give_up_within_five_seconds(
    server: PrivateServer,
) -> None:
    """The worst case for opening: a server that takes the connection and never answers
    (a refused connection fails at once)."""
    url = server.url(connect_timeout=None)
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        with silent_server(server):
            calls = every_call(store, seeded)
            calls["open_store"] = lambda: opened(url).close()
            assert_unavailable_within(all_at_once(calls), DEFAULT_BOUND)


def test_opening_a_store_while_the_server_is_down_is_unavailable_at_once(
    server: PrivateServer,
) -> None:
    server.stop()
    outcome = timed(lambda: opened(server.url()).close())
    assert_unavailable_within({"open_store": outcome}, BOUND)
    assert outcome.seconds < 1, "a refused connection needs no waiting for a timeout"


@pytest.mark.parametrize("accept", [True, False], ids=["accepts-silently", "never-accepts"])
def test_a_server_that_never_answers_makes_opening_and_calls_unavailable_within_the_bound(
    server: PrivateServer, accept: bool
) -> None:
    url = server.url()
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        with silent_server(server, accept=accept):
            calls = every_call(store, seeded)
            calls["open_store"] = lambda: opened(url).close()
            assert_unavailable_within(all_at_once(calls), BOUND)
            closing = timed(store.close)
    print(f"  close: {closing}")
    assert closing.error is None and closing.seconds <= BOUND + MARGIN, closing


@pytest.mark.xfail(
    strict=True,
    reason="known gap: a server that stops answering on connections already open (frozen, "
    "SIGSTOP; a hung host whose kernel still acknowledges) leaves the call waiting for its "
    "reply for as long as the server stays frozen: the connect timeout bounds getting a "
    "connection, nothing bounds the reply. A new connection (open_store) is bounded.",
)
def test_a_frozen_server_makes_calls_unavailable_within_the_bound(server: PrivateServer) -> None:
    url = server.url()
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        server.freeze()
        try:
            calls = {
                "get_session": every_call(store, seeded)["get_session"],
                "update_session": every_call(store, seeded)["update_session"],
                "open_store": lambda: opened(url).close(),
            }
            outcomes = all_at_once(calls, patience=BOUND + MARGIN + 1)
        finally:
            server.thaw()
        assert_unavailable_within(outcomes, BOUND)


# -- after the restart -------------------------------------------------------------------------

# One of each way a call reaches the database: the read models (point lookups, a snapshot),
# a write with and without a read first, the log by stream and whole (with the library's
# reader), and the rebuild's transaction.
FIRST_CALLS = [
    "get_session",
    "create_session",
    "update_session",
    "register_wait",
    "history",
    "explain",
    "export_events",
    "verify",
    "current_read_models",
    "rebuild_projections",
]


@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_after_a_restart_every_kind_of_call_succeeds_at_the_first_try(
    server: PrivateServer, shutdown: str
) -> None:
    """The pool is full of connections the restart broke; none of them reaches a caller."""
    outcomes: dict[str, Outcome] = {}
    with opened(server.url()) as store:
        seeded = seed(store)
        calls = every_call(store, seeded)
        for name in FIRST_CALLS:
            warm_up(store, seeded)
            server.stop(shutdown)
            server.start()
            outcomes[name] = timed(calls[name])
    print(f"the first call after a restart ({shutdown} shutdown):")
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    failed = [f"{name}: {outcome}" for name, outcome in outcomes.items() if outcome.error]
    assert not failed, "failed on the first try after the restart:\n" + "\n".join(failed)


LONG_OUTAGE = 8.0  # seconds: past a few doublings of the pool's reconnection backoff


def test_after_a_long_outage_under_load_the_first_calls_succeed(server: PrivateServer) -> None:
    """Calls keep coming during the outage; the first ones after the restart must not wait
    for a reconnection attempt the pool put off further and further while the server was
    down (its backoff doubles from 1 s)."""
    with opened(server.url()) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        calls = every_call(store, seeded)
        server.stop()
        down = time.monotonic()
        during = []
        while time.monotonic() - down < LONG_OUTAGE:
            during += [timed(calls["get_session"]), timed(calls["update_session"])]
        server.start()
        read, write = timed(calls["get_session"]), timed(calls["update_session"])
    slowest = max(during, key=lambda outcome: outcome.seconds)
    print(f"{len(during)} calls in a {LONG_OUTAGE} s outage, the slowest: {slowest}")
    print(f"then, after the restart: get_session {read}; update_session {write}")
    wrong = [str(outcome) for outcome in during if not is_unavailable(outcome)]
    wrong += [str(o) for o in during if o.seconds > BOUND + MARGIN]
    assert not wrong, wrong
    assert read.error is None and write.error is None, (read, write)


# -- nothing acknowledged is lost --------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    kind: str  # "register_wait" (a new session waiting in its own scope) or "update_session"
    label: str  # the new session's key and scope, and the node its data points at
    started: float
    outcome: Outcome


class Writer(threading.Thread):
    """Writes without a pause until halted, and notes what became of each write."""

    def __init__(self, store: EventSourcedSessionStore, shared: SessionKey, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.store = store
        self.shared = shared
        self.writes: list[Write] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            n += 1
            label = f"{self.name}-{n}"
            self._write("register_wait", label, self._register)
            self._write("update_session", label, self._update)

    def _register(self, label: str) -> None:
        data = make_data(CTX, node=label)
        self.store.register_wait(CTX, USER, make_scope(label), SessionKey(label), data)

    def _update(self, label: str) -> None:
        self.store.update_session(self.shared, make_data(CTX, node=label))

    def _write(self, kind: str, label: str, write: Callable[[str], None]) -> None:
        started = time.monotonic()
        self.writes.append(Write(kind, label, started, timed(lambda: write(label))))

    def acknowledged_since(self, instant: float) -> int:
        return sum(w.outcome.error is None for w in self.writes if w.started >= instant)

    def failed_since(self, instant: float) -> int:
        return sum(w.outcome.error is not None for w in self.writes if w.started >= instant)


@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_nothing_acknowledged_is_lost_across_a_restart(
    server: PrivateServer, shutdown: str
) -> None:
    """Writers keep writing while the server stops (cleanly, or as in a crash) and starts
    again. Every acknowledged write is in the log and the read models; a write that raised
    `unavailable` may or may not have committed, but it is there whole or not at all."""
    with opened(server.url()) as store:
        shared = store.create_session(CTX, make_data(CTX, node="start"))
        writers = [Writer(store, shared, f"writer{n}") for n in range(3)]
        for writer in writers:
            writer.start()
        try:
            wait_until(lambda: all(w.acknowledged_since(0) >= 20 for w in writers), "writes")
            server.stop(shutdown)
            down = time.monotonic()
            wait_until(lambda: all(w.failed_since(down) >= 1 for w in writers), "failures")
            server.start()
            up = time.monotonic()
            wait_until(lambda: all(w.acknowledged_since(up) >= 20 for w in writers), "recovery")
        finally:
            for writer in writers:
                writer.halt.set()
            for writer in writers:
                writer.join(HANG)
        writes = [write for writer in writers for write in writer.writes]
        describe(writes, down, up)
        assert_failures_were_unavailable_in_time(writes)
        assert_first_writes_after_the_restart_succeeded(writers, up)
        committed = assert_updates_are_all_there_once(store, shared, writes)
        committed += assert_new_sessions_are_whole_or_absent(store, writes)
        print(f"  {committed} of the failed writes had committed nonetheless (whole)")
        report = store.verify()
        assert report.ok, report.problems
        assert store.current_read_models() == store.replay_read_models()


def describe(writes: list[Write], down: float, up: float) -> None:
    failed = [w for w in writes if w.outcome.error is not None]
    slowest = max((w.outcome.seconds for w in failed), default=0.0)
    print(
        f"{len(writes) - len(failed)} writes acknowledged, {len(failed)} failed "
        f"(the slowest failure took {slowest:.3f} s); the server was down for "
        f"{up - down:.2f} s"
    )


def assert_failures_were_unavailable_in_time(writes: list[Write]) -> None:
    wrong = [
        f"{w.kind} {w.label}: {w.outcome}"
        for w in writes
        if w.outcome.error is not None
        and not (is_unavailable(w.outcome) and w.outcome.seconds <= BOUND + MARGIN)
    ]
    assert not wrong, "\n".join(wrong)


def assert_first_writes_after_the_restart_succeeded(writers: list[Writer], up: float) -> None:
    for writer in writers:
        first = next(w for w in writer.writes if w.started >= up)
        print(f"  {writer.name}: first write begun after the restart {first.outcome}")
        assert first.outcome.error is None, f"{writer.name}: {first.kind} {first.outcome}"


def assert_updates_are_all_there_once(
    store: EventSourcedSessionStore, shared: SessionKey, writes: list[Write]
) -> int:
    """How many updates that failed are in the log nonetheless."""
    updates = [e for e in store.history(shared) if e.type is EventType.UPDATED]
    logged = [node_of(e.data) for e in updates]
    attempted = {w.label: w for w in writes if w.kind == "update_session"}
    assert set(logged) <= set(attempted), "an update nobody made"
    committed = 0
    for label, write in attempted.items():
        times = logged.count(label)
        if write.outcome.error is None:
            assert times == 1, f"acknowledged update {label} is in the log {times} times"
        else:
            assert times <= 1, f"failed update {label} is in the log {times} times"
            committed += times
    assert store.get_session(shared) == updates[-1].data, "the state is not the last update"
    return committed


def assert_new_sessions_are_whole_or_absent(
    store: EventSourcedSessionStore, writes: list[Write]
) -> int:
    """How many new sessions whose write failed are there nonetheless."""
    committed = 0
    for write in writes:
        if write.kind != "register_wait":
            continue
        key = SessionKey(write.label)
        events = store.history(key)
        holder = store.find_wait_by_scope(CTX, USER, make_scope(write.label))
        data = store.get_session(key)
        if write.outcome.error is None:
            assert events, f"acknowledged {write.label} is not in the log"
        if events:
            committed += write.outcome.error is not None
            kinds = [e.type for e in events]
            assert kinds == [EventType.CREATED, EventType.WAIT_REGISTERED], (write, kinds)
            assert holder == key, f"{write.label} is in the log but not in the scope index"
            assert data == make_data(CTX, node=write.label), f"{write.label}: state {data}"
        else:
            assert holder is None and data is None, f"{write.label}: in read models only"
    return committed


def node_of(data: SessionData | None) -> str:
    assert data is not None
    return data.cursor.node_pointer
