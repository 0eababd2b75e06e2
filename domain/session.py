"""What a paused flow stores: its tenant context, flow, cursor and context snapshot."""

from __future__ import annotations

from greentic_session.domain.identifiers import FlowId, PackId
from greentic_session.domain.model_base import ContractModel
from greentic_session.domain.tenant import TenantCtx


class SessionCursor(ContractModel):
    node_pointer: str
    wait_reason: str | None = None
    outbox_marker: str | None = None


class SessionData(ContractModel):
    tenant_ctx: TenantCtx
    flow_id: FlowId
    pack_id: PackId | None = None
    cursor: SessionCursor
    context_json: str
