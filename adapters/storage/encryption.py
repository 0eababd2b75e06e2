"""Encryption at rest: one AES-GCM key for the log's payloads and the read models' content.

The log's payloads go through the eventsourcing cipher (`AESCipher`, on the `cryptography`
package). The read models' content columns (session data, the waiting user and scope) are
sealed with the same cipher by `SealedText`, so nothing a session says is stored in clear.
Lookup keys are digests, and stream ids, versions, times and session keys stay clear:
the store needs them to find and order rows.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
from base64 import b64decode, b64encode
from collections.abc import Sequence
from typing import Protocol

from eventsourcing.persistence import Cipher

from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input

KEY_VARIABLE = "GREENTIC_SESSION_ENCRYPTION_KEY"
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
_LOOKUP_PURPOSE = b"greentic-session: session index lookup digests v1"
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


def check_key(cipher: Cipher | None, payloads: Sequence[bytes]) -> bool:
    """Raise the right error when the log's first payloads (its first events' states,
    oldest first) cannot be read with `cipher`: at open, so a wrong or missing key fails
    once and clearly, never as garbage later.

    A first payload that no key explains is damage, not encryption: when a later one reads
    with `cipher` (or, without a key, is JSON), or the first is text, which ciphertext never
    is, the store is readable. Returns False then, so the caller can say the first event is
    damaged while the store still opens, for `verify` to report it."""
    if not payloads:
        return True
    first, rest = payloads[0], payloads[1:]
    if _readable(cipher, first):
        return True
    if any(_readable(cipher, payload) for payload in rest):
        return False
    if cipher is None:
        if _is_text(first):
            return False
        raise key_missing()
    if any(_is_json(payload) for payload in payloads):
        raise not_encrypted()
    raise wrong_key()


def _readable(cipher: Cipher | None, payload: bytes) -> bool:
    if cipher is None:
        return _is_json(payload)
    try:
        cipher.decrypt(payload)
    except ValueError:
        return False
    return True


def _is_text(payload: bytes) -> bool:
    """Printable UTF-8: what a damaged JSON payload may be, and AES-GCM output is not."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


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

    def lookup(self, field: str, value: str) -> str:
        """The form an identifier is filtered by (the session index's columns): itself,
        or on an encrypted store a keyed digest, the same for the same field and value."""
        ...


class PlainText:
    def seal(self, text: str) -> str:
        return text

    def lookup(self, field: str, value: str) -> str:
        return value

    def unseal(self, stored: str) -> str:
        if stored.startswith(_SEALED):
            raise key_missing()
        return stored


class SealedText:
    """AES-GCM with a fresh nonce per value, base64 in a text column."""

    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher
        key = getattr(cipher, "key", None)
        if not isinstance(key, bytes):
            raise TypeError(f"{type(cipher).__name__} has no key bytes to derive digests from")
        # A key of its own for the digests, derived from the store's: a digest never
        # reveals anything of the key that encrypts.
        self._lookup_key = hmac.digest(key, _LOOKUP_PURPOSE, "sha256")

    def lookup(self, field: str, value: str) -> str:
        """HMAC-SHA256 under the derived key, of the field's name and the value, so the
        same text in two fields gives two unrelated digests."""
        message = f"{field}\x00{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

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
