"""Whatever text a flow stores comes back exactly, on every backend (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greentic_session import ErrorCode, SessionCursor, SessionData, SessionError, SessionStore
from tests.support import make_ctx, make_data, make_scope

CTX = make_ctx(user="alice")
# Any Unicode scalar value: everything but lone surrogates, which no backend can store.
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(context=TEXT, node=TEXT)
def test_any_text_round_trips_through_create_and_get(
    store: SessionStore, context: str, node: str
) -> None:
    data = SessionData(
        tenant_ctx=CTX,
        flow_id="flow",
        cursor=SessionCursor(node_pointer=node, wait_reason=context),
        context_json=context,
    )
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data


@EXAMPLES
@given(key=TEXT.filter(lambda k: k != "" and "\x00" not in k), conversation=TEXT)
def test_any_key_and_scope_text_routes_back_to_its_session(
    store: SessionStore, key: str, conversation: str
) -> None:
    scope = make_scope(conversation)
    store.register_wait(CTX, "alice", scope, key, make_data(CTX, context_json=key))
    assert store.find_wait_by_scope(CTX, "alice", scope) == key
    assert store.get_session(key) == make_data(CTX, context_json=key)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb"])
def test_lone_surrogates_are_invalid_input(text: str) -> None:
    with pytest.raises(SessionError) as caught:
        make_data(CTX, context_json=text)
    assert caught.value.code is ErrorCode.INVALID_INPUT
