"""The store's service layer: each operation loads, lets the aggregate decide, and saves
in one unit of work; the audit queries over the log."""
