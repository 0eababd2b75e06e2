"""One audit operation of the scale benchmark, run in a fresh interpreter.

`python -m benchmarks.scale_operation OPERATION URL EXPORT PROBE_JSON` opens the store,
runs the operation once and prints one JSON line: its wall time (the call alone, not the
interpreter's start or `open_store`), the process's peak RSS (`VmHWM`, which covers the
interpreter and the imports too; `open_rss_mb` is the peak before the call) and what the
call returned, or the `SessionError` code (else the exception's type) it failed with.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime

from benchmarks.inputs import tenant_ctx
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


# In the order they run on a store: import fills it, sweep (which writes) comes last.
OPERATIONS: dict[str, Operation] = {
    "import_events": import_events,
    "verify": verify,
    "rebuild_projections": rebuild_projections,
    "explain": explain,
    "history": history,
    "find": find,
    "export_events": export_events,
    "sweep_expired": sweep_expired,
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


def run(operation: str, url: str, export: str, probe: Probe) -> dict[str, object]:
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
