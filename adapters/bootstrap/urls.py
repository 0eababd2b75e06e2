"""Store URLs: which backend, and its settings, from one string."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import check_text
from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES

DEFAULT_URL = "sqlite:///greentic-sessions.db"
URL_VARIABLE = "GREENTIC_SESSION_URL"
MAX_CONTEXT_VARIABLE = "GREENTIC_SESSION_MAX_CONTEXT_BYTES"

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_POSTGRES_OPTIONS = {
    "schema": "POSTGRES_SCHEMA",
    "connect_timeout": "POSTGRES_CONNECT_TIMEOUT",
    "pool_size": "POSTGRES_POOL_SIZE",
    "max_overflow": "POSTGRES_MAX_OVERFLOW",
    "lock_timeout": "POSTGRES_LOCK_TIMEOUT",
    "long_operation_timeout": "POSTGRES_LONG_OPERATION_TIMEOUT",
}
# Whole numbers, each with its least value: seconds, connections, seconds.
_POSTGRES_NUMBERS = {
    "connect_timeout": 1,
    "pool_size": 1,
    "max_overflow": 0,
    "lock_timeout": 0,
    "long_operation_timeout": 0,  # verify, rebuild: 0 is no limit
}
_POSTGRES_DEFAULTS = {
    "POSTGRES_CONNECT_TIMEOUT": "5",
    "POSTGRES_POOL_SIZE": "4",
    "POSTGRES_MAX_OVERFLOW": "8",
}


@dataclass(frozen=True)
class StoreLocation:
    backend: str  # "memory", "sqlite" or "postgresql"
    sqlite_path: str = ""
    postgres: dict[str, str] = field(default_factory=dict)


def resolve_url(url: str | None) -> str:
    """The URL given, else `GREENTIC_SESSION_URL`, else a SQLite file in the current folder."""
    if url is None:
        return os.environ.get(URL_VARIABLE) or DEFAULT_URL
    if not isinstance(url, str):
        raise invalid_input(f"store URL must be a string, got {type(url).__name__}")
    if not url:
        raise invalid_input("the store URL is empty: give one, or None for the default")
    return url


def resolve_max_context_bytes(limit: int | None) -> int:
    """The limit given, else `GREENTIC_SESSION_MAX_CONTEXT_BYTES`, else 16 MiB."""
    if limit is None:
        text = os.environ.get(MAX_CONTEXT_VARIABLE)
        if not text:
            return DEFAULT_MAX_CONTEXT_BYTES
        try:
            limit = int(text)
        except ValueError:
            raise invalid_input(f"{MAX_CONTEXT_VARIABLE} must be a whole number of bytes") from None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise invalid_input(f"max_context_bytes must be a positive int, got {limit!r}")
    return limit


def parse_store_url(url: str) -> StoreLocation:
    if not isinstance(url, str):
        raise invalid_input(f"store URL must be a string, got {type(url).__name__}")
    check_text(url, "the store URL")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _unsupported(url)
    if scheme == "memory":
        return StoreLocation("memory")
    if scheme == "sqlite":
        return StoreLocation("sqlite", sqlite_path=_sqlite_path(url, rest))
    if scheme in ("postgresql", "postgres"):
        return StoreLocation("postgresql", postgres=_postgres_settings(url))
    raise _unsupported(url)


def _unsupported(url: str) -> Exception:
    return invalid_input(
        f"unsupported store URL {url!r}: use memory://, sqlite:///relative.db, "
        "sqlite:////absolute/path.db or postgresql://user@host:port/dbname"
    )


def _sqlite_path(url: str, rest: str) -> str:
    """SQLAlchemy convention: three slashes for a relative path, four for an absolute one."""
    if not rest.startswith("/") or rest == "/":
        raise invalid_input(f"SQLite URL {url!r} names no file: use sqlite:///relative.db")
    path = _unquoted(rest[1:], url)
    if path == ":memory:":
        return path
    return os.path.abspath(path)


def _unquoted(part: str, url: str) -> str:
    """A %-decoded part of the URL: UTF-8 text without NUL, as every backend can take."""
    try:
        text = unquote(part, errors="strict")
    except UnicodeDecodeError as exc:
        raise invalid_input(f"store URL {url!r} decodes to bytes that are not UTF-8") from exc
    check_text(text, "the store URL")
    if "\x00" in text:
        raise invalid_input(f"store URL {url!r} has a NUL character")
    return text


def _postgres_settings(url: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bad port, an unclosed [
        raise invalid_input(f"PostgreSQL URL {url!r} is malformed: {exc}") from exc
    dbname = _unquoted(parts.path.lstrip("/"), url)
    user, password = _unquoted(parts.username or "", url), _unquoted(parts.password or "", url)
    if not dbname:
        raise invalid_input(f"PostgreSQL URL {url!r} names no database: add /dbname")
    settings = dict(_POSTGRES_DEFAULTS)
    settings.update(
        POSTGRES_DBNAME=dbname,
        POSTGRES_HOST=parts.hostname or "127.0.0.1",
        POSTGRES_PORT=str(port or 5432),
        POSTGRES_USER=user or "postgres",
        POSTGRES_PASSWORD=password,
    )
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        if name not in _POSTGRES_OPTIONS:
            raise invalid_input(
                f"unknown PostgreSQL URL option {name!r}: use {', '.join(_POSTGRES_OPTIONS)}"
            )
        value = values[-1]
        least = _POSTGRES_NUMBERS.get(name)
        if least is not None and not (value.isascii() and value.isdigit() and int(value) >= least):
            raise invalid_input(f"PostgreSQL URL option {name} must be a whole number >= {least}")
        settings[_POSTGRES_OPTIONS[name]] = value
    schema = settings.get("POSTGRES_SCHEMA")
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise invalid_input(f"schema {schema!r} must be a plain identifier (letters, digits, _)")
    return settings
