"""What a paused flow stores: its tenant context, flow, cursor and context snapshot."""

from __future__ import annotations

from greentic_session.domain.identifiers import NO_ID, FlowIdField, OptionalPackIdField
from greentic_session.domain.model_base import ContractModel
from greentic_session.domain.tenant import TenantCtx


class SessionCursor(ContractModel):
    node_pointer: str
    wait_reason: str | None = None
    outbox_marker: str | None = None


class SessionData(ContractModel):
    tenant_ctx: TenantCtx
    flow_id: FlowIdField
    pack_id: OptionalPackIdField = NO_ID
    cursor: SessionCursor
    context_json: str
