"""Live controls per symphony, and the session plan they act on (shared by the daily graph and the preview).

Two controls an operator (any account) or the analyst who owns the account can put on one symphony
(:data:`warehouse.schema.symphony_controls`, every change also in the audit trail):

* ``cash_until_rebalance`` — on its first session the symphony's ledger is sold to cash; it then holds cash on
  every session until the next **scheduled** rebalance of the symphony's rule, where it trades to its targets
  normally and the control is consumed. Scheduled means: ``daily`` — the next session; ``weekly`` / ``monthly``
  / ``quarterly`` / ``yearly`` — the first session of the next calendar period; ``none`` (threshold / branch
  rule, no calendar) — the first session whose set of target tickers differs from the previous session's
  targets (a branch switch; a drift inside a corridor does not end it).
* ``skip_next_rebalance`` — the next session on which the rule would trade (:func:`engine.ledger.needs_rebalance`:
  a calendar rebalance, a branch switch, a corridor breach, or a never-traded ledger's first trade) keeps the
  current holdings instead; the control is consumed on that session.

A control acts from its ``effective_session`` (default: the next session the daily job trades, see
:func:`next_trading_session`). At most one control is open per symphony. Decisions are made per session from the
stored row (``started_session``, ``consumed_session``), so re-running a session repeats the same decision: a
re-run of the liquidation session liquidates again, a re-run of the consumption session trades (cash) or holds
(skip) again.

The session plan (:func:`plan_account_session`) is what ``order_plan`` sends and :func:`preview` shows: every
symphony's wanted change (its rule, its control) netted per account by :func:`engine.netting.plan_account` over
the ledgers carried into the session (:class:`warehouse.repos.ledgers.SessionBook`). :func:`previous_session_gaps`
is the path-dependency guard: a session whose previous NYSE session is not complete for an account refuses to
trade that account.

Amounts: shares, USD; weights are fractions; sessions are ``datetime.date`` (America/New_York).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from engine.calendar import NEW_YORK, is_session, previous_session, sessions_in_range, trading_time
from engine.controls import (  # noqa: F401  (control_action, scheduled_rebalance, _date_or_none: re-exported)
    ACTING_STATUSES, _date_or_none, acting_control, control_action, decide, plan_reason, scheduled_rebalance)
from engine.evaluate import CASH, IndicatorCache, evaluate, root_tickers
from engine.ledger import needs_rebalance
from engine.model import Root
from engine.netting import NettingPlan, SymphonyIntent, intents_for, plan_account
from engine.stored import load_stored
from warehouse.repos import audit
from warehouse.repos.ledgers import SessionBook
from warehouse.schema import CONTROL_KINDS, DEFAULT_MAX_ACTIVE_SYMPHONIES, positions, symphony_controls
from warehouse.scope import ALL_ACCOUNTS, AccountScope, require_scope
from warehouse.store import Warehouse, to_python

#: Roles that may set controls on any account (an analyst: only on their own accounts).
OPERATOR_ROLES: tuple[str, ...] = ("operator", "admin")
#: Start of the reason of a symphony refused because the previous session is not complete (``symphony_runs``).
REFUSED = "previous session"
#: The end of the daily graph's reason for a symphony over its account's limit (``symphony_runs``, 'skipped').
OVER_LIMIT = "this one is not traded"
#: Columns of :func:`preview`'s ``orders`` frame.
PREVIEW_COLUMNS: tuple[str, ...] = ("ticker", "side", "qty", "notional_usd", "ref_price", "symphonies")


class ControlPermissionError(PermissionError):
    """The user may not change this symphony's controls (an analyst of another account, an unknown role)."""


# --------------------------------------------------------------------------------------------------------------
# The table: set, clear, read
# --------------------------------------------------------------------------------------------------------------

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def next_trading_session(now: dt.datetime | None = None) -> dt.date:
    """The session the daily job trades next: today (New York) when it is a session and its trading time
    (close − 10 minutes) has not passed, else the next session.

    Args:
        now: an aware instant (default: now).
    """
    now = pd.Timestamp(now or _now()).tz_convert(NEW_YORK)
    day = now.date()
    if is_session(day) and now < trading_time(day):
        return day
    return sessions_in_range(day + dt.timedelta(days=1), day + dt.timedelta(days=14))[0]


