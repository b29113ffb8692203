"""The replay's reads and its batched writes (``oragami replay``, the ``paper_replay`` job).

* :func:`start_state` — what every symphony carries into the first replayed session: its latest ``positions``
  snapshot before it (or its capital in cash if it never traded), its last NAV and its NAV history (one query
  each, for all the replayed accounts).
* :func:`range_controls` — the live controls (``symphony_controls``) that can act on a session of the range, by
  symphony id, for :func:`engine.replay.replay`'s ``controls``.
* :func:`write_replay` — every row of an :class:`engine.replay.ReplayResult` in **one transaction**: for each table
  the replayed accounts' rows of the replayed sessions are deleted and the new ones inserted (one bulk insert per
  table), then the ``replay_runs`` row of each account and the live controls' changes (``started_session``,
  ``consumed_session`` + status). Re-running a range replaces it; other accounts and other sessions are untouched;
  a failure leaves the warehouse as it was.

Tables written (the daily graph's, so the dashboard reads a replay as it reads live trading): ``target_allocations``,
``decision_traces``, ``symphony_runs``, ``orders``, ``order_intents``, ``sim_broker_orders`` (the simulated
broker's book), ``fills``, ``positions``, ``daily_nav``, ``performance_metrics`` (by ``as_of_date``) and
``replay_runs``. Amounts in USD, quantities in shares.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pandas as pd
import sqlalchemy as sa

from engine.controls import ACTING_STATUSES, _date_or_none
from engine.ledger import Ledger
from warehouse.repos.ledgers import positions_before
from warehouse.repos.orders import fill_rows
from warehouse.schema import CASH_TICKER, symphony_controls
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Warehouse, coerce_frame

#: ``(table, date column)`` of every table a replay writes, in write order.
REPLAY_TABLES: tuple[tuple[str, str], ...] = (
    ("target_allocations", "session_date"), ("decision_traces", "session_date"), ("symphony_runs", "session_date"),
    ("orders", "session_date"), ("order_intents", "session_date"), ("sim_broker_orders", "session_date"),
    ("fills", "session_date"), ("positions", "session_date"), ("daily_nav", "session_date"),
    ("performance_metrics", "as_of_date"),
)


@dataclass(frozen=True)
class CarriedBook:
    """One symphony's state before the first replayed session.

    Attributes:
        ledger: shares per ticker and cash (USD) of its newest ``positions`` snapshot before the session; None when
            it has none (it starts from its capital).
        last_nav_usd: its newest ``daily_nav`` before the session (USD), None if none.
        nav_history: its ``daily_nav`` before the session (index = ``datetime.date``, USD).
    """

    ledger: Ledger | None
    last_nav_usd: float | None
    nav_history: pd.Series


def start_state(wh: Warehouse, scope: AccountScope, first_session: Any) -> dict[str, CarriedBook]:
    """Every symphony's :class:`CarriedBook` before ``first_session``, by symphony id (symphonies in ``scope``
    with neither positions nor NAV before it are absent)."""
    require_scope(scope)
    before = positions_before(wh, first_session, scope)
    ledgers: dict[str, Ledger] = {}
    for sid, g in before.groupby("symphony_id"):
        holdings = {r["ticker"]: float(r["qty"]) for r in g.to_dict("records") if r["ticker"] != CASH_TICKER}
        cash = g.loc[g["ticker"] == CASH_TICKER, "qty"]
        ledgers[str(sid)] = Ledger(holdings, float(cash.iloc[0]) if len(cash) else 0.0)
    first = pd.Timestamp(first_session).date()
    navs = wh.read("daily_nav", where=scope.where({}), columns=["symphony_id", "session_date", "nav_usd"])
    navs = navs[pd.to_datetime(navs["session_date"]).dt.date < first].sort_values(["symphony_id", "session_date"])
    out: dict[str, CarriedBook] = {}
    hist = {str(sid): pd.Series(g["nav_usd"].astype(float).to_numpy(), index=list(g["session_date"]))
            for sid, g in navs.groupby("symphony_id")}
    for sid in sorted(set(ledgers) | set(hist)):
        h = hist.get(sid, pd.Series(dtype="float64"))
        out[sid] = CarriedBook(ledgers.get(sid), float(h.iloc[-1]) if len(h) else None, h)
    return out


def range_controls(wh: Warehouse, accounts: Iterable[str], start: dt.date, end: dt.date) -> dict[str, list[dict]]:
    """The control rows of ``accounts`` that can act on a session of ``[start, end]``, by symphony id (oldest set
    first): open, or consumed on/after ``start`` (a re-run of the range repeats those decisions), with
    ``effective_session <= end``. Cleared controls never act."""
    rows = wh.read("symphony_controls", where={"account_id": sorted(set(accounts)), "status": list(ACTING_STATUSES)})
    out: dict[str, list[dict]] = {}
    for r in rows.sort_values(["set_at", "control_id"]).to_dict("records"):
        consumed = _date_or_none(r["consumed_session"])
        if r["effective_session"] > end or (r["status"] == "consumed" and (consumed is None or consumed < start)):
            continue
        out.setdefault(str(r["symphony_id"]), []).append(r)
    return out


def _frame(rows: list[dict], columns: Iterable[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns) if columns is not None and not rows else None)


def replay_rows(result, stamp: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    """The frames :func:`write_replay` inserts, by table (``fills`` and ``sim_broker_orders`` derived from the
    filled orders; decision-trace details as JSON)."""
    traces = [{**{k: v for k, v in r.items() if k != "detail"}, "detail_json": json.dumps(r["detail"])}
              for r in result.decision_traces]
    filled = [r for r in result.orders if r["status"] == "filled"]
    sim = [{"client_order_id": r["client_order_id"], "account_id": r["account_id"], "session_date": r["session_date"],
            "broker_order_id": r["broker_order_id"], "ticker": r["ticker"], "side": r["side"],
            "notional_usd": r["notional_usd"], "qty": r["qty"], "status": r["status"], "filled_qty": r["filled_qty"],
            "filled_avg_price": r["filled_avg_price"], "reason": None, "submitted_at": r["submitted_at"]}
           for r in filled]
    fills: list[dict] = []
    by_session: dict[Any, list[dict]] = {}
    for r in filled:
        by_session.setdefault(r["session_date"], []).append(r)
    for session, rows in by_session.items():
        fills += fill_rows(rows, session)
    return {"target_allocations": _frame(result.target_allocations), "decision_traces": _frame(traces),
            "symphony_runs": _frame(result.symphony_runs), "orders": _frame(result.orders),
            "order_intents": _frame(result.order_intents), "sim_broker_orders": _frame(sim), "fills": _frame(fills),
            "positions": _frame(result.positions), "daily_nav": _frame(result.daily_nav),
            "performance_metrics": _frame(result.performance_metrics)}


def write_replay(wh: Warehouse, result, accounts: Iterable[str], runs: Iterable[Mapping[str, Any]] = ()) -> dict[str, int]:
    """Write a replay: for each table of :data:`REPLAY_TABLES`, delete the rows of ``accounts`` dated inside
    ``[result.sessions[0], result.sessions[-1]]`` and insert the result's rows; then upsert ``runs`` into
    ``replay_runs`` and store ``result.control_transitions`` on the accounts' ``symphony_controls`` rows. All in
    one transaction (idempotent; all or nothing).

    Args:
        result: an :class:`engine.replay.ReplayResult`.
        accounts: the replayed accounts (only their rows are replaced).
        runs: ``replay_runs`` rows (one per account).

    Returns:
        Rows inserted per table (``symphony_controls``: rows changed, present when a control changed).

    Raises:
        ValueError: a row of an account outside ``accounts`` or dated outside the range (nothing is written).
    """
    accounts = sorted(set(accounts))
    lo, hi = result.sessions[0], result.sessions[-1]
    frames = replay_rows(result)
    prepared = []
    for name, date_col in REPLAY_TABLES:
        t = Warehouse.table(name)
        frame = frames[name]
        if len(frame):
            bad = frame[~frame["account_id"].isin(accounts)]
            if len(bad):
                raise ValueError(f"replay rows of {name} for account {bad['account_id'].iloc[0]!r}, which is not "
                                 f"replayed; nothing was written")
            dates = pd.to_datetime(frame[date_col]).dt.date
            if ((dates < lo) | (dates > hi)).any():
                raise ValueError(f"replay rows of {name} dated outside {lo}..{hi}; nothing was written")
        prepared.append((t, date_col, coerce_frame(t, frame) if len(frame) else frame))
    run_frame = pd.DataFrame(list(runs))
    counts: dict[str, int] = {}
    with wh.begin() as conn:
        for t, date_col, frame in prepared:
            conn.execute(t.delete().where(t.c.account_id.in_(accounts), t.c[date_col] >= lo, t.c[date_col] <= hi))
            counts[t.name] = wh.insert(conn, t, frame) if len(frame) else 0
        if len(run_frame):
            rt = Warehouse.table("replay_runs")
            for r in run_frame.to_dict("records"):
                conn.execute(rt.delete().where(rt.c.account_id == r["account_id"], rt.c.start_date == r["start_date"],
                                               rt.c.end_date == r["end_date"]))
            counts["replay_runs"] = wh.insert(conn, rt, coerce_frame(rt, run_frame))
        ct = symphony_controls
        transitions = list(getattr(result, "control_transitions", ()))
        for control_id, change in transitions:
            conn.execute(ct.update().where(ct.c.control_id == control_id, ct.c.account_id.in_(accounts))
                         .values(**change))
        if transitions:
            counts["symphony_controls"] = len(transitions)
    return counts


def replay_runs(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The ``replay_runs`` rows in ``scope``, newest first (columns of the table)."""
    t = Warehouse.table("replay_runs")
    stmt = sa.select(*t.columns).where(*require_scope(scope).clauses(t.c.account_id)).order_by(
        t.c.created_at.desc(), t.c.account_id)
    return wh.fetch(stmt)


__all__ = ["REPLAY_TABLES", "CarriedBook", "start_state", "range_controls", "replay_rows", "write_replay",
           "replay_runs"]
