"""`context_json` as people read it: the tools show it indented when it is JSON."""

from __future__ import annotations

import json


def pretty_json(text: str) -> str:
    """JSON indented by two spaces (non-ASCII kept); any other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
