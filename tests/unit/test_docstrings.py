"""Every public operation of the store and every public function of the facade says what
it does and which errors it raises: `help(store.register_wait)` is the first manual a
user opens."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import greentic_session
from greentic_session import EventSourcedSessionStore


def public_operations() -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(EventSourcedSessionStore)
        if not name.startswith("_") and callable(member)
    )


def facade_functions() -> list[str]:
    return sorted(
        name
        for name in greentic_session.__all__
        if inspect.isfunction(getattr(greentic_session, name))
    )


def says_what_it_raises(function: Callable[..., Any]) -> bool:
    doc = inspect.getdoc(function) or ""
    return "raise" in doc.lower()


@pytest.mark.parametrize("name", public_operations())
def test_every_public_store_operation_documents_what_it_does_and_raises(name: str) -> None:
    operation = getattr(EventSourcedSessionStore, name)
    assert inspect.getdoc(operation), f"EventSourcedSessionStore.{name} has no docstring"
    assert says_what_it_raises(operation), f"{name}'s docstring does not say what it raises"


@pytest.mark.parametrize("name", facade_functions())
def test_every_public_function_of_the_facade_documents_what_it_raises(name: str) -> None:
    function = getattr(greentic_session, name)
    assert says_what_it_raises(function), f"{name}'s docstring does not say what it raises"


def test_register_wait_documents_that_it_creates_the_session_and_what_ttl_does() -> None:
    doc = inspect.getdoc(EventSourcedSessionStore.register_wait) or ""
    assert "creates" in doc
    assert "`ttl`" in doc and "expire" in doc


@pytest.mark.parametrize("name", ["new", "with_team", "with_user"])
def test_the_context_builders_document_what_they_raise(name: str) -> None:
    assert says_what_it_raises(getattr(greentic_session.TenantCtx, name))
