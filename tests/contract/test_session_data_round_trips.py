"""Session data comes back exactly: every field, JSON payloads, NUL characters, unset
optionals."""

from __future__ import annotations

import pytest

from greentic_session import (
    Impersonation,
    InvocationDeadline,
    SessionCursor,
    SessionData,
    SessionStore,
    TenantCtx,
)
from tests.contract.helpers import CTX, USER, data_for, find_by_user, wait
from tests.support import make_ctx

PAYLOADS = {
    "non-ascii": '{"greeting":"héllo wörld","jp":"日本語","rtl":"שלום"}',
    "quotes-backslashes": '{"q":"say \\"hi\\"","path":"C:\\\\dir\\\\file","raw":"\'single\'"}',
    "newlines": '{\n  "a": "line1\\nline2",\r\n\t"b": 1\n}\n',
    "emoji": '{"mood":"😀👍🏽👨‍👩‍👧","flag":"🇪🇺"}',
    "not-json": "plain text, not JSON at all { [",
    "key-order-and-spacing": '{ "z" : 1 ,  "a" : [ 1 , 2 ] , "z" : 3 }',
    "nul": 'before\x00after {"n":"\x00"}',
    "empty": "",
    "one-megabyte": '{"blob":"' + ("abcdefghij" * 104_858) + '"}',
    "escapes-as-text": "\\u0000 \\n \\ud83d",
}


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_create(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    key = store.create_session(CTX, data_for(context_json=text))
    stored = store.get_session(key)
    assert stored is not None
    assert stored.context_json == text


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_update(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    key = store.create_session(CTX, data_for())
    store.update_session(key, data_for(context_json=text))
    stored = store.get_session(key)
    assert stored is not None
    assert stored.context_json == text


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_register_wait(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    wait(store, "k", data=data_for(context_json=text))
    found = find_by_user(store, CTX, USER)
    assert found is not None
    assert found[1].context_json == text
    stored = store.get_session("k")
    assert stored is not None
    assert stored.context_json == text


def test_session_data_with_every_field_round_trips(store: SessionStore) -> None:
    ctx = TenantCtx(
        env="prod",
        tenant="Acme-Ltd",
        tenant_id="acme",
        team="support",
        team_id="support-eu",
        user="alice-old",
        user_id=USER,
        session_id="sess-1 😀",
        flow_id="flow.main",
        node_id="node\n7",
        provider_id="telegram",
        trace_id="trace-'\"",
        i18n_id="de-DE",
        correlation_id="corr\\9",
        attributes={"région": "eu-west", "tier": "gold"},
        deadline=InvocationDeadline(unix_millis=1_893_456_000_000),
        attempt=7,
        idempotency_key="idem-1",
        impersonation=Impersonation(actor_id="admin-1", reason="support ticket ✓"),
    )
    data = SessionData(
        tenant_ctx=ctx,
        flow_id="flow.main",
        pack_id="pack.core",
        cursor=SessionCursor(node_pointer="node.7", wait_reason="reply ✓", outbox_marker="out-3"),
        context_json='{"step":3}',
    )
    caller = make_ctx(env="prod", tenant="acme", team="support-eu", user=USER)
    key = store.create_session(caller, data)
    assert store.get_session(key) == data
    wait(store, "waiting", ctx=caller, data=data)
    stored = store.get_session("waiting")
    assert stored == data
    assert stored is not None
    assert stored.model_dump_json() == data.model_dump_json()


def test_nul_characters_in_any_text_field_round_trip(store: SessionStore) -> None:
    """PostgreSQL text cannot hold NUL; the store must still return every character."""
    ctx = CTX.model_copy(update={"attributes": {"k\x00": "v\x00"}, "trace_id": "t\x00"})
    data = SessionData(
        tenant_ctx=ctx,
        flow_id="flow",
        cursor=SessionCursor(node_pointer="node\x00", wait_reason="\x00"),
        context_json="\x00",
    )
    wait(store, "k", ctx=CTX, data=data)
    assert store.get_session("k") == data


def test_optional_fields_stay_unset_after_a_round_trip(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    stored = store.get_session(key)
    assert stored is not None
    assert stored.model_dump_json() == data_for().model_dump_json()
