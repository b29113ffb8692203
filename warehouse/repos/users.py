"""Users, account memberships, accounts' administration and sign-in attempts — the writes behind the admin pages
and ``oragami users|accounts`` (issue 11).

Every change is recorded in the audit trail (:func:`warehouse.repos.audit.record`) in the same call, with the
:class:`Actor` who made it. Passwords never reach this module: callers pass bcrypt hashes
(:func:`dashboards.auth.hash_password`), and no hash is ever written to the audit trail.

Roles (:data:`warehouse.schema.USER_ROLES`):

* ``analyst`` — belongs to one or more accounts (:data:`warehouse.schema.user_accounts`; ``users.account_id``
  mirrors the first one for older readers);
* ``operator`` — every account, no membership rows;
* ``admin`` — every account, and user/account/risk-gate management.
"""
from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from warehouse.repos import audit
from warehouse.schema import USER_ROLES, accounts, sign_in_attempts, symphonies, user_accounts, users
from warehouse.store import Warehouse

#: Risk gates an admin may set on an account (``accounts`` columns) and their meaning/unit.
RISK_GATES: dict[str, str] = {
    "max_order_notional_usd": "largest order sent, USD (empty: no limit)",
    "daily_loss_kill_pct": "no new buys after losing more than this fraction since the last close (0.05 = 5 %)",
    "max_active_symphonies": "active symphonies that trade (Composer: 40)",
    "dry_run": "plan and record orders, never submit (true/false)",
}


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit trail.

    Attributes:
        username: the signed-in user, or ``'cli:<os user>'`` for the command line.
        role: their role (``'admin'`` …, ``'system'`` for the command line).
        origin: ``'dashboard'``, ``'dashboard <client address>'`` or ``'cli'``.
    """

    username: str
    role: str
    origin: str


@dataclass(frozen=True)
class UserRecord:
    """One stored user (never the password; ``password_hash`` is the bcrypt hash).

    Attributes:
        accounts: the memberships, sorted (empty for operators/admins).
        disabled: an admin disabled the user (they cannot sign in; sessions end at their next run).
        session_epoch: the sign-out-everywhere counter (a session of an older epoch is over).
        lock_cleared_at: failed sign-ins before this instant do not count towards a lock-out (``None``: all do).
    """

    username: str
    role: str
    password_hash: str
    accounts: tuple[str, ...]
    is_demo: bool
    disabled: bool
    must_change_password: bool
    session_epoch: int
    created_at: dt.datetime | None
    lock_cleared_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _flag(value) -> bool:
    return False if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA \
        else bool(value)


def _ts(value) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _memberships(conn: Connection, usernames: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{username: [account, ...]}`` from ``user_accounts`` plus the legacy ``users.account_id`` of analysts."""
    m, u = user_accounts, users
    q1 = sa.select(m.c.username, m.c.account_id)
    q2 = sa.select(u.c.username, u.c.account_id).where(u.c.account_id.is_not(None), u.c.role == "analyst")
    if usernames is not None:
        q1, q2 = q1.where(m.c.username.in_(list(usernames))), q2.where(u.c.username.in_(list(usernames)))
    out: dict[str, set[str]] = {}
    for q in (q1, q2):
        for name, account in conn.execute(q):
            out.setdefault(name, set()).add(account)
    return {k: sorted(v) for k, v in out.items()}


def get(wh: Warehouse, username: str) -> UserRecord | None:
    """The stored user called ``username`` (exact, after stripping spaces), or ``None``."""
    username = username.strip()
    with wh.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            return None
        member = _memberships(conn, [username]).get(username, [])
    return UserRecord(
        username=row["username"], role=row["role"], password_hash=row["password_hash"] or "",
        accounts=tuple(member) if row["role"] == "analyst" else (), is_demo=_flag(row["is_demo"]),
        disabled=row["disabled_at"] is not None, must_change_password=_flag(row["must_change_password"]),
        session_epoch=int(row["session_epoch"] or 0), created_at=row["created_at"],
        lock_cleared_at=row["lock_cleared_at"])


