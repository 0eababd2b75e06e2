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
from importlib.util import find_spec
from typing import Any

import psycopg
from psycopg.rows import dict_row

from benchmarks.config import Config
from benchmarks.databases import Databases, create_schema, libpq_url, schema_of
from benchmarks.floors import open_floor
from benchmarks.inputs import data_of, serial, spread_user
from benchmarks.timing import Call, Prepare, Row, measure_sides
from benchmarks.workloads import READ_POOL, update_get_calls
from greentic_session import SessionStore, open_store

OPERATION = "update + get cycle"


def store_cycle(store: SessionStore) -> Prepare:
    """update_session then get_session, over READ_POOL sessions in rotation."""
    return update_get_calls(store, [spread_user(i) for i in range(READ_POOL)])


@dataclass
class Thread:
    """A LangGraph thread: its config and the version of its one channel."""

    config: Any  # a RunnableConfig: {"configurable": {"thread_id": …, "checkpoint_ns": ""}}
    version: Any = None
    step: int = 0
    latest: Any = None  # the config `put` returned: the parent of the next checkpoint

    @classmethod
    def named(cls, thread_id: str) -> Thread:
        return cls({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})

    def next_checkpoint(self, saver: Any, user: str) -> tuple[Any, dict[str, Any]]:
        """The thread's next checkpoint, its channel holding the user's next snapshot, and
        the channel's new version (what `put` takes as `new_versions`)."""
        from langgraph.checkpoint.base import empty_checkpoint

        self.step += 1
        self.version = saver.get_next_version(self.version, None)
        checkpoint = empty_checkpoint()
        data = data_of(user, serial())
        checkpoint["channel_values"] = {"session": data.model_dump(mode="json")}
        checkpoint["channel_versions"] = {"session": self.version}
        return checkpoint, {"session": self.version}

    def metadata(self) -> Any:
        return {"source": "loop", "step": self.step}


def found_checkpoint(found: Any, checkpoint: Any) -> None:
    """The latest checkpoint read back is the one just put."""
    assert found is not None and found.checkpoint["id"] == checkpoint["id"]


def saver_connection(url: str) -> dict[str, Any]:
    """A connection as LangGraph's `from_conn_string` opens it, in the schema of `url`."""
    return {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "options": f"-c search_path={schema_of(url)}",
    }


def saver_installed() -> bool:
    """LangGraph's PostgreSQL checkpointer comes with the `bench` extra."""
    try:
        return find_spec("langgraph.checkpoint.postgres") is not None
    except ModuleNotFoundError:  # no `langgraph` package at all
        return False


def langgraph_version() -> str:
    from importlib.metadata import version

    return version("langgraph-checkpoint-postgres")


@contextmanager
def langgraph_cycle(url: str) -> Iterator[Prepare]:
    """put + get_tuple over READ_POOL threads, in a fresh schema of `url`."""
    from langgraph.checkpoint.postgres import PostgresSaver

    create_schema(url)
    with psycopg.connect(libpq_url(url), **saver_connection(url)) as connection:
        saver = PostgresSaver(connection)
        saver.setup()
        threads = [Thread.named(f"thread-{i}") for i in range(READ_POOL)]
        rotation = itertools.cycle(enumerate(threads))

        def cycle(thread: Thread, checkpoint: Any, versions: dict[str, Any]) -> None:
            parent = thread.latest or thread.config
            thread.latest = saver.put(parent, checkpoint, thread.metadata(), versions)
            found_checkpoint(saver.get_tuple(thread.config), checkpoint)

        def prepare(n: int) -> list[Call]:
            calls: list[Call] = []
            for i, thread in itertools.islice(rotation, n):
                checkpoint, versions = thread.next_checkpoint(saver, spread_user(i))
                calls.append(partial(cycle, thread, checkpoint, versions))
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
