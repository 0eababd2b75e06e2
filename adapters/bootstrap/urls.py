"""Store URLs: which backend, and its settings, from one string."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_plus, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from greentic_session.adapters.storage.postgres_schema import CONNINFO
from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import check_text
from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES

DEFAULT_URL = "sqlite:///greentic-sessions.db"
URL_VARIABLE = "GREENTIC_SESSION_URL"
MAX_CONTEXT_VARIABLE = "GREENTIC_SESSION_MAX_CONTEXT_BYTES"

_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)([^&#]*)")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_POSTGRES_OPTIONS = {
    "schema": "POSTGRES_SCHEMA",
    "connect_timeout": "POSTGRES_CONNECT_TIMEOUT",
    "pool_size": "POSTGRES_POOL_SIZE",
    "max_overflow": "POSTGRES_MAX_OVERFLOW",
    "lock_timeout": "POSTGRES_LOCK_TIMEOUT",
    "long_operation_timeout": "POSTGRES_LONG_OPERATION_TIMEOUT",
    "command_timeout": "POSTGRES_COMMAND_TIMEOUT",
}
# Whole numbers, each with its least value: seconds, connections, seconds.
_POSTGRES_NUMBERS = {
    "connect_timeout": 1,
    "pool_size": 1,
    "max_overflow": 0,
    "lock_timeout": 0,
    "long_operation_timeout": 0,  # verify, rebuild: 0 is no limit
    "command_timeout": 0,  # the async store's calls: 0 is no limit
}
_POSTGRES_DEFAULTS = {
    "POSTGRES_CONNECT_TIMEOUT": "5",
    "POSTGRES_POOL_SIZE": "4",
    "POSTGRES_MAX_OVERFLOW": "8",
    "POSTGRES_COMMAND_TIMEOUT": "30",
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
        f"unsupported store URL {redacted(url)!r}: use memory://, sqlite:///relative.db, "
        "sqlite:////absolute/path.db or postgresql://user@host:port/dbname (a libpq URL)"
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
    """The URL as libpq reads it (psycopg's own parser), less the store's own options.

    Every libpq parameter (`sslmode`, `application_name`, `host=/var/run/postgresql`, ...)
    passes through, and what the URL leaves out libpq takes from `PGHOST`, `PGUSER`,
    `PGPASSWORD`... and its defaults, as psql does. The connection is the `CONNINFO`
    entry; the POSTGRES_* entries are the library's settings, with no secret in them.
    """
    shown, secrets = redacted(url), url_secrets(url)
    # Every refusal is raised outside the `except`: the driver's own message, which may
    # quote the password, is neither the cause nor the context of the error.
    problem = None
    try:
        parts = urlsplit(url)
        if "," not in parts.netloc:  # libpq's several hosts, each with its port, aside
            parts.port  # noqa: B018 (checks it: libpq would take 99999)
    except ValueError as exc:  # a bad port, an unclosed [
        problem = str(exc)
    if problem is not None:
        raise invalid_input(f"PostgreSQL URL {shown!r} is malformed: {scrubbed(problem, secrets)}")
    own: dict[str, str] = {}
    passed: list[str] = []
    for piece in filter(None, parts.query.split("&")):  # as written: libpq decodes the rest
        name, _, value = piece.partition("=")
        if unquote(name) in _POSTGRES_OPTIONS:
            own[unquote(name)] = unquote(value)
        else:
            passed.append(piece)
    base = url.partition("?")[0]
    libpq_url = f"{base}?{'&'.join(passed)}" if passed else base
    params = _libpq_params(libpq_url, shown, secrets)
    if not params.get("dbname"):
        raise invalid_input(f"PostgreSQL URL {shown!r} names no database: add /dbname")
    settings = dict(_POSTGRES_DEFAULTS)
    for name, value in own.items():
        least = _POSTGRES_NUMBERS.get(name)
        if least is not None and not (value.isascii() and value.isdigit() and int(value) >= least):
            raise invalid_input(f"PostgreSQL URL option {name} must be a whole number >= {least}")
        settings[_POSTGRES_OPTIONS[name]] = value
    schema = settings.get("POSTGRES_SCHEMA")
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise invalid_input(f"schema {schema!r} must be a plain identifier (letters, digits, _)")
    params["connect_timeout"] = settings["POSTGRES_CONNECT_TIMEOUT"]
    settings.update(
        POSTGRES_DBNAME=params["dbname"],
        POSTGRES_HOST=params.get("host", ""),
        POSTGRES_PORT=params.get("port", ""),
        POSTGRES_USER=params.get("user", ""),
        POSTGRES_PASSWORD="",
    )
    settings[CONNINFO] = make_conninfo(**params)
    return settings


def _libpq_params(libpq_url: str, shown: str, secrets: list[str]) -> dict[str, str]:
    problem = None
    try:
        params = conninfo_to_dict(libpq_url)
    except UnicodeDecodeError:
        problem = "decodes to bytes that are not UTF-8"
    except psycopg.ProgrammingError as exc:
        problem = scrubbed(str(exc).strip(), secrets)
    if problem is not None:
        if "invalid URI query parameter" in problem:
            raise invalid_input(
                f"unknown PostgreSQL URL option in {shown!r} ({problem}): use a libpq parameter "
                f"(sslmode, application_name, host, ...) or {', '.join(_POSTGRES_OPTIONS)}"
            )
        raise invalid_input(f"PostgreSQL URL {shown!r} is malformed: {problem}")
    for name, value in params.items():
        text = str(value)
        check_text(text, "the store URL")
        if "\x00" in text:
            raise invalid_input(f"store URL {shown!r} has a NUL character in {name}")
    return {name: str(value) for name, value in params.items()}


def redacted(url: str) -> str:
    """The URL as it may be shown in a message or a log line: any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    userinfo, at, host = rest[:end].rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        rest = f"{user}:***@{host}{rest[end:]}"
    return scheme + sep + _QUERY_PASSWORD.sub(r"\1***", rest)


def url_secrets(url: str) -> list[str]:
    """The passwords a URL holds, as written and decoded, to scrub from any message."""
    found: list[str] = []
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password is None:
        userinfo = url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        password = userinfo.partition(":")[2] or None
    candidates = [password] if password else []
    candidates += [m.group(2) for m in _QUERY_PASSWORD.finditer(url)]
    for text in candidates:
        if text:
            found += [text, unquote(text), unquote_plus(text)]
    return sorted(set(found), key=len, reverse=True)


def scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