def list_users(wh: Warehouse) -> pd.DataFrame:
    """Every user, for the admin page and ``oragami users list``.

    Returns:
        Columns ``username, role, accounts`` (comma-separated text), ``disabled, must_change_password, is_demo``
        (bool), ``created_at`` (UTC timestamp), ordered by username. No hashes.
    """
    with wh.connect() as conn:
        rows = conn.execute(sa.select(users.c.username, users.c.role, users.c.disabled_at, users.c.is_demo,
                                      users.c.must_change_password, users.c.created_at)
                            .order_by(users.c.username)).mappings().all()
        member = _memberships(conn)
    return pd.DataFrame([{
        "username": r["username"], "role": r["role"],
        "accounts": ", ".join(member.get(r["username"], [])) if r["role"] == "analyst" else "(every account)",
        "disabled": r["disabled_at"] is not None, "must_change_password": _flag(r["must_change_password"]),
        "is_demo": _flag(r["is_demo"]), "created_at": r["created_at"]} for r in rows],
        columns=["username", "role", "accounts", "disabled", "must_change_password", "is_demo", "created_at"])


def _check_role_accounts(conn: Connection, role: str, account_ids: Sequence[str]) -> list[str]:
    if role not in USER_ROLES:
        raise ValueError(f"unknown role '{role}'; expected one of {', '.join(USER_ROLES)}")
    ids = list(dict.fromkeys(a.strip() for a in account_ids if a and a.strip()))
    if role == "analyst":
        if not ids:
            raise ValueError("an analyst needs an account_id (one or more accounts)")
        known = {r[0] for r in conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_id.in_(ids)))}
        missing = [a for a in ids if a not in known]
        if missing:
            raise ValueError(f"unknown account '{missing[0]}'")
    elif ids:
        raise ValueError(f"an {role} sees every account: give no account_id")
    return ids


def _write_memberships(conn: Connection, username: str, role: str, ids: list[str]) -> None:
    conn.execute(user_accounts.delete().where(user_accounts.c.username == username))
    now = _now()
    for account in ids:
        conn.execute(user_accounts.insert().values(username=username, account_id=account, added_at=now))
    conn.execute(users.update().where(users.c.username == username)
                 .values(account_id=ids[0] if role == "analyst" and ids else None))


def _audit(conn_wh: Warehouse, by: Actor | None, action: str, target: str, detail: str,
           account_id: str | None = None) -> None:
    audit.record(conn_wh, action=action, actor=by.username if by else None, role=by.role if by else None,
                 account_id=account_id, target=target, origin=by.origin if by else None, detail=detail)


def create(wh: Warehouse, username: str, password_hash: str, role: str, account_ids: Iterable[str] = (), *,
           by: Actor | None, is_demo: bool = False, must_change_password: bool = False) -> None:
    """Store a new user, or replace an existing one (its hash, role, memberships and flags; its session epoch is
    bumped so that open sessions end), and record ``user_created`` / ``user_changed``.

    Args:
        username: the sign-in name (surrounding spaces removed; not empty).
        password_hash: a bcrypt hash.
        role: one of :data:`~warehouse.schema.USER_ROLES`.
        account_ids: the analyst's accounts (existing); none for operators and admins.
        by: who does it (``None``: unknown, e.g. an old script).
        is_demo: the published demo user (accepted only on a loopback address).
        must_change_password: the user sets a new password at their first sign-in.

    Raises:
        ValueError: empty username, unknown role, an analyst without accounts or with an unknown one, an
            operator/admin with accounts.
    """
    username = username.strip()
    if not username:
        raise ValueError("username is empty")
    if not password_hash:
        raise ValueError("password hash is empty")
    now = _now()
    with wh.begin() as conn:
        ids = _check_role_accounts(conn, role, list(account_ids))
        old = conn.execute(sa.select(users.c.created_at, users.c.session_epoch)
                           .where(users.c.username == username)).first()
        conn.execute(users.delete().where(users.c.username == username))
        conn.execute(users.insert().values(
            username=username, password_hash=password_hash, role=role, account_id=None,
            created_at=old.created_at if old is not None else now, is_demo=bool(is_demo), disabled_at=None,
            must_change_password=bool(must_change_password),
            session_epoch=(int(old.session_epoch or 0) + 1) if old is not None else 0, password_changed_at=now,
            lock_cleared_at=now))
        _write_memberships(conn, username, role, ids)
    scope = ", ".join(ids) if ids else "every account"
    _audit(wh, by, "user_changed" if old is not None else "user_created", username,
           f"role {role}, {scope}" + (", demo user" if is_demo else "")
           + (", must change password" if must_change_password else ""), ids[0] if len(ids) == 1 else None)


