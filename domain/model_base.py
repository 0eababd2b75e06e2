"""The base of every public model: frozen, and serialized like the Rust serde form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from greentic_session.domain.identifiers import check_text


class ContractModel(BaseModel):
    """Unset optionals and empty maps are left out of JSON, as serde's skip rules do.

    Unknown fields are ignored, as serde does by default: JSON from a newer Rust crate parses.
    Values are never coerced (pydantic's strict mode), as serde never coerces: `"1"`, `1.0`
    or `true` is no `attempt`, so JSON this side accepts is JSON the Rust crate accepts.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with `update`, the result is validated like a new model.

        Pydantic's own copy stores updated values unchecked: a bad identifier, a lone
        surrogate or a wrong type would reach the store and make its log unreadable.
        """
        copied = super().model_copy(deep=deep)
        if not update:
            return copied
        values = {name: getattr(copied, name) for name in copied.model_fields_set}
        fields = type(self).model_fields
        values.update((name, value) for name, value in update.items() if name in fields)
        return self.model_validate(values)

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.isascii():  # ASCII is always storable
            check_text(value, f"{cls.__name__}.{info.field_name}")
        return value

    @model_serializer(mode="wrap")
    def _skip_unset(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if v is not None and (v or type(v) is not dict)}
