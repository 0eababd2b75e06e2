"""Reply-scope hashes and the mapping key helpers (Telegram, webhook, canonical)."""

from __future__ import annotations

import hashlib

from greentic_session import (
    ReplyScope,
    SessionKey,
    WaitScope,
    canonical_session_key,
    telegram_update_to_session_key,
    webhook_to_session_key,
)

# -- reply scopes --------------------------------------------------------------------------


def test_scope_hash_matches_the_spec_vector() -> None:
    scope = ReplyScope(
        conversation="chat-1", thread="topic-9", reply_to="msg-3", correlation="cid-7"
    )
    assert scope.scope_hash() == "5251e2c9eb975466809eecbe51be7aa8dc7785ad05cb393a8f47a3a2f42cc544"


def test_scope_hash_uses_empty_parts_for_unset_fields() -> None:
    expected = hashlib.sha256(b"chat-1\n\nmsg-3\n").hexdigest()
    assert ReplyScope(conversation="chat-1", reply_to="msg-3").scope_hash() == expected


def test_scope_hash_hashes_utf8_text() -> None:
    expected = hashlib.sha256("çhat 😀\nthread\n\n".encode()).hexdigest()
    assert ReplyScope(conversation="çhat 😀", thread="thread").scope_hash() == expected


def test_scopes_differing_in_one_part_hash_differently() -> None:
    base = ReplyScope(conversation="c", thread="t")
    assert base.scope_hash() != ReplyScope(conversation="c", reply_to="t").scope_hash()
    assert base.scope_hash() != ReplyScope(conversation="c").scope_hash()


def test_wait_scope_is_reply_scope() -> None:
    assert WaitScope is ReplyScope


# -- key helpers ---------------------------------------------------------------------------


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_telegram_key_is_sha256_of_tg_bot_chat_user() -> None:
    key = telegram_update_to_session_key("bot-1", "-100200", "42")
    assert key == sha256_hex("tg:bot-1:-100200:42")
    assert isinstance(key, SessionKey)


def test_webhook_key_is_sha256_of_wh_source_subject_hint() -> None:
    key = webhook_to_session_key("github", "repo/issue", "evt-7")
    assert key == sha256_hex("wh:github:repo/issue:evt-7")
    assert isinstance(key, SessionKey)


def test_mapping_keys_are_deterministic_and_distinct() -> None:
    assert telegram_update_to_session_key("b", "c", "u") == telegram_update_to_session_key(
        "b", "c", "u"
    )
    assert telegram_update_to_session_key("b", "c", "u") != telegram_update_to_session_key(
        "b", "c", "v"
    )
    assert telegram_update_to_session_key("b", "c", "u") != webhook_to_session_key("b", "c", "u")


def test_canonical_key_with_all_parts() -> None:
    assert canonical_session_key("acme", "slack", "thread-1", "alice") == (
        "acme:slack:thread-1:alice"
    )


def test_canonical_key_defaults_anchor_and_user() -> None:
    key = canonical_session_key("acme", "slack")
    assert key == "acme:slack:conversation:user"
    assert isinstance(key, SessionKey)


def test_canonical_key_defaults_only_the_missing_part() -> None:
    assert canonical_session_key("acme", "slack", user="bob") == "acme:slack:conversation:bob"
    assert canonical_session_key("acme", "slack", anchor="a1") == "acme:slack:a1:user"


def test_canonical_key_keeps_an_empty_anchor_and_user_empty_as_rusts_unwrap_or() -> None:
    assert canonical_session_key("t", "webhook", "", "") == "t:webhook::"


def test_canonical_key_keeps_an_empty_anchor_with_a_user() -> None:
    assert canonical_session_key("t", "webhook", anchor="", user="bob") == "t:webhook::bob"


def test_canonical_key_keeps_an_empty_user_with_the_default_anchor() -> None:
    assert canonical_session_key("t", "webhook", user="") == "t:webhook:conversation:"
