"""LangGraph's PostgreSQL checkpointer against our update + get cycle (PostgreSQL only).

One cycle is what a runtime does to save a flow's state and read it back: ours is
`update_session` + `get_session`; LangGraph's is `PostgresSaver.put` of a checkpoint whose
channel holds the same snapshot (the `SessionData` as a JSON dict, stored as a blob) +
`get_tuple` of the thread's latest checkpoint. The saver runs as LangGraph sets it up
(`from_conn_string`: autocommit, prepare_threshold=0, dict rows) in a schema of its own
(search_path), created by `setup()`. langgraph is imported here only, when the section runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg
from psycopg.rows import dict_row

from benchmarks.config import Config
from benchmarks.databases import Databases, create_schema, libpq_url, schema_of
from benchmarks.floors import open_floor
from benchmarks.inputs import add_session, data_of, serial, spread_user
from benchmarks.timing import Call, Prepare, Row, measure_sides
from benchmarks.workloads import READ_POOL
from greentic_session import SessionKey, SessionStore, open_store

OPERATION = "update + get cycle"


def store_cycle(store: SessionStore) -> Prepare:
    """update_session then get_session, over READ_POOL sessions in rotation."""
    rotation = itertools.cycle(
        enumerate(add_session(store, spread_user(i)) for i in range(READ_POOL))
    )

    def cycle(key: SessionKey, data: Any) -> None:
        store.update_session(key, data)
        assert store.get_session(key) == data

    def prepare(n: int) -> list[Call]:
        return [
            partial(cycle, key, data_of(spread_user(i), serial()))
            for i, key in itertools.islice(rotation, n)
        ]

    return prepare


@dataclass
class Thread:
    """A LangGraph thread: its config and the version of its one channel."""

    config: Any  # a RunnableConfig: {"configurable": {"thread_id": …, "checkpoint_ns": ""}}
    version: Any = None
    step: int = 0
    latest: Any = None  # the config `put` returned: the parent of the next checkpoint


def langgraph_version() -> str:
    from importlib.metadata import version

    return version("langgraph-checkpoint-postgres")


@contextmanager
def langgraph_cycle(url: str) -> Iterator[Prepare]:
    """put + get_tuple over READ_POOL threads, in a fresh schema of `url`."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.postgres import PostgresSaver

    create_schema(url)
    with psycopg.connect(
        libpq_url(url),
        autocommit=True,
        prepare_threshold=0,
        row_factory=dict_row,
        options=f"-c search_path={schema_of(url)}",
    ) as connection:
        saver = PostgresSaver(connection)
        saver.setup()
        threads = [
            Thread({"configurable": {"thread_id": f"thread-{i}", "checkpoint_ns": ""}})
            for i in range(READ_POOL)
        ]
        rotation = itertools.cycle(enumerate(threads))

        def cycle(thread: Thread, checkpoint: Any, versions: dict[str, Any]) -> None:
            metadata: Any = {"source": "loop", "step": thread.step}
            thread.latest = saver.put(
                thread.latest or thread.config, checkpoint, metadata, versions
            )
            found = saver.get_tuple(thread.config)
            assert found is not None and found.checkpoint["id"] == checkpoint["id"]

        def prepare(n: int) -> list[Call]:
            calls: list[Call] = []
            for i, thread in itertools.islice(rotation, n):
                data = data_of(spread_user(i), serial())
                thread.step += 1
                thread.version = saver.get_next_version(thread.version, None)
                checkpoint = empty_checkpoint()
                checkpoint["channel_values"] = {"session": data.model_dump(mode="json")}
                checkpoint["channel_versions"] = {"session": thread.version}
                calls.append(partial(cycle, thread, checkpoint, {"session": thread.version}))
            return calls

        yield prepare


def langgraph_section(dbs: Databases, config: Config) -> list[Row]:
    """Ours, the floor and LangGraph, each in a fresh schema, in alternating rounds."""
    with (
        langgraph_cycle(dbs.new_url("postgres", "lg")) as theirs,
        open_store(dbs.new_url("postgres")) as store,
        open_floor(dbs.new_url("postgres", "floor")) as floor,
    ):
        sides = {"ours": store_cycle(store), "floor": store_cycle(floor), "langgraph": theirs}
        found = measure_sides(sides, config.seconds, config.max_calls)
    return [Row("langgraph", "postgres", OPERATION, who, "", s) for who, s in found.items()]
