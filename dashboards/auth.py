"""Dashboard sign-in: users, password hashes (bcrypt), the password rule, the lock-out, the demo user and who may
see which account. Full description for users: ``docs/accounts.md``.

No Streamlit here: the router (:mod:`dashboards.streamlit_app`) draws the forms and :mod:`dashboards.context`
keeps the signed-in :class:`User`; this module is plain functions of a :class:`warehouse.Warehouse` (the stored
rows and their audit events go through :mod:`warehouse.repos.users`).

Roles:

* an **analyst** belongs to one or more accounts and sees only their rows (:attr:`User.accounts`);
* an **operator** sees every account, can pick one in the sidebar and uses the live controls;
* an **admin** can do what an operator can, and manage users, accounts and risk gates.

Sign-in (:func:`attempt_sign_in`):

* **lock-out** — :data:`LOCK_USER_FAILURES` failed sign-ins for one username within :data:`LOCK_WINDOW` lock that
  username for :data:`LOCK_DURATION` from the last of them; :data:`LOCK_CLIENT_FAILURES` failures from one client
  address (any usernames) lock that client likewise. While locked, the password is not checked and the answer is
  the same whether the user exists or not; attempts during a lock do not extend it. A successful sign-in, a
  password change or an admin's reset starts the count again.
* **demo user** (``is_demo``, created by ``oragami demo``) — accepted only while the app's server address
  (Streamlit ``server.address``) is a loopback address (:func:`is_loopback`).
* **sessions** — a session lasts at most :func:`session_max_age` (env :data:`ENV_SESSION_HOURS`, default 12 h);
  "sign out everywhere", a password change/reset or disabling the user bumps the user's session epoch, which
  every run checks (:func:`session_problem`).
* **passwords** — :func:`password_problem`: at least :data:`MIN_PASSWORD_CHARS` characters, not trivial.

Create a user (the password is asked for, or read from stdin with ``--password-stdin``)::

    oragami users add alice --role analyst --account acct-a
    python -m dashboards.auth add-user root --role operator      # the older door, same rules

Set ``ORAGAMI_DASHBOARD_AUTH=off`` to skip the login (a local demo; everyone is an operator). Default: on.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import ipaddress
import os
import re
import secrets
import sys
from dataclasses import dataclass, field

import bcrypt

from warehouse import Warehouse
from warehouse.repos import audit
from warehouse.repos import users as user_repo
from warehouse.schema import USER_ROLES

#: Environment variable that turns the login off when set to ``off`` (also ``0``, ``false``, ``no``).
ENV_AUTH = "ORAGAMI_DASHBOARD_AUTH"
#: Environment variable: hours a signed-in session lasts before the user must sign in again (default 12).
ENV_SESSION_HOURS = "ORAGAMI_SESSION_HOURS"
DEFAULT_SESSION_HOURS = 12.0
#: bcrypt only reads the first 72 bytes of a password; longer ones are refused rather than silently cut.
MAX_PASSWORD_BYTES = 72
#: Shortest password accepted by :func:`password_problem`.
MIN_PASSWORD_CHARS = 12
#: The demo user's password may be shorter (it is published, and accepted on a loopback address only).
MIN_DEMO_PASSWORD_CHARS = 8
#: Lock-out: failures per username, per client address, within the window; how long the lock lasts.
LOCK_USER_FAILURES = 5
LOCK_CLIENT_FAILURES = 20
LOCK_WINDOW = dt.timedelta(minutes=15)
LOCK_DURATION = dt.timedelta(minutes=15)
#: The client recorded when the browser's address is unknown (Streamlit gives none, e.g. under AppTest).
UNKNOWN_CLIENT = "unknown"

WRONG = "Wrong username or password."
DEMO_REFUSED = ("The demo user signs in only while the dashboard listens on a loopback address (127.0.0.1); this "
                "server listens on {address}. Sign in as a real user.")
#: A valid bcrypt hash (cost 12, like every stored one) of a password no user has, checked when the username is
#: unknown so that both cases take as long. A constant: made once with ``bcrypt.hashpw(b"not-a-user-password",
#: bcrypt.gensalt(rounds=12))`` instead of at every import (~0.25 s for each process importing this module).
_DUMMY_HASH = "$2b$12$ZbrWUI.X6u1thZ/3SDVfoOJ0lLlLSpifPYYbQb.teVNOagQr5IGd6"

#: Passwords (their letters, lower-cased) refused as trivial, whatever digits or signs surround them.
COMMON_WORDS = frozenset({
    "", "password", "passwort", "passw", "pass", "qwerty", "qwertz", "azerty", "letmein", "welcome", "admin",
    "administrator", "changeme", "iloveyou", "secret", "login", "root", "master", "dragon", "monkey", "football",
    "baseball", "sunshine", "princess", "trustno", "oragami", "composer", "trading", "abc", "abcd", "abcdef",
    "qwertyuiop", "asdfghjkl", "zxcvbnm", "test", "testing", "demo", "user", "default", "guest",
})
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm", "9876543210")


@dataclass(frozen=True)
class User:
    """A signed-in dashboard user.

    Equality compares ``username``, ``role`` and ``account_id`` only; the other fields describe the session.

    Attributes:
        account_id: an analyst's first account (``None`` for operators and admins).
        accounts: every account of an analyst (defaults to ``(account_id,)``); empty for operators and admins.
        session_epoch: the user's sign-out-everywhere counter when this session began.
        signed_in_at: when this session began (UTC); ``None`` for the anonymous operator.
        must_change_password: the user must set a new password before any page opens.
        is_demo: the published demo user.
    """

    username: str
    role: str
    account_id: str | None = None
    accounts: tuple[str, ...] = field(default=(), compare=False)
    session_epoch: int = field(default=0, compare=False)
    signed_in_at: dt.datetime | None = field(default=None, compare=False)
    must_change_password: bool = field(default=False, compare=False)
    is_demo: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not self.accounts and self.account_id:
            object.__setattr__(self, "accounts", (self.account_id,))
        if self.accounts and self.account_id is None:
            object.__setattr__(self, "account_id", self.accounts[0])

    @property
    def is_operator(self) -> bool:
        """Sees every account and uses the live controls: operators and admins."""
        return self.role in ("operator", "admin")

    @property
    def is_admin(self) -> bool:
        """Manages users, accounts and risk gates."""
        return self.role == "admin"


#: The user of a dashboard running with ``ORAGAMI_DASHBOARD_AUTH=off``.
ANONYMOUS_OPERATOR = User(username="local", role="operator", account_id=None)


@dataclass(frozen=True)
class SignInResult:
    """The answer to one sign-in attempt.

    Attributes:
        status: ``'ok'``, ``'failed'`` (wrong username or password, a disabled user, the demo user off loopback)
            or ``'locked'`` (too many failures; the password was not checked).
        user: the signed-in user when ``status == 'ok'``.
        message: what to show (never says whether the username exists).
        retry_after_s: seconds until the lock ends (``'locked'`` only), else 0.
    """

    status: str
    user: User | None = None
    message: str = ""
    retry_after_s: float = 0.0


def _now() -> dt.datetime:
    """Now, UTC (one function, so the lock-out and session tests can move the clock)."""
    return dt.datetime.now(dt.timezone.utc)


def auth_enabled() -> bool:
    """Whether the login is required (env :data:`ENV_AUTH`, read now; default on)."""
    return os.environ.get(ENV_AUTH, "on").strip().lower() not in ("off", "0", "false", "no")


def session_max_age() -> dt.timedelta:
    """How long a session lasts: env :data:`ENV_SESSION_HOURS` hours (default 12).

    Raises:
        ValueError: the variable is set but not a positive number.
    """
    text = os.environ.get(ENV_SESSION_HOURS, "").strip()
    if not text:
        return dt.timedelta(hours=DEFAULT_SESSION_HOURS)
    try:
        hours = float(text)
    except ValueError:
        raise ValueError(f"{ENV_SESSION_HOURS}={text!r} is not a number of hours") from None
    if not hours > 0:
        raise ValueError(f"{ENV_SESSION_HOURS}={text!r} must be > 0 hours")
    return dt.timedelta(hours=hours)


def is_loopback(address: str | None) -> bool:
    """Whether a server address (Streamlit ``server.address``) is loopback only: ``127.x.x.x``, ``::1`` or
    ``localhost``. An unset address is not: Streamlit then listens on every interface."""
    if not address or not str(address).strip():
        return False
    text = str(address).strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


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


def password_problem(password: str, username: str = "", *, min_chars: int = MIN_PASSWORD_CHARS) -> str | None:
    """Why ``password`` is refused, or ``None`` when it is acceptable.

    The rule: at least ``min_chars`` (:data:`MIN_PASSWORD_CHARS`, 12) characters and at most
    :data:`MAX_PASSWORD_BYTES` bytes; at least 5 different characters; not a keyboard or alphabet run
    (``abcdefghijkl``, ``123456789012``); its letters not a common word (:data:`COMMON_WORDS`: ``Password1234!``
    is refused, so is a password of digits only); at least 6 characters besides the username.
    """
    if len(password) < min_chars:
        return f"password shorter than {min_chars} characters"
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"password longer than {MAX_PASSWORD_BYTES} bytes"
    if len(set(password)) < 5:
        return "password has fewer than 5 different characters"
    low = password.lower()
    if any(low in seq * 3 for seq in _SEQUENCES):
        return "password is a keyboard or alphabet sequence"
    if re.sub(r"[^a-z]", "", low) in COMMON_WORDS:
        return "password is too common (a common word, or no letters)"
    name = username.strip().lower()
    if name and len(low.replace(name, "")) < 6:
        return "password is too close to the username (needs 6 other characters)"
    return None


def check_password(password: str, username: str = "", *, demo: bool = False) -> None:
    """Raise :class:`ValueError` with :func:`password_problem`'s reason when ``password`` is refused (the demo
    user's published password needs only :data:`MIN_DEMO_PASSWORD_CHARS` characters)."""
    if demo:
        problem = (f"password shorter than {MIN_DEMO_PASSWORD_CHARS} characters"
                   if len(password) < MIN_DEMO_PASSWORD_CHARS else None)
        if problem is None and len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            problem = f"password longer than {MAX_PASSWORD_BYTES} bytes"
    else:
        problem = password_problem(password, username)
    if problem:
        raise ValueError(problem)


