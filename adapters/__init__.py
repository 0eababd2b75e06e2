"""The outer layer: everything that touches a database, a clock, a terminal or a user.

- `service`: the store's operations (the use cases), the unit of work, the audit queries;
- `storage`: the backends (memory, SQLite, PostgreSQL) and what the SQL ones share;
- `bootstrap`: `open_store(url)`, URLs and options, schema setup; it wires the other two;
- `cli`: the `greentic-session` command-line tool.

Imports point inward: `cli` → `bootstrap` → `service` → `storage` → projections → domain.
"""
