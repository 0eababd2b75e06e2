"""Storage backends behind one `open_store(url)`, and the command-line tool."""

from adapters.open_store import open_store

__all__ = ["open_store"]
