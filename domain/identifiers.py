"""Validated identifier types and the session key.

Each identifier is a `str` subclass, so it compares, hashes and serializes as the
plain string, and the API can accept either form and validate it on the way in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeAlias, TypeVar, overload

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from greentic_session.domain.errors import invalid_input

_IDENTIFIER = re.compile(r"[A-Za-z0-9._-]+")


def check_text(value: str, what: str) -> str:
    """Reject strings that cannot be stored as UTF-8 (lone surrogates) on any backend."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid_input(f"{what} must be valid Unicode text (no lone surrogates)") from exc
    return value


class _ValidatedStr(str):
    """Base of the string types: validation happens in `__new__`, once."""

    type_name: ClassVar[str] = "value"

    def __new__(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise invalid_input(f"{cls.type_name} must be a string, got {type(value).__name__}")
        cls._check(value)
        return super().__new__(cls, value)

    @classmethod
    def _check(cls, value: str) -> None:
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(strict=True),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )


class _Identifier(_ValidatedStr):
    @classmethod
    def _check(cls, value: str) -> None:
        if not value:
            raise invalid_input(f"{cls.type_name} must not be empty")
        if not _IDENTIFIER.fullmatch(value):
            raise invalid_input(
                f"{cls.type_name} must contain only ASCII letters, digits, '.', '-', or '_'"
            )


class EnvId(_Identifier):
    type_name = "EnvId"


class TenantId(_Identifier):
    type_name = "TenantId"


class TeamId(_Identifier):
    type_name = "TeamId"


class UserId(_Identifier):
    type_name = "UserId"


class FlowId(_Identifier):
    type_name = "FlowId"


class PackId(_Identifier):
    type_name = "PackId"


class SessionKey(_ValidatedStr):
    """Any non-empty text; NUL is refused because PostgreSQL text cannot hold it."""

    type_name = "SessionKey"

    @classmethod
    def _check(cls, value: str) -> None:
        if not value:
            raise invalid_input("SessionKey must not be empty")
        if "\x00" in value:
            raise invalid_input("SessionKey must not contain the NUL character")
        check_text(value, "SessionKey")


_Held = TypeVar("_Held")


class _AcceptsText(Generic[_Held]):
    """For type checkers only: a model field that holds `_Held` and is given it or a `str`.

    Pydantic validates the `str` into the identifier type, as the contract promises
    ("everywhere the API takes an identifier it also accepts a plain str"). Declared as a
    descriptor, the field's constructor argument is typed `_Held | str` (PEP 681) while
    reading the attribute still gives `_Held`, so `SessionData(flow_id="refund")` passes
    `mypy --strict` with or without the pydantic plugin.
    """

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> _Held: ...
    def __get__(self, instance: object, owner: type[Any]) -> Any:
        raise NotImplementedError

    def __set__(self, instance: object, value: _Held | str) -> None:
        raise NotImplementedError


NO_ID: Any = None
"""The default of an optional identifier field: `None`, typed so that it fits the field's
declared descriptor type (checkers refuse a bare `None` there)."""

if TYPE_CHECKING:
    EnvIdField: TypeAlias = _AcceptsText[EnvId]
    TenantIdField: TypeAlias = _AcceptsText[TenantId]
    UserIdField: TypeAlias = _AcceptsText[UserId]
    FlowIdField: TypeAlias = _AcceptsText[FlowId]
    OptionalTeamIdField: TypeAlias = _AcceptsText[TeamId | None]
    OptionalUserIdField: TypeAlias = _AcceptsText[UserId | None]
    OptionalPackIdField: TypeAlias = _AcceptsText[PackId | None]
else:
    EnvIdField = EnvId
    TenantIdField = TenantId
    UserIdField = UserId
    FlowIdField = FlowId
    OptionalTeamIdField = TeamId | None
    OptionalUserIdField = UserId | None
    OptionalPackIdField = PackId | None
