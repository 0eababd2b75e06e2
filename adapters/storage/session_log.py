"""The eventsourcing application that owns the log: one per open store."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import Environment, EnvType

from greentic_session.projections.changes import Change

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


def read_model_changes(kwargs: Mapping[str, object]) -> list[Change]:
    """The changes a recorder was given through `Application.save`."""
    changes = kwargs.get(READ_MODEL_CHANGES) or []
    if not isinstance(changes, list):
        raise TypeError(f"{READ_MODEL_CHANGES} must be a list of changes")
    return changes
