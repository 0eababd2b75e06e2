"""Fixtures of the stress runs: the private PostgreSQL server the outage tests stop and
restart."""

from __future__ import annotations

import getpass
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stress.private_server import PrivateServer


@pytest.fixture(scope="module")
def private_server() -> Iterator[PrivateServer]:
    if getpass.getuser() == "root" and shutil.which("su") is None:
        pytest.skip("running as root without su: cannot start a private server")
    # Not under pytest's tmp_path: its parents are private to root, and the server's own
    # user must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="greentic-pg-"))
    try:
        private = PrivateServer(folder)
        yield private
        private.thaw()
        if private.running:
            private.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(private_server: PrivateServer) -> Iterator[PrivateServer]:
    """The private server, running at the start of the test and again after it."""
    if not private_server.running:
        private_server.start()
    yield private_server
    private_server.thaw()
    if not private_server.running:
        private_server.start()
