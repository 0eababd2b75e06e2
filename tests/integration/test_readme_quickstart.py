"""The README's Python quickstart is what a new user pastes first: it must type-check
under `mypy --strict` (with and without pydantic's mypy plugin) and run as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import greentic_session

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
INSTALLED = os.environ.get("GREENTIC_SESSION_TEST_INSTALLED") == "1"
"""Set by `.ci/run` for its run from a copy of `tests/`, where no README is next to them."""

pytestmark = pytest.mark.skipif(
    INSTALLED,
    reason="GREENTIC_SESSION_TEST_INSTALLED: a copy of tests/, with no README.md beside it",
)

QUICKSTARTS = ["Python quickstart", "Async quickstart"]


def quickstart(tmp_path: Path, section: str = "Python quickstart") -> Path:
    """The section's code block, written to a file of its own in `tmp_path`."""
    pattern = re.compile(rf"^## {section}\n.*?^```python\n(.*?)^```$", re.M | re.S)
    found = pattern.search(README.read_text(encoding="utf-8"))
    assert found is not None, f"README.md has no python block under '## {section}'"
    script = tmp_path / "quickstart.py"
    script.write_text(found.group(1), encoding="utf-8")
    return script


def mypy(
    tmp_path: Path, *options: str, section: str = "Python quickstart"
) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` on the quickstart, from `tmp_path`, as a user's project would run it.

    An editable install is found through an import hook mypy does not follow: then the
    package's parent folder goes on MYPYPATH (never a site-packages folder, which mypy
    refuses there).
    """
    package_parent = Path(greentic_session.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    if "site-packages" not in package_parent.parts:
        env["MYPYPATH"] = str(package_parent)
    script = quickstart(tmp_path, section)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *options, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("section", QUICKSTARTS)
def test_the_readme_quickstart_passes_mypy_strict_without_the_pydantic_plugin(
    tmp_path: Path, section: str
) -> None:
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    result = mypy(tmp_path, "--config-file", "mypy.ini", section=section)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("section", QUICKSTARTS)
def test_the_readme_quickstart_passes_mypy_strict_with_the_pydantic_plugin(
    tmp_path: Path, section: str
) -> None:
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = pydantic.mypy\n", encoding="utf-8")
    result = mypy(tmp_path, "--config-file", "mypy.ini", section=section)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_quickstart_runs_and_leaves_its_store_where_it_says(tmp_path: Path) -> None:
    script = quickstart(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENTIC_SESSION_")}
    result = subprocess.run(
        [sys.executable, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "sessions.db").is_file()


ASYNC_CALLER = """
import asyncio, sys
from greentic_session import ReplyScope, SessionCursor, SessionData, TenantCtx, open_store
from quickstart import on_message

url = sys.argv[1]
ctx = TenantCtx.new("prod", "acme").with_user("alice")
data = SessionData(tenant_ctx=ctx, flow_id="f", cursor=SessionCursor(node_pointer="n"),
                   context_json="{}")
with open_store(url) as store:
    store.register_wait(ctx, "alice", ReplyScope(conversation="chat-1"), "k1", data)
print(asyncio.run(on_message(url, ctx, "alice", "chat-1")))
print(asyncio.run(on_message(url, ctx, "alice", "chat-1")))
with open_store(url) as store:
    print(store.history("k1")[-2].data.context_json)
"""


def test_the_async_quickstart_resumes_the_waiting_flow_once(tmp_path: Path) -> None:
    quickstart(tmp_path, "Async quickstart")
    (tmp_path / "caller.py").write_text(ASYNC_CALLER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENTIC_SESSION_")}
    result = subprocess.run(
        [sys.executable, "caller.py", f"sqlite:///{tmp_path / 'async.db'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "resumed k1",
        "no flow is waiting for this reply",
        '{"step": 2}',
    ]
