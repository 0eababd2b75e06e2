"""Tamper evidence around erasure: content removed behind the store's back, an erasure's
count altered, an erased event's envelope or commitment edited, an erased event given its
body back; each named by `verify`. A genuine erasure verifies clean."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from greentic_session import AuditedSessionStore
from greentic_session.domain.chain import ENVELOPE_FIELDS, body_commitment, envelope_hash
from greentic_session.domain.state import stream_id
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import (
    CTX,
    SCOPE_A,
    USER,
    RawTables,
    Sessions,
    assert_named,
    problems_naming,
)
from tests.support import make_data, make_scope

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)

REASON = "request-2031-0042"
ERASED_IN = 5
"""`sessions.waiting` has four events: its erasure is v5."""


def stored(raw: RawTables, key: str, version: int) -> tuple[str, dict[str, Any]]:
    topic, state = raw.event(key, version)
    payload: dict[str, Any] = json.loads(state)
    return topic, payload


def store_json(raw: RawTables, key: str, version: int, topic: str, payload: dict[str, Any]) -> None:
    """Written as the store writes its payloads (compact, in order), so that only the edit
    itself can give it away, not its formatting."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    raw.set_event(key, version, topic, text.encode())


def redacted_by_hand(payload: dict[str, Any], key: str, erased_in: int) -> dict[str, Any]:
    """What an erasure would leave of `payload`, the fields in the store's order."""
    return {
        "timestamp": payload["timestamp"],
        "prev_hash": payload["prev_hash"],
        "hash": payload["hash"],
        "commitment": payload["commitment"],
        "session_key": key,
        "erased_in": erased_in,
    }


def erase_waiting(store: AuditedSessionStore, sessions: Sessions) -> None:
    report = store.erase(session=sessions.waiting, reason=REASON)
    assert (report.sessions, report.events) == ([sessions.waiting], 4)


def shifted(timestamp: dict[str, str]) -> dict[str, str]:
    moment = datetime.fromisoformat(timestamp["_data_"]) - timedelta(seconds=1)
    return {**timestamp, "_data_": moment.isoformat()}


# -- the control ---------------------------------------------------------------------------


def test_a_genuine_erasure_verifies_clean(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    erase_waiting(store, sessions)

    report = store.verify()

    assert report.ok, report.problems
    assert report.problems == []
    assert report.events == 7
    assert [(e.session_key, e.version, e.events, e.reason) for e in report.erasures] == [
        (sessions.waiting, ERASED_IN, 4, REASON)
    ]
    assert report.unchecked_erased == 0
    _, payload = stored(raw, sessions.waiting, 2)
    assert set(payload) == {"timestamp", "prev_hash", "hash", "commitment", "session_key",
                            "erased_in"}  # fmt: skip


def test_two_erasures_of_two_sessions_verify_clean(
    store: AuditedSessionStore, sessions: Sessions
) -> None:
    erase_waiting(store, sessions)
    store.erase(session=sessions.other, reason=REASON)

    report = store.verify()

    assert report.ok, report.problems
    assert [(e.session_key, e.events) for e in report.erasures] == [
        (sessions.waiting, 4),
        (sessions.other, 2),
    ]


# -- content removed without an erasure ------------------------------------------------------


@pytest.mark.parametrize("erased_in", [ERASED_IN, 4], ids=["a-version-not-written", "its-last"])
def test_a_body_removed_by_hand_with_no_erasure_after_it_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables, erased_in: int
) -> None:
    """Its envelope, hash and commitment are intact, so its hash checks out: only the
    missing erasure tells."""
    topic, payload = stored(raw, sessions.waiting, 2)
    store_json(
        raw, sessions.waiting, 2, topic, redacted_by_hand(payload, sessions.waiting, erased_in)
    )

    report = store.verify()

    assert_named(report, sessions.waiting, "v2", "no erasure after them")
    assert not problems_naming(report, "does not match its hash")
    assert not problems_naming(report, "byte for byte")


def test_a_whole_stream_emptied_by_hand_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    for version in (1, 2):
        topic, payload = stored(raw, sessions.other, version)
        store_json(
            raw, sessions.other, version, topic, redacted_by_hand(payload, sessions.other, 3)
        )

    report = store.verify()

    assert_named(report, sessions.other, "v1, v2", "no erasure after them")
    assert not [p for p in report.problems if p.startswith(sessions.waiting)]


def test_a_deleted_erasure_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    erase_waiting(store, sessions)
    raw.delete_event(sessions.waiting, ERASED_IN)

    report = store.verify()

    assert_named(report, sessions.waiting, "no erasure after them")


