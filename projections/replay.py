"""Rebuild every read model from the log alone: the proof that the indices are derived data."""

from __future__ import annotations

from collections.abc import Iterable

from greentic_session.domain.aggregate import Session
from greentic_session.projections.projector import replay, replay_logged
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.stream_history import LoggedEvent


def rebuild(events: Iterable[Session.Event | Session.Created]) -> MemoryReadModels:
    """The read models a fresh store would hold after these events, in log order (the
    scope-history rows without positions: a store appending the events assigns them)."""
    models = MemoryReadModels()
    for change in replay(events):
        models.apply([change])
    return models


def rebuild_logged(events: Iterable[LoggedEvent]) -> MemoryReadModels:
    """`rebuild` of events read from a log, each with its position, which the scope
    history keeps."""
    models = MemoryReadModels()
    for change in replay_logged(events):
        models.apply([change])
    return models
