"""The daily graph, one partition per NYSE session: bars → indicators → allocations → orders → positions → NAV.

Assets are thin: they read inputs from the warehouse, call engine functions and write their rows back with
``Warehouse.replace`` scoped to the session, so re-running a session replaces that session's rows. The hand-off
between assets is the warehouse itself (no IO manager), which is also what the dashboard reads.
"""

import datetime as dt
import functools
import json

import dagster as dg
import numpy as np
import pandas as pd

from engine.evaluate import CASH, IndicatorCache, evaluate
from engine.metrics import composer_stats
from engine.model import Root, indicator_refs, tickers as symphony_tickers
from engine.calendar import previous_session, session_close
from engine.broker import OrderRequest, send_exactly_once
from engine.netting import NET, SymphonyIntent, attribute, intents_for, net_orders
from engine.orders import needs_rebalance
from engine.prices import fill_interior_gaps
from resources import BrokerResource, BundledMarketData, MarketDataResource, WarehouseResource
from pipelines.partitions import partition_session, sessions_partitions
from warehouse import Between, Warehouse
from warehouse.repos import bars as bar_repo, ledgers, symphonies as symphony_repo
from warehouse.scope import ALL_ACCOUNTS

BENCHMARK = "SPY"
EARLIEST = dt.date(1900, 1, 1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@functools.lru_cache(maxsize=8192)
def _model(parsed_json: str) -> Root:
    """The stored model, parsed once per process (models are immutable, so sharing them is safe)."""
    return Root.model_validate_json(parsed_json)


def active_symphonies(wh: Warehouse) -> list[tuple[dict, Root]]:
    """Active symphonies as ``(row, parsed model)`` pairs, ordered by account and id."""
    df = symphony_repo.active(wh, ALL_ACCOUNTS)
    out = []
    for row in df.sort_values(["account_id", "symphony_id"]).to_dict("records"):
        out.append((row, _model(row["parsed_json"])))
    return out


MAX_ACTIVE_SYMPHONIES = 40


def split_by_limit(wh: Warehouse) -> tuple[list[tuple[dict, Root]], list[tuple[dict, str]]]:
    """Active symphonies that trade, and those over their account's limit (with the reason).

    Each account trades at most ``max_active_symphonies`` (default 40, as Composer) active symphonies, the
    earliest registered first (then by id); the others are reported and not evaluated.
    """
    limits = {a: (int(r["max_active_symphonies"]) if r.get("max_active_symphonies") is not None
                  and not pd.isna(r["max_active_symphonies"]) else MAX_ACTIVE_SYMPHONIES)
              for a, r in _accounts(wh).items()}
    trade, over = [], []
    for account_id, syms in sorted(_by_account(active_symphonies(wh)).items()):
        limit = limits.get(account_id, MAX_ACTIVE_SYMPHONIES)
        ordered = sorted(syms, key=lambda s: (str(s[0].get("created_at")), s[0]["symphony_id"]))
        trade.extend(ordered[:limit])
        over.extend((row, f"account {account_id} has more than {limit} active symphonies; this one is not traded")
                    for row, _ in ordered[limit:])
    return trade, over


def tradable_symphonies(wh: Warehouse) -> list[tuple[dict, Root]]:
    """The active symphonies that trade today (see :func:`split_by_limit`)."""
    return split_by_limit(wh)[0]


def needed_tickers(symphonies: list[tuple[dict, Root]]) -> list[str]:
    """Every ticker read or held by the active symphonies, plus the benchmark."""
    out = {BENCHMARK}
    for _, root in symphonies:
        out |= symphony_tickers(root)
    return sorted(out)


def _closes_until(wh: Warehouse, tickers: list[str], session: dt.date) -> pd.DataFrame:
    closes = bar_repo.adjusted_closes(wh, tickers, end=session)
    return fill_interior_gaps(closes.reindex(columns=tickers))


class SessionBook:
    """What the trading assets read about one session, in a few batched queries (not one per symphony).

    * prices: each ticker's latest adjusted close on or before the session (the live-price proxy offline; the
      live price itself once ``daily_bars`` stored one), USD;
    * ledgers: every symphony's holdings snapshot carried into the session (``positions`` of its newest earlier
      session), or its starting capital in cash if it never traded;
    * NAVs: every symphony's last NAV before the session.
    """

    def __init__(self, wh: Warehouse, session: dt.date) -> None:
        self.wh = wh
        self.session = session
        self._prices: dict[str, float] = {}
        self._asked: set[str] = set()
        before = ledgers.positions_before(wh, session, ALL_ACCOUNTS)
        self._ledgers = {sid: g for sid, g in before.groupby("symphony_id")}
        self._navs: dict[str, float] | None = None

    def prices(self, tickers) -> dict[str, float]:
        """``{ticker: USD}`` for the tickers that have a close on or before the session (others absent)."""
        want = [t for t in set(tickers) if t not in self._asked]
        if want:
            self._prices.update(bar_repo.latest_closes(self.wh, sorted(want), self.session))
            self._asked.update(want)
        return {t: self._prices[t] for t in tickers if t in self._prices}

    def ledger(self, row: dict) -> tuple[dict[str, float], float, bool]:
        """``(shares per ticker, cash USD, has traded before)`` of a symphony carried into the session."""
        prev = self._ledgers.get(row["symphony_id"])
        if prev is None or prev.empty:
            return {}, float(row.get("capital_usd") or 10_000.0), False
        holdings = {r["ticker"]: float(r["qty"]) for r in prev.to_dict("records") if r["ticker"] != CASH}
        cash_rows = prev.loc[prev["ticker"] == CASH, "qty"]
        return holdings, float(cash_rows.iloc[0]) if len(cash_rows) else 0.0, True

    def nav_before(self, symphony_id: str) -> float | None:
        """The symphony's NAV at its last session before this one, USD (None if it has none)."""
        if self._navs is None:
            navs = self.wh.read("daily_nav", where={"session_date": Between(None, previous_session(self.session))},
                                columns=["symphony_id", "session_date", "nav_usd"])
            navs = navs.sort_values(["symphony_id", "session_date"]).groupby("symphony_id").tail(1)
            self._navs = dict(zip(navs["symphony_id"], navs["nav_usd"].astype(float)))
        return self._navs.get(symphony_id)


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
    tickers = needed_tickers(tradable_symphonies(wh))
    last = bar_repo.last_bar_date(wh, tickers)
    by_start: dict[dt.date | None, list[str]] = {}
    for t in tickers:
        prev = last.get(t)
        start = session if prev is not None and prev >= session else (prev + dt.timedelta(days=1) if prev else None)
        by_start.setdefault(start, []).append(t)
    written = 0
    for start, group in sorted(by_start.items(), key=lambda kv: (kv[0] is not None, kv[0] or EARLIEST)):
        bars = market_data.bars(group, start, session)
        bars = bars.assign(**market_data.provenance(), ingested_at=_now())
        written += wh.replace("daily_bars", bars,
                              where={"ticker": group, "session_date": Between(start or EARLIEST, session)})
        context.log.info(f"{len(bars)} bars for {len(group)} ticker(s) from {start or 'inception'} to {session}")
    live = _live_prices(context, market_data, wh, tickers, session)
    return dg.MaterializeResult(metadata={"rows_written": written, "tickers": len(tickers),
                                          "live_prices": live, "session": session.isoformat()})


def new_york_today() -> dt.date:
    """Today's date in New York (the session a 15:50 run trades)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(tz=ZoneInfo("America/New_York")).date()


def _live_prices(context, market_data, wh: Warehouse, tickers: list[str], session: dt.date) -> int:
    """At the trading time today's bar does not exist yet: the latest trade (or quote midpoint) stands in as the
    session's close for evaluation, stored as a provisional bar with its timestamp and source (``<source>-live``).
    Only for a source that offers ``latest_prices`` and only for the current New York date; the end-of-day
    ingest of a later run replaces the provisional bar (same key)."""
    latest = getattr(market_data, "latest_prices", None)
    if latest is None or session != new_york_today():
        return 0
    have = set(wh.read("daily_bars", where={"session_date": session, "ticker": tickers})["ticker"])
    missing = [t for t in tickers if t not in have]
    if not missing:
        return 0
    quotes = latest(missing)
    prov = market_data.provenance()
    rows = [{"session_date": session, "ticker": t, "open": None, "high": None, "low": None, "close": price,
             "adj_close": price, "volume": None, "source": f"{prov['source']}-live", "adjustment": "live",
             "feed": prov.get("feed"), "ingested_at": ts} for t, (price, ts) in quotes.items()]
    for r in rows:
        wh.replace("daily_bars", pd.DataFrame([r]), where={"ticker": r["ticker"], "session_date": session})
        context.log.info(f"{r['ticker']}: live price {r['adj_close']} at {r['ingested_at']} used as today's close")
    return len(rows)


@dg.asset_check(asset=daily_bars, blocking=True,
                description="No feed gap, non-positive or duplicate bar among the tickers the symphonies need.")
def daily_bars_complete(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Blocking before any order.

    Fails (and so stops allocations and orders) when a needed ticker that had a bar on the previous session has
    none today (a feed gap), or when a bar is non-positive or duplicated. A ticker whose data stopped before the
    previous session (delisted, or its history ends) does not block everyone: it is reported, and the symphonies
    that need it fail on their own (all cash) while the others trade.
    """
    tag = context.run.tags.get("dagster/partition")
    session = dt.date.fromisoformat(tag) if tag else None
    wh = warehouse.open()
    tickers = needed_tickers(tradable_symphonies(wh))
    bars = wh.read("daily_bars", where={"session_date": session, "ticker": tickers})
    present = set(bars["ticker"])
    absent = sorted(set(tickers) - present)
    prev = previous_session(session) if session else None
    last = bar_repo.last_bar_date(wh, absent) if absent else {}
    gaps = [t for t in absent if last.get(t) is not None and prev is not None and last[t] >= prev]
    stopped = [f"{t} (last bar {last[t]})" if last.get(t) else f"{t} (no data)" for t in absent if t not in gaps]
    bad = sorted(bars.loc[~(bars["adj_close"] > 0), "ticker"])
    dupes = sorted(bars.loc[bars["ticker"].duplicated(), "ticker"])
    passed = not gaps and not bad and not dupes
    return dg.AssetCheckResult(passed=passed, metadata={
        "session": str(session), "missing": ", ".join(gaps) or "none", "stopped": ", ".join(stopped) or "none",
        "non_positive": ", ".join(bad) or "none", "duplicates": ", ".join(dupes) or "none", "tickers": len(tickers)})


@dg.asset_check(asset=daily_bars, blocking=False,
                description="The broker's calendar agrees with exchange_calendars on the session and its close.")
def calendar_matches_broker(context: dg.AssetCheckExecutionContext, broker: BrokerResource,
                            warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """With an external broker (Alpaca), compare its ``/v2/calendar`` for the session with XNYS from
    ``exchange_calendars``: a missing session or a different close time is recorded as a WARN (our trading time
    stays close − 10 minutes from exchange_calendars)."""
    tag = context.run.tags.get("dagster/partition")
    session = dt.date.fromisoformat(tag) if tag else None
    if not broker.reconciles() or session is None:
        return dg.AssetCheckResult(passed=True, metadata={"compared": "no (offline broker has no calendar)"})
    wh = warehouse.open()
    accounts = sorted({row["account_id"] for row, _ in tradable_symphonies(wh)})
    if not accounts:
        return dg.AssetCheckResult(passed=True, metadata={"compared": "no (no account trades)"})
    days = broker.for_account(accounts[0], wh, {}, session).calendar(session, session)
    ours = session_close(session)
    theirs = next((d for d in days if d[0] == session), None)
    if theirs is None:
        problem = f"broker has no session on {session}; exchange_calendars closes it at {ours:%H:%M}"
    elif (theirs[2].hour, theirs[2].minute) != (ours.hour, ours.minute):
        problem = f"close differs: broker {theirs[2]:%H:%M}, exchange_calendars {ours:%H:%M} (New York)"
    else:
        problem = None
    if problem:
        context.log.warning(f"calendar disagreement on {session}: {problem}")
    return dg.AssetCheckResult(passed=problem is None, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"session": str(session), "exchange_calendars_close": f"{ours:%H:%M}",
                                         "disagreement": problem or "none"})


@dg.asset(partitions_def=sessions_partitions, group_name="strategy", deps=[daily_bars], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def indicator_values(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The session's value of every (function, ticker, window, params) an active symphony reads.

    ``params`` is :attr:`engine.model.IndicatorRef.params_key` ('' when none), part of the table's key, so two
    PPO/MACD/Bollinger settings on one ticker are two rows.
    """
    session = partition_session(context)
    wh = warehouse.open()
    syms = tradable_symphonies(wh)
    tickers = needed_tickers(syms)
    cache = IndicatorCache(_closes_until(wh, tickers, session))
    refs = sorted({r for _, root in syms for r in indicator_refs(root)},
                  key=lambda r: (r.fn, r.ticker, r.window or 0, r.params_key))
    rows = []
    if len(cache.sessions) and cache.sessions[-1].date() == session:
        for ref in refs:
            try:
                value = cache.series(ref)[-1]
            except Exception as exc:  # one symphony's bad indicator must not stop the others (it fails alone)
                context.log.warning(f"{ref.label()}: cannot be computed: {exc}")
                value = float("nan")
            rows.append({"session_date": session, "ticker": ref.ticker, "fn": ref.fn, "window": ref.window or 0,
                         "params": ref.params_key, "value": float(value) if np.isfinite(value) else None})
    df = pd.DataFrame(rows, columns=["session_date", "ticker", "fn", "window", "params", "value"])
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
    syms, over_limit = split_by_limit(wh)
    cache = IndicatorCache(_closes_until(wh, needed_tickers(syms), session))
    alloc_rows, trace_rows, run_rows = [], [], []
    for row, reason in over_limit:
        context.log.warning(f"symphony {row['symphony_id']} skipped: {reason}")
        run_rows.append({"account_id": row["account_id"], "symphony_id": row["symphony_id"], "session_date": session,
                         "status": "skipped", "reason": reason, "evaluated_at": _now()})
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


def _accounts(wh: Warehouse) -> dict[str, dict]:
    """Account rows (with risk settings) by id."""
    return {r["account_id"]: r for r in wh.read("accounts").to_dict("records")}


def _by_account(syms: list[tuple[dict, Root]]) -> dict[str, list[tuple[dict, Root]]]:
    out: dict[str, list[tuple[dict, Root]]] = {}
    for row, root in syms:
        out.setdefault(row["account_id"], []).append((row, root))
    return out


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[target_allocations], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def order_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One order per account and ticker: every symphony's wanted change netted (engine.netting), sells first.

    Each symphony's rebalance rule decides whether its ledger trades today (daily; first session of the week,
    month, quarter or year; threshold corridor), as in the backtest. Symphonies on opposite sides of a ticker are
    crossed inside the account; only the net goes to the broker. Orders are written with status ``planned`` and
    the per-symphony intents behind them to ``order_intents``.
    """
    session = partition_session(context)
    wh = warehouse.open()
    targets = wh.read("target_allocations", where={"session_date": session})
    prev_session = previous_session(session)
    book = SessionBook(wh, session)
    order_rows, intent_rows, holding = [], [], []
    for account_id, syms in sorted(_by_account(tradable_symphonies(wh)).items()):
        intents = []
        for row, root in syms:
            sid = row["symphony_id"]
            tw = targets[targets["symphony_id"] == sid]
            weights = {r["ticker"]: float(r["target_weight"]) for r in tw.to_dict("records") if r["ticker"] != CASH}
            holdings, cash, has_traded = book.ledger(row)
            prices = book.prices(sorted(set(holdings) | set(weights)))
            trade, why = needs_rebalance(rule=root.rebalance, corridor=root.corridor_width, session=session,
                                         previous_session=prev_session, holdings=holdings, cash=cash, prices=prices,
                                         targets=weights, has_traded=has_traded)
            context.log.info(f"{sid}: {'trade' if trade else 'hold'} — {why}")
            if not trade:
                holding.append(sid)
                continue
            intents.extend(intents_for(sid, holdings, cash, prices, weights))
        plan = net_orders(account_id, session, intents)
        for o in plan.orders:
            order_rows.append({"client_order_id": o.client_order_id, "account_id": account_id, "symphony_id": NET,
                               "session_date": session, "ticker": o.ticker, "side": o.side,
                               "notional_usd": o.notional_usd, "qty": o.qty, "status": "planned",
                               "broker_order_id": None, "reason": f"net of {len(o.intents)} symphony intent(s)",
                               "submitted_at": None, "filled_qty": None, "filled_avg_price": None,
                               "ref_price": o.price})
            for i in o.intents:
                intent_rows.append(_intent_row(account_id, session, i, o.client_order_id, "order"))
        for disposition, groups in (("crossed", plan.crossed), ("skipped", plan.skipped)):
            for group in groups.values():
                for i in group:
                    intent_rows.append(_intent_row(account_id, session, i, None, disposition))
    n = wh.replace("orders", pd.DataFrame(order_rows), where={"session_date": session})
    wh.replace("order_intents", pd.DataFrame(intent_rows), where={"session_date": session})
    return dg.MaterializeResult(metadata={"orders_planned": n, "intents": len(intent_rows),
                                          "symphonies_holding": len(holding)})


def _intent_row(account_id, session, i, cid, disposition) -> dict:
    return {"account_id": account_id, "symphony_id": i.symphony_id, "session_date": session, "ticker": i.ticker,
            "delta_qty": i.delta_qty, "ref_price": i.price, "liquidate": bool(i.liquidate),
            "client_order_id": cid, "disposition": disposition}


def _account_nav_change(book: SessionBook, syms: list[tuple[dict, Root]]) -> float | None:
    """The account's loss since the last close (fraction, > 0 = loss), valuing today's ledgers at today's prices."""
    prev_total, now_total = 0.0, 0.0
    for row, _root in syms:
        holdings, cash, has_traded = book.ledger(row)
        last = book.nav_before(row["symphony_id"]) if has_traded else None
        if last is None:
            continue
        prices = book.prices(sorted(holdings))
        prev_total += last
        now_total += cash + sum(q * prices[t] for t, q in holdings.items())
    if prev_total <= 0:
        return None
    return 1.0 - now_total / prev_total


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[order_plan], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def submitted_orders(context: dg.AssetExecutionContext, broker: BrokerResource,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Send the session's planned orders, each exactly once, through the account's broker; record the outcome.

    Risk gates per account (``accounts`` row): ``dry_run`` records orders as ``dry_run`` and sends nothing;
    ``max_order_notional_usd`` blocks larger orders; ``daily_loss_kill_pct`` blocks new buys once the account has
    lost more than that fraction since the last close. Before every submission the client order id is looked up
    at the broker (``engine.broker.send_exactly_once``), so a re-run after a crash, or a retry after a lost answer,
    never sends an order twice. Rejections are recorded with the broker's reason.
    """
    session = partition_session(context)
    wh = warehouse.open()
    planned = wh.read("orders", where={"session_date": session})
    accounts = _accounts(wh)
    by_acct = _by_account(tradable_symphonies(wh))
    book = SessionBook(wh, session)
    sent = created = blocked = 0
    out_rows = []
    for account_id, rows in planned.groupby("account_id", sort=True):
        settings = accounts.get(account_id, {})
        dry = bool(settings.get("dry_run") or False)
        limit = settings.get("max_order_notional_usd")
        limit = None if limit is None or pd.isna(limit) else float(limit)
        kill = settings.get("daily_loss_kill_pct")
        kill = None if kill is None or pd.isna(kill) else float(kill)
        loss = _account_nav_change(book, by_acct.get(account_id, [])) if kill is not None else None
        buys_blocked = kill is not None and loss is not None and loss > kill
        if buys_blocked:
            context.log.warning(f"{account_id}: kill switch — lost {loss:.2%} since the last close "
                                f"(limit {kill:.2%}); no new buys")
        ref = {r["ticker"]: float(r["ref_price"]) for r in rows.to_dict("records")}
        acct_broker = None if dry else broker.for_account(account_id, wh, ref, session)
        records = sorted(rows.to_dict("records"), key=lambda r: (r["side"] != "sell", r["ticker"]))
        for r in records:
            notional = None if pd.isna(r["notional_usd"]) else float(r["notional_usd"])
            qty = None if pd.isna(r["qty"]) else float(r["qty"])
            value = notional if notional is not None else qty * float(r["ref_price"])
            reason = None
            if dry:
                status, reason = "dry_run", "dry-run account: planned, not sent"
            elif limit is not None and value > limit:
                status, reason = "blocked", f"order value {value:,.2f} USD above the limit {limit:,.2f} USD"
            elif buys_blocked and r["side"] == "buy":
                status, reason = "blocked", f"kill switch: account lost {loss:.2%} since the last close"
            else:
                status = None
            if status is not None:
                blocked += status == "blocked"
                out_rows.append({**r, "status": status, "reason": reason})
                continue
            req = OrderRequest(r["client_order_id"], r["ticker"], r["side"], notional_usd=notional, qty=qty)
            before = acct_broker.get_order(req.client_order_id)
            sender = getattr(acct_broker, "submit_exactly_once", None)   # a broker's own back-off loop
            result = sender(req) if sender is not None else send_exactly_once(acct_broker, req)
            sent += 1
            created += before is None
            out_rows.append({**r, "status": result.status, "broker_order_id": result.broker_order_id,
                             "reason": result.reason or r["reason"], "submitted_at": result.submitted_at or _now(),
                             "filled_qty": result.filled_qty, "filled_avg_price": result.filled_avg_price})
    wh.replace("orders", pd.DataFrame(out_rows), where={"session_date": session})
    wh.replace("fills", pd.DataFrame(_fill_rows(out_rows, session)), where={"session_date": session})
    return dg.MaterializeResult(metadata={"orders_recorded": len(out_rows), "orders_sent": sent,
                                          "new_at_broker": created, "blocked": blocked,
                                          "unique_client_ids": len({r["client_order_id"] for r in out_rows})})


def _fill_rows(order_rows: list[dict], session: dt.date, filled_at: dt.datetime | None = None) -> list[dict]:
    """One ``fills`` row per recorded order with a positive filled quantity (the broker's aggregate fill).

    ``filled_at`` defaults to the order's submission time (the fill is immediate for market orders).
    """
    out = []
    for r in order_rows:
        qty = r.get("filled_qty")
        if qty is None or pd.isna(qty) or float(qty) <= 0:
            continue
        price = float(r["filled_avg_price"]) if r.get("filled_avg_price") is not None and \
            not pd.isna(r["filled_avg_price"]) else 0.0
        out.append({"fill_id": f"{r['client_order_id']}-fill", "client_order_id": r["client_order_id"],
                    "account_id": r["account_id"], "symphony_id": NET, "session_date": session,
                    "ticker": r["ticker"], "side": r["side"], "qty": float(qty), "price": price,
                    "notional_usd": float(qty) * price, "filled_at": filled_at or r.get("submitted_at") or _now()})
    return out


OPEN_STATUSES = ("new", "accepted", "partially_filled", "pending_new", "accepted_for_bidding")


def _refresh_open_orders(context, broker: BrokerResource, wh: Warehouse, session: dt.date,
                         rows: pd.DataFrame) -> pd.DataFrame:
    """Ask the broker again about the session's orders that were still open when recorded (fills can arrive
    after the submission step): their status, filled quantity and average price are updated in ``orders`` and
    ``fills``. Re-materialising ``positions`` after the close therefore picks up late fills."""
    open_rows = rows[rows["status"].isin(OPEN_STATUSES)]
    if open_rows.empty:
        return rows
    brokers: dict[str, object] = {}
    rows = rows.copy()
    for idx, r in open_rows.iterrows():
        acct = r["account_id"]
        if acct not in brokers:
            brokers[acct] = broker.for_account(acct, wh, {}, session)
        now = brokers[acct].get_order(r["client_order_id"])
        if now is None:
            continue
        rows.loc[idx, ["status", "filled_qty", "filled_avg_price"]] = [now.status, now.filled_qty,
                                                                       now.filled_avg_price]
        context.log.info(f"{r['client_order_id']}: {r['status']} → {now.status}, filled {now.filled_qty}")
    wh.replace("orders", rows, where={"session_date": session})
    wh.replace("fills", pd.DataFrame(_fill_rows(rows.to_dict("records"), session, filled_at=_now())),
               where={"session_date": session})
    return rows


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[submitted_orders], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def positions(context: dg.AssetExecutionContext, broker: BrokerResource,
              warehouse: WarehouseResource) -> dg.MaterializeResult:
    """End-of-session ledgers of every symphony (shares and ``$USD`` cash) after its share of the fills.

    Each ticker's broker fill is split among the symphonies behind the netted order and crossed intents change
    hands at the reference price (engine.netting.attribute). With an external broker, the sum of the ledgers is
    reconciled against the broker's positions (differences logged and returned as metadata).
    """
    session = partition_session(context)
    wh = warehouse.open()
    intents = wh.read("order_intents", where={"session_date": session})
    order_rows = wh.read("orders", where={"session_date": session})
    if broker.reconciles():
        order_rows = _refresh_open_orders(context, broker, wh, session, order_rows)
    orders = {r["client_order_id"]: r for r in order_rows.to_dict("records")}
    ledgers: dict[str, tuple[dict[str, float], float]] = {}
    rows_meta: dict[str, dict] = {}
    book = SessionBook(wh, session)
    syms = tradable_symphonies(wh)
    for row, _root in syms:
        holdings, cash, _ = book.ledger(row)
        ledgers[row["symphony_id"]] = (holdings, cash)
        rows_meta[row["symphony_id"]] = row
    for (cid, ticker), group in intents.groupby([intents["client_order_id"].fillna(""), "ticker"], sort=True):
        recs = group.to_dict("records")
        if recs[0]["disposition"] == "skipped":
            continue
        its = tuple(SymphonyIntent(r["symphony_id"], r["ticker"], float(r["delta_qty"]), float(r["ref_price"]),
                                   bool(r["liquidate"])) for r in recs)
        o = orders.get(cid) if cid else None
        filled = float(o["filled_qty"]) if o is not None and o["filled_qty"] is not None and \
            not pd.isna(o["filled_qty"]) else 0.0
        price = float(o["filled_avg_price"]) if filled else None
        for m in attribute(its, filled, price, its[0].price):
            if m.symphony_id not in ledgers:
                continue
            h, c = ledgers[m.symphony_id]
            h = dict(h)
            h[m.ticker] = h.get(m.ticker, 0.0) + m.qty
            if abs(h[m.ticker]) < 1e-9:
                del h[m.ticker]
            ledgers[m.symphony_id] = (h, c + m.cash_usd)
    out = []
    for sid, (holdings, cash) in sorted(ledgers.items()):
        row = rows_meta[sid]
        prices = book.prices(sorted(holdings))
        for t, q in sorted(holdings.items()):
            out.append({"account_id": row["account_id"], "symphony_id": sid, "session_date": session, "ticker": t,
                        "qty": q, "price": prices[t], "market_value_usd": q * prices[t]})
        out.append({"account_id": row["account_id"], "symphony_id": sid, "session_date": session, "ticker": CASH,
                    "qty": cash, "price": 1.0, "market_value_usd": cash})
    n = wh.replace("positions", pd.DataFrame(out), where={"session_date": session})
    meta: dict = {"position_rows": n}
    if broker.reconciles():
        diffs = []
        for account_id, acct_syms in _by_account(syms).items():
            ours: dict[str, float] = {}
            for row, _ in acct_syms:
                for t, q in ledgers[row["symphony_id"]][0].items():
                    ours[t] = ours.get(t, 0.0) + q
            theirs = broker.for_account(account_id, wh, {}, session).account().positions
            for t in sorted(set(ours) | set(theirs)):
                if abs(ours.get(t, 0.0) - theirs.get(t, 0.0)) > 1e-6:
                    diffs.append(f"{account_id} {t}: ledgers {ours.get(t, 0.0):.6f} vs broker {theirs.get(t, 0.0):.6f}")
        for d in diffs:
            context.log.warning(f"reconciliation: {d}")
        meta["reconciliation_differences"] = len(diffs)
        meta["reconciliation"] = "; ".join(diffs) or "ledgers match the broker"
    return dg.MaterializeResult(metadata=meta)


@dg.asset(partitions_def=sessions_partitions, group_name="performance", deps=[positions], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def daily_nav(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each symphony's NAV (USD) at the session close and its daily return (fraction)."""
    session = partition_session(context)
    wh = warehouse.open()
    pos = wh.read("positions", where={"session_date": session})
    book = SessionBook(wh, session)
    by_sid = {sid: g for sid, g in pos.groupby("symphony_id")}
    rows = []
    for row, _root in tradable_symphonies(wh):
        sid = row["symphony_id"]
        mine = by_sid.get(sid, pos.iloc[0:0])
        if mine.empty:
            continue
        nav = float(mine["market_value_usd"].sum())
        cash = float(mine.loc[mine["ticker"] == CASH, "market_value_usd"].sum())
        last = book.nav_before(sid)
        base = last if last is not None else float(row.get("capital_usd") or 10_000.0)
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
    navs = wh.read("daily_nav", where={"session_date": Between(None, session)},
                   columns=["symphony_id", "session_date", "nav_usd"]).sort_values(["symphony_id", "session_date"])
    by_sid = {sid: g for sid, g in navs.groupby("symphony_id")}
    for row, _root in tradable_symphonies(wh):
        hist = by_sid.get(row["symphony_id"])
        if hist is None or hist.empty:
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
DAILY_CHECKS = [daily_bars_complete, calendar_matches_broker]

__all__ = ["DAILY_ASSETS", "DAILY_CHECKS", "BundledMarketData"]
