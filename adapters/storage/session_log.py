"""The eventsourcing application that owns the log: one per open store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import Environment, EnvType

from greentic_session.adapters.storage.log_access import LogAccess
from greentic_session.projections.changes import Change
from greentic_session.projections.read_models import ReadModelReader

READ_MODEL_CHANGES = "read_model_changes"


class SessionLog(Application[UUID]):
    """The append-only log of every session's events.

    `save(..., read_model_changes=[...])` hands the changes to the recorder, which applies
    them in the transaction that appends the events.
    """

    name = "greentic_session"

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env=dict(env))

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the settings `open_store` derives from the URL, never `os.environ`: a stray
        variable meant for another eventsourcing application (a cipher, a cache, a schema)
        must not change how this store reads and writes its log."""
        return Environment(name, dict(env or {}))


@dataclass(frozen=True)
class OpenedLog:
    """What a backend hands the service layer: the log to append to, the reader of its read
    models, and the recorder's access for the audit tools (the whole log, one stream, a
    swap of rebuilt read models)."""

    log: SessionLog
    read_models: ReadModelReader
    log_access: LogAccess


def read_model_changes(kwargs: Mapping[str, object]) -> list[Change]:
    """The changes a recorder was given through `Application.save`."""
    changes = kwargs.get(READ_MODEL_CHANGES) or []
    if not isinstance(changes, list):
        raise TypeError(f"{READ_MODEL_CHANGES} must be a list of changes")
    return changes
