"""Symphony registration — the one path for the CLI (`oragami seed`) and the dashboard's library page.

Rules, all checked in one transaction by :func:`register`:

* **ownership** — a symphony id belongs to one account for good: registering an id that another account owns is
  refused (:class:`OwnershipError`), never moved across tenants;
* **activation limit** — the symphony is stored ``active`` while its account has fewer than
  ``accounts.max_active_symphonies`` (40, as Composer) other active symphonies, else ``inactive``;
* **ids** — :func:`slug` is the one id function (lower-case letters, digits, dashes); :func:`propose_id` appends the
  account id when another account already uses the slug (the dashboard's upload does this; the CLI refuses).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from warehouse.schema import DEFAULT_CAPITAL_USD, DEFAULT_MAX_ACTIVE_SYMPHONIES, SYMPHONY_STATUSES, accounts, \
    symphonies
from warehouse.scope import AccountScope, require_scope
from warehouse.store import ActivationLimitError, Warehouse, coerce_frame


class OwnershipError(ValueError):
    """The symphony id belongs to another account."""


@dataclass(frozen=True)
class Registration:
    """The outcome of :func:`register`: the id stored and its status (``'active'`` or ``'inactive'``)."""

    symphony_id: str
    account_id: str
    status: str

    @property
    def at_limit(self) -> bool:
        """True when the account's activation limit kept the symphony inactive."""
        return self.status == "inactive"