def _accounts(user_account: str | Iterable[str] | None) -> tuple[str, ...]:
    if user_account is None:
        return ()
    return (str(user_account),) if isinstance(user_account, str) else tuple(str(a) for a in user_account)


def check_permission(role: str | None, user_account: str | Iterable[str] | None, account_id: str) -> None:
    """Raise :class:`ControlPermissionError` unless ``role`` is in :data:`OPERATOR_ROLES`, or ``analyst`` and
    ``account_id`` is one of the analyst's accounts (``user_account``: one id or several)."""
    if role in OPERATOR_ROLES:
        return
    mine = _accounts(user_account)
    if role == "analyst" and str(account_id) in mine:
        return
    if role == "analyst":
        raise ControlPermissionError(f"analyst of account '{', '.join(mine) or 'none'}' may not change the controls "
                                     f"of account '{account_id}'")
    raise ControlPermissionError(f"role {role!r} may not change live controls (operators, or the analyst who "
                                 "owns the account)")


def _symphony(wh: Warehouse, symphony_id: str) -> dict:
    rows = wh.read("symphonies", where={"symphony_id": symphony_id}, columns=["symphony_id", "account_id", "status"])
    if rows.empty:
        raise LookupError(f"no symphony '{symphony_id}'")
    return rows.iloc[0].to_dict()


def controls(wh: Warehouse, scope: AccountScope, *, symphony_id: str | None = None,
             status: str | tuple[str, ...] | None = "open") -> pd.DataFrame:
    """Controls in ``scope`` (newest first).

    Args:
        symphony_id: only this symphony's.
        status: ``'open'`` (default), a tuple of statuses, or ``None`` for every row (the history).

    Returns:
        The :data:`warehouse.schema.symphony_controls` columns, ordered by ``set_at`` descending.
    """
    where: dict[str, Any] = {}
    if symphony_id is not None:
        where["symphony_id"] = symphony_id
    if status is not None:
        where["status"] = [status] if isinstance(status, str) else list(status)
    rows = wh.read("symphony_controls", where=require_scope(scope).where(where))
    return rows.sort_values(["set_at", "control_id"], ascending=[False, True]).reset_index(drop=True)


def set_control(wh: Warehouse, *, symphony_id: str, control: str, actor: str, role: str | None,
                user_account: str | Iterable[str] | None, origin: str, effective_session: dt.date | None = None,
                note: str | None = None, at: dt.datetime | None = None) -> dict:
    """Put ``control`` on a symphony (recorded in the table and the audit trail as ``live_control_set``).

    Idempotent: the same control already open on the symphony is returned unchanged (nothing new recorded).

    Args:
        control: one of :data:`warehouse.schema.CONTROL_KINDS`.
        actor, role, user_account: who sets it (username, ``'operator'|'admin'|'analyst'``, the analyst's
            account id or ids).
        origin: ``'dashboard'`` or ``'cli'``.
        effective_session: first session it acts on (default :func:`next_trading_session`); must be a session.

    Returns:
        The stored row as a dict.

    Raises:
        ValueError: unknown control, not an NYSE session, or another control is open on the symphony.
        LookupError: no such symphony.
        ControlPermissionError: see :func:`check_permission`.
    """
    if control not in CONTROL_KINDS:
        raise ValueError(f"unknown control {control!r}; expected one of {', '.join(CONTROL_KINDS)}")
    sym = _symphony(wh, symphony_id)
    check_permission(role, user_account, sym["account_id"])
    session = effective_session or next_trading_session(at)
    if not is_session(session):
        raise ValueError(f"{session} is not an NYSE session")
    open_now = controls(wh, ALL_ACCOUNTS, symphony_id=symphony_id)
    if len(open_now):
        row = open_now.iloc[0].to_dict()
        if row["control"] == control:
            return row
        raise ValueError(f"{symphony_id} already has {row['control']} open (set by {row['set_by']} at "
                         f"{pd.Timestamp(row['set_at']):%Y-%m-%d %H:%M} UTC); clear it first")
    row = {"control_id": uuid.uuid4().hex, "account_id": sym["account_id"], "symphony_id": symphony_id,
           "control": control, "status": "open", "effective_session": session, "set_by": actor, "set_role": role,
           "set_at": at or _now(), "origin": origin, "note": note, "started_session": None,
           "consumed_session": None, "cleared_by": None, "cleared_at": None}
    with wh.begin() as conn:
        conn.execute(symphony_controls.insert().values(**row))
    audit.record(wh, action="live_control_set", actor=actor, role=role, account_id=sym["account_id"],
                 target=symphony_id, origin=origin, detail=f"{control} from session {session}"
                 + (f": {note}" if note else ""), at=row["set_at"])
    return row


