"""The operator's read-only web app (`greentic-session ui`, the `ui` extra)."""
