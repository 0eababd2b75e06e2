"""The tombstones table of the SQL backends: one row per archived stretch of a stream.

`gs_archived_streams` is an anchor like the heads, never rebuilt: a row says that the
stream's versions up to `last_version` went to the archive with `archive_digest`, and
the hash the stream's next event links to. It holds no session content (versions,
hashes, a digest, a count, a time, the archiving actor), so erasing a subject never has
to touch it. Only the archive, run by the tables' owner, writes it; the runtime role
reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from greentic_session.adapters.storage.log_access import EndedStream
from greentic_session.adapters.storage.sql_tables import SqlReadModels, from_micros, to_micros
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.state import stream_id
from greentic_session.projections.read_model_rows import UnreadableRow

TOMBSTONES_TABLE = "gs_archived_streams"

_COLUMNS = "session_key, last_version, last_hash, archive_digest, events, archived_at, archived_by"


class SqlTombstones:
    """Statements over `gs_archived_streams` (`qualifier`: the schema, with its dot)."""

    def __init__(self, *, qualifier: str, placeholder: str, for_update: str = "") -> None:
        def sql(text: str) -> str:
            return text.replace("{q}", qualifier).replace("?", placeholder)

        self.table = sql(f"{{q}}{TOMBSTONES_TABLE}")
        self.create = sql(
            f"CREATE TABLE IF NOT EXISTS {{q}}{TOMBSTONES_TABLE} ("
            "stream_id TEXT NOT NULL, session_key TEXT NOT NULL, last_version BIGINT NOT NULL, "
            "last_hash TEXT NOT NULL, archive_digest TEXT NOT NULL, events BIGINT NOT NULL, "
            "archived_at BIGINT NOT NULL, archived_by TEXT, "
            "PRIMARY KEY (stream_id, last_version))"
        )
        self.select_all = sql(
            f"SELECT stream_id, {_COLUMNS} FROM {{q}}{TOMBSTONES_TABLE} "
            "ORDER BY stream_id, last_version"
        )
        self.select_stream = sql(
            f"SELECT stream_id, {_COLUMNS} FROM {{q}}{TOMBSTONES_TABLE} WHERE stream_id = ? "
            "ORDER BY last_version"
        )
        self.insert = sql(
            f"INSERT INTO {{q}}{TOMBSTONES_TABLE} (stream_id, {_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self.rename_archive = sql(
            f"UPDATE {{q}}{TOMBSTONES_TABLE} SET archive_digest = ? WHERE archive_digest = ?"
        )
        self.select_ended = sql(
            "SELECT s.session_key, s.version, s.head_hash, s.stream_id "
            "FROM {q}gs_session_state s WHERE s.data IS NULL AND s.stream_id > ? "
            f"AND NOT EXISTS (SELECT 1 FROM {{q}}{TOMBSTONES_TABLE} t "
            "WHERE t.stream_id = s.stream_id AND t.last_version = s.version) "
            "ORDER BY s.stream_id LIMIT ?"
        )
        self.recheck = sql(
            "SELECT version, head_hash FROM {q}gs_session_state "
            f"WHERE stream_id = ? AND data IS NULL{for_update}"
        )
        self._delete_scope_history = sql("DELETE FROM {q}gs_scope_history WHERE stream_id IN ")
        self._delete_session_index = sql("DELETE FROM {q}gs_session_index WHERE stream_id IN ")
        self._placeholder = placeholder
        # The archive's deletions find a stream's scope-history rows by stream: the table's
        # own indexes are by scope.
        self.scope_history_index = sql(
            "CREATE INDEX IF NOT EXISTS gs_scope_history_by_stream "
            "ON {q}gs_scope_history (stream_id)"
        )

    def derived_rows(
        self, archived: Sequence[ArchivedStream], tables: SqlReadModels
    ) -> list[tuple[str, list[str]]]:
        """The statements that delete what the read models derived from archived streams'
        events, where the store has those tables: their scope-history rows, and their
        session-index rows (an archived session is no longer found: its tombstone holds no
        content to find it by; a new life indexes it anew)."""
        streams = [str(stream_id(t.session_key)) for t in archived]
        if not streams:
            return []
        marks = "(" + ", ".join([self._placeholder] * len(streams)) + ")"
        statements = []
        if tables.scope_history_ready:
            statements.append((f"{self._delete_scope_history}{marks}", streams))
        if tables.session_index.ready:
            statements.append((f"{self._delete_session_index}{marks}", streams))
        return statements

    def insert_rows(self, tombstones: Iterable[ArchivedStream]) -> list[tuple[Any, ...]]:
        return [
            (
                str(stream_id(t.session_key)),
                str(t.session_key),
                t.last_version,
                t.last_hash,
                t.archive_digest,
                t.events,
                to_micros(t.archived_at),
                t.archived_by,
            )
            for t in tombstones
        ]


def ended_streams(rows: Iterable[Sequence[Any]]) -> list[EndedStream]:
    return [
        EndedStream(str(key), int(version), str(hash_), str(sid))
        for key, version, hash_, sid in rows
    ]


def still_ended(cursor: Any, recheck: str, ended: list[EndedStream]) -> list[EndedStream]:
    """Those of `ended` whose state row is still ended at the version and hash listed
    (`recheck`, run on `cursor` inside the archiving transaction)."""
    kept = []
    for stream in ended:
        cursor.execute(recheck, (stream.stream_text,))
        row = cursor.fetchone()
        if row is not None and tuple(row) == (stream.version, stream.head_hash):
            kept.append(stream)
    return kept


def decoded(rows: Iterable[Sequence[Any]]) -> Iterator[ArchivedStream | UnreadableRow]:
    """Each row as a tombstone, or why it is not one (for verify to name)."""
    for row in rows:
        stream, key, version, hash_, digest, events, archived_at, archived_by = row
        try:
            moment = from_micros(archived_at)
            if moment is None:
                raise TypeError("archived_at is NULL")
            tombstone = ArchivedStream(
                session_key=key,
                last_version=version,
                last_hash=hash_,
                archive_digest=digest,
                events=events,
                archived_at=moment,
                archived_by=archived_by,
            )
        except (ValidationError, TypeError, OverflowError) as exc:
            yield UnreadableRow(f"tombstone of {key!r} v{version!r} does not decode ({exc})")
            continue
        if stream != str(stream_id(tombstone.session_key)):
            yield UnreadableRow(
                f"tombstone of {key!r} v{version!r}: its stream id is not its key's "
                "(inserted, or its key changed)"
            )
            continue
        yield tombstone


def readable(rows: Iterable[Sequence[Any]]) -> list[ArchivedStream]:
    """The tombstones that decode (the tools that need them whole: verify names the rest)."""
    return [t for t in decoded(rows) if isinstance(t, ArchivedStream)]