def clear_control(wh: Warehouse, *, symphony_id: str, actor: str, role: str | None,
                  user_account: str | Iterable[str] | None, origin: str, at: dt.datetime | None = None) -> dict | None:
    """Withdraw the open control of a symphony (``status='cleared'``, who and when; audit ``live_control_cleared``).

    Returns:
        The cleared row, or None when none was open (idempotent: nothing recorded).

    Raises:
        LookupError: no such symphony. ControlPermissionError: see :func:`check_permission`.
    """
    sym = _symphony(wh, symphony_id)
    check_permission(role, user_account, sym["account_id"])
    open_now = controls(wh, ALL_ACCOUNTS, symphony_id=symphony_id)
    if open_now.empty:
        return None
    row = open_now.iloc[0].to_dict()
    when = at or _now()
    t = symphony_controls
    with wh.begin() as conn:
        conn.execute(t.update().where(t.c.control_id == row["control_id"])
                     .values(status="cleared", cleared_by=actor, cleared_at=when))
    audit.record(wh, action="live_control_cleared", actor=actor, role=role, account_id=sym["account_id"],
                 target=symphony_id, origin=origin, detail=f"{row['control']} set by {row['set_by']}", at=when)
    return {**row, "status": "cleared", "cleared_by": actor, "cleared_at": when}


def acting_on(wh: Warehouse, session: dt.date) -> dict[str, dict]:
    """The control acting on each symphony on ``session``, by symphony id: open, or consumed on/after ``session``
    (a re-run repeats its decision), with ``effective_session <= session``. Every account (the daily job)."""
    rows = wh.read("symphony_controls", where={"status": list(ACTING_STATUSES)})
    out: dict[str, dict] = {}
    for sid, group in rows.groupby("symphony_id", sort=True):
        row = acting_control(group.to_dict("records"), session)
        if row is not None:
            out[str(sid)] = row
    return out


def apply_transitions(wh: Warehouse, transitions: list[tuple[str, dict]]) -> int:
    """Write the control changes a session plan decided (``started_session``; ``consumed_session`` + status)."""
    t = symphony_controls
    with wh.begin() as conn:
        for control_id, values in transitions:
            conn.execute(t.update().where(t.c.control_id == control_id).values(**values))
    return len(transitions)


# What a control does on a session is pure (:mod:`engine.controls`: :func:`control_action`,
# :func:`scheduled_rebalance`, imported above and kept importable from here under those names).


# --------------------------------------------------------------------------------------------------------------
# The session plan (the daily graph's order_plan and the preview)
# --------------------------------------------------------------------------------------------------------------

def evaluate_on(root: Root | None, cache: IndicatorCache, session: dt.date, parse_error: str | None = None):
    """``(weights, trace entries)`` of one symphony on ``session`` (the last session of ``cache``).

    Raises:
        ValueError: naming the parse error, the tickers without a price on the session, or the undefined
            indicator; any evaluation error propagates (the caller fails this symphony alone).
    """
    if root is None:
        raise ValueError(parse_error or "the stored symphony cannot be parsed")
    if not len(cache.sessions) or cache.sessions[-1].date() != session:
        raise ValueError(f"no prices for session {session}")
    last = cache.closes.iloc[-1]
    missing = sorted(t for t in root_tickers(root) if t not in last.index or not np.isfinite(last[t]))
    if missing:
        raise ValueError(f"no price on {session} for ticker(s) {', '.join(missing)} (unknown or not traded)")
    ev = evaluate(root, cache, start=session)  # only today's decisions; indicators use all history
    if not bool(ev.valid.iloc[-1]):
        raise ValueError("some indicator or price is undefined on this session (warm-up or missing bar)")
    return ev.weights_on(session), ev.trace(session)


@dataclass(frozen=True)
class SymphonyPlan:
    """One symphony's part of a session: its intents, why (one line), the control's action and change."""

    intents: list[SymphonyIntent]
    why: str
    action: str = "rule"
    transition: tuple[str, dict] | None = None


