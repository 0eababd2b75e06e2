"""Deterministic session keys for common channels, identical to the Rust crate's."""

from __future__ import annotations

import hashlib

from greentic_session.domain.identifiers import SessionKey


def _sha256_key(text: str) -> SessionKey:
    return SessionKey(hashlib.sha256(text.encode("utf-8")).hexdigest())


def telegram_update_to_session_key(bot_id: str, chat_id: str, user_id: str) -> SessionKey:
    """The hex SHA-256 of `tg:{bot_id}:{chat_id}:{user_id}`: the same key the Rust crate
    derives from a Telegram update. Raises nothing."""
    return _sha256_key(f"tg:{bot_id}:{chat_id}:{user_id}")


def webhook_to_session_key(source: str, subject: str, id_hint: str) -> SessionKey:
    """The hex SHA-256 of `wh:{source}:{subject}:{id_hint}`: the same key the Rust crate
    derives from a webhook. Raises nothing."""
    return _sha256_key(f"wh:{source}:{subject}:{id_hint}")


def canonical_session_key(
    tenant: str, provider: str, anchor: str | None = None, user: str | None = None
) -> SessionKey:
    """`{tenant}:{provider}:{anchor}:{user}`; only a missing anchor or user takes its default.

    An empty one stays empty (`t:webhook::`), as Rust's `unwrap_or` does, so a Rust and a
    Python runner derive the same key from the same input.

    Raises `SessionError(invalid_input)` when the key would hold NUL or a lone surrogate.
    """
    anchor = "conversation" if anchor is None else anchor
    user = "user" if user is None else user
    return SessionKey(f"{tenant}:{provider}:{anchor}:{user}")
