"""`open_floor(url)`: the floor store for a store URL, like `open_store(url)` for ours."""

from __future__ import annotations

from benchmarks.databases import sqlite_path
from benchmarks.floor_common import FloorStore
from benchmarks.floor_memory import MemoryFloor
from benchmarks.floor_postgres import PostgresFloor
from benchmarks.floor_sqlite import SQLiteFloor
from greentic_session.domain.rules import Clock


def open_floor(url: str, clock: Clock | None = None) -> FloorStore:
    """`memory://`, `sqlite:////abs/path.db` or `postgresql://…?schema=NAME`."""
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return MemoryFloor(clock)
    if scheme == "sqlite":
        return SQLiteFloor(sqlite_path(url), clock)
    if scheme in ("postgresql", "postgres"):
        return PostgresFloor(url, clock)
    raise ValueError(f"no floor store for {url!r}")
