"""`greentic-session erase`: remove a subject's data from the log, keeping it verifiable.

By session key, or by whose sessions they are (an env and a tenant, narrowed to a team
or a user). The erasure is recorded in the log with `--reason` and `--by` (who asked);
verify lists it afterwards. Run as the tables' owner.
"""

from __future__ import annotations

import getpass

import click

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.cli.options import store_options
from greentic_session.adapters.cli.output import answer
from greentic_session.adapters.cli.progress import progress_bar
from greentic_session.domain.erasure import ErasureSubject
from greentic_session.domain.tenant import TenantCtx

OPERATOR_SCOPE = "operations"
"""The env and tenant of the context an erasure run from the CLI carries: only its user
(`--by`) is recorded, as the erasure's actor."""


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "operator"


@click.command()
@click.option("--session", "session_key", metavar="KEY", help="the session to erase")
@click.option("--env", help="with --tenant: erase that tenant's sessions")
@click.option("--tenant", help="the tenant whose sessions to erase")
@click.option("--team", help="only the sessions of this team of the tenant")
@click.option("--user", help="only the sessions of this user of the tenant")
@click.option("--reason", required=True, help="why (a request or ticket id); kept in clear")
@click.option("--by", default=_login, show_default="your login name", help="who asks")
@store_options
def erase(
    session_key: str | None,
    env: str | None,
    tenant: str | None,
    team: str | None,
    user: str | None,
    reason: str,
    by: str,
    url: str | None,
    as_json: bool,
) -> None:
    """Erase what a subject's sessions held: every event keeps its type, time and hashes,
    its content goes (context, cursor, flow, user and scope ids, traces), from the log
    and the read models; an `erased` event records who, when and why. Verify still
    passes and lists it."""
    subject = ErasureSubject.of(session=session_key, env=env, tenant=tenant, team=team, user=user)
    caller = TenantCtx.new(OPERATOR_SCOPE, OPERATOR_SCOPE).with_user(by)
    with (
        open_store(url, create=False) as store,
        progress_bar("erasing", as_json=as_json) as progress,
    ):
        report = store.erase(
            session=subject.session,
            env=env,
            tenant=tenant,
            team=team,
            user=user,
            reason=reason,
            ctx=caller,
            progress=progress,
        )
    shown = ", ".join(report.sessions[:10]) + (" …" if len(report.sessions) > 10 else "")
    human = f"erased {report.events} events of {len(report.sessions)} sessions" + (
        f": {shown}" if report.sessions else " (nothing left to erase)"
    )
    answer(as_json, report, human)
