"""The base of every public model: frozen, and serialized like the Rust serde form."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from domain.identifiers import check_text


class ContractModel(BaseModel):
    """Unset optionals and empty maps are left out of JSON, as serde's skip rules do.

    Unknown fields are ignored, as serde does by default: JSON from a newer Rust crate parses.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

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
