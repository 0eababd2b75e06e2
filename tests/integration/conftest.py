"""Fixtures of the integration tests: a sandbox to run `open_store` and the command-line
tool in, so the paths they are fed stay inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentic_session.adapters.bootstrap.urls import MAX_CONTEXT_VARIABLE, URL_VARIABLE


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder for the test: three levels down in a fresh folder, so path tricks
    (`..`) stay inside it; no store URL comes from the environment."""
    root = tmp_path / "sandbox"
    here = root / "a" / "b" / "c"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    monkeypatch.delenv("GREENTIC_SESSION_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
    return root.resolve()
