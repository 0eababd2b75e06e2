"""Helpers of the tests of what the store assumes of the eventsourcing library.

The assumptions are those numbered in the docstring of `adapters/storage/library_seams.py`.
Their tests are split by what they need: `tests/unit/test_library_assumptions.py` (no
database or store file), `tests/integration/test_library_assumptions_sqlite.py` and
`tests/integration/test_library_assumptions_postgres.py`. This module holds what they share:
the message of a broken assumption, a stored event, the signature checks and the constants.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import StoredEvent

from tests.support import make_ctx, make_data

NOW = datetime(2030, 1, 1, tzinfo=UTC)
CTX = make_ctx(user="alice")
DATA = make_data(CTX)


def broken(number: int, seam: str, what: str) -> str:
    """The message of a failed assumption: its number in `library_seams`, its seam, what
    the library no longer does."""
    return (
        f"eventsourcing {importlib.metadata.version('eventsourcing')} breaks assumption "
        f"{number} of adapters/storage/library_seams.py (seam: {seam}): {what}"
    )


def stored(stream: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="t", state=b"{}")


def positional_names(function: Any) -> list[str]:
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]


def takes_var_keyword(function: Any) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any(p.kind is p.VAR_KEYWORD for p in parameters)
