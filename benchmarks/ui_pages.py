"""The web app's pages on large stores: how long `/` (a tenant filter) and a session's page
take to answer when the log holds 100k or a million events.

Run from the project root (needs the `ui` and `browser` extras):

    python -m benchmarks.ui_pages                          # 100k events, SQLite and PostgreSQL
    python -m benchmarks.ui_pages --sizes 100k,1m          # and a million (~10 min a fill)

Each size's store is filled as `benchmarks.scale` fills it (`import_events` of the cached
export of the realistic mix), then opened read-only, as `greentic-session ui` opens it, and
each page is requested `--requests` times in process through Starlette's test client (the
app and the store, without a socket), after three warm-up requests. A cell is the median
and the 95th percentile of those requests, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.testclient import TestClient

from benchmarks.bench_store import progress
from benchmarks.databases import databases
from benchmarks.inputs import tenant_ctx
from benchmarks.report import table
from benchmarks.scale import BACKEND_NAMES, header, parse_config, size_label
from benchmarks.scale_mix import Export, cached_export
from greentic_session import open_store
from greentic_session.adapters.web.app import web_app

WARM_UPS = 3


def pages(export: Export) -> dict[str, str]:
    """The pages measured, by name: the search with a tenant filter (and a user), the probe
    session's page and a diff of it, and where a reply to its scope went."""
    probe = export.probe
    ctx = tenant_ctx(probe.user)
    caller = {"env": ctx.env, "tenant": ctx.tenant_id, "team": ctx.team_id or "",
              "user": probe.user, "conversation": probe.conversation, "thread": probe.thread,
              "at": probe.waiting_at}
    return {
        "`/?tenant=T`": "/?" + urlencode({"tenant": ctx.tenant_id}),
        "`/?tenant=T&user=U`": "/?" + urlencode({"tenant": ctx.tenant_id, "user": probe.user}),
        "`/sessions/{key}`": f"/sessions/{probe.session_key}",
        "`/sessions/{key}/diff`": f"/sessions/{probe.session_key}/diff?v1=1&v2=4",
        "`/scopes` (explain)": "/scopes?" + urlencode(caller),
    }


def measure(url: str, export: Export, requests: int) -> dict[str, str]:
    """Each page's p50 / p95 in ms over `requests` requests."""
    cells = {}
    with open_store(url, create=False) as store, TestClient(web_app(store)) as client:
        for name, path in pages(export).items():
            for _ in range(WARM_UPS):
                assert client.get(path).status_code == 200, path
            took = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(path)
                took.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            p95 = statistics.quantiles(took, n=20)[-1]
            cells[name] = f"{statistics.median(took):.1f} / {p95:.1f}"
    return cells


def main(argv: Sequence[str] | None = None) -> str:
    """Fills the stores, measures the pages, prints the table; returns it. Takes
    `benchmarks.scale`'s `--sizes`, `--backends` and `--cache`, and `--requests`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui_pages")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--sizes", default="100k", help="events per store, e.g. 100k,1m")
    ours, theirs = parser.parse_known_args(argv)
    config = parse_config(["--sizes", ours.sizes, "--markdown", os.devnull, *theirs])
    columns: list[tuple[str, dict[str, str]]] = []
    with databases(config.pg_url) as dbs:
        for size in config.sizes:
            export, _ = cached_export(config.cache, size)
            for backend in config.backends:
                title = f"{BACKEND_NAMES[backend]} {size_label(size)}"
                url = dbs.new_url(backend, f"ui{export.events}")
                progress(f"{title}: filling ({export.events:,} events)")
                with open_store(url) as store, export.path.open() as source:
                    store.import_events(source)
                progress(f"{title}: requesting the pages")
                columns.append((title, measure(url, export, ours.requests)))
                dbs.drop_all()
    names = list(columns[0][1]) if columns else []
    rows = [[name, *(cells[name] for _, cells in columns)] for name in names]
    head = ["page (p50 / p95 ms)", *(title for title, _ in columns)]
    command = shlex.join(["python", "-m", "benchmarks.ui_pages", *argv])
    lines = table("The web app's pages on large stores", head, rows, 1)
    report = "\n".join([f"Reproduce: `{command}`", "", header(config), "", *lines])
    print(report)
    return report


if __name__ == "__main__":
    main()
