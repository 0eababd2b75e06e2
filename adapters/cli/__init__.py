"""The `greentic-session` command-line tool."""
