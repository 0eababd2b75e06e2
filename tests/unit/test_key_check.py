"""The key check at open: a wrong or missing key fails clearly, but a damaged first event
is damage, never taken for encryption, and the store still opens for verify to report."""

from __future__ import annotations

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from greentic_session.adapters.storage.encryption import check_key, new_key
from greentic_session.domain.errors import ErrorCode, SessionError

JSON = b'{"a":1}'


def _cipher() -> AESCipher:
    return AESCipher(Environment(env={"CIPHER_KEY": new_key()}))


def test_a_plain_store_whose_first_payload_is_text_but_not_json_is_damaged_not_encrypted() -> None:
    assert check_key(None, [b"not an event"]) is False


def test_a_plain_store_whose_first_payload_is_bytes_but_the_next_json_opens() -> None:
    assert check_key(None, [b"\xff\xfe\x00\x01", JSON]) is False


def test_an_encrypted_store_opened_without_a_key_says_it_is_encrypted() -> None:
    cipher = _cipher()

    with pytest.raises(SessionError) as error:
        check_key(None, [cipher.encrypt(JSON), cipher.encrypt(JSON)])

    assert error.value.code is ErrorCode.UNAUTHENTICATED


def test_an_encrypted_store_whose_first_payload_is_damaged_opens_with_its_key() -> None:
    cipher = _cipher()

    assert check_key(cipher, [b"\x00garbage", cipher.encrypt(JSON)]) is False


def test_an_encrypted_store_opened_with_another_key_says_so() -> None:
    with pytest.raises(SessionError) as error:
        check_key(_cipher(), [_cipher().encrypt(JSON)])

    assert error.value.code is ErrorCode.UNAUTHENTICATED


def test_a_readable_first_payload_passes() -> None:
    assert check_key(None, [JSON]) is True
