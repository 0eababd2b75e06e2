"""The SQL of the floor stores: three plain tables and the statements that use them.

Both dialects keep the same tables. PostgreSQL finds a session row by the MD5 digest of
its key (`md5(key)::uuid`: a key may be longer than a btree entry can hold) and folds
clear_wait and remove_session into one statement each (data-modifying CTEs); SQLite runs
them as a few statements in one transaction.
"""


class SQLiteSQL:
    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS floor_sessions (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "data TEXT NOT NULL, expires_at INTEGER, wait_user_key TEXT, wait_scope_key TEXT) "
        "WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS floor_scopes (scope_key TEXT PRIMARY KEY, "
        "session_key TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS floor_user_waits (seq INTEGER PRIMARY KEY, "
        "user_key TEXT NOT NULL, session_key TEXT NOT NULL, expires_at INTEGER)",
        "CREATE INDEX IF NOT EXISTS floor_waits_by_user ON floor_user_waits (user_key, seq)",
    )
    LIVE = "(expires_at IS NULL OR expires_at > ?)"
    UPSERT_SESSION = (
        "INSERT INTO floor_sessions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
        "owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at, "
        "wait_user_key = excluded.wait_user_key, wait_scope_key = excluded.wait_scope_key"
    )
    UPSERT_SCOPE = (
        "INSERT INTO floor_scopes VALUES (?, ?, ?) ON CONFLICT (scope_key) DO UPDATE SET "
        "session_key = excluded.session_key, expires_at = excluded.expires_at"
    )
    ADD_WAIT = "INSERT INTO floor_user_waits (user_key, session_key, expires_at) VALUES (?, ?, ?)"
    DROP_SCOPE = "DELETE FROM floor_scopes WHERE scope_key = ? AND session_key = ?"
    DROP_WAIT = "DELETE FROM floor_user_waits WHERE user_key = ? AND session_key = ?"
    UNWAIT = (
        "UPDATE floor_sessions SET wait_user_key = NULL, wait_scope_key = NULL "
        "WHERE key = ? AND wait_scope_key = ?"
    )


class PostgresSQL:
    """Placeholders are %s; LIVE and ID take the named parameters now and key."""

    LIVE = "(expires_at IS NULL OR expires_at > %(now)s)"
    ID = "md5(%(key)s)::uuid"
    TABLES = (
        "CREATE TABLE IF NOT EXISTS floor_sessions (id UUID PRIMARY KEY, key TEXT NOT NULL, "
        "owner TEXT NOT NULL, data TEXT NOT NULL, expires_at BIGINT, wait_user_key TEXT, "
        "wait_scope_key TEXT)",
        "CREATE TABLE IF NOT EXISTS floor_scopes (scope_key TEXT PRIMARY KEY, "
        "session_key TEXT NOT NULL, expires_at BIGINT)",
        "CREATE TABLE IF NOT EXISTS floor_user_waits (seq BIGSERIAL PRIMARY KEY, "
        "user_key TEXT NOT NULL, session_key TEXT NOT NULL, expires_at BIGINT)",
        "CREATE INDEX IF NOT EXISTS floor_waits_by_user ON floor_user_waits (user_key, seq)",
    )
    CLEAR = (
        "WITH cleared AS (DELETE FROM floor_scopes WHERE scope_key = %(scope)s AND " + LIVE + " "
        "RETURNING session_key), waits AS (DELETE FROM floor_user_waits WHERE user_key = %(user)s "
        "AND session_key IN (SELECT session_key FROM cleared)) "
        "DELETE FROM floor_sessions WHERE id IN (SELECT md5(session_key)::uuid FROM cleared)"
    )
    REMOVE = (
        f"WITH gone AS (DELETE FROM floor_sessions WHERE id = {ID} AND {LIVE} "
        "RETURNING wait_user_key, wait_scope_key), "
        "scopes AS (DELETE FROM floor_scopes WHERE scope_key IN (SELECT wait_scope_key FROM gone) "
        "AND session_key = %(key)s), "
        "waits AS (DELETE FROM floor_user_waits WHERE user_key IN (SELECT wait_user_key FROM gone) "
        "AND session_key = %(key)s) SELECT count(*) FROM gone"
    )
    UPSERT_SESSION = (
        "INSERT INTO floor_sessions VALUES (md5(%s)::uuid, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET key = excluded.key, "
        "owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at, "
        "wait_user_key = excluded.wait_user_key, wait_scope_key = excluded.wait_scope_key"
    )
    CLAIM_SCOPE = "INSERT INTO floor_scopes VALUES (%s, %s, %s)"
    TAKE_SCOPE = "UPDATE floor_scopes SET session_key = %s, expires_at = %s WHERE scope_key = %s"
    ADD_WAIT = SQLiteSQL.ADD_WAIT.replace("?", "%s")
    DROP_SCOPE = SQLiteSQL.DROP_SCOPE.replace("?", "%s")
    DROP_WAIT = SQLiteSQL.DROP_WAIT.replace("?", "%s")
    UNWAIT = (
        "UPDATE floor_sessions SET wait_user_key = NULL, wait_scope_key = NULL "
        "WHERE id = md5(%s)::uuid AND wait_scope_key = %s"
    )
    SELECT_SESSION = (
        "SELECT owner, expires_at, wait_user_key, wait_scope_key "
        "FROM floor_sessions WHERE id = md5(%s)::uuid FOR UPDATE"
    )
    SELECT_HOLDER = "SELECT session_key FROM floor_scopes WHERE scope_key = %s FOR UPDATE"
