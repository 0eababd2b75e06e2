"""The pages: each reads the store through its public, read-only operations and hands the
result to its template. None writes; each page of data is one indexed read, but `verify`,
which reads the whole log when asked to."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.service.short_keys import resolve_key
from greentic_session.adapters.web import forms
from greentic_session.adapters.web.rendering import render
from greentic_session.adapters.web.timeline import draw
from greentic_session.domain.audit import SessionEvent
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input
from greentic_session.domain.instants import instant_text
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.tenant import TenantCtx

EVENTS_PER_PAGE = 100


def store_of(request: Request) -> EventSourcedSessionStore:
    store: EventSourcedSessionStore = request.app.state.store
    return store


def _history(request: Request) -> tuple[str, list[SessionEvent]]:
    store = store_of(request)
    key = resolve_key(store, request.path_params["key"])
    events = store.history(key)
    if not events:
        raise SessionError(ErrorCode.NOT_FOUND, f"no session {key}: the log has no events for it")
    return key, events


def session_page(request: Request) -> Response:
    """The timeline of one page of the key's events, the events' table, the diff form."""
    key, events = _history(request)
    first = forms.whole(request.query_params, "from", 1, high=events[-1].version)
    window = [e for e in events if first <= e.version < first + EVENTS_PER_PAGE]
    picture = draw(events, window, datetime.now(UTC))
    later = first + EVENTS_PER_PAGE if window[-1].version < events[-1].version else None
    earlier = max(1, first - EVENTS_PER_PAGE) if first > 1 else None
    stored = store_of(request).read_session(key)
    return render(request, "session.html", key=key, events=window, picture=picture,
                  last=events[-1], stored=stored, later=later, earlier=earlier,
                  total=len(events))


def diff_page(request: Request) -> Response:
    """What changed between two versions of the key, `?v1=&v2=`."""
    key, events = _history(request)
    last = events[-1].version
    v1 = forms.whole(request.query_params, "v1", max(1, last - 1), high=last)
    v2 = forms.whole(request.query_params, "v2", last, high=last)
    result = store_of(request).diff(key, v1, v2)
    ends = (events[v1 - 1], events[v2 - 1])  # a stream's versions are 1, 2, 3... (no gaps)
    return render(request, "diff.html", key=key, diff=result, last=last, ends=ends)


def scopes_page(request: Request) -> Response:
    """Who held a scope over time (its whole trail), and where a reply at `at` went and
    why (`explain` at that instant)."""
    params = request.query_params
    fields = {name: forms.text(params, name) or "" for name in SCOPE_FIELDS}
    result, trail = None, []
    if params:
        for needed in ("env", "tenant", "user", "conversation"):
            if not fields[needed]:
                raise invalid_input(f"give {needed}: explain needs env, tenant, user and "
                                    "conversation")
        ctx = TenantCtx.new(fields["env"], fields["tenant"]).with_team(
            fields["team"] or None).with_user(fields["user"])
        scope = ReplyScope(conversation=fields["conversation"], thread=fields["thread"] or None,
                           reply_to=fields["reply_to"] or None,
                           correlation=fields["correlation"] or None)
        at = forms.instant(params, "at")
        result = store_of(request).explain(ctx, fields["user"], scope, at=at)
        whole = store_of(request).explain(ctx, fields["user"], scope, at=END_OF_TIME)
        reply = instant_text(result.at)
        for line in whole.trail:  # "<instant>: <key> (v<N>) <what happened>", in log order
            instant, what = line.split(": ", 1)
            key, found, rest = what.partition(" (v")
            who, did = (key, found + rest) if found else ("", what)
            trail.append((instant, who, did, instant > reply))
    return render(request, "scopes.html", fields=fields, result=result, trail=trail)


END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
"""Explaining at this instant gives the scope's whole trail, later events included."""
SCOPE_FIELDS = ("env", "tenant", "team", "user", "conversation", "thread", "reply_to",
                "correlation", "at")


def verify_page(request: Request) -> Response:
    """The verify report, when asked for (`?run=1`): it reads the whole log."""
    report = store_of(request).verify() if request.query_params.get("run") else None
    return render(request, "verify.html", report=report)
