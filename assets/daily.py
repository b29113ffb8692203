"""The daily graph, one partition per NYSE session: bars → indicators → allocations → orders → positions → NAV.

Assets are thin: they read inputs from the warehouse, call engine functions and write their rows back with
``Warehouse.replace`` scoped to the session, so re-running a session replaces that session's rows. The hand-off
between assets is the warehouse itself (no IO manager), which is also what the dashboard reads.
"""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd

from engine.evaluate import CASH, IndicatorCache, evaluate
from engine.metrics import composer_stats
from engine.model import Root, indicator_refs, tickers as symphony_tickers
from engine.calendar import previous_session
from engine.orders import Fill, PlannedOrder, apply_fills, needs_rebalance, plan_orders
from engine.prices import fill_interior_gaps
from orchestration.resources import BundledMarketData, MarketDataResource, SimulatedBroker, WarehouseResource
from pipelines.partitions import partition_session, sessions_partitions
from warehouse import Between, Warehouse

BENCHMARK = "SPY"
EARLIEST = dt.date(1900, 1, 1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def active_symphonies(wh: Warehouse) -> list[tuple[dict, Root]]:
    """Active symphonies as ``(row, parsed model)`` pairs, ordered by account and id."""
    df = wh.active_symphonies()
    out = []
    for row in df.sort_values(["account_id", "symphony_id"]).to_dict("records"):
        out.append((row, Root.model_validate_json(row["parsed_json"])))
    return out


def needed_tickers(symphonies: list[tuple[dict, Root]]) -> list[str]:
    """Every ticker read or held by the active symphonies, plus the benchmark."""
    out = {BENCHMARK}
    for _, root in symphonies:
        out |= symphony_tickers(root)
    return sorted(out)


def _closes_until(wh: Warehouse, tickers: list[str], session: dt.date) -> pd.DataFrame:
    closes = wh.adjusted_closes(tickers, end=session)
    return fill_interior_gaps(closes.reindex(columns=tickers))


def _prices_on(wh: Warehouse, tickers: list[str], session: dt.date) -> dict[str, float]:
    """Latest adjusted close on or before ``session`` per ticker (the live-price proxy offline)."""
    if not tickers:
        return {}
    closes = wh.adjusted_closes(sorted(tickers), end=session).ffill()
    if closes.empty:
        return {}
    last = closes.iloc[-1]
    return {t: float(v) for t, v in last.items() if np.isfinite(v)}


@dg.asset(
    partitions_def=sessions_partitions,
    group_name="market_data",
    kinds={"python"},
    metadata={"partition_expr": "session_date"},
)
def daily_bars(context: dg.AssetExecutionContext, market_data: MarketDataResource,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily bars of every ticker the active symphonies need, up to the session (missing history filled in)."""
    session = partition_session(context)
    wh = warehouse.open()
    tickers = needed_tickers(active_symphonies(wh))
    last = wh.last_bar_date(tickers)
    by_start: dict[dt.date | None, list[str]] = {}
    for t in tickers:
        prev = last.get(t)
        start = session if prev is not None and prev >= session else (prev + dt.timedelta(days=1) if prev else None)
        by_start.setdefault(start, []).append(t)
    written = 0
    for start, group in sorted(by_start.items(), key=lambda kv: (kv[0] is not None, kv[0] or EARLIEST)):
        bars = market_data.bars(group, start, session)
        bars = bars.assign(source=market_data.source_name(), adjustment="all", ingested_at=_now())
        written += wh.replace("daily_bars", bars,
                              where={"ticker": group, "session_date": Between(start or EARLIEST, session)})
        context.log.info(f"{len(bars)} bars for {len(group)} ticker(s) from {start or 'inception'} to {session}")
    return dg.MaterializeResult(metadata={"rows_written": written, "tickers": len(tickers),
                                          "session": session.isoformat()})


@dg.asset_check(asset=daily_bars, blocking=True,
                description="Every needed ticker has one positive adjusted close on the session.")
def daily_bars_complete(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    session = dt.date.fromisoformat(context.run.tags.get("dagster/partition")) if context.run.tags.get(
        "dagster/partition") else None
    wh = warehouse.open()
    tickers = needed_tickers(active_symphonies(wh))
    bars = wh.read("daily_bars", where={"session_date": session, "ticker": tickers})
    present = set(bars["ticker"])
    missing = sorted(set(tickers) - present)
    bad = sorted(bars.loc[~(bars["adj_close"] > 0), "ticker"])
    dupes = sorted(bars.loc[bars["ticker"].duplicated(), "ticker"])
    passed = not missing and not bad and not dupes
    return dg.AssetCheckResult(passed=passed, metadata={
        "session": str(session), "missing": ", ".join(missing) or "none", "non_positive": ", ".join(bad) or "none",
        "duplicates": ", ".join(dupes) or "none", "tickers": len(tickers)})


@dg.asset(partitions_def=sessions_partitions, group_name="strategy", deps=[daily_bars], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def indicator_values(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The session's value of every (function, ticker, window) an active symphony reads."""
    session = partition_session(context)
    wh = warehouse.open()
    syms = active_symphonies(wh)
    tickers = needed_tickers(syms)
    cache = IndicatorCache(_closes_until(wh, tickers, session))
    refs = sorted({r for _, root in syms for r in indicator_refs(root)}, key=lambda r: (r.fn, r.ticker, r.window or 0))
    rows = []
    if len(cache.sessions) and cache.sessions[-1].date() == session:
        for ref in refs:
            value = cache.series(ref)[-1]
            rows.append({"session_date": session, "ticker": ref.ticker, "fn": ref.fn, "window": ref.window or 0,
                         "value": float(value) if np.isfinite(value) else None})
    df = pd.DataFrame(rows, columns=["session_date", "ticker", "fn", "window", "value"])
    n = wh.replace("indicator_values", df, where={"session_date": session})
    return dg.MaterializeResult(metadata={"indicators": n, "undefined": int(df["value"].isna().sum())})


@dg.asset(partitions_def=sessions_partitions, group_name="strategy", deps=[indicator_values], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def target_allocations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Target weights and decision trace of every active symphony on the session.

    A symphony that cannot be evaluated (missing data, warm-up not done, error) gets an all-cash target and a
    ``failed`` run row with the reason; the others are unaffected.
    """
    session = partition_session(context)
    wh = warehouse.open()
    syms = active_symphonies(wh)
    cache = IndicatorCache(_closes_until(wh, needed_tickers(syms), session))
    alloc_rows, trace_rows, run_rows = [], [], []
    for row, root in syms:
        sid, acct = row["symphony_id"], row["account_id"]
        status, reason, weights = "ok", None, {}
        try:
            if not len(cache.sessions) or cache.sessions[-1].date() != session:
                raise ValueError(f"no prices for session {session}")
            ev = evaluate(root, cache, start=session)  # only today's decisions; indicators use all history
            if not bool(ev.valid.iloc[-1]):
                raise ValueError("some indicator or price is undefined on this session (warm-up or missing bar)")
            weights = ev.weights_on(session)
            for seq, entry in enumerate(ev.trace(session)):
                trace_rows.append({"account_id": acct, "symphony_id": sid, "session_date": session, "seq": seq,
                                   "node_path": entry["node_path"], "node_type": entry["node_type"],
                                   "summary": entry["summary"], "detail_json": json.dumps(entry["detail"])})
        except Exception as exc:  # one symphony's failure must not stop the others
            status, reason, weights = "failed", f"{type(exc).__name__}: {exc}", {}
            context.log.warning(f"symphony {sid} failed on {session}: {reason}; target is cash")
        cash = max(0.0, 1.0 - sum(weights.values()))
        if cash > 1e-9:
            weights[CASH] = cash
        for t, w in sorted(weights.items()):
            alloc_rows.append({"account_id": acct, "symphony_id": sid, "session_date": session, "ticker": t,
                               "target_weight": float(w)})
        run_rows.append({"account_id": acct, "symphony_id": sid, "session_date": session, "status": status,
                         "reason": reason, "evaluated_at": _now()})
    wh.replace("target_allocations", pd.DataFrame(alloc_rows), where={"session_date": session})
    wh.replace("decision_traces", pd.DataFrame(trace_rows), where={"session_date": session})
    wh.replace("symphony_runs", pd.DataFrame(run_rows), where={"session_date": session})
    failed = [r["symphony_id"] for r in run_rows if r["status"] == "failed"]
    return dg.MaterializeResult(metadata={"symphonies": len(run_rows), "failed": len(failed),
                                          "failed_ids": ", ".join(failed) or "none"})


def _ledger_before(wh: Warehouse, row: dict, session: dt.date) -> tuple[dict[str, float], float, bool]:
    """The symphony's ledger before the session: ``(shares per ticker, cash USD, has traded before)``."""
    prev = wh.last_positions_before(row["symphony_id"], session)
    if prev.empty:
        return {}, float(row.get("capital_usd") or 10_000.0), False
    holdings = {r["ticker"]: float(r["qty"]) for r in prev.to_dict("records") if r["ticker"] != CASH}
    cash_rows = prev.loc[prev["ticker"] == CASH, "qty"]
    return holdings, float(cash_rows.iloc[0]) if len(cash_rows) else 0.0, True


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[target_allocations], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def order_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Orders that move each symphony's ledger to its targets (sells before buys), status ``planned``.

    The symphony's rebalance rule decides whether its ledger trades today (daily; first session of the week,
    month, quarter or year; threshold corridor), as in the backtest.
    """
    session = partition_session(context)
    wh = warehouse.open()
    targets = wh.read("target_allocations", where={"session_date": session})
    prev_session = previous_session(session)
    rows, held_back = [], []
    for row, root in active_symphonies(wh):
        sid = row["symphony_id"]
        tw = targets[targets["symphony_id"] == sid]
        weights = {r["ticker"]: float(r["target_weight"]) for r in tw.to_dict("records") if r["ticker"] != CASH}
        holdings, cash, has_traded = _ledger_before(wh, row, session)
        prices = _prices_on(wh, sorted(set(holdings) | set(weights)), session)
        trade, why = needs_rebalance(rule=root.rebalance, corridor=root.corridor_width, session=session,
                                     previous_session=prev_session, holdings=holdings, cash=cash, prices=prices,
                                     targets=weights, has_traded=has_traded)
        context.log.info(f"{sid}: {'trade' if trade else 'hold'} — {why}")
        if not trade:
            held_back.append(sid)
            continue
        orders = plan_orders(account_id=row["account_id"], symphony_id=sid, session_date=session,
                             holdings=holdings, cash=cash, prices=prices, targets=weights)
        for o in orders:
            rows.append({"client_order_id": o.client_order_id, "account_id": o.account_id, "symphony_id": sid,
                         "session_date": session, "ticker": o.ticker, "side": o.side, "notional_usd": o.notional_usd,
                         "qty": o.qty, "status": "planned", "broker_order_id": None, "reason": f"{o.reason}: {why}",
                         "submitted_at": None})
    n = wh.replace("orders", pd.DataFrame(rows), where={"session_date": session})
    return dg.MaterializeResult(metadata={"orders_planned": n, "symphonies_holding": len(held_back),
                                          "holding_ids": ", ".join(held_back) or "none"})


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[order_plan], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def submitted_orders(context: dg.AssetExecutionContext, broker: SimulatedBroker,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Send the session's planned orders through the broker and record the orders' status and their fills."""
    session = partition_session(context)
    wh = warehouse.open()
    planned = wh.read("orders", where={"session_date": session})
    orders = [PlannedOrder(r["client_order_id"], r["account_id"], r["symphony_id"], session, r["ticker"], r["side"],
                           None if pd.isna(r["notional_usd"]) else float(r["notional_usd"]),
                           None if pd.isna(r["qty"]) else float(r["qty"]), r["reason"])
              for r in planned.to_dict("records")]
    # sells first, then buys, as planned
    orders.sort(key=lambda o: (o.symphony_id, o.side != "sell", o.ticker))
    prices = _prices_on(wh, sorted({o.ticker for o in orders}), session)
    fills = broker.submit(orders, prices)
    now = _now()
    by_id = {o.client_order_id: o for o in orders}
    fill_rows = [{"fill_id": f"{f.client_order_id}-f0", "client_order_id": f.client_order_id,
                  "account_id": by_id[f.client_order_id].account_id, "symphony_id": by_id[f.client_order_id].symphony_id,
                  "session_date": session, "ticker": f.ticker, "side": f.side, "qty": f.qty, "price": f.price,
                  "notional_usd": f.notional_usd, "filled_at": now} for f in fills]
    planned = planned.assign(status="filled", submitted_at=now, broker_order_id=planned["client_order_id"])
    wh.replace("orders", planned, where={"session_date": session})
    wh.replace("fills", pd.DataFrame(fill_rows), where={"session_date": session})
    return dg.MaterializeResult(metadata={"orders_sent": len(orders), "fills": len(fills),
                                          "unique_client_ids": len({o.client_order_id for o in orders})})


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[submitted_orders], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def positions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """End-of-session holdings of each symphony's ledger (shares and ``$USD`` cash), valued at the session price."""
    session = partition_session(context)
    wh = warehouse.open()
    fills = wh.read("fills", where={"session_date": session})
    rows = []
    for row, _root in active_symphonies(wh):
        sid = row["symphony_id"]
        holdings, cash, _ = _ledger_before(wh, row, session)
        mine = fills[fills["symphony_id"] == sid]
        fl = [Fill(r["client_order_id"], r["ticker"], r["side"], float(r["qty"]), float(r["price"]))
              for r in mine.to_dict("records")]
        holdings, cash = apply_fills(holdings, cash, fl)
        prices = _prices_on(wh, sorted(holdings), session)
        for t, q in sorted(holdings.items()):
            rows.append({"account_id": row["account_id"], "symphony_id": sid, "session_date": session, "ticker": t,
                         "qty": q, "price": prices[t], "market_value_usd": q * prices[t]})
        rows.append({"account_id": row["account_id"], "symphony_id": sid, "session_date": session, "ticker": CASH,
                     "qty": cash, "price": 1.0, "market_value_usd": cash})
    n = wh.replace("positions", pd.DataFrame(rows), where={"session_date": session})
    return dg.MaterializeResult(metadata={"position_rows": n})


@dg.asset(partitions_def=sessions_partitions, group_name="performance", deps=[positions], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def daily_nav(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each symphony's NAV (USD) at the session close and its daily return (fraction)."""
    session = partition_session(context)
    wh = warehouse.open()
    pos = wh.read("positions", where={"session_date": session})
    rows = []
    for row, _root in active_symphonies(wh):
        sid = row["symphony_id"]
        mine = pos[pos["symphony_id"] == sid]
        if mine.empty:
            continue
        nav = float(mine["market_value_usd"].sum())
        cash = float(mine.loc[mine["ticker"] == CASH, "market_value_usd"].sum())
        hist = wh.nav_history(sid)
        hist = hist[pd.to_datetime(hist["session_date"]) < pd.Timestamp(session)]
        base = float(hist["nav_usd"].iloc[-1]) if len(hist) else float(row.get("capital_usd") or 10_000.0)
        rows.append({"account_id": row["account_id"], "symphony_id": sid, "session_date": session, "nav_usd": nav,
                     "cash_usd": cash, "daily_return": nav / base - 1.0})
    n = wh.replace("daily_nav", pd.DataFrame(rows), where={"session_date": session})
    return dg.MaterializeResult(metadata={"symphonies": n,
                                          "total_nav_usd": float(sum(r["nav_usd"] for r in rows))})


@dg.asset(partitions_def=sessions_partitions, group_name="performance", deps=[daily_nav], kinds={"python"},
          metadata={"partition_expr": "as_of_date"})
def performance_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Composer's statistics of each symphony's paper NAV from its first traded session to this one."""
    session = partition_session(context)
    wh = warehouse.open()
    rows = []
    for row, _root in active_symphonies(wh):
        hist = wh.nav_history(row["symphony_id"])
        hist = hist[pd.to_datetime(hist["session_date"]) <= pd.Timestamp(session)]
        if hist.empty:
            continue
        nav = pd.Series(hist["nav_usd"].to_numpy(), index=pd.to_datetime(hist["session_date"]))
        stats = composer_stats(nav, capital=float(row.get("capital_usd") or 10_000.0))
        for metric, value in stats.items():
            rows.append({"account_id": row["account_id"], "symphony_id": row["symphony_id"], "as_of_date": session,
                         "metric": metric, "value": float(value) if np.isfinite(value) else None})
    n = wh.replace("performance_metrics", pd.DataFrame(rows), where={"as_of_date": session})
    return dg.MaterializeResult(metadata={"metric_rows": n})


DAILY_ASSETS = [daily_bars, indicator_values, target_allocations, order_plan, submitted_orders, positions, daily_nav,
                performance_metrics]
DAILY_CHECKS = [daily_bars_complete]

__all__ = ["DAILY_ASSETS", "DAILY_CHECKS", "BundledMarketData"]
