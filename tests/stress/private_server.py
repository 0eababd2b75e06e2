"""A private PostgreSQL server for the outage tests, which they stop, crash and restart;
and a listener that accepts connections and never answers."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from glob import glob
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.stress.outage import BOUND


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
        self.running = False
        self.frozen: list[int] = []
        folder.chmod(0o777)
        self._run(f"{self.bin / 'initdb'} -D {self.data} -A trust -U postgres")

    def url(self, connect_timeout: int | None = BOUND) -> str:
        """A fresh schema on this server, so each test starts from an empty store."""
        query = [("schema", f"t_{uuid.uuid4().hex[:16]}")]
        if connect_timeout is not None:
            query.append(("connect_timeout", str(connect_timeout)))
        return f"{self.dsn}?{urlencode(query)}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = self.data / "server.log"  # not our pipes: a server holding them never lets go
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -l {log} -o '{options}' -w start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are told and the server shuts down cleanly; `immediate`: every
        server process quits at once, as in a crash (the next start recovers from the WAL)."""
        self._run(f"{self.bin / 'pg_ctl'} -D {self.data} -m {mode} -w stop")
        self.running = False

    def freeze(self) -> None:
        """Every server process stopped in its tracks (SIGSTOP): its sockets stay open and
        the kernel still accepts connections, but nothing ever answers."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        self.frozen = [postmaster, *_children(postmaster)]
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

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


def _children(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


class SilentListener:
    """Holds a port and never answers: it accepts connections and stays silent, or, with
    `accept=False`, leaves them in a minimal backlog (later ones are never even accepted by
    the kernel)."""

    def __init__(self, port: int, *, accept: bool) -> None:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64 if accept else 0)
        self._socket.settimeout(0.05)
        self._accepted: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept if accept else self._done.wait)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                self._accepted.append(self._socket.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        for connection in self._accepted:
            connection.close()
        self._socket.close()


@contextmanager
def silent_server(server: PrivateServer, *, accept: bool = True) -> Iterator[None]:
    """The server stopped and its port held by a listener that never answers."""
    server.stop()
    listener = SilentListener(server.port, accept=accept)
    try:
        yield
    finally:
        listener.close()