def plan_symphony(row: dict, root: Root | None, weights: dict[str, float], book: SessionBook, session: dt.date,
                  control: dict | None = None, previous_targets: dict[str, float] | None = None) -> SymphonyPlan:
    """One symphony's intents for ``session``: its rebalance rule (:func:`engine.ledger.needs_rebalance`) on the
    ledger carried in, then its live control (:func:`control_action`). An unparseable row (``root`` None) trades
    to cash every session.

    Args:
        weights: target weights without cash (fractions).
        previous_targets: the previous session's targets (rule ``none`` with ``cash_until_rebalance`` only).

    Raises:
        KeyError: a held or targeted ticker without price (the caller fails this symphony alone).
    """
    led, has_traded = book.book(row)
    prices = book.prices(sorted(set(led.holdings) | set(weights)))
    rule, corridor = (root.rebalance, root.corridor_width) if root is not None else ("daily", None)
    prev = previous_session(session)
    trade, why = needs_rebalance(rule=rule, corridor=corridor, session=session, previous_session=prev,
                                 holdings=led.holdings, cash=led.cash, prices=prices, targets=weights,
                                 has_traded=has_traded)
    sid = row["symphony_id"]
    if control is None:
        return SymphonyPlan(intents_for(sid, led.holdings, led.cash, prices, weights) if trade else [],
                            plan_reason("rule", trade, why, None))
    action, change, cwhy = decide(control, rule, session, prev, trade, weights, previous_targets)
    transition = (control["control_id"], change) if change else None
    goal = {} if action == "liquidate" else weights
    intents = intents_for(sid, led.holdings, led.cash, prices, goal) \
        if action == "liquidate" or (action == "rule" and trade) else []
    return SymphonyPlan(intents, plan_reason(action, trade, why, cwhy), action, transition)


@dataclass
class AccountPlan:
    """One account's session plan: the netted orders, each symphony's reason, failures and control changes."""

    account_id: str
    plan: NettingPlan
    whys: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    transitions: list[tuple[str, dict]] = field(default_factory=list)


def plan_account_session(account_id: str, syms: list[tuple[dict, Root | None]], weights_of: dict[str, dict],
                         book: SessionBook, session: dt.date, acting: dict[str, dict] | None = None,
                         previous_targets_of: dict[str, dict] | None = None) -> AccountPlan:
    """The orders one account would send on ``session``: every symphony's :func:`plan_symphony`, netted by
    :func:`engine.netting.plan_account` (one order per ticker, crosses inside the account, sells first).

    A symphony whose planning fails plans nothing (``failed`` names why); the others are planned.

    Args:
        syms: the account's tradable ``(row, model)`` pairs.
        weights_of: target weights (no cash) by symphony id.
        acting: controls acting on the session by symphony id (:func:`acting_on`).
        previous_targets_of: the previous session's targets by symphony id.
    """
    acting, previous_targets_of = acting or {}, previous_targets_of or {}
    intents: list[SymphonyIntent] = []
    out = AccountPlan(account_id, NettingPlan())
    for row, root in syms:
        sid = row["symphony_id"]
        try:
            mine = plan_symphony(row, root, weights_of.get(sid, {}), book, session, acting.get(sid),
                                 previous_targets_of.get(sid))
        except Exception as exc:   # planning one symphony fails alone
            out.failed[sid] = f"order planning: {type(exc).__name__}: {exc}"
            continue
        out.whys[sid] = mine.why
        intents.extend(mine.intents)
        if mine.transition:
            out.transitions.append(mine.transition)
    out.plan = plan_account(account_id, session, intents, {row["symphony_id"]: book.book(row)[0].cash
                                                           for row, _ in syms})
    return out


def previous_targets(wh: Warehouse, session: dt.date, symphony_ids: list[str]) -> dict[str, dict]:
    """The previous session's target weights (no cash) of these symphonies, by id (absent when none stored)."""
    if not symphony_ids:
        return {}
    rows = wh.read("target_allocations", where={"session_date": previous_session(session),
                                                "symphony_id": sorted(symphony_ids)})
    return {sid: {r["ticker"]: float(r["target_weight"]) for r in g.to_dict("records") if r["ticker"] != CASH}
            for sid, g in rows.groupby("symphony_id")}


