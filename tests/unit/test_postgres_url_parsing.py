"""How a PostgreSQL URL becomes the store's settings: libpq's parameters in its connection
string, the store's own options apart, and nothing forced that libpq would otherwise
read from the `PG*` variables."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from greentic_session.adapters.bootstrap.urls import parse_store_url, redacted
from greentic_session.adapters.storage.postgres_schema import CONNINFO


def conninfo_of(url: str) -> dict[str, object]:
    return dict(conninfo_to_dict(parse_store_url(url).postgres[CONNINFO]))


def test_what_the_url_leaves_out_is_left_to_libpq_and_its_pg_variables() -> None:
    """No forced host, port, user or password: libpq reads PGHOST, PGPORT, PGUSER,
    PGPASSWORD, ~/.pgpass for them, as psql does."""
    assert conninfo_of("postgresql:///app") == {"dbname": "app", "connect_timeout": "5"}


def test_libpq_parameters_pass_through_and_the_store_options_stay_out() -> None:
    url = (
        "postgresql://app@/app?host=/var/run/postgresql&sslmode=verify-full"
        "&sslrootcert=/etc/ca.pem&target_session_attrs=read-write"
        "&options=-c%20search_path%3Dx&schema=sessions&pool_size=2&connect_timeout=3"
    )
    assert conninfo_of(url) == {
        "user": "app",
        "dbname": "app",
        "host": "/var/run/postgresql",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "target_session_attrs": "read-write",
        "options": "-c search_path=x",
        "connect_timeout": "3",
    }
    settings = parse_store_url(url).postgres
    assert (settings["POSTGRES_SCHEMA"], settings["POSTGRES_POOL_SIZE"]) == ("sessions", "2")


def test_the_password_is_in_the_connection_string_only() -> None:
    settings = parse_store_url("postgresql://app:p%40ss@db/app").postgres
    assert conninfo_to_dict(settings[CONNINFO])["password"] == "p@ss"
    assert not [name for name, value in settings.items() if name != CONNINFO and "p@ss" in value]


def test_a_url_is_shown_with_its_passwords_hidden() -> None:
    assert redacted("postgresql://app:hunter2@db/app?password=x&sslmode=require") == (
        "postgresql://app:***@db/app?password=***&sslmode=require"
    )


def test_several_hosts_pass_through_for_libpq_to_try_in_turn() -> None:
    info = conninfo_of("postgresql://app@db1:5433,db2/app?target_session_attrs=read-write")
    assert (info["host"], info["target_session_attrs"]) == ("db1,db2", "read-write")
