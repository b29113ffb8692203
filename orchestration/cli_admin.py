"""``oragami`` subcommands: users, accounts, risk gates and the audit trail (issue 11; docs/accounts.md).

    oragami users add NAME --role analyst|operator|admin [--account ID]... [--password-stdin] [--must-change]
    oragami users list [--json]
    oragami users disable NAME | enable NAME | sign-out NAME
    oragami users reset-password NAME [--password-stdin]   # prints a generated temporary password otherwise
    oragami users set-role NAME --role ROLE [--account ID]...
    oragami accounts add ID [--name NAME] | disable ID | enable ID | list [--json]
    oragami accounts set-risk ID [--max-order-usd USD|none] [--daily-loss-kill-pct FRACTION|none]
                                 [--max-active N] [--dry-run true|false]
    oragami audit [--action A]... [--actor NAME] [--account ID] [--since DAY] [--until DAY] [--csv FILE]

Who acts: by default the machine's user (``cli:<os user>``, role ``system``) — whoever can write the warehouse
can change it anyway. With ``--as NAME`` (or env ``ORAGAMI_CLI_USER``) the command signs in as that dashboard
user first (password from env ``ORAGAMI_CLI_PASSWORD`` or asked; the dashboard's lock-out applies) and is refused
unless their role allows it: users, accounts and risk gates need ``admin``; ``audit`` shows an analyst only their
accounts' events. Every change is recorded in the audit trail (origin ``cli``).

Exit codes: 0 done; 2 refused (bad input, unknown user/account, a role that may not, a failed sign-in).
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys

#: Environment variables of ``--as``: the dashboard user the command acts as, and their password.
ENV_CLI_USER = "ORAGAMI_CLI_USER"
ENV_CLI_PASSWORD = "ORAGAMI_CLI_PASSWORD"
EXIT_REFUSED = 2


class Refused(Exception):
    """A command refused: one line on standard error, exit :data:`EXIT_REFUSED`."""


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def system_actor():
    """The actor of a command run without ``--as``: ``cli:<os user>``, role ``system``, origin ``cli``."""
    from warehouse.repos.users import Actor

    return Actor(f"cli:{_os_user()}", "system", "cli")


def record_cli(wh, action: str, *, account_id: str | None, target: str | None, detail: str = "") -> str:
    """Record a command-line action in the audit trail as :func:`system_actor` (used by ``oragami seed``).

    Returns:
        The event id.

    Raises:
        ValueError: as :func:`warehouse.repos.audit.record` (unknown action, a secret in the detail).
    """
    from warehouse.repos import audit

    actor = system_actor()
    return audit.record(wh, action=action, actor=actor.username, role=actor.role, account_id=account_id,
                        target=target, origin=actor.origin, detail=detail)


def _warehouse(args):
    from warehouse import Warehouse

    if getattr(args, "warehouse", None):
        os.environ["ORAGAMI_WAREHOUSE_URL"] = args.warehouse
    wh = Warehouse.from_settings()
    wh.create_schema()
    return wh


def _identity(args, wh):
    """``(actor, user)``: the system actor and ``None``, or the ``--as`` user signed in (lock-out applies)."""
    from dashboards import auth
    from warehouse.repos.users import Actor

    name = getattr(args, "as_user", None) or os.environ.get(ENV_CLI_USER)
    if not name:
        return system_actor(), None
    password = os.environ.get(ENV_CLI_PASSWORD)
    if password is None:
        password = getpass.getpass(f"Password of {name}: ")
    result = auth.attempt_sign_in(wh, name, password, client=f"cli:{_os_user()}",
                                  server_address="127.0.0.1", origin="cli")
    if result.status != "ok":
        raise Refused(f"sign-in as {name} refused: {result.message}")
    user = result.user
    return Actor(user.username, user.role, "cli"), user


def _require_admin(args, wh):
    actor, user = _identity(args, wh)
    if user is not None and not user.is_admin:
        raise Refused(f"{user.username} is {'an' if user.role[0] in 'aeiou' else 'a'} {user.role}: managing users, "
                      "accounts and risk gates needs the admin role")
    return actor


def _new_password(args, prompt: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise Refused("the two passwords differ")
    return first


def _print_frame(frame, as_json: bool) -> None:
    if as_json:
        print(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        print("(none)")
    else:
        print(frame.to_string(index=False))


# -- users --------------------------------------------------------------------------------------------------------

def cmd_users(args) -> int:
    """``oragami users add|list|disable|enable|sign-out|reset-password|set-role``.

    Returns:
        0 done; :data:`EXIT_REFUSED` (2) for a refused password, an unknown user or account, a role that may not
        (``--as`` someone other than an admin) or a failed ``--as`` sign-in (one line on standard error).
    """
    from dashboards import auth
    from warehouse.repos import users as user_repo

    wh = _warehouse(args)
    try:
        if args.users_command == "list":
            _require_admin(args, wh)
            _print_frame(user_repo.list_users(wh), args.json)
            return 0
        actor = _require_admin(args, wh)
        name = args.username
        if args.users_command == "add":
            user = auth.create_user(wh, name, _new_password(args, f"Password for {name}: "), args.role,
                                    accounts=args.account or (), must_change_password=args.must_change, by=actor)
            scope = ", ".join(user.accounts) if user.accounts else "every account"
            print(f"user {user.username} ({user.role}, {scope}) saved in {wh.safe_url}")
        elif args.users_command in ("disable", "enable"):
            user_repo.set_disabled(wh, name, args.users_command == "disable", by=actor)
            print(f"user {name} {args.users_command}d" + ("; every session signed out"
                                                          if args.users_command == "disable" else ""))
        elif args.users_command == "sign-out":
            user_repo.sign_out_everywhere(wh, name, by=actor)
            print(f"every session of {name} signed out")
        elif args.users_command == "reset-password":
            if user_repo.get(wh, name) is None:
                raise LookupError(f"no user '{name}'")
            if args.password_stdin:
                temp = sys.stdin.readline().rstrip("\n")
                auth.check_password(temp, name)
            else:
                temp = auth.temporary_password()
            user_repo.set_password(wh, name, auth.hash_password(temp), must_change=True, by=actor,
                                   action="password_reset")
            print(f"password of {name} reset; they must set a new one at next sign-in")
            if not args.password_stdin:
                print(f"temporary password (shown once): {temp}")
        elif args.users_command == "set-role":
            user_repo.set_role_and_accounts(wh, name, args.role, args.account or [], by=actor)
            print(f"user {name} is now {args.role}" + (f" of {', '.join(args.account)}" if args.account else ""))
    except (Refused, ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        wh.dispose()
    return 0


# -- accounts -----------------------------------------------------------------------------------------------------

def _gate(text: str | None):
    return None if text is None or text.strip().lower() in ("none", "off", "") else text


def cmd_accounts(args) -> int:
    """``oragami accounts add|list|disable|enable|set-risk`` (risk gates: USD, a loss fraction, a count, a flag).

    Returns:
        0 done; :data:`EXIT_REFUSED` (2) for an unknown account, a gate out of range or a role that may not.
    """
    from warehouse.repos import users as user_repo

    wh = _warehouse(args)
    try:
        actor = _require_admin(args, wh)
        if args.accounts_command == "list":
            _print_frame(user_repo.list_accounts(wh), args.json)
        elif args.accounts_command == "add":
            user_repo.create_account(wh, args.account_id, args.name, by=actor)
            print(f"account {args.account_id} created")
        elif args.accounts_command in ("disable", "enable"):
            stopped = user_repo.set_account_disabled(wh, args.account_id, args.accounts_command == "disable",
                                                     by=actor)
            print(f"account {args.account_id} {args.accounts_command}d"
                  + (f"; {stopped} symphonies deactivated" if args.accounts_command == "disable" else ""))
        elif args.accounts_command == "set-risk":
            gates = {}
            if args.max_order_usd is not None:
                gates["max_order_notional_usd"] = _gate(args.max_order_usd)
            if args.daily_loss_kill_pct is not None:
                gates["daily_loss_kill_pct"] = _gate(args.daily_loss_kill_pct)
            if args.max_active is not None:
                gates["max_active_symphonies"] = args.max_active
            if args.dry_run is not None:
                gates["dry_run"] = args.dry_run
            if not gates:
                raise Refused("give at least one gate (--max-order-usd, --daily-loss-kill-pct, --max-active, "
                              "--dry-run)")
            changed = user_repo.set_risk_gates(wh, args.account_id, by=actor, **gates)
            print(f"account {args.account_id}: " + (", ".join(f"{k} = {v}" for k, v in changed.items())
                                                    if changed else "no gate changed"))
    except (Refused, ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        wh.dispose()
    return 0


# -- audit --------------------------------------------------------------------------------------------------------

def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Refused(f"not an ISO date: {text!r}") from None


def cmd_audit(args) -> int:
    """``oragami audit``: the events in the caller's scope (every event without ``--as`` or for an operator/admin,
    an analyst's accounts' otherwise), printed or written as CSV (``--csv FILE``, ``-`` for standard output).

    Returns:
        0 done; :data:`EXIT_REFUSED` (2) for a bad date, an unwritable file or a failed ``--as`` sign-in.
    """
    from dashboards.reads import audit as audit_reads
    from warehouse import AccountScope

    wh = _warehouse(args)
    try:
        _, user = _identity(args, wh)
        scope = AccountScope.all() if user is None or user.is_operator else AccountScope.only(*user.accounts)
        events = audit_reads.audit_events(wh, scope, actions=args.action, actor=args.actor, account_id=args.account,
                                          start=_day(args.since), end=_day(args.until))
        if args.csv:
            data = audit_reads.to_csv(events)
            if args.csv == "-":
                sys.stdout.write(data.decode("utf-8"))
            else:
                with open(args.csv, "wb") as fh:
                    fh.write(data)
                print(f"{len(events)} events written to {args.csv}")
        else:
            _print_frame(events, False)
    except (Refused, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        wh.dispose()
    return 0


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def register(sub) -> None:
    """Add ``users``, ``accounts`` and ``audit`` to the ``oragami`` parser's subparsers ``sub``."""
    from warehouse.repos.audit import ACTIONS
    from warehouse.schema import USER_ROLES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--warehouse",
                        help="SQLAlchemy URL of the warehouse (default: ORAGAMI_WAREHOUSE_URL, else the DuckDB file "
                             "ORAGAMI_DUCKDB_PATH or ./var/oragami.duckdb)")
    common.add_argument("--as", dest="as_user", metavar="NAME",
                        help=f"act as this dashboard user (password from {ENV_CLI_PASSWORD} or asked); "
                             f"default: the machine's user (env {ENV_CLI_USER})")

    users = sub.add_parser("users", help="dashboard users: add, list, disable/enable, reset-password, set-role, "
                                         "sign-out")
    users_sub = users.add_subparsers(dest="users_command", required=True, help="one of the users commands below")
    add = users_sub.add_parser("add", parents=[common], help="create or replace a user")
    add.add_argument("username", help="the user's sign-in name")
    add.add_argument("--role", choices=USER_ROLES, required=True,
                     help="analyst (own accounts only), operator or admin (every account); required")
    add.add_argument("--account", action="append", help="an analyst's account (repeat for several)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--must-change", action="store_true", help="the user sets a new password at first sign-in")
    lst = users_sub.add_parser("list", parents=[common], help="every user (no hashes)")
    lst.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    for name, text in (("disable", "disable a user (every session ends)"), ("enable", "enable a user again"),
                       ("sign-out", "end every session of a user")):
        users_sub.add_parser(name, parents=[common], help=text).add_argument("username", help="the user's sign-in name")
    reset = users_sub.add_parser("reset-password", parents=[common],
                                 help="set a temporary password; the user sets a new one at next sign-in")
    reset.add_argument("username", help="the user's sign-in name")
    reset.add_argument("--password-stdin", action="store_true", help="read the temporary password from stdin "
                                                                      "(default: generate and print one)")
    role = users_sub.add_parser("set-role", parents=[common], help="change a user's role and accounts")
    role.add_argument("username", help="the user's sign-in name")
    role.add_argument("--role", choices=USER_ROLES, required=True,
                      help="the new role: analyst (own accounts only), operator or admin (every account); required")
    role.add_argument("--account", action="append", help="an analyst's account (repeat for several)")
    users.set_defaults(func=cmd_users)

    accounts = sub.add_parser("accounts", help="accounts: add, list, disable/enable, set-risk")
    acc_sub = accounts.add_subparsers(dest="accounts_command", required=True,
                                      help="one of the accounts commands below")
    a_add = acc_sub.add_parser("add", parents=[common], help="create an account")
    a_add.add_argument("account_id", help="the new account's id")
    a_add.add_argument("--name", help="display name (default: the account id)")
    a_list = acc_sub.add_parser("list", parents=[common], help="every account with its risk gates")
    a_list.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    for name, text in (("disable", "disable an account (its symphonies are deactivated)"),
                       ("enable", "enable an account again")):
        acc_sub.add_parser(name, parents=[common], help=text).add_argument("account_id", help="the account's id")
    risk = acc_sub.add_parser("set-risk", parents=[common], help="set an account's risk gates")
    risk.add_argument("account_id", help="the account's id; a gate not given stays as it is")
    risk.add_argument("--max-order-usd", help="largest order notional sent, USD ('none': no limit)")
    risk.add_argument("--daily-loss-kill-pct", help="kill switch: daily loss as a fraction, 0.05 = 5 %% ('none': off)")
    risk.add_argument("--max-active", type=int,
                      help="most active symphonies that trade, a count (new accounts: 40, as Composer)")
    risk.add_argument("--dry-run", type=_bool,
                      help="true: plan and record orders, never submit; false: submit them "
                           "(true/false, yes/no, 1/0, on/off)")
    accounts.set_defaults(func=cmd_accounts)

    audit = sub.add_parser("audit", parents=[common], help="the audit trail: filter, print or export as CSV")
    audit.add_argument("--action", action="append", choices=ACTIONS, help="only this action (repeatable)")
    audit.add_argument("--actor", help="only this username")
    audit.add_argument("--account", help="only this account")
    audit.add_argument("--since", help="first UTC day, YYYY-MM-DD (default: no lower bound)")
    audit.add_argument("--until", help="last UTC day, YYYY-MM-DD, inclusive (default: no upper bound)")
    audit.add_argument("--csv", help="write CSV to this file ('-': standard output; default: print a table)")
    audit.set_defaults(func=cmd_audit)


__all__ = ["ENV_CLI_USER", "ENV_CLI_PASSWORD", "EXIT_REFUSED", "Refused", "system_actor", "record_cli", "register",
           "cmd_users", "cmd_accounts", "cmd_audit"]
