"""The Greentic tenant context: who is calling, for which environment and tenant."""

from __future__ import annotations

from pydantic import Field, field_validator

from greentic_session.domain.identifiers import (
    NO_ID,
    EnvId,
    EnvIdField,
    OptionalTeamIdField,
    OptionalUserIdField,
    TeamId,
    TenantId,
    TenantIdField,
    UserId,
    UserIdField,
    check_text,
)
from greentic_session.domain.model_base import ContractModel


class InvocationDeadline(ContractModel):
    unix_millis: int


class Impersonation(ContractModel):
    actor_id: UserIdField
    reason: str | None = None


class TenantCtx(ContractModel):
    env: EnvIdField
    tenant: TenantIdField
    tenant_id: TenantIdField
    team: OptionalTeamIdField = NO_ID
    team_id: OptionalTeamIdField = NO_ID
    user: OptionalUserIdField = NO_ID
    user_id: OptionalUserIdField = NO_ID
    session_id: str | None = None
    flow_id: str | None = None
    node_id: str | None = None
    provider_id: str | None = None
    trace_id: str | None = None
    i18n_id: str | None = None
    correlation_id: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    deadline: InvocationDeadline | None = None
    attempt: int = Field(default=0, ge=0, le=2**32 - 1)  # a u32 in the Rust crate
    idempotency_key: str | None = None
    impersonation: Impersonation | None = None

    @field_validator("attributes", mode="after")
    @classmethod
    def _attributes_are_storable_and_sorted(cls, attributes: dict[str, str]) -> dict[str, str]:
        """Kept in key order, as serde keeps a `BTreeMap`: the JSON is then byte-identical
        to the Rust crate's (code-point order is UTF-8 byte order, the order Rust sorts by)."""
        for name, value in attributes.items():
            check_text(name, "TenantCtx.attributes")
            check_text(value, "TenantCtx.attributes")
        return dict(sorted(attributes.items()))

    @classmethod
    def new(cls, env: EnvId | str, tenant: TenantId | str) -> TenantCtx:
        """A context for `env` and `tenant` (as both `tenant` and `tenant_id`).

        Raises `SessionError(invalid_input)` for an identifier that breaks its rules.
        """
        tenant_id = TenantId(tenant)
        return cls(env=EnvId(env), tenant=tenant_id, tenant_id=tenant_id)

    def with_team(self, team: TeamId | str | None) -> TenantCtx:
        """A copy with `team` as both `team` and `team_id` (None: no team).

        Raises `SessionError(invalid_input)` for a team id that breaks the rules.
        """
        team_id = None if team is None else TeamId(team)
        return self.model_copy(update={"team": team_id, "team_id": team_id})

    def with_user(self, user: UserId | str | None) -> TenantCtx:
        """A copy with `user` as both `user` and `user_id` (None: no user).

        Raises `SessionError(invalid_input)` for a user id that breaks the rules.
        """
        user_id = None if user is None else UserId(user)
        return self.model_copy(update={"user": user_id, "user_id": user_id})

    @property
    def normalized_team(self) -> TeamId | None:
        return self.team_id if self.team_id is not None else self.team

    @property
    def normalized_user(self) -> UserId | None:
        return self.user_id if self.user_id is not None else self.user
