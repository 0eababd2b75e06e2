"""Who may look: without a token the app serves the loopback address only; with one, every
request must carry it (a Bearer header, or the cookie a `?token=` link sets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greentic_session import ErrorCode, EventSourcedSessionStore
from greentic_session.adapters.web.binding import check_binding
from tests.browser.web import need
from tests.support import raises_code

need("starlette", "jinja2", "httpx")

from starlette.testclient import TestClient  # noqa: E402

from greentic_session.adapters.web.access import COOKIE  # noqa: E402
from greentic_session.adapters.web.app import web_app  # noqa: E402

TOKEN = "s3cret-token"


@pytest.fixture
def guarded(store: EventSourcedSessionStore) -> Iterator[TestClient]:
    with TestClient(web_app(store, token=TOKEN), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.internal"])
def test_serving_off_the_loopback_address_without_a_token_is_refused(host: str) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        check_binding(host, None)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_the_loopback_address_needs_no_token(host: str) -> None:
    check_binding(host, None)


def test_a_blank_token_is_refused() -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        check_binding("0.0.0.0", "  ")


def test_without_a_token_configured_a_request_needs_none(
    store: EventSourcedSessionStore,
) -> None:
    with TestClient(web_app(store)) as client:
        assert client.get("/verify").status_code == 200


@pytest.mark.parametrize("path", ["/", "/verify", "/scopes", "/sessions/k", "/static/style.css"])
def test_with_a_token_a_request_without_it_is_401(guarded: TestClient, path: str) -> None:
    answer = guarded.get(path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_401(guarded: TestClient) -> None:
    assert guarded.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert guarded.get("/", params={"token": "nope"}).status_code == 401


def test_a_bearer_token_is_let_in(guarded: TestClient) -> None:
    assert guarded.get("/verify", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_token_in_the_link_sets_a_cookie_and_leaves_the_address(guarded: TestClient) -> None:
    answer = guarded.get("/scopes", params={"token": TOKEN, "env": "dev"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/scopes?env=dev"
    assert "httponly" in answer.headers["set-cookie"].lower()
    assert guarded.cookies.get(COOKIE) == TOKEN
    assert guarded.get("/verify").status_code == 200
