"""Read models and audit views derived from the log: what a write changes, replay, history,
explain, diff and verify."""
