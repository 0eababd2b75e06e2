"""Encryption at rest: one AES-GCM key for the log's payloads and the read models' content.

The log's payloads go through the eventsourcing cipher (`AESCipher`, on the `cryptography`
package). The read models' content columns (session data, the waiting user and scope) are
sealed with the same cipher by `SealedText`, so nothing a session says is stored in clear.
Lookup keys are digests, and stream ids, versions, times and session keys stay clear:
the store needs them to find and order rows.
"""

from __future__ import annotations

import binascii
import json
import os
from base64 import b64decode, b64encode
from typing import Protocol

from eventsourcing.persistence import Cipher

from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input

KEY_VARIABLE = "GREENTIC_SESSION_ENCRYPTION_KEY"
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
_SEALED = "gs1:"  # marks a sealed column value, so a store opened without its key says so


def resolve_key(key: str | None) -> str | None:
    """The key given, else `GREENTIC_SESSION_ENCRYPTION_KEY`, else none (no encryption)."""
    if key is None:
        return os.environ.get(KEY_VARIABLE) or None
    if not isinstance(key, str):
        raise invalid_input(f"encryption_key must be a str, got {type(key).__name__}")
    return key


def cipher_settings(key: str | None) -> dict[str, str]:
    """The log's settings for `key`: none without one."""
    if key is None:
        return {}
    try:
        size = len(b64decode(key.encode("ascii"), validate=True))
    except (UnicodeEncodeError, binascii.Error):
        size = -1
    if size not in (16, 24, 32):
        raise invalid_input(
            "the encryption key must be 16, 24 or 32 bytes in base64; "
            "make one with `greentic-session keygen`"
        )
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": key}


def new_key() -> str:
    """A fresh random 256-bit key, base64 (what `GREENTIC_SESSION_ENCRYPTION_KEY` holds)."""
    from eventsourcing.cryptography import AESCipher

    return AESCipher.create_key(32)


def wrong_key() -> SessionError:
    return SessionError(
        ErrorCode.UNAUTHENTICATED,
        "cannot decrypt this store: the encryption key is not the one it was written with; "
        f"give that key (encryption_key= or {KEY_VARIABLE})",
    )


def key_missing() -> SessionError:
    return SessionError(
        ErrorCode.UNAUTHENTICATED,
        f"this store is encrypted: give its key (encryption_key= or {KEY_VARIABLE})",
    )


def not_encrypted() -> SessionError:
    return SessionError(
        ErrorCode.INVALID_INPUT,
        "this store was written without encryption; open it without a key, or move it to "
        "an encrypted store with `greentic-session export` and `import`",
    )


def check_key(cipher: Cipher | None, payload: bytes) -> None:
    """Raise the right error when `payload` (a stored event's state) cannot be read with
    `cipher`: at open, so a wrong key fails once and clearly, never as garbage later."""
    encrypted = not _is_json(payload)
    if cipher is None:
        if encrypted:
            raise key_missing()
        return
    if not encrypted:
        raise not_encrypted()
    try:
        cipher.decrypt(payload)
    except ValueError as exc:
        raise wrong_key() from exc


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


class ContentSealer(Protocol):
    """How read-model content columns are written and read back."""

    def seal(self, text: str) -> str: ...

    def unseal(self, stored: str) -> str: ...


class PlainText:
    def seal(self, text: str) -> str:
        return text

    def unseal(self, stored: str) -> str:
        if stored.startswith(_SEALED):
            raise key_missing()
        return stored


class SealedText:
    """AES-GCM with a fresh nonce per value, base64 in a text column."""

    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    def seal(self, text: str) -> str:
        sealed = self._cipher.encrypt(text.encode("utf-8"))
        return _SEALED + b64encode(sealed).decode("ascii")

    def unseal(self, stored: str) -> str:
        if not stored.startswith(_SEALED):
            raise not_encrypted()
        try:
            return self._cipher.decrypt(b64decode(stored[len(_SEALED) :])).decode("utf-8")
        except ValueError as exc:
            raise wrong_key() from exc


def content_sealer(cipher: Cipher | None) -> ContentSealer:
    return PlainText() if cipher is None else SealedText(cipher)