def previous_session_gaps(wh: Warehouse, session: dt.date, syms: list[tuple[dict, Any]]) -> dict[str, str]:
    """The accounts that must not trade ``session`` because its previous NYSE session P is not complete, with
    the reason (starting with :data:`REFUSED`).

    A symphony makes P incomplete when it was evaluated on P (a ``symphony_runs`` row that is not the over-limit
    skip) but has no end-of-session ledger (``positions``) or no NAV (``daily_nav``) on P; or when P was not run
    at all (no ``symphony_runs`` row on P) while the symphony has a ledger from before P. A symphony with no
    history (a new symphony or account) never blocks: its first session trades.
    """
    prev = previous_session(session)
    runs = wh.read("symphony_runs", where={"session_date": prev}, columns=["symphony_id", "status", "reason"])
    run_of = {r["symphony_id"]: r for r in runs.to_dict("records")}
    pos_p = set(wh.read("positions", where={"session_date": prev}, columns=["symphony_id"])["symphony_id"])
    nav_p = set(wh.read("daily_nav", where={"session_date": prev}, columns=["symphony_id"])["symphony_id"])
    p = positions
    last = wh.fetch(sa.select(p.c.symphony_id, sa.func.max(p.c.session_date).label("last"))
                    .where(p.c.session_date < to_python(p.c.session_date, session)).group_by(p.c.symphony_id))
    last_of = dict(zip(last["symphony_id"], last["last"]))
    problems: dict[str, list[str]] = {}
    for row, _ in syms:
        sid, acct = row["symphony_id"], row["account_id"]
        run = run_of.get(sid)
        if run is not None and not (run["status"] == "skipped" and str(run["reason"] or "").endswith(OVER_LIMIT)):
            if sid not in pos_p:
                what = "refused" if str(run["reason"] or "").startswith(REFUSED) else f"evaluated ({run['status']})"
                problems.setdefault(acct, []).append(f"{sid} {what} on {prev} but has no end-of-session ledger")
            elif sid not in nav_p:
                problems.setdefault(acct, []).append(f"{sid} has no NAV on {prev}")
        elif run is None and last_of.get(sid) is not None and last_of[sid] < prev and not run_of:
            problems.setdefault(acct, []).append(f"{sid} has a ledger from {last_of[sid]} but {prev} was not run")
    return {acct: f"{REFUSED} {prev} is not complete ({'; '.join(found)}): run or finish {prev} first, then "
                  f"re-run {session} (sessions trade in date order)" for acct, found in sorted(problems.items())}


# --------------------------------------------------------------------------------------------------------------
# Preview: the netted orders the next run would send, sent nowhere
# --------------------------------------------------------------------------------------------------------------

def account_roster(wh: Warehouse, account_id: str) -> list[tuple[dict, Root | None, str | None]]:
    """The account's tradable symphonies as the daily graph picks them: active, at most the account's
    ``max_active_symphonies`` (default 40), the earliest registered first, then by id; each with its model (None
    and the reason when the stored row does not parse)."""
    acct = wh.read("accounts", where={"account_id": account_id})
    limit = DEFAULT_MAX_ACTIVE_SYMPHONIES
    if len(acct) and acct["max_active_symphonies"].iloc[0] is not None and not pd.isna(
            acct["max_active_symphonies"].iloc[0]):
        limit = int(acct["max_active_symphonies"].iloc[0])
    rows = wh.read("symphonies", where={"account_id": account_id, "status": "active"}).to_dict("records")
    rows.sort(key=lambda r: (str(r.get("created_at")), r["symphony_id"]))
    out = []
    for r in rows[:limit]:
        try:
            out.append((r, load_stored(r["parsed_json"]), None))
        except Exception as exc:
            out.append((r, None, f"parse of stored row: {type(exc).__name__}: {exc}"))
    return out


@dataclass
class Preview:
    """What :func:`preview` found.

    Attributes:
        orders: the netted orders (:data:`PREVIEW_COLUMNS`: ticker, side, qty shares for sells, notional_usd for
            buys, ref_price USD, the symphonies behind it).
        symphonies: one row per symphony: ``symphony_id, targets, control, decision`` (the plan's reason) or the
            failure.
        prices_as_of: the last session with closes used (the session itself, or earlier before its bars exist).
        refused: the reason the run would refuse the account (:func:`previous_session_gaps`), else None.
    """

    account_id: str
    session: dt.date
    orders: pd.DataFrame
    symphonies: pd.DataFrame
    prices_as_of: dt.date | None
    refused: str | None = None


