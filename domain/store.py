"""The store interface: the Rust `SessionStore` trait, same names and parameter order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from types import TracebackType
from typing import Self

from domain.identifiers import SessionKey, UserId
from domain.scope import ReplyScope
from domain.session import SessionData
from domain.tenant import TenantCtx


class SessionStore(ABC):
    """Sessions of paused flows and the waits that route replies back to them.

    Every method accepts plain `str` where it takes an identifier or key and validates
    it; failures are `SessionError`s.
    """

    @abstractmethod
    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey: ...

    @abstractmethod
    def get_session(self, key: SessionKey | str) -> SessionData | None: ...

    @abstractmethod
    def update_session(self, key: SessionKey | str, data: SessionData) -> None: ...

    @abstractmethod
    def remove_session(self, key: SessionKey | str) -> None: ...

    @abstractmethod
    def register_wait(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        session_key: SessionKey | str,
        data: SessionData,
        ttl: timedelta | None = None,
    ) -> None: ...

    @abstractmethod
    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None: ...

    @abstractmethod
    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]: ...

    @abstractmethod
    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None: ...

    @abstractmethod
    def find_by_user(
        self, ctx: TenantCtx, user: UserId | str
    ) -> tuple[SessionKey, SessionData] | None:
        """Deprecated: use `find_wait_by_scope` or `list_waits_for_user`."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
