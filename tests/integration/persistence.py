"""Names shared by the tests of the persistent backends (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from greentic_session import SessionStore
from tests.conftest import PERSISTENT_BACKENDS
from tests.support import make_ctx, make_scope

USER = "alice"
CTX = make_ctx(user=USER)
SCOPES = [make_scope(f"chat-{n}") for n in range(6)]
TTL = timedelta(minutes=10)

OpenAnother = Callable[[], SessionStore]

persistent = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)
