"""A PostgreSQL server that goes away and comes back under an open store.

The test starts a private server of its own (initdb in a temporary folder, a free port),
so stopping it disturbs nothing else.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest

from domain import ErrorCode, SessionError
from tests.conftest import open_store
from tests.support import make_ctx, make_data

pytestmark = pytest.mark.postgres
CTX = make_ctx(user="alice")


class PrivateServer:
    def __init__(self, folder: Path) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin"))
        if not binaries:
            reason = "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        self.bin = Path(binaries[-1])
        self.data = folder / "data"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        folder.chmod(0o777)
        self._run(f"{self.bin / 'initdb'} -D {self.data} -A trust -U postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = self.data / "server.log"  # not our pipes: a server holding them never lets go
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -l {log} -o '{options}' -w start")

    def stop(self) -> None:
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -m fast -w stop")

    def _run(self, command: str) -> None:
        """The server refuses to run as root: as root, run it as the postgres user."""
        if getpass.getuser() == "root":
            args = ["su", "postgres", "-c", command]
        else:
            args = ["sh", "-c", command]
        subprocess.run(args, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    if getpass.getuser() == "root" and shutil.which("su") is None:
        pytest.skip("running as root without su: cannot start a private server")
    # Not under pytest's tmp_path: its parents are private to root, and the server's own
    # user must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="greentic-pg-"))
    try:
        private = PrivateServer(folder)
        private.start()
        yield private
        private.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_outage_gives_unavailable_and_the_store_recovers_by_itself(
    server: PrivateServer,
) -> None:
    with open_store(server.dsn) as store:
        key = store.create_session(CTX, make_data(CTX, node="before"))
        server.stop()
        started = time.monotonic()
        with pytest.raises(SessionError) as read_error:
            store.get_session(key)
        with pytest.raises(SessionError) as write_error:
            store.update_session(key, make_data(CTX, node="during"))
        for caught in (read_error, write_error):
            assert caught.value.code is ErrorCode.UNAVAILABLE
            assert caught.value.__cause__ is not None
        assert time.monotonic() - started < 60, "calls during an outage must not hang"
        server.start()
        assert store.get_session(key) == make_data(CTX, node="before")
        store.update_session(key, make_data(CTX, node="after"))
        assert store.get_session(key) == make_data(CTX, node="after")
