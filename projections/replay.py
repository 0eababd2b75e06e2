"""Rebuild every read model from the log alone: the proof that the indices are derived data."""

from __future__ import annotations

from collections.abc import Iterable

from greentic_session.domain.aggregate import Session
from greentic_session.projections.projector import replay
from greentic_session.projections.read_models import MemoryReadModels


def rebuild(events: Iterable[Session.Event | Session.Created]) -> MemoryReadModels:
    """The read models a fresh store would hold after these events, in log order."""
    models = MemoryReadModels()
    for change in replay(events):
        models.apply([change])
    return models