def _require(conn: Connection, username: str):
    row = conn.execute(sa.select(users.c.username, users.c.role, users.c.session_epoch)
                       .where(users.c.username == username)).first()
    if row is None:
        raise LookupError(f"no user '{username}'")
    return row


def _keep_an_admin(conn: Connection, username: str) -> None:
    """Refuse a change that would leave no enabled admin (``username`` is about to stop being one)."""
    row = conn.execute(sa.select(users.c.role, users.c.disabled_at).where(users.c.username == username)).first()
    if row is None or row.role != "admin" or row.disabled_at is not None:
        return
    others = conn.execute(sa.select(sa.func.count()).select_from(users).where(
        users.c.role == "admin", users.c.disabled_at.is_(None), users.c.username != username)).scalar()
    if not others:
        raise ValueError(f"'{username}' is the last enabled admin: make another admin first")


def set_role_and_accounts(wh: Warehouse, username: str, role: str, account_ids: Iterable[str], *,
                          by: Actor | None) -> None:
    """Change a user's role and memberships (their sessions pick it up at the next run) and record
    ``user_changed``.

    Raises:
        LookupError: no such user.
        ValueError: as :func:`create` for the role and accounts, or the last enabled admin would stop being one.
    """
    with wh.begin() as conn:
        _require(conn, username)
        ids = _check_role_accounts(conn, role, list(account_ids))
        if role != "admin":
            _keep_an_admin(conn, username)
        conn.execute(users.update().where(users.c.username == username).values(role=role))
        _write_memberships(conn, username, role, ids)
    _audit(wh, by, "user_changed", username, f"role {role}, {', '.join(ids) if ids else 'every account'}")


def set_password(wh: Warehouse, username: str, password_hash: str, *, must_change: bool, by: Actor | None,
                 action: str = "password_changed") -> int:
    """Replace a user's password hash; every session of the user ends (epoch bumped), failed sign-ins so far no
    longer count towards a lock-out. Records ``action`` (``'password_changed'`` by the user,
    ``'password_reset'`` by an admin, who sets ``must_change=True``).

    Returns:
        The new session epoch (the user's own session keeps going with it after a self-service change).

    Raises:
        LookupError: no such user.
    """
    now = _now()
    with wh.begin() as conn:
        row = _require(conn, username)
        epoch = int(row.session_epoch or 0) + 1
        conn.execute(users.update().where(users.c.username == username).values(
            password_hash=password_hash, must_change_password=bool(must_change), session_epoch=epoch,
            password_changed_at=now, lock_cleared_at=now))
    _audit(wh, by, action, username, "temporary password set; must change at next sign-in" if must_change
           else "new password set; other sessions signed out")
    return epoch


def set_disabled(wh: Warehouse, username: str, disabled: bool, *, by: Actor | None) -> None:
    """Disable (every session ends, sign-in refused) or enable a user; records ``user_disabled`` /
    ``user_changed``.

    Raises:
        LookupError: no such user.
        ValueError: disabling the last enabled admin.
    """
    with wh.begin() as conn:
        row = _require(conn, username)
        if disabled:
            _keep_an_admin(conn, username)
        values = {"disabled_at": _now() if disabled else None}
        if disabled:
            values["session_epoch"] = int(row.session_epoch or 0) + 1
        conn.execute(users.update().where(users.c.username == username).values(**values))
    _audit(wh, by, "user_disabled" if disabled else "user_changed", username,
           "disabled; every session signed out" if disabled else "enabled")


def sign_out_everywhere(wh: Warehouse, username: str, *, by: Actor | None) -> int:
    """End every session of ``username`` (bump the epoch) and record ``sign_out``.

    Returns:
        The new epoch.

    Raises:
        LookupError: no such user.
    """
    with wh.begin() as conn:
        epoch = int(_require(conn, username).session_epoch or 0) + 1
        conn.execute(users.update().where(users.c.username == username).values(session_epoch=epoch))
    _audit(wh, by, "sign_out", username, "signed out everywhere")
    return epoch


