"""One audit operation of the scale benchmark, run in a fresh interpreter.

`python -m benchmarks.scale_operation OPERATION URL EXPORT PROBE_JSON` opens the store,
runs the operation once and prints one JSON line: its wall time (the call alone, not the
interpreter's start or `open_store`), the process's peak RSS (`VmHWM`, which covers the
interpreter and the imports too; `open_rss_mb` is the peak before the call) and what the
call returned, or the `SessionError` code (else the exception's type) it failed with.
For the erasures the result also has the database's size before and after the call
(`database_mb`: SQLite's file and WAL; PostgreSQL's tables, indexes and TOAST in the
store's schema).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from benchmarks.databases import libpq_url, schema_of, sqlite_path
from benchmarks.inputs import USERS, tenant_ctx
from benchmarks.scale_mix import Probe
from greentic_session import AuditedSessionStore, SessionError, open_store

Operation = Callable[[AuditedSessionStore, str, Probe], object]


def import_events(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    with open(export) as fp:
        return store.import_events(fp)


def verify(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    report = store.verify()
    return {"ok": report.ok, "events": report.events, "problems": len(report.problems)}


def rebuild_projections(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    store.rebuild_projections()
    return None


def explain(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    at = datetime.fromisoformat(probe.waiting_at)
    found = store.explain(tenant_ctx(probe.user), probe.user, probe.scope(), at=at)
    return {"session_key": found.session_key, "trail": len(found.trail)}


def export_events(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    with tempfile.TemporaryFile("w+") as fp:
        return store.export_events(fp)


def history(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    return len(store.history(probe.session_key))


def find(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    """`find_sessions`: a page of the tenant's sessions (every session of the mix), the page
    after it, a page of the probe's user and one of its conversation; each call timed on
    its own."""
    tenant = str(tenant_ctx(probe.user).tenant_id)
    timings: dict[str, object] = {}

    def timed(name: str, **filters: object) -> str | None:
        started = time.perf_counter()
        page = store.find_sessions(**filters)  # type: ignore[arg-type]
        timings[f"{name}_ms"] = round((time.perf_counter() - started) * 1000, 2)
        timings[f"{name}_rows"] = len(page.sessions)
        return page.next

    after = timed("tenant", tenant=tenant, limit=50)
    timed("tenant_next", tenant=tenant, limit=50, after=after)
    timed("user", user=probe.user, limit=50)
    timed("conversation", conversation=probe.conversation)
    return timings


def sweep_expired(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    return store.sweep_expired()


def timed_erase(store: AuditedSessionStore, **subject: str) -> dict[str, object]:
    """`erase` of `subject`, its wall time split through its `progress` calls: `write_s` up
    to the last session's commit (each session calls `progress(n, None)` once written),
    `compact_s` from there to the call's end (the backend's compaction, then the final
    `progress(n, n)`; SQLite checkpoints, and VACUUMs only where deletes keep their bytes;
    PostgreSQL does nothing)."""
    written: list[float] = []

    def progress(done: int, total: int | None) -> None:
        if total is None:
            written.append(time.perf_counter())

    started = time.perf_counter()
    report = store.erase(reason="benchmark", progress=progress, **subject)  # type: ignore[arg-type]
    ended = time.perf_counter()
    last = written[-1] if written else ended
    return {
        "sessions": len(report.sessions),
        "events": report.events,
        "seconds": round(ended - started, 3),
        "write_s": round(last - started, 3),
        "compact_s": round(ended - last, 3),
    }


def neighbour(user: str) -> str:
    """The user after `user` among the mix's (`spread_user`'s `user-NNN`)."""
    return f"user-{(int(user.rpartition('-')[2]) + 1) % USERS:03d}"


def erase_session(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    """The probe's session; then, in the same process, a session of the next user (so
    `erase_user` is not short of it): a second erasure, warm, which compacts the file
    again. The cell's time covers both; the result has each one's split."""
    first = timed_erase(store, session=probe.session_key)
    ctx = tenant_ctx(probe.user)
    other = store.find_sessions(
        env=str(ctx.env), tenant=str(ctx.tenant_id), user=neighbour(probe.user), limit=1
    )
    second = timed_erase(store, session=str(other.sessions[0].session_key))
    return {**first, "second": second}


def erase_user(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    """Every session of the probe's user in the mix's tenant (one in `USERS` of the
    sessions; the probe's own, erased by `erase_session`, erases nothing more)."""
    ctx = tenant_ctx(probe.user)
    return timed_erase(store, env=str(ctx.env), tenant=str(ctx.tenant_id), user=probe.user)


def verify_after_erase(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    report = store.verify()
    return {
        "ok": report.ok,
        "events": report.events,
        "problems": len(report.problems),
        "erasures": len(report.erasures),
    }


def archive(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    """Every session that ended before now (the mix's clock ran in the past) to a file."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as fp:
        report = store.archive(ended_before=datetime.now(UTC), to=fp)
        return {"streams": report.streams, "events": report.events}


def verify_after_archive(store: AuditedSessionStore, export: str, probe: Probe) -> object:
    report = store.verify()
    archived = sum(a.streams for a in report.archived)
    return {"ok": report.ok, "events": report.events, "archived_streams": archived}


# In the order they run on a store: import fills it, sweep (which writes) comes next, then
# the erasures (which overwrite) and verify through them, then archive (which deletes) and
# verify through its tombstones.
OPERATIONS: dict[str, Operation] = {
    "import_events": import_events,
    "verify": verify,
    "rebuild_projections": rebuild_projections,
    "explain": explain,
    "history": history,
    "find": find,
    "export_events": export_events,
    "sweep_expired": sweep_expired,
    "erase_session": erase_session,
    "erase_user": erase_user,
    "verify_after_erase": verify_after_erase,
    "archive": archive,
    "verify_after_archive": verify_after_archive,
}


def peak_rss_mb() -> float:
    """This process's peak RSS: `VmHWM`, which starts again at exec. `ru_maxrss` would not
    do: Linux carries it over from the parent through fork and exec, so every child would
    read at least the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# Operations whose result also has the database's size before and after the call.
SIZED = ("erase_session", "erase_user")


def database_mb(url: str) -> float:
    """The store's bytes on disk: SQLite's file and its WAL; PostgreSQL's relations in the
    store's schema (tables, indexes, TOAST: dead row versions count until vacuumed)."""
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        files = (path, f"{path}-wal")
        return round(sum(os.path.getsize(f) for f in files if os.path.exists(f)) / 2**20, 1)
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (schema_of(url),),
        ).fetchone()
    return round(int(row[0] if row else 0) / 2**20, 1)


def run(operation: str, url: str, export: str, probe: Probe) -> dict[str, object]:
    before = database_mb(url) if operation in SIZED else None
    with open_store(url) as store:
        open_rss = peak_rss_mb()
        started = time.perf_counter()
        try:
            result = OPERATIONS[operation](store, export, probe)
            error = None
        except SessionError as exc:
            result, error = None, f"{exc.code.value}: {exc.message}"
        except Exception as exc:  # reported in the table, never a crash of the run
            result, error = None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
    if before is not None and isinstance(result, dict):
        result = {**result, "database_mb": [before, database_mb(url)]}
    return {
        "operation": operation,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "open_rss_mb": open_rss,
        "result": result,
        "error": error,
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    name, store_url, export_path, probe_json = sys.argv[1:5]
    outcome = run(name, store_url, export_path, Probe(**json.loads(probe_json)))
    print(json.dumps(outcome, default=str), flush=True)
