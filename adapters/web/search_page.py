"""`GET /`: finding sessions by tenant, team, user, flow, conversation, state and time,
a page at a time (`find_sessions`, an indexed read model: never a scan of the log)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from greentic_session.adapters.web import forms
from greentic_session.adapters.web.pages import store_of
from greentic_session.adapters.web.rendering import render
from greentic_session.domain.errors import invalid_input

FILTERS = ("env", "tenant", "team", "user", "flow", "conversation")
STATES = ("any", "waiting", "live", "ended", "expired")
PAGE_SIZE = 50


def search(request: Request) -> Response:
    """The form, and when any filter is given (or `?all=1`), the page of sessions it finds."""
    params = request.query_params
    fields = {name: forms.text(params, name) or "" for name in FILTERS}
    state = forms.text(params, "state") or "any"
    if state not in STATES:
        raise invalid_input(f"state={state!r}: give one of {', '.join(STATES)}")
    since, before = forms.instant(params, "updated_since"), forms.instant(params, "updated_before")
    limit = forms.whole(params, "limit", PAGE_SIZE, high=500)
    after = forms.text(params, "after")
    given = {name: value or None for name, value in fields.items()}
    page = store_of(request).find_sessions(
        env=given["env"],
        tenant=given["tenant"],
        team=given["team"],
        user=given["user"],
        flow=given["flow"],
        conversation=given["conversation"],
        state=state,
        updated_since=since,
        updated_before=before,
        limit=limit,
        after=after,
    )
    shown = {**fields, "state": state, "updated_since": forms.text(params, "updated_since") or "",
             "updated_before": forms.text(params, "updated_before") or "", "limit": str(limit)}
    kept = [(name, value) for name, value in shown.items() if value and value != "any"]
    next_link = None if page.next is None else "?" + urlencode([*kept, ("after", page.next)])
    first_link = "?" + urlencode(kept) if after else None
    return render(request, "search.html", fields=shown, states=STATES, page=page,
                  next_link=next_link, first_link=first_link)