def preview(wh: Warehouse, scope: AccountScope, account_id: str, session: dt.date,
            symphony_id: str | None = None) -> Preview:
    """The orders the daily run of ``session`` would send for ``account_id`` — computed with the graph's own
    planning (:func:`plan_account_session` on the account's ledgers, its controls and freshly evaluated targets),
    written nowhere and sent nowhere.

    Targets are evaluated on the warehouse's closes up to ``session``; before the session's bars exist, on the
    latest stored session (``prices_as_of`` says which). With ``symphony_id``, only the orders that symphony takes
    part in are shown, netted as the account would send them.

    Raises:
        PermissionError: ``account_id`` is outside ``scope``.
        LookupError: ``symphony_id`` is not an active symphony of the account.
        ValueError: ``session`` is not an NYSE session.
    """
    from warehouse.prices import close_reader

    if not require_scope(scope).allows(account_id):
        raise PermissionError(f"account '{account_id}' is not in your scope ({scope})")
    if not is_session(session):
        raise ValueError(f"{session} is not an NYSE session")
    roster = account_roster(wh, account_id)
    if symphony_id is not None and symphony_id not in {r["symphony_id"] for r, _, _ in roster}:
        raise LookupError(f"'{symphony_id}' is not an active, traded symphony of account '{account_id}'")
    syms = [(r, root) for r, root, _ in roster]
    tickers = sorted({"SPY"} | {t for _, root in syms if root is not None for t in root_tickers(root)})
    reader = close_reader("warehouse", warehouse=wh)
    known = reader.available_tickers()
    closes = reader.closes([t for t in tickers if t in known], end=session) if known else pd.DataFrame()
    as_of = closes.index[-1].date() if len(closes) else None
    cache = IndicatorCache(closes) if len(closes) else None
    weights_of, rows = {}, {}
    for r, root, err in roster:
        sid = r["symphony_id"]
        try:
            if cache is None or as_of is None:
                raise ValueError("the warehouse has no closes yet (run a session first)")
            weights, _ = evaluate_on(root, cache, as_of, err)
            weights_of[sid] = dict(weights)
            rows[sid] = {"symphony_id": sid, "targets": ", ".join(f"{t} {w:.0%}" for t, w in sorted(weights.items())
                                                                  if w > 1e-12) or "cash"}
        except Exception as exc:
            rows[sid] = {"symphony_id": sid, "targets": f"cash (evaluation failed: {exc})"}
    acting = {sid: c for sid, c in acting_on(wh, session).items() if sid in rows}
    refused = previous_session_gaps(wh, session, syms).get(account_id)
    book = SessionBook(wh, session)
    acct_plan = plan_account_session(account_id, syms, weights_of, book, session, acting,
                                     previous_targets(wh, session, [s for s, c in acting.items()
                                                                    if c["control"] == "cash_until_rebalance"]))
    for sid, row in rows.items():
        row["control"] = acting[sid]["control"] if sid in acting else ""
        row["decision"] = acct_plan.whys.get(sid) or acct_plan.failed.get(sid, "")
    orders = [{"ticker": o.ticker, "side": o.side, "qty": o.qty, "notional_usd": o.notional_usd,
               "ref_price": o.price, "symphonies": ", ".join(sorted({i.symphony_id for i in o.intents}))}
              for o in ([] if refused else acct_plan.plan.orders)
              if symphony_id is None or any(i.symphony_id == symphony_id for i in o.intents)]
    sym_rows = [rows[s] for s in sorted(rows) if symphony_id is None or s == symphony_id]
    return Preview(account_id, session, pd.DataFrame(orders, columns=list(PREVIEW_COLUMNS)),
                   pd.DataFrame(sym_rows, columns=["symphony_id", "targets", "control", "decision"]), as_of, refused)


__all__ = ["OPERATOR_ROLES", "REFUSED", "OVER_LIMIT", "PREVIEW_COLUMNS", "ControlPermissionError",
           "next_trading_session", "check_permission", "controls", "set_control", "clear_control", "acting_on",
           "apply_transitions", "scheduled_rebalance", "control_action", "evaluate_on", "SymphonyPlan",
           "plan_symphony", "AccountPlan", "plan_account_session", "previous_targets", "previous_session_gaps",
           "account_roster", "Preview", "preview"]
