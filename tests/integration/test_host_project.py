"""A host application laid out as "Architecture Patterns with Python" teaches, with its own
`domain`, `adapters` and `tests` packages, imports the store and runs a session round trip:
the store's layers live under `greentic_session`, so neither side shadows the other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOST_PACKAGES = {
    "domain/__init__.py": '"""The host\'s own domain."""\n',
    "domain/errors.py": "class OrderError(Exception):\n    pass\n",
    "adapters/__init__.py": '"""The host\'s own adapters."""\n',
    "adapters/open_store.py": "def open_store() -> str:\n    return 'the host database'\n",
    "tests/__init__.py": "",
}

BOT = """
import sys
from datetime import timedelta
from pathlib import Path

import adapters.open_store
import domain.errors
import tests
from greentic_session import ReplyScope, SessionCursor, SessionData, TenantCtx, open_store

here = Path.cwd().resolve()
for package in (domain, adapters, tests):
    assert Path(package.__file__).resolve().is_relative_to(here), package.__file__
assert adapters.open_store.open_store() == "the host database"

ctx = TenantCtx.new("prod", "acme").with_user("alice")
scope = ReplyScope(conversation="chat-1")
data = SessionData(
    tenant_ctx=ctx, flow_id="order", cursor=SessionCursor(node_pointer="ask"), context_json="{}"
)
with open_store(sys.argv[1]) as store:
    key = store.create_session(ctx, data)
    store.register_wait(ctx, "alice", scope, key, data, ttl=timedelta(hours=1))
    assert store.find_wait_by_scope(ctx, "alice", scope) == key
    assert store.get_session(key) == data
    store.clear_wait(ctx, "alice", scope)
    assert store.get_session(key) is None
    assert store.verify().ok
print("round trip ok", key)
"""


def test_a_host_project_with_its_own_domain_adapters_and_tests_uses_the_store(
    tmp_path: Path,
) -> None:
    host = tmp_path / "host"
    for name, text in HOST_PACKAGES.items():
        (host / name).parent.mkdir(parents=True, exist_ok=True)
        (host / name).write_text(text)
    (host / "bot.py").write_text(BOT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "bot.py", f"sqlite:///{tmp_path / 'bot.db'}"],
        cwd=host,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("round trip ok ")
