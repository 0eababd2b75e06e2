"""What `pip install greentic-session` gives a user: one import package, its facade, its
version, its console script; and nothing else in site-packages."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import greentic_session

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = os.environ.get("GREENTIC_SESSION_TEST_INSTALLED") == "1"
"""Set by `.ci/run`, which runs the suite from a copy of `tests/` against the built wheel."""

UI_EXTRA = {"starlette", "jinja2", "uvicorn"}
NAMES_A_USER_NEEDS = {
    "open_store", "SessionStore", "AuditedSessionStore", "EventSourcedSessionStore",
    "TenantCtx", "SessionData", "SessionCursor", "ReplyScope", "WaitScope", "SessionKey",
    "SessionError", "ErrorCode", "EnvId", "TenantId", "TeamId", "UserId", "FlowId", "PackId",
    "Impersonation", "InvocationDeadline", "SessionEvent", "EventType", "SessionDiff",
    "FieldChange", "Explanation", "VerifyReport", "canonical_session_key",
    "telegram_update_to_session_key", "webhook_to_session_key", "__version__",
}


def _installed_files(tmp_path: Path) -> set[str]:
    """The files the wheel puts in site-packages: read from the installed distribution's
    RECORD under CI, else from a wheel built from this checkout."""
    if INSTALLED:
        files = importlib.metadata.distribution("greentic-session").files or []
        return {str(f) for f in files if not str(f).startswith("..")}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("greentic_session-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def _installed_top_level_names(tmp_path: Path) -> set[str]:
    return {Path(name).parts[0] for name in _installed_files(tmp_path)}


def test_the_wheel_installs_one_import_package(tmp_path: Path) -> None:
    names = _installed_top_level_names(tmp_path)
    packages = {name for name in names if not name.endswith(".dist-info")}
    assert packages == {"greentic_session"}, sorted(names)


WEB_FILES = ("templates/base.html", "templates/timeline.svg", "static/style.css")
"""What the web app serves from its package (`greentic_session/adapters/web/`)."""


def test_the_wheel_holds_the_web_apps_templates_and_assets(tmp_path: Path) -> None:
    names = _installed_files(tmp_path)
    web = "greentic_session/adapters/web/"
    assert [name for name in WEB_FILES if web + name not in names] == []


def test_the_suite_runs_against_the_installed_package_in_ci() -> None:
    """Under `.ci/run` the tests must exercise the wheel, never the checkout's files."""
    location = Path(greentic_session.__file__).resolve()
    if INSTALLED:
        assert "site-packages" in location.parts, location
        assert not location.is_relative_to(ROOT), location
    else:
        assert location.is_relative_to(ROOT.resolve()) or "site-packages" in location.parts


def test_the_facade_exports_every_name_a_user_needs() -> None:
    assert set(greentic_session.__all__) >= NAMES_A_USER_NEEDS
    missing = [name for name in greentic_session.__all__ if not hasattr(greentic_session, name)]
    assert missing == []


def test_the_version_comes_from_the_package_metadata() -> None:
    assert greentic_session.__version__ == importlib.metadata.version("greentic-session")


def test_the_console_script_prints_the_version() -> None:
    script = Path(sys.executable).parent / "greentic-session"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == f"greentic-session, version {greentic_session.__version__}"


def test_every_logger_is_named_under_greentic_session() -> None:
    modules = [
        info.name
        for info in pkgutil.walk_packages(greentic_session.__path__, "greentic_session.")
        if not info.name.endswith("__main__")
    ]
    loggers = []
    for name in modules:
        try:
            module = __import__(name, fromlist=["_"])
        except ModuleNotFoundError as missing:  # the web app, without the `ui` extra
            if missing.name not in UI_EXTRA or os.environ.get("CI"):
                raise
            continue
        loggers += [v for v in vars(module).values() if isinstance(v, logging.Logger)]
    assert len(modules) > 40
    assert loggers, "no module-level loggers found: the scan is broken"
    assert [lg.name for lg in loggers if not lg.name.startswith("greentic_session.")] == []