def temporary_password() -> str:
    """A random temporary password (16 URL-safe characters from :mod:`secrets`) that passes
    :func:`password_problem`, for a reset: shown once to the admin, never stored except as its hash."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if password_problem(candidate) is None:
            return candidate


def users_exist(wh: Warehouse) -> bool:
    """Whether at least one dashboard user is stored."""
    return not wh.read("users", columns=["username"], limit=1).empty


def _user(record: user_repo.UserRecord, disabled: set[str] = frozenset(),
          signed_in_at: dt.datetime | None = None) -> User:
    accounts = tuple(a for a in record.accounts if a not in disabled)
    return User(username=record.username, role=record.role, account_id=accounts[0] if accounts else None,
                accounts=accounts, session_epoch=record.session_epoch, signed_in_at=signed_in_at,
                must_change_password=record.must_change_password, is_demo=record.is_demo)


def authenticate(wh: Warehouse, username: str, password: str) -> User | None:
    """The user if ``username`` exists, is enabled and ``password`` matches, else ``None`` (which is not told).

    A credentials check only: no lock-out, nothing recorded (the dashboard signs in with
    :func:`attempt_sign_in`). Works on a read-only warehouse.
    """
    record = user_repo.get(wh, username)
    if record is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, record.password_hash) or record.disabled:
        return None
    return _user(record)


def _lock_until(times: list[dt.datetime], failures: int) -> dt.datetime | None:
    """The end of the latest lock that ``times`` (failed attempts, oldest first) triggered, or ``None``."""
    until = None
    for i in range(failures - 1, len(times)):
        if times[i] - times[i - failures + 1] <= LOCK_WINDOW:
            until = times[i] + LOCK_DURATION
    return until


def lock_state(wh: Warehouse, username: str, client: str, now: dt.datetime | None = None,
               cleared_at: dt.datetime | None = None) -> dt.datetime | None:
    """Until when ``username`` or ``client`` is locked out (UTC), or ``None`` when neither is.

    Counts the ``'failed'`` attempts of the last :data:`LOCK_WINDOW` + :data:`LOCK_DURATION`: per username, only
    those after its last successful sign-in and after ``cleared_at`` (a password change or reset); per client,
    every username.
    """
    now = now or _now()
    recent = user_repo.recent_attempts(wh, username, client, now - LOCK_WINDOW - LOCK_DURATION)
    if recent.empty:
        return None
    at = [ts.to_pydatetime() for ts in recent["at"]]
    mine = [(t, o) for t, o, u in zip(at, recent["outcome"], recent["username"]) if u == username]
    last_ok = max((t for t, o in mine if o == "ok"), default=None)
    floor = max([t for t in (last_ok, cleared_at) if t is not None], default=None)
    user_fails = [t for t, o in mine if o == "failed" and (floor is None or t > floor)]
    client_fails = [t for t, o, c in zip(at, recent["outcome"], recent["client"]) if o == "failed" and c == client]
    ends = [e for e in (_lock_until(user_fails, LOCK_USER_FAILURES), _lock_until(client_fails, LOCK_CLIENT_FAILURES))
            if e is not None and e > now]
    return max(ends) if ends else None


def _record(wh: Warehouse, action: str, username: str, record: user_repo.UserRecord | None, origin: str,
            detail: str) -> None:
    account = record.accounts[0] if record is not None and record.accounts else None
    try:
        audit.record(wh, action=action, actor=username[:64] or None, role=record.role if record else None,
                     account_id=account, target=username[:64] or None, origin=origin, detail=detail)
    except ValueError:   # the typed username looked like a secret: record the event without it
        audit.record(wh, action=action, actor=None, role=None, account_id=None, target=None, origin=origin,
                     detail=detail)


def attempt_sign_in(wh: Warehouse, username: str, password: str, *, client: str | None,
                    server_address: str | None, origin: str | None = None) -> SignInResult:
    """Check one sign-in attempt through the lock-out, record it (``sign_in_attempts`` and the audit trail:
    ``sign_in_ok``, ``sign_in_failed`` or ``sign_in_locked``) and answer.

    Args:
        wh: a writable warehouse.
        username, password: as typed (the username's surrounding spaces are removed).
        client: the browser's address (``None``: :data:`UNKNOWN_CLIENT`).
        server_address: the app's Streamlit ``server.address``; the demo user needs a loopback one.
        origin: the audit trail's "from where" (default ``'dashboard <client>'``; the CLI's ``--as`` says ``'cli'``).

    Returns:
        A :class:`SignInResult` (module docstring for the rules).
    """
    now = _now()
    username = username.strip()
    client = client or UNKNOWN_CLIENT
    origin = origin or f"dashboard {client}"
    record = user_repo.get(wh, username) if username else None
    until = lock_state(wh, username, client, now, record.lock_cleared_at if record else None)
    if until is not None:
        user_repo.record_attempt(wh, username, client, "locked", now)
        _record(wh, "sign_in_locked", username, record, origin, f"refused until {until:%H:%M} UTC")
        minutes = max(1, int(-(-(until - now).total_seconds() // 60)))
        return SignInResult("locked", message=f"Too many failed sign-ins. Try again in {minutes} minute"
                                              f"{'s' if minutes != 1 else ''}.",
                            retry_after_s=(until - now).total_seconds())
    ok = verify_password(password, record.password_hash if record else _DUMMY_HASH)
    reason, message = "", WRONG
    if record is None:
        reason = "unknown username" if username else "no username"
    elif not ok:
        reason = "wrong password"
    elif record.disabled:
        reason = "user disabled"
    elif record.is_demo and not is_loopback(server_address):
        reason = f"demo user refused: server address {server_address or 'every interface'}"
        message = DEMO_REFUSED.format(address=server_address or "every interface (server.address unset)")
    if reason:
        user_repo.record_attempt(wh, username, client, "failed", now)
        _record(wh, "sign_in_failed", username, record, origin, reason)
        return SignInResult("failed", message=message)
    user_repo.record_attempt(wh, username, client, "ok", now)
    _record(wh, "sign_in_ok", username, record, origin,
            "must change password" if record.must_change_password else "")
    return SignInResult("ok", user=_user(record, user_repo.disabled_accounts(wh), signed_in_at=now))


def session_problem(wh: Warehouse, user: User, now: dt.datetime | None = None) -> tuple[str | None, User | None]:
    """Whether a signed-in session may go on, and the user as stored now.

    Returns:
        ``(None, fresh_user)`` when it may (role, accounts and flags re-read; ``signed_in_at`` kept), else
        ``(reason, None)``: ``'expired'`` (older than :func:`session_max_age`), ``'signed_out'`` (the epoch moved:
        signed out everywhere, password changed/reset), ``'disabled'`` or ``'unknown'`` (the user was removed).
    """
    now = now or _now()
    if user.signed_in_at is None or now - user.signed_in_at > session_max_age():
        return "expired", None
    record = user_repo.get(wh, user.username)
    if record is None:
        return "unknown", None
    if record.disabled:
        return "disabled", None
    if record.session_epoch != user.session_epoch:
        return "signed_out", None
    return None, _user(record, user_repo.disabled_accounts(wh), signed_in_at=user.signed_in_at)


def change_own_password(wh: Warehouse, user: User, current: str, new: str, *, origin: str) -> User:
    """The signed-in user sets a new password (required after a reset): checks ``current``, the rule and that it
    differs; every other session of the user ends. Records ``password_changed``.

    Returns:
        The user with the new session epoch and ``must_change_password`` cleared (this session goes on).

    Raises:
        ValueError: wrong current password, a refused new one (the reason), or the same as before.
    """
    record = user_repo.get(wh, user.username)
    if record is None or not verify_password(current, record.password_hash):
        raise ValueError("the current password is wrong")
    check_password(new, user.username)
    if verify_password(new, record.password_hash):
        raise ValueError("the new password must differ from the current one")
    actor = user_repo.Actor(user.username, user.role, origin)
    epoch = user_repo.set_password(wh, user.username, hash_password(new), must_change=False, by=actor)
    return User(username=user.username, role=user.role, account_id=user.account_id, accounts=user.accounts,
                session_epoch=epoch, signed_in_at=user.signed_in_at, must_change_password=False,
                is_demo=user.is_demo)


def create_user(wh: Warehouse, username: str, password: str, role: str, account_id: str | None = None, *,
                accounts: tuple[str, ...] | list[str] | None = None, is_demo: bool = False,
                must_change_password: bool = False, by: user_repo.Actor | None = None) -> User:
    """Store (or replace) a dashboard user with a bcrypt hash of ``password`` (records ``user_created`` or
    ``user_changed``).

    Args:
        username: the login name (surrounding spaces removed).
        password: accepted by :func:`password_problem` (a demo user's: :data:`MIN_DEMO_PASSWORD_CHARS` chars).
        role: ``'analyst'`` (needs accounts that exist), ``'operator'`` or ``'admin'`` (no accounts: they see every
            account).
        account_id: the analyst's account (or give several in ``accounts``).
        accounts: the analyst's accounts.
        is_demo: the published demo user (accepted on a loopback server address only).
        must_change_password: the user sets a new password at first sign-in.
        by: who creates it, for the audit trail.

    Returns:
        The stored :class:`User`.

    Raises:
        ValueError: empty username, a refused password, unknown role, analyst without an existing account or
            operator/admin with one.
    """
    username = username.strip()
    if not username:
        raise ValueError("username is empty")
    if role not in USER_ROLES:
        raise ValueError(f"unknown role '{role}'; expected one of {', '.join(USER_ROLES)}")
    check_password(password, username, demo=is_demo)
    ids = list(accounts or ()) or ([account_id] if account_id else [])
    user_repo.create(wh, username, hash_password(password), role, ids, by=by, is_demo=is_demo,
                     must_change_password=must_change_password)
    return _user(user_repo.get(wh, username))


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboards.auth add-user USERNAME --role analyst|operator|admin [--account ID]
    [--password-stdin]`` — the older door of ``oragami users add`` (same rules, recorded as ``cli``)."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.auth", description="Manage dashboard users.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="create or replace a dashboard user in the configured warehouse")
    add.add_argument("username")
    add.add_argument("--role", choices=USER_ROLES, required=True)
    add.add_argument("--account", action="append", default=None, help="an analyst's account_id (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    actor = user_repo.Actor(f"cli:{getpass.getuser()}", "system", "cli")
    with Warehouse.from_settings() as wh:
        wh.create_schema()
        try:
            user = create_user(wh, args.username, password, args.role, accounts=args.account or (), by=actor)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    scope = f"account {', '.join(user.accounts)}" if user.accounts else "every account"
    print(f"user {user.username} ({user.role}, {scope}) saved in {wh.safe_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