def test_the_emptied_creation_of_a_session_begun_by_a_wait_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """`register_wait` on a new key writes v1 created and v2 wait_registered at once (v2's
    data: that of v1); v1 emptied by hand leaves v2 with no life to wait in: reported, as
    everything `verify` finds, never raised."""
    key = str(uuid.uuid4())
    store.register_wait(CTX, USER, make_scope("chat-new"), key, make_data(CTX, node="node.new"))
    topic, payload = stored(raw, key, 1)
    store_json(raw, key, 1, topic, redacted_by_hand(payload, key, 2))

    report = store.verify()

    assert_named(report, key, "v1", "no erasure after them")


def test_a_body_removed_by_hand_after_a_genuine_erasure_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """The erased key's new life (v6, v7), its first event emptied by hand: the erasure
    at v5 counts the four before it, and nothing counts v6."""
    erase_waiting(store, sessions)
    store.register_wait(CTX, USER, SCOPE_A, sessions.waiting, make_data(CTX, node="node.new"))
    store.update_session(sessions.waiting, make_data(CTX, node="node.newer"))
    assert store.verify().ok
    topic, payload = stored(raw, sessions.waiting, 6)
    store_json(raw, sessions.waiting, 6, topic, redacted_by_hand(payload, sessions.waiting, 7))

    report = store.verify()

    assert_named(report, sessions.waiting, "v6", "no erasure after them")
    assert not problems_naming(report, f"v{ERASED_IN}: an erasure")


# -- an erasure, or what it left, edited afterwards ------------------------------------------


@pytest.mark.parametrize("rehashed", [False, True], ids=["as-edited", "hash-recomputed"])
def test_an_erasure_whose_count_was_altered_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables, rehashed: bool
) -> None:
    """With its commitment and hash recomputed, the erasure itself checks out: its count
    against the erased events that name it still tells."""
    erase_waiting(store, sessions)
    topic, payload = stored(raw, sessions.waiting, ERASED_IN)
    assert payload["events"] == 4
    payload["events"] = 3
    if rehashed:
        body = {name: value for name, value in payload.items() if name not in ENVELOPE_FIELDS}
        payload["commitment"] = body_commitment(payload["salt"], body)
        payload["hash"] = envelope_hash(
            stream_id(sessions.waiting),
            ERASED_IN,
            "Session.Erased",
            datetime.fromisoformat(payload["timestamp"]["_data_"]),
            payload["prev_hash"],
            payload["commitment"],
        )
    store_json(raw, sessions.waiting, ERASED_IN, topic, payload)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v{ERASED_IN}", "an erasure of 3 events")
    if rehashed:
        assert not problems_naming(report, "does not match its hash")


def test_an_erased_event_naming_another_erasure_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """`erased_in` is outside the hash: the erasure's check is what covers it."""
    erase_waiting(store, sessions)
    topic, payload = stored(raw, sessions.waiting, 3)
    payload["erased_in"] = ERASED_IN + 2
    store_json(raw, sessions.waiting, 3, topic, payload)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v{ERASED_IN}", "1 name another")


def test_an_erased_event_whose_timestamp_was_altered_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """Its body is gone, but its hash still covers its time through the envelope."""
    erase_waiting(store, sessions)
    topic, payload = stored(raw, sessions.waiting, 2)
    payload["timestamp"] = shifted(payload["timestamp"])
    store_json(raw, sessions.waiting, 2, topic, payload)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "altered")
    assert not problems_naming(report, "no erasure after them")


def test_an_erased_event_whose_commitment_was_altered_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    erase_waiting(store, sessions)
    topic, payload = stored(raw, sessions.waiting, 2)
    payload["commitment"] = "0" * 64
    store_json(raw, sessions.waiting, 2, topic, payload)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "altered")


def test_an_erased_event_whose_hash_and_commitment_were_both_replaced_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """A forger who recomputes the erased event's own hash breaks the next event's link."""
    erase_waiting(store, sessions)
    topic, payload = stored(raw, sessions.waiting, 2)
    payload["commitment"] = "0" * 64
    payload["hash"] = envelope_hash(
        stream_id(sessions.waiting),
        2,
        "Session.Updated",
        datetime.fromisoformat(payload["timestamp"]["_data_"]),
        payload["prev_hash"],
        payload["commitment"],
    )
    store_json(raw, sessions.waiting, 2, topic, payload)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v3", "does not follow v2")
    assert not problems_naming(report, f"{sessions.waiting} v2: content")


def test_an_erased_event_given_its_body_back_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """Its payload from before the erasure, copied back: its hash checks out, but the
    erasure counts one event more than name it."""
    topic, before = raw.event(sessions.waiting, 2)
    erase_waiting(store, sessions)
    raw.set_event(sessions.waiting, 2, topic, before)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v{ERASED_IN}", "an erasure of 4 events")
    assert not problems_naming(report, "does not match its hash")