# -- sign-in attempts ---------------------------------------------------------------------------------------------

#: How long ``sign_in_attempts`` rows are kept. The lock-out reads the last 30 minutes; the permanent record of
#: every sign-in is the audit trail (``sign_in_ok`` / ``sign_in_failed`` / ``sign_in_locked``), so the table stays
#: small however many guesses arrive.
ATTEMPT_RETENTION = dt.timedelta(days=30)


def record_attempt(wh: Warehouse, username: str, client: str, outcome: str, at: dt.datetime) -> None:
    """Append one sign-in attempt (``outcome`` one of :data:`~warehouse.schema.SIGN_IN_OUTCOMES`) and, in the same
    transaction, delete the attempts older than :data:`ATTEMPT_RETENTION` before ``at`` (every username's)."""
    with wh.begin() as conn:
        conn.execute(sign_in_attempts.delete().where(sign_in_attempts.c.attempted_at < at - ATTEMPT_RETENTION))
        conn.execute(sign_in_attempts.insert().values(attempt_id=uuid.uuid4().hex, username=username,
                                                      client=client, attempted_at=at, outcome=outcome))


def recent_attempts(wh: Warehouse, username: str, client: str, since: dt.datetime) -> pd.DataFrame:
    """Attempts at or after ``since`` that named ``username`` or came from ``client``.

    Returns:
        Columns ``username, client, at`` (UTC timestamp), ``outcome``, oldest first.
    """
    t = sign_in_attempts
    return wh.fetch(sa.select(t.c.username, t.c.client, t.c.attempted_at.label("at"), t.c.outcome)
                    .where(t.c.attempted_at >= since, sa.or_(t.c.username == username, t.c.client == client))
                    .order_by(t.c.attempted_at))


# -- accounts -----------------------------------------------------------------------------------------------------

def list_accounts(wh: Warehouse) -> pd.DataFrame:
    """Every account with its risk gates, for the admin page and ``oragami accounts list``.

    Returns:
        Columns ``account_id, name, disabled`` (bool), the :data:`RISK_GATES` columns (``max_order_notional_usd``
        USD, ``daily_loss_kill_pct`` fraction, ``max_active_symphonies`` int, ``dry_run`` bool), ``symphonies``
        (count) and ``active`` (count), ordered by account_id.
    """
    a, s = accounts, symphonies
    counts = (sa.select(s.c.account_id, sa.func.count().label("symphonies"),
                        sa.func.sum(sa.case((s.c.status == "active", 1), else_=0)).label("active"))
              .group_by(s.c.account_id).subquery("counts"))
    frame = wh.fetch(sa.select(a.c.account_id, a.c.name, a.c.disabled_at, a.c.max_order_notional_usd,
                               a.c.daily_loss_kill_pct, a.c.max_active_symphonies, a.c.dry_run,
                               counts.c.symphonies, counts.c.active)
                     .select_from(a.outerjoin(counts, a.c.account_id == counts.c.account_id))
                     .order_by(a.c.account_id))
    frame.insert(2, "disabled", frame.pop("disabled_at").notna())
    frame["dry_run"] = [_flag(v) for v in frame["dry_run"]]
    for col in ("symphonies", "active"):
        frame[col] = pd.to_numeric(frame[col]).fillna(0).astype("int64")
    return frame


def create_account(wh: Warehouse, account_id: str, name: str | None = None, *, by: Actor | None) -> None:
    """Create an account (default gates: 40 active symphonies, no order limit, no kill switch, live) and record
    ``account_created``.

    Raises:
        ValueError: empty id, or the account exists.
    """
    account_id = account_id.strip()
    if not account_id:
        raise ValueError("account_id is empty")
    with wh.begin() as conn:
        if conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first():
            raise ValueError(f"account '{account_id}' exists")
        conn.execute(accounts.insert().values(account_id=account_id, name=name or account_id, created_at=_now()))
    _audit(wh, by, "account_created", account_id, f"name {name or account_id}", account_id)


