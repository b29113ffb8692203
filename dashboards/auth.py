"""Dashboard sign-in: users, password hashes (bcrypt) and who may see which account.

No Streamlit here: the router (:mod:`dashboards.streamlit_app`) draws the login form and
:mod:`dashboards.context` keeps the signed-in :class:`User`; this module is plain functions of a
:class:`warehouse.Warehouse`.

Access model:

* an **analyst** belongs to one account and sees only its rows (:attr:`User.account_id`);
* an **operator** (``account_id`` NULL) sees every account and can pick one in the sidebar.

The scope is built once per run by :func:`dashboards.context.scope_for` (an :class:`warehouse.AccountScope`) and
enforced in the warehouse query: every read of :mod:`dashboards.reads` requires it.

Create a user (the password is asked for, or read from stdin with ``--password-stdin``)::

    python -m dashboards.auth add-user alice --role analyst --account acct-a
    python -m dashboards.auth add-user root --role operator

Set ``ORAGAMI_DASHBOARD_AUTH=off`` to skip the login (a local demo; everyone is an operator). Default: on.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from dataclasses import dataclass

import bcrypt
import pandas as pd

from warehouse import Warehouse
from warehouse.schema import USER_ROLES

#: Environment variable that turns the login off when set to ``off`` (also ``0``, ``false``, ``no``).
ENV_AUTH = "ORAGAMI_DASHBOARD_AUTH"
#: bcrypt only reads the first 72 bytes of a password; longer ones are refused rather than silently cut.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8
#: A valid hash of a random password, checked when the username is unknown so that both cases take as long.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-user-password", bcrypt.gensalt(rounds=12))


@dataclass(frozen=True)
class User:
    """A signed-in dashboard user."""

    username: str
    role: str
    account_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


#: The user of a dashboard running with ``ORAGAMI_DASHBOARD_AUTH=off``.
ANONYMOUS_OPERATOR = User(username="local", role="operator", account_id=None)


def auth_enabled() -> bool:
    """Whether the login is required (env :data:`ENV_AUTH`, read now; default on)."""
    return os.environ.get(ENV_AUTH, "on").strip().lower() not in ("off", "0", "false", "no")


def hash_password(password: str) -> str:
    """A salted bcrypt hash of ``password`` (text, ``$2b$12$…``).

    Raises:
        ValueError: the password is longer than :data:`MAX_PASSWORD_BYTES` bytes (UTF-8).
    """
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt()).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False (never an error) for a malformed hash."""
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES or not password_hash:
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def users_exist(wh: Warehouse) -> bool:
    """Whether at least one dashboard user is stored."""
    return not wh.read("users", columns=["username"], limit=1).empty


def authenticate(wh: Warehouse, username: str, password: str) -> User | None:
    """The user if ``username`` exists and ``password`` matches, else ``None`` (which of the two is not told)."""
    rows = wh.read("users", where={"username": username.strip()}, limit=1)
    if rows.empty:
        verify_password(password, _DUMMY_HASH.decode("ascii"))
        return None
    row = rows.iloc[0]
    if not verify_password(password, str(row["password_hash"])):
        return None
    account = row["account_id"]
    return User(username=str(row["username"]), role=str(row["role"]),
                account_id=None if pd.isna(account) else str(account))


def create_user(wh: Warehouse, username: str, password: str, role: str, account_id: str | None = None) -> User:
    """Store (or replace) a dashboard user with a bcrypt hash of ``password``.

    Args:
        username: the login name (surrounding spaces removed).
        password: at least :data:`MIN_PASSWORD_CHARS` characters, at most :data:`MAX_PASSWORD_BYTES` bytes.
        role: ``'analyst'`` (needs ``account_id``, an existing account) or ``'operator'`` (``account_id`` must be
            ``None``: operators see every account).
        account_id: the analyst's account.

    Returns:
        The stored :class:`User`.

    Raises:
        ValueError: empty username, short/long password, unknown role, analyst without an existing account or
            operator with one.
    """
    username = username.strip()
    if not username:
        raise ValueError("username is empty")
    if role not in USER_ROLES:
        raise ValueError(f"unknown role '{role}'; expected one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password shorter than {MIN_PASSWORD_CHARS} characters")
    if role == "analyst":
        if not account_id:
            raise ValueError("an analyst needs an account_id")
        if wh.read("accounts", where={"account_id": account_id}, columns=["account_id"]).empty:
            raise ValueError(f"unknown account '{account_id}'")
    elif account_id:
        raise ValueError("an operator sees every account: give no account_id")
    wh.upsert("users", pd.DataFrame([{
        "username": username, "password_hash": hash_password(password), "role": role,
        "account_id": account_id if role == "analyst" else None, "created_at": dt.datetime.now(dt.timezone.utc),
    }]))
    return User(username=username, role=role, account_id=account_id if role == "analyst" else None)


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboards.auth add-user USERNAME --role analyst|operator [--account ID] [--password-stdin]``."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.auth", description="Manage dashboard users.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="create or replace a dashboard user in the configured warehouse")
    add.add_argument("username")
    add.add_argument("--role", choices=USER_ROLES, required=True)
    add.add_argument("--account", default=None, help="the analyst's account_id")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    with Warehouse.from_settings() as wh:
        wh.create_schema()
        try:
            user = create_user(wh, args.username, password, args.role, args.account)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    scope = f"account {user.account_id}" if user.account_id else "every account"
    print(f"user {user.username} ({user.role}, {scope}) saved in {wh.safe_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
