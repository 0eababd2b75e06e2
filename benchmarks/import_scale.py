"""Import at scale: an export of N events, then `import_events` timed in a fresh process.

    python -m benchmarks.import_scale generate /tmp/export-100k.jsonl --events 100000
    python -m benchmarks.import_scale import /tmp/export-100k.jsonl --url sqlite:////tmp/x.db
    python -m benchmarks.import_scale export /tmp/again.jsonl --url sqlite:////tmp/x.db

The export is made by the project's own code: sessions driven through the public API of
in-memory stores with a fake clock (the realistic mix of the scale issue: created, updated
with a ~1 KB context, parked on a scope with a 1 h TTL, updated again, then cleared (60%),
removed (30%) or left waiting), each store exported, and the exports concatenated with
their positions renumbered. A memory store holds only one chunk at a time, so generating a
million events stays within a few hundred MB. `import` and `export` print the wall time, the
rate and the peak RSS (`resource.getrusage`) of their own process.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from datetime import timedelta

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    TenantCtx,
    open_store,
)
from tests.support import FakeClock

CHUNK_SESSIONS = 5000
CONTEXT = json.dumps({"notes": "x" * 1000})


def generate(path: str, events: int) -> int:
    """Writes about `events` events to `path`; returns how many."""
    written = 0
    clock = FakeClock()
    with open(path, "w", encoding="utf-8") as out:
        while written < events:
            with open_store("memory://", clock=clock) as store:
                for n in range(CHUNK_SESSIONS):
                    _one_session(store, clock, written + n)
                buffer = io.StringIO()
                store.export_events(buffer)
            for line in buffer.getvalue().splitlines():
                if written >= events:
                    break
                fields = json.loads(line)
                written += 1
                fields["position"] = written
                out.write(json.dumps(fields) + "\n")
    return written


def _one_session(store: EventSourcedSessionStore, clock: FakeClock, n: int) -> None:
    user = f"user-{n % 1000}"
    ctx = TenantCtx.new("prod", f"tenant-{n % 7}").with_user(user)

    def data(node: str) -> SessionData:
        cursor = SessionCursor(node_pointer=node)
        return SessionData(tenant_ctx=ctx, flow_id="flow", cursor=cursor, context_json=CONTEXT)

    key = store.create_session(ctx, data("start"))
    store.update_session(key, data("ask"))
    scope = ReplyScope(conversation=f"chat-{n}")
    store.register_wait(ctx, user, scope, key, data("wait"), timedelta(hours=1))
    clock.advance(timedelta(milliseconds=10))
    store.update_session(key, data("waiting"))
    if n % 10 < 6:
        store.clear_wait(ctx, user, scope)
    elif n % 10 < 9:
        store.remove_session(key)


def import_file(url: str, path: str) -> None:
    with open_store(url) as store, open(path, encoding="utf-8") as fp:
        start = time.perf_counter()
        count = store.import_events(fp)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"imported {count} events in {seconds:.1f} s ({count / seconds:,.0f} events/s), "
        f"peak RSS {peak_mb:.0f} MB"
    )


def export_store(url: str, path: str) -> None:
    with open_store(url) as store, open(path, "w", encoding="utf-8") as fp:
        start = time.perf_counter()
        count = store.export_events(fp)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"exported {count} events in {seconds:.1f} s ({count / seconds:,.0f} events/s), "
        f"peak RSS {peak_mb:.0f} MB"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate")
    gen.add_argument("path")
    gen.add_argument("--events", type=int, default=100_000)
    load = commands.add_parser("import")
    load.add_argument("path")
    load.add_argument("--url", required=True)
    dump = commands.add_parser("export")
    dump.add_argument("path")
    dump.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    if args.command == "generate":
        print(f"wrote {generate(args.path, args.events)} events to {args.path}")
    elif args.command == "import":
        import_file(args.url, args.path)
    else:
        export_store(args.url, args.path)


if __name__ == "__main__":
    main(sys.argv[1:])