def set_account_disabled(wh: Warehouse, account_id: str, disabled: bool, *, by: Actor | None) -> int:
    """Disable an account (its active symphonies are deactivated, so the daily job stops trading them; analysts no
    longer see it) or enable it again (symphonies stay inactive until activated). Records ``account_disabled`` /
    ``account_changed``.

    Returns:
        The number of symphonies deactivated.

    Raises:
        LookupError: no such account.
    """
    now = _now()
    with wh.begin() as conn:
        if conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first() is None:
            raise LookupError(f"no account '{account_id}'")
        conn.execute(accounts.update().where(accounts.c.account_id == account_id)
                     .values(disabled_at=now if disabled else None))
        stopped = 0
        if disabled:
            stopped = conn.execute(symphonies.update().where(symphonies.c.account_id == account_id,
                                                             symphonies.c.status == "active")
                                   .values(status="inactive", updated_at=now)).rowcount or 0
    _audit(wh, by, "account_disabled" if disabled else "account_changed", account_id,
           f"disabled; {stopped} symphonies deactivated" if disabled else "enabled", account_id)
    return int(stopped)


def disabled_accounts(wh: Warehouse) -> set[str]:
    """The ids of the accounts an admin disabled."""
    return set(wh.fetch(sa.select(accounts.c.account_id).where(accounts.c.disabled_at.is_not(None)))["account_id"])


def _gate_value(name: str, value):
    if value is None or (isinstance(value, str) and not value.strip()):
        if name in ("max_active_symphonies", "dry_run"):
            raise ValueError(f"{name} cannot be empty")
        return None
    if name == "dry_run":
        if isinstance(value, str):
            text = value.strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"dry_run must be true or false, got {value!r}")
            return text in ("true", "1", "yes", "on")
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if name == "max_active_symphonies":
        if not number.is_integer() or not 0 <= number <= 1000:
            raise ValueError(f"max_active_symphonies must be a whole number from 0 to 1000, got {value!r}")
        return int(number)
    if name == "daily_loss_kill_pct" and not 0 < number < 1:
        raise ValueError(f"daily_loss_kill_pct is a fraction between 0 and 1 (0.05 = 5 %), got {value!r}")
    if name == "max_order_notional_usd" and not number > 0:
        raise ValueError(f"max_order_notional_usd must be a positive amount of USD, got {value!r}")
    return number


def set_risk_gates(wh: Warehouse, account_id: str, *, by: Actor | None, **gates) -> dict[str, object]:
    """Set some of an account's :data:`RISK_GATES` and record ``risk_gate_changed`` with old -> new values.

    Args:
        gates: gate name -> value; ``None`` (or empty text) removes the order limit or the kill switch.

    Returns:
        ``{gate: new value}`` of the gates that changed (nothing recorded when none did).

    Raises:
        LookupError: no such account.
        ValueError: an unknown gate, or a value out of range (names the gate).
    """
    unknown = sorted(set(gates) - set(RISK_GATES))
    if unknown:
        raise ValueError(f"unknown risk gate '{unknown[0]}'; expected one of {', '.join(RISK_GATES)}")
    values = {name: _gate_value(name, v) for name, v in gates.items()}
    with wh.begin() as conn:
        row = conn.execute(sa.select(*(accounts.c[n] for n in RISK_GATES))
                           .where(accounts.c.account_id == account_id)).mappings().first()
        if row is None:
            raise LookupError(f"no account '{account_id}'")
        changed = {n: v for n, v in values.items() if row[n] != v and not (n == "dry_run" and _flag(row[n]) == v)}
        if changed:
            conn.execute(accounts.update().where(accounts.c.account_id == account_id).values(**changed))
    if changed:
        _audit(wh, by, "risk_gate_changed", account_id,
               "; ".join(f"{n} {row[n]!r} -> {v!r}" for n, v in changed.items()), account_id)
    return changed


__all__ = ["RISK_GATES", "Actor", "UserRecord", "get", "list_users", "create", "set_role_and_accounts",
           "set_password", "set_disabled", "sign_out_everywhere", "record_attempt", "recent_attempts",
           "list_accounts", "create_account", "set_account_disabled", "disabled_accounts", "set_risk_gates"]
