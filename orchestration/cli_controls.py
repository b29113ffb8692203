"""``oragami controls``: live controls per symphony — go to cash, skip the next rebalance, preview (issue 10).

    oragami controls set --user NAME --symphony S --control cash_until_rebalance|skip_next_rebalance
                         [--from-session D] [--note TEXT]
    oragami controls clear --user NAME --symphony S
    oragami controls list [--user NAME] [--account A] [--all]
    oragami controls preview --account A [--symphony S] --session D [--user NAME] [--json]

``--user`` names a dashboard user (``users`` table; default ``$ORAGAMI_USER``): an operator or admin may act
on every account, an analyst on their own accounts only; who and when is stored with the control and in the audit
trail (origin ``cli``). ``preview`` prints the netted orders the daily run of that session would send for the account
— the graph's own planning (:func:`warehouse.repos.controls.preview`), nothing written, nothing sent.

Exit codes: 0 done; 2 usage error (unknown user, symphony or session; not allowed; another control open).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys

def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _warehouse(args):
    """The warehouse of ``--warehouse`` / the environment (:meth:`warehouse.Warehouse.from_settings`), its schema
    created (an older warehouse gains ``symphony_controls``)."""
    from warehouse import Warehouse

    wh = Warehouse.from_settings(args.warehouse)
    wh.create_schema()
    return wh


def _user(wh, name: str | None) -> tuple[str, str, tuple[str, ...]]:
    """``(username, role, accounts)`` of a dashboard user (accounts: an analyst's memberships, else empty).

    Raises:
        LookupError: no name given, no such user, or the user is disabled.
    """
    from warehouse.repos import users as user_repo

    name = name or os.environ.get("ORAGAMI_USER")
    if not name:
        raise LookupError("say who you are: --user NAME (a dashboard user; or set ORAGAMI_USER)")
    rec = user_repo.get(wh, name)
    if rec is None:
        raise LookupError(f"no user '{name}' (create one: oragami users add, or python -m dashboards.auth add-user)")
    if rec.disabled:
        raise LookupError(f"user '{rec.username}' is disabled")
    return rec.username, rec.role, tuple(rec.accounts)


def _session(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--session/--from-session: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def cmd_set(args) -> int:
    from warehouse.repos import controls

    wh = _warehouse(args)
    try:
        actor, role, accounts = _user(wh, args.user)
        row = controls.set_control(wh, symphony_id=args.symphony, control=args.control, actor=actor, role=role,
                                   user_account=accounts, origin="cli", effective_session=_session(args.from_session),
                                   note=args.note)
    except (LookupError, ValueError, PermissionError) as exc:
        _err(f"error: {exc}")
        return 2
    finally:
        wh.dispose()
    print(f"{row['symphony_id']}: {row['control']} from session {row['effective_session']} "
          f"(set by {row['set_by']} at {row['set_at']:%Y-%m-%d %H:%M:%S} UTC)")
    return 0


def cmd_clear(args) -> int:
    from warehouse.repos import controls

    wh = _warehouse(args)
    try:
        actor, role, accounts = _user(wh, args.user)
        row = controls.clear_control(wh, symphony_id=args.symphony, actor=actor, role=role, user_account=accounts,
                                     origin="cli")
    except (LookupError, ValueError, PermissionError) as exc:
        _err(f"error: {exc}")
        return 2
    finally:
        wh.dispose()
    print(f"{args.symphony}: no open control" if row is None else
          f"{args.symphony}: {row['control']} cleared by {row['cleared_by']}")
    return 0


def _scope(wh, args):
    from warehouse import AccountScope
    from warehouse.repos import controls

    if args.user or os.environ.get("ORAGAMI_USER"):
        _, role, accounts = _user(wh, args.user)
        if role not in controls.OPERATOR_ROLES:
            if args.account and args.account not in accounts:
                raise PermissionError(f"analyst of account '{', '.join(accounts) or 'none'}' may not read account "
                                      f"'{args.account}'")
            return AccountScope.only(*([args.account] if args.account else accounts))
    return AccountScope.only(args.account) if args.account else AccountScope.all()


def cmd_list(args) -> int:
    import pandas as pd

    from warehouse.repos import controls

    wh = _warehouse(args)
    try:
        rows = controls.controls(wh, _scope(wh, args), status=None if args.all else "open")
    except (LookupError, PermissionError) as exc:
        _err(f"error: {exc}")
        return 2
    finally:
        wh.dispose()
    if rows.empty:
        print("no controls" if args.all else "no open controls")
        return 0
    cols = ["account_id", "symphony_id", "control", "status", "effective_session", "set_by", "set_at",
            "started_session", "consumed_session", "cleared_by", "cleared_at"]
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(rows[cols].to_string(index=False))
    return 0


def cmd_preview(args) -> int:
    import pandas as pd

    from warehouse.repos import controls

    wh = _warehouse(args)
    try:
        scope = _scope(wh, args)
        pv = controls.preview(wh, scope, args.account, _session(args.session), args.symphony)
    except (LookupError, ValueError, PermissionError) as exc:
        _err(f"error: {exc}")
        return 2
    finally:
        wh.dispose()
    if args.json:
        print(json.dumps({"account_id": pv.account_id, "session": pv.session.isoformat(),
                          "prices_as_of": pv.prices_as_of.isoformat() if pv.prices_as_of else None,
                          "refused": pv.refused, "orders": pv.orders.to_dict("records"),
                          "symphonies": pv.symphonies.to_dict("records")}, default=str, indent=2))
        return 0
    print(f"preview of {pv.session} for account {pv.account_id} (prices as of {pv.prices_as_of}; nothing sent)")
    if pv.refused:
        print(f"the run would refuse this account: {pv.refused}")
    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 120):
        print(pv.symphonies.to_string(index=False) if len(pv.symphonies) else "no active symphonies")
        print()
        print(pv.orders.to_string(index=False) if len(pv.orders) else "no orders")
    return 0


def register(sub) -> None:
    """Add ``controls set|clear|list|preview`` to the ``oragami`` parser's subparsers ``sub``."""
    from warehouse.schema import CONTROL_KINDS

    c = sub.add_parser("controls", help="live controls per symphony: go to cash, skip the next rebalance, preview")
    csub = c.add_subparsers(dest="controls_command", required=True, help="one of the controls commands below")
    s = csub.add_parser("set", help="put a control on a symphony")
    s.add_argument("--symphony", required=True, help="the symphony's id in the warehouse; required")
    s.add_argument("--control", required=True, choices=CONTROL_KINDS,
                   help="cash_until_rebalance: sell to cash and hold cash until the next scheduled rebalance; "
                        "skip_next_rebalance: keep the current holdings on the next session the rule would "
                        "trade; required")
    s.add_argument("--from-session",
                   help="first session it acts on, YYYY-MM-DD (default: the next session the job trades)")
    s.add_argument("--note", help="why (kept with the control)")
    s.set_defaults(func=cmd_set)
    cl = csub.add_parser("clear", help="withdraw a symphony's open control")
    cl.add_argument("--symphony", required=True, help="the symphony's id in the warehouse; required")
    cl.set_defaults(func=cmd_clear)
    ls = csub.add_parser("list", help="open controls (--all: the history too)")
    ls.add_argument("--account", help="only this account (default: every account you may see)")
    ls.add_argument("--all", action="store_true", help="consumed and cleared controls too")
    ls.set_defaults(func=cmd_list)
    pv = csub.add_parser("preview", help="the netted orders the next run would send (sent nowhere)")
    pv.add_argument("--account", required=True, help="the account whose orders are netted; required")
    pv.add_argument("--symphony", help="only the orders this symphony takes part in")
    pv.add_argument("--session", required=True, help="the NYSE session, YYYY-MM-DD; required")
    pv.add_argument("--json", action="store_true", help="print the orders as JSON instead of a table")
    pv.set_defaults(func=cmd_preview)
    for cmd in (s, cl, ls, pv):
        cmd.add_argument("--user", help="a dashboard user (default $ORAGAMI_USER)")
        cmd.add_argument("--warehouse",
                         help="SQLAlchemy URL of the warehouse (default: ORAGAMI_WAREHOUSE_URL, else the DuckDB file "
                              "ORAGAMI_DUCKDB_PATH or ./var/oragami.duckdb)")
