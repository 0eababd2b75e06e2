"""Fixtures of the web app's tests: Debian's Chromium driven by Playwright (skipped with the
reason where it is missing, a failure under CI), and a page 1280 pixels wide."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("GREENTIC_SESSION_CHROMIUM", "/usr/bin/chromium"))
WIDTH, HEIGHT = 1280, 800


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium() -> Iterator[Any]:
    """The system's Chromium (Playwright's own browser download is not used). One per test:
    Playwright's sync API runs an event loop for as long as it is open, and a worker process
    that went on holding it would refuse every later `asyncio.run` (the async store's tests)."""
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[test,ui,browser]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the walk-through saves its pictures: `GREENTIC_SESSION_SCREENSHOTS` (the
    README's are made with docs/screenshots), else the test's own folder."""
    folder = Path(os.environ.get("GREENTIC_SESSION_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