def slug(name: Any) -> str:
    """A stable id from a file or symphony name: lower-case letters, digits and dashes (``"symphony"`` if empty)."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or "symphony"


def owners(wh: Warehouse, symphony_ids: Iterable[str]) -> dict[str, str]:
    """``{symphony_id: account_id}`` for the given ids that exist (any account: used only to refuse conflicts)."""
    ids = list(symphony_ids)
    if not ids:
        return {}
    s = symphonies
    frame = wh.fetch(sa.select(s.c.symphony_id, s.c.account_id).where(s.c.symphony_id.in_(ids)))
    return dict(zip(frame["symphony_id"], frame["account_id"]))


def propose_id(wh: Warehouse, name: Any, account_id: str) -> str:
    """The id an upload named ``name`` gets in ``account_id``: :func:`slug`, with ``-<account>`` appended when another
    account already owns that slug (``"sector-surfing-acct-b"``)."""
    base = slug(name)
    owner = owners(wh, [base]).get(base)
    if owner is not None and owner != account_id:
        return f"{base}-{slug(account_id)}"
    return base


def ensure_account(wh: Warehouse, account_id: str, name: str | None = None) -> None:
    """Create the account if it does not exist yet (an existing account's settings are left as they are)."""
    with wh.begin() as conn:
        if conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first() is None:
            wh.insert(conn, accounts, coerce_frame(accounts, pd.DataFrame([{
                "account_id": account_id, "name": name or account_id,
                "created_at": dt.datetime.now(dt.timezone.utc)}])))


def _limit_and_active(conn: Connection, account_id: str, exclude: str | None = None) -> tuple[int, int]:
    a, s = accounts, symphonies
    limit = conn.execute(sa.select(a.c.max_active_symphonies).where(a.c.account_id == account_id)).scalar()
    filters = [s.c.account_id == account_id, s.c.status == "active"]
    if exclude is not None:
        filters.append(s.c.symphony_id != exclude)
    count = conn.execute(sa.select(sa.func.count()).select_from(s).where(*filters)).scalar()
    return (DEFAULT_MAX_ACTIVE_SYMPHONIES if limit is None else int(limit)), int(count or 0)


def _last_edited(existing, entry: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    """``last_edited_at`` of a (re-)registration: now for a new symphony or a changed source (the text or the
    parsed tree), else the stored one (a re-upload of the same source is not an edit). An explicit
    ``entry["last_edited_at"]`` (an import of a symphony's known edit date) wins."""
    if entry.get("last_edited_at") is not None:
        return entry["last_edited_at"]
    if existing is None or existing.last_edited_at is None:
        return now
    same = existing.source_text == entry["source_text"] and existing.parsed_json == entry["parsed_json"]
    return existing.last_edited_at if same else now


def register(wh: Warehouse, account_id: str, *, symphony_id: str, name: str, source_format: str,
             source_text: str, parsed_json: str, rebalance: str | None = None,
             capital_usd: float = DEFAULT_CAPITAL_USD, activate: bool = True) -> Registration:
    """Register (or re-register) one symphony in ``account_id``, in one transaction.

    Args:
        account_id: the owner; the account must exist (:func:`ensure_account`).
        symphony_id: the id (:func:`slug` / :func:`propose_id`); re-registering the owner's own id replaces the
            row and keeps its ``created_at``.
        name, source_format (``'json' | 'edn' | 'defsymphony'``), source_text (verbatim), parsed_json (the
            ``engine.model`` tree as JSON), rebalance: the symphony.
        capital_usd: initial paper capital, USD.
        activate: ask for ``'active'`` (granted while under the account's limit); ``False`` stores ``'inactive'``.

    ``last_edited_at`` (the default out-of-sample start of research backtests) is set to now when the symphony
    is new or its source changed, and kept when the same source is registered again.

    Returns:
        :class:`Registration` with the status stored.

    Raises:
        LookupError: unknown account.
        OwnershipError: the id belongs to another account (nothing is written).
        ValueError: an invalid row (e.g. unknown source format).
    """
    return register_many(wh, account_id, [dict(symphony_id=symphony_id, name=name, source_format=source_format,
                                               source_text=source_text, parsed_json=parsed_json,
                                               rebalance=rebalance, capital_usd=capital_usd,
                                               activate=activate)])[0]


def register_many(wh: Warehouse, account_id: str, entries: Sequence[Mapping[str, Any]]) -> list[Registration]:
    """:func:`register` for several symphonies of one account, all in **one** transaction: either every entry is
    stored or (on any error, e.g. one id owned by another account) none is. Entries are applied in order, so the
    activation limit admits the first ones.

    Args:
        entries: :func:`register`'s keyword arguments, one mapping per symphony.

    Returns:
        One :class:`Registration` per entry, in order.

    Raises:
        As :func:`register`.
    """
    s = symphonies
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    with wh.begin() as conn:
        if conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first() \
                is None:
            raise LookupError(f"unknown account '{account_id}'")
        for entry in entries:
            sid = entry["symphony_id"]
            existing = conn.execute(sa.select(s.c.account_id, s.c.created_at, s.c.source_text, s.c.parsed_json,
                                              s.c.last_edited_at).where(s.c.symphony_id == sid)).first()
            if existing is not None and existing.account_id != account_id:
                raise OwnershipError(f"symphony id '{sid}' belongs to another account; choose another id")
            limit, active = _limit_and_active(conn, account_id, exclude=sid)
            status = "active" if entry.get("activate", True) and active < limit else "inactive"
            created = existing.created_at if existing is not None and existing.created_at is not None else now
            row = {"symphony_id": sid, "account_id": account_id, "name": entry["name"],
                   "source_format": entry["source_format"], "source_text": entry["source_text"],
                   "parsed_json": entry["parsed_json"], "status": status, "rebalance": entry.get("rebalance"),
                   "capital_usd": float(entry.get("capital_usd", DEFAULT_CAPITAL_USD)), "created_at": created,
                   "updated_at": now, "last_edited_at": _last_edited(existing, entry, now)}
            conn.execute(s.delete().where(s.c.symphony_id == sid))
            wh.insert(conn, s, coerce_frame(s, pd.DataFrame([row])))
            out.append(Registration(sid, account_id, status))
    return out


def set_status(wh: Warehouse, symphony_id: str, status: str, scope: AccountScope) -> None:
    """Activate or deactivate one symphony; activating checks the account's limit in the same transaction.

    Args:
        symphony_id: the symphony.
        status: ``'active'`` or ``'inactive'``.
        scope: the caller's accounts (an analyst's own; :meth:`AccountScope.all` for operators).

    Raises:
        ValueError: unknown status.
        LookupError: no such symphony in ``scope``.
        ActivationLimitError: the account already has ``max_active_symphonies`` active symphonies.
    """
    if status not in SYMPHONY_STATUSES:
        raise ValueError(f"unknown status '{status}'; expected one of {', '.join(SYMPHONY_STATUSES)}")
    s = symphonies
    filters = [s.c.symphony_id == symphony_id, *require_scope(scope).clauses(s.c.account_id)]
    with wh.begin() as conn:
        found = conn.execute(sa.select(s.c.account_id, s.c.status).where(*filters)).first()
        if found is None:
            raise LookupError(f"no symphony '{symphony_id}'" + ("" if scope.is_all else f" in {scope}"))
        if status == "active" and found.status != "active":
            limit, active = _limit_and_active(conn, found.account_id, exclude=symphony_id)
            if active >= limit:
                raise ActivationLimitError(f"account '{found.account_id}' already has {active}/{limit} active "
                                           "symphonies; deactivate one first")
        conn.execute(s.update().where(*filters).values(status=status, updated_at=dt.datetime.now(dt.timezone.utc)))


def active(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Symphonies with ``status = 'active'`` in ``scope``.

    Returns:
        The ``symphonies`` columns, one row per symphony, ordered by ``account_id, symphony_id``.
    """
    return wh.read("symphonies", where=require_scope(scope).where({"status": "active"}),
                   order_by=["account_id", "symphony_id"])


def active_counts(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Active symphonies per account against the account's limit.

    Returns:
        Columns ``account_id, name, max_active_symphonies`` (int; NULL stored means
        :data:`~warehouse.schema.DEFAULT_MAX_ACTIVE_SYMPHONIES`), ``active`` (count, int), ordered by
        ``account_id``. Accounts without symphonies have ``active`` 0.
    """
    a, s = accounts, symphonies
    counts = (sa.select(s.c.account_id, sa.func.count().label("active"))
              .where(s.c.status == "active").group_by(s.c.account_id).subquery("active"))
    stmt = (sa.select(a.c.account_id, a.c.name, a.c.max_active_symphonies, counts.c.active)
            .select_from(a.outerjoin(counts, a.c.account_id == counts.c.account_id))
            .where(*require_scope(scope).clauses(a.c.account_id))
            .order_by(a.c.account_id))
    frame = wh.fetch(stmt)
    frame["max_active_symphonies"] = (pd.to_numeric(frame["max_active_symphonies"])
                                      .fillna(DEFAULT_MAX_ACTIVE_SYMPHONIES).astype("int64"))
    frame["active"] = pd.to_numeric(frame["active"]).fillna(0).astype("int64")
    return frame

