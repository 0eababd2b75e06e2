"""Reply scopes: where a reply that resumes a paused flow will arrive."""

from __future__ import annotations

import hashlib

from greentic_session.domain.model_base import ContractModel


class ReplyScope(ContractModel):
    conversation: str
    thread: str | None = None
    reply_to: str | None = None
    correlation: str | None = None

    def scope_hash(self) -> str:
        """Lowercase hex SHA-256 of the four parts, as the Rust crate computes it."""
        text = "\n".join(
            (self.conversation, self.thread or "", self.reply_to or "", self.correlation or "")
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


WaitScope = ReplyScope
