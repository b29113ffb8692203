"""The daily graph, one partition per NYSE session: bars → indicators → allocations → orders → positions → NAV.

Assets are thin: they read inputs from the warehouse (``warehouse.repos``), call engine functions and write their
rows back scoped to the session, so re-running a session replaces that session's rows. The hand-off between
assets is the warehouse itself (no IO manager), which is also what the dashboard reads.

Sessions are path-dependent (each session's ledgers start from the previous session's): runs queue one at a time
(:data:`pipelines.jobs.SERIAL_TAG`), ``order_plan`` fails a run launched while an earlier session is queued or
running, and refuses an account whose previous session is not complete (check ``previous_session_complete``).
Live controls (:mod:`warehouse.repos.controls`: go to cash until the next rebalance, skip the next rebalance) act
in ``order_plan``, through the same session plan the preview uses.

Failure isolation: a symphony that fails anywhere — parse of its stored row (:func:`engine.stored.load_stored`),
a missing price or indicator, evaluation, order planning — fails alone: its target is cash, its ``symphony_runs``
row is ``failed`` with the reason (naming the ticker, node or field), and every other symphony trades. An
account whose broker calls fail (retries exhausted, broker down) has its unanswered orders marked ``failed``
with the reason; no other account's orders or records change.
"""

import datetime as dt
import functools
import json

import dagster as dg
import numpy as np
import pandas as pd

from engine.broker import BrokerError, OrderRequest
from engine.calendar import previous_session, session_close
from engine.evaluate import CASH, IndicatorCache, root_tickers
from engine.ledger import Ledger, OrderOutcome, settle
from engine.metrics import composer_stats
from engine.model import Root, indicator_refs
from engine.netting import NET, SymphonyIntent
from engine.risk import RiskLimits, account_loss, gate
from engine.stored import load_stored
from pipelines.partitions import partition_session, sessions_partitions
from resources import BrokerResource, BundledMarketData, MarketDataResource, WarehouseResource
from warehouse import Between, Warehouse
from warehouse.repos import bars as bar_repo, controls as control_repo, ledgers, orders as order_repo
from warehouse.repos import audit, symphonies as symphony_repo
from warehouse.prices import close_reader
from warehouse.repos.ledgers import SessionBook
from warehouse.scope import ALL_ACCOUNTS

BENCHMARK = "SPY"
EARLIEST = dt.date(1900, 1, 1)
PARSE_ERROR = "parse_error"   # key of a roster row whose stored tree cannot be used (root None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@functools.lru_cache(maxsize=8192)
def _model(parsed_json: str) -> Root:
    """The stored model, parsed and bound-checked once per process (models are immutable, so sharing is safe)."""
    return load_stored(parsed_json)


def _roster(wh: Warehouse) -> list[tuple[dict, Root | None]]:
    """Active symphonies as ``(row, model)``, ordered by account and id; ``model`` is None (and
    ``row[PARSE_ERROR]`` the reason) when the stored row cannot be parsed or breaks today's bounds."""
    df = symphony_repo.active(wh, ALL_ACCOUNTS)
    out: list[tuple[dict, Root | None]] = []
    for row in df.sort_values(["account_id", "symphony_id"]).to_dict("records"):
        try:
            out.append((row, _model(row["parsed_json"])))
        except Exception as exc:  # a row stored before validation was bounded fails alone
            out.append(({**row, PARSE_ERROR: f"parse of stored row: {type(exc).__name__}: {exc}"}, None))
    return out


def active_symphonies(wh: Warehouse) -> list[tuple[dict, Root]]:
    """Active symphonies whose stored tree parses, as ``(row, parsed model)`` pairs, ordered by account and id."""
    return [(row, root) for row, root in _roster(wh) if root is not None]


MAX_ACTIVE_SYMPHONIES = 40


def split_by_limit(wh: Warehouse) -> tuple[list[tuple[dict, Root | None]], list[tuple[dict, str]]]:
    """Active symphonies that trade, and those over their account's limit (with the reason).

    Each account trades at most ``max_active_symphonies`` (default 40, as Composer) active symphonies, the
    earliest registered first (then by id); the others are reported and not evaluated. A traded symphony whose
    stored row does not parse comes with model None (see :func:`_roster`): it goes to cash.
    """
    limits = {a: (int(r["max_active_symphonies"]) if r.get("max_active_symphonies") is not None
                  and not pd.isna(r["max_active_symphonies"]) else MAX_ACTIVE_SYMPHONIES)
              for a, r in _accounts(wh).items()}
    trade, over = [], []
    for account_id, syms in sorted(_by_account(_roster(wh)).items()):
        limit = limits.get(account_id, MAX_ACTIVE_SYMPHONIES)
        ordered = sorted(syms, key=lambda s: (str(s[0].get("created_at")), s[0]["symphony_id"]))
        trade.extend(ordered[:limit])
        over.extend((row, f"account {account_id} has more than {limit} active symphonies; this one is not traded")
                    for row, _ in ordered[limit:])
    return trade, over


def tradable_symphonies(wh: Warehouse) -> list[tuple[dict, Root | None]]:
    """The active symphonies that trade today (see :func:`split_by_limit`; model None = unparseable row)."""
    return split_by_limit(wh)[0]


def needed_tickers(symphonies: list[tuple[dict, Root | None]]) -> list[str]:
    """Every ticker read or held by the active symphonies, plus the benchmark."""
    out = {BENCHMARK}
    for _, root in symphonies:
        if root is not None:
            out |= root_tickers(root)
    return sorted(out)


def _closes_until(wh: Warehouse, tickers: list[str], session: dt.date) -> pd.DataFrame:
    """Adjusted closes (session × ticker, USD) up to the session through the one price reader
    (:func:`warehouse.prices.close_reader`, warehouse source, its gap rule). Tickers the warehouse has never
    stored are left out: the symphonies that need them fail by name in :func:`_evaluate_one`."""
    reader = close_reader("warehouse", warehouse=wh)
    known = reader.available_tickers()
    return reader.closes([t for t in tickers if t in known], end=session)


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
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(written),
                                          "rows_written": written, "tickers": len(tickers),
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
    days, unread = None, []
    for account_id in accounts:   # the first account whose broker answers (one bad credential is not the market)
        try:
            days = broker.connect(account_id, wh, {}, session).calendar(session, session)
            break
        except Exception as exc:  # noqa: BLE001 - reported in the check, never a failed run
            unread.append(f"{account_id}: {type(exc).__name__}: {exc}")
    if days is None:
        context.log.warning(f"broker calendar not read from any account: {'; '.join(unread)}")
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"session": str(session), "compared": "no (no account's broker "
                                             "answered)", "errors": "; ".join(unread)[:2_000]})
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
    refs = sorted({r for _, root in syms if root is not None for r in indicator_refs(root)},
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
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n), "indicators": n,
                                          "undefined": int(df["value"].isna().sum())})


def _run_row(row: dict, session: dt.date, status: str, reason: str | None) -> dict:
    return {"account_id": row["account_id"], "symphony_id": row["symphony_id"], "session_date": session,
            "status": status, "reason": reason, "evaluated_at": _now()}


def _evaluate_one(root: Root | None, row: dict, cache: IndicatorCache, session: dt.date):
    """``(weights, trace entries)`` of one symphony on the session (:func:`warehouse.repos.controls.evaluate_on`,
    the evaluation the preview uses too).

    Raises:
        ValueError: naming the parse error, the tickers without a price on the session, or the undefined
            indicator; any evaluation error propagates (the caller fails this symphony alone).
    """
    return control_repo.evaluate_on(root, cache, session, row.get(PARSE_ERROR))


@dg.asset(partitions_def=sessions_partitions, group_name="strategy", deps=[indicator_values], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def target_allocations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Target weights and decision trace of every active symphony on the session.

    A symphony that cannot be evaluated (its stored row does not parse, a ticker has no price, warm-up not done,
    any error) gets an all-cash target and a ``failed`` run row with the reason; the others are unaffected.
    """
    session = partition_session(context)
    wh = warehouse.open()
    syms, over_limit = split_by_limit(wh)
    cache = IndicatorCache(_closes_until(wh, needed_tickers(syms), session))
    alloc_rows, trace_rows, run_rows = [], [], [_run_row(row, session, "skipped", why) for row, why in over_limit]
    for row, root in syms:
        sid, acct = row["symphony_id"], row["account_id"]
        try:
            weights, trace = _evaluate_one(root, row, cache, session)
            status, reason = "ok", None
        except Exception as exc:  # one symphony's failure must not stop the others
            weights, trace = {}, []
            status, reason = "failed", (str(exc) if root is None else f"{type(exc).__name__}: {exc}")
            context.log.warning(f"symphony {sid} failed on {session}: {reason}; target is cash")
        trace_rows += [{"account_id": acct, "symphony_id": sid, "session_date": session, "seq": seq,
                        "node_path": e["node_path"], "node_type": e["node_type"], "summary": e["summary"],
                        "detail_json": json.dumps(e["detail"])} for seq, e in enumerate(trace)]
        weights = dict(weights)
        cash = max(0.0, 1.0 - sum(weights.values()))
        if cash > 1e-9:
            weights[CASH] = cash
        alloc_rows += [{"account_id": acct, "symphony_id": sid, "session_date": session, "ticker": t,
                        "target_weight": float(w)} for t, w in sorted(weights.items())]
        run_rows.append(_run_row(row, session, status, reason))
    n = wh.replace("target_allocations", pd.DataFrame(alloc_rows), where={"session_date": session})
    wh.replace("decision_traces", pd.DataFrame(trace_rows), where={"session_date": session})
    wh.replace("symphony_runs", pd.DataFrame(run_rows), where={"session_date": session})
    failed = [r["symphony_id"] for r in run_rows if r["status"] == "failed"]
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n),
                                          "symphonies": len(run_rows), "failed": len(failed),
                                          "failed_ids": ", ".join(failed) or "none"})


def _accounts(wh: Warehouse) -> dict[str, dict]:
    """Account rows (with risk settings) by id."""
    return {r["account_id"]: r for r in wh.read("accounts").to_dict("records")}


def _by_account(syms: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for row, root in syms:
        out.setdefault(row["account_id"], []).append((row, root))
    return out


def _earlier_sessions_in_flight(context: dg.AssetExecutionContext, session: dt.date) -> list[str]:
    """Runs of ``daily_trading`` for an earlier session that are queued or running (other than this run)."""
    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=context.run.job_name, statuses=active))
    out = []
    for rec in records:
        run, key = rec.dagster_run, rec.dagster_run.tags.get("dagster/partition")
        if run.run_id != context.run.run_id and key and key < session.isoformat():
            out.append(f"{key} (run {run.run_id[:8]}, {run.status.value})")
    return sorted(out)


def _refuse_out_of_order(context: dg.AssetExecutionContext, session: dt.date) -> None:
    """Fail the run, before any order is planned, when an earlier session's run is still queued or running.

    Raises:
        dagster.Failure: naming the earlier sessions and their runs.
    """
    earlier = _earlier_sessions_in_flight(context, session)
    if earlier:
        raise dg.Failure(description=f"session {session} refuses to trade: earlier session(s) not finished: "
                                     f"{', '.join(earlier)}. Sessions trade in date order (ledgers carry from one "
                                     f"session to the next); re-run {session} once they have finished.",
                         allow_retries=False)


def _refused_symphonies(wh: Warehouse, session: dt.date) -> set[str]:
    """Symphonies the session's order_plan refused (previous session not complete): no ledger or NAV moves."""
    runs = wh.read("symphony_runs", where={"session_date": session, "status": "skipped"},
                   columns=["symphony_id", "reason"])
    return {r["symphony_id"] for r in runs.to_dict("records")
            if str(r["reason"] or "").startswith(control_repo.REFUSED)}


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[target_allocations], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def order_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One order per account and ticker: every symphony's wanted change netted (engine.netting), sells first.

    Sessions are path-dependent: the run fails when an earlier session's run is still queued or running, and an
    account whose previous session is not complete (:func:`warehouse.repos.controls.previous_session_gaps`) plans
    nothing — its symphonies are ``skipped`` in ``symphony_runs`` with the reason, the others trade. Each
    symphony's rebalance rule decides whether its ledger trades today (daily; first session of the week, month,
    quarter or year; threshold corridor), as in the backtest, and its live control acts on that decision
    (:mod:`warehouse.repos.controls`: go to cash, skip the next rebalance). Symphonies on opposite sides of a
    ticker are crossed inside the account; only the net goes to the broker. Orders are written ``planned`` with
    their deterministic client ids before anything is sent (rows a broker already answered are kept), and the
    per-symphony intents behind them to ``order_intents``. A symphony whose planning fails plans nothing and is
    marked failed in ``symphony_runs``; the others are planned.
    """
    session = partition_session(context)
    _refuse_out_of_order(context, session)
    wh = warehouse.open()
    targets = wh.read("target_allocations", where={"session_date": session})
    weights_of = {sid: {r["ticker"]: float(r["target_weight"]) for r in g.to_dict("records") if r["ticker"] != CASH}
                  for sid, g in targets.groupby("symphony_id")}
    syms, book = tradable_symphonies(wh), SessionBook(wh, session)
    refused = control_repo.previous_session_gaps(wh, session, syms)
    acting = control_repo.acting_on(wh, session)
    before = control_repo.previous_targets(wh, session, [s for s, c in acting.items()
                                                         if c["control"] == "cash_until_rebalance"])
    order_rows, intent_rows, run_rows, transitions, applied = [], [], [], [], []
    for account_id, acct_syms in sorted(_by_account(syms).items()):
        if account_id in refused:
            context.log.error(f"{account_id}: {refused[account_id]}")
            run_rows += [_run_row(row, session, "skipped", refused[account_id]) for row, _ in acct_syms]
            continue
        acct = control_repo.plan_account_session(account_id, acct_syms, weights_of, book, session, acting, before)
        for row, _ in acct_syms:
            sid = row["symphony_id"]
            if sid in acct.failed:
                run_rows.append(_run_row(row, session, "failed", acct.failed[sid]))
                context.log.warning(f"{sid}: {acct.failed[sid]}")
            else:
                context.log.info(f"{sid}: {acct.whys[sid]}")
                applied += [f"{sid}: {acct.whys[sid]}"] if sid in acting else []
        transitions += acct.transitions
        order_rows += [_order_row(account_id, session, o) for o in acct.plan.orders]
        intent_rows += [_intent_row(account_id, session, i, o.client_order_id, "order")
                        for o in acct.plan.orders for i in o.intents]
        intent_rows += [_intent_row(account_id, session, i, None, disposition)
                        for disposition, groups in (("crossed", acct.plan.crossed), ("skipped", acct.plan.skipped))
                        for group in groups.values() for i in group]
    n = order_repo.replace_plan(wh, session, order_rows)
    wh.replace("order_intents", pd.DataFrame(intent_rows), where={"session_date": session})
    if run_rows:
        wh.upsert("symphony_runs", pd.DataFrame(run_rows), ["symphony_id", "session_date"])
    control_repo.apply_transitions(wh, transitions)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(n), "orders_planned": n, "intents": len(intent_rows),
        "planning_failed": sum(r["status"] == "failed" for r in run_rows),
        "refused_accounts": "; ".join(f"{a}: {why}" for a, why in refused.items()) or "none",
        "live_controls": "; ".join(applied) or "none"})


@dg.asset_check(asset=order_plan, blocking=False,
                description="The previous session is complete for every account (sessions trade in date order).")
def previous_session_complete(context: dg.AssetCheckExecutionContext,
                              warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Fails (ERROR, not blocking: the other accounts still trade) when order_plan refused an account because its
    previous session is not complete, naming the accounts, the symphonies and what is missing."""
    tag = context.run.tags.get("dagster/partition")
    runs = warehouse.open().read("symphony_runs", where={"session_date": dt.date.fromisoformat(tag),
                                                         "status": "skipped"}) if tag else pd.DataFrame()
    refused = sorted({f"{r['account_id']}: {r['reason']}" for r in runs.to_dict("records")
                      if str(r["reason"] or "").startswith(control_repo.REFUSED)}) if len(runs) else []
    return dg.AssetCheckResult(passed=not refused, metadata={"refused_accounts": len(refused),
                                                             "reasons": "; ".join(refused) or "none"})


def _order_row(account_id: str, session: dt.date, o) -> dict:
    return {"client_order_id": o.client_order_id, "account_id": account_id, "symphony_id": NET,
            "session_date": session, "ticker": o.ticker, "side": o.side, "notional_usd": o.notional_usd,
            "qty": o.qty, "status": "planned", "broker_order_id": None,
            "reason": f"net of {len(o.intents)} symphony intent(s)", "submitted_at": None, "filled_qty": None,
            "filled_avg_price": None, "ref_price": o.price}


def _intent_row(account_id, session, i, cid, disposition) -> dict:
    return {"account_id": account_id, "symphony_id": i.symphony_id, "session_date": session, "ticker": i.ticker,
            "delta_qty": i.delta_qty, "ref_price": i.price, "liquidate": bool(i.liquidate),
            "client_order_id": cid, "disposition": disposition}


def _account_loss(book: SessionBook, syms: list) -> float | None:
    """The account's loss since the last close (fraction, > 0 = loss), its ledgers valued at today's prices."""
    navs = []
    for row, _root in syms:
        led, has_traded = book.book(row)
        last = book.nav_before(row["symphony_id"]) if has_traded else None
        navs.append((last, led.nav(book.prices(sorted(led.holdings))) if last is not None else 0.0))
    return account_loss(navs)


def _submit_account(context, acct, wh: Warehouse, rows: list[dict], limits: RiskLimits,
                    loss: float | None, connect_error: str | None) -> dict[str, int]:
    """Send one account's planned orders in turn (sells first), recording each one as its answer arrives.

    A gated order (dry run, size limit, kill switch) is recorded with its reason and not sent. Once the account's
    broker fails (retries exhausted, down), every order not yet answered is recorded ``failed`` with the reason
    and nothing more is sent for this account. Orders answered by an earlier run are not sent again.
    """
    counts = {"sent": 0, "new_at_broker": 0, "blocked": 0, "failed": 0, "already_recorded": 0}
    failure = connect_error
    # claimed now (committed before any send) = never tried by any run: the first send needs no look-up
    claimed = order_repo.claim_first_attempts(wh, rows[0]["session_date"], rows[0]["account_id"], [
        r["client_order_id"] for r in rows if not order_repo.answered(r)]) if rows and failure is None else set()
    for r in sorted(rows, key=lambda r: (r["side"] != "sell", r["ticker"])):
        if order_repo.answered(r):
            counts["already_recorded"] += 1
            continue
        notional = None if pd.isna(r["notional_usd"]) else float(r["notional_usd"])
        qty = None if pd.isna(r["qty"]) else float(r["qty"])
        held = gate(limits, r["side"], notional if notional is not None else qty * float(r["ref_price"]), loss)
        if held is not None:
            order_repo.record(wh, r, status=held[0], reason=held[1])
            counts["blocked"] += held[0] == "blocked"
            continue
        if failure is None:
            try:
                created = acct.created
                result = acct.submit(OrderRequest(r["client_order_id"], r["ticker"], r["side"], notional, qty),
                                     first_attempt=r["client_order_id"] in claimed)
                counts["sent"] += 1
                counts["new_at_broker"] += acct.created - created
                order_repo.record(wh, r, status=result.status, reason=result.reason,
                                  broker_order_id=result.broker_order_id, submitted_at=result.submitted_at or _now(),
                                  filled_qty=result.filled_qty, filled_avg_price=result.filled_avg_price)
                continue
            except BrokerError as exc:
                failure = f"account {r['account_id']}: broker failed: {exc}"
                context.log.error(failure)
        order_repo.record(wh, r, status="failed", reason=failure)
        counts["failed"] += 1
    return counts


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[order_plan], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def submitted_orders(context: dg.AssetExecutionContext, broker: BrokerResource,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Send the session's planned orders, each exactly once, through the account's broker; record each outcome
    as soon as the broker answers it.

    Risk gates per account (:mod:`engine.risk`). Every broker call goes through the resource's one retry policy
    (:meth:`BrokerResource.connect`). Each account's unanswered orders are first claimed in the warehouse
    (:func:`warehouse.repos.orders.claim_first_attempts`); an order claimed by an earlier run, and every retry, is
    looked up by its client order id before it is sent, so a re-run after a crash, or a retry after a lost
    answer, never sends an order twice. Rejections are recorded with the
    broker's reason. An account whose broker fails has its unanswered orders ``failed`` (with the reason); the
    other accounts trade as if it did not exist.
    """
    session = partition_session(context)
    wh = warehouse.open()
    planned = order_repo.session_orders(wh, session)
    accounts, by_acct, book = _accounts(wh), _by_account(tradable_symphonies(wh)), SessionBook(wh, session)
    totals: dict[str, int] = {}
    failed_accounts = []
    for account_id, rows in planned.groupby("account_id", sort=True):
        limits = RiskLimits.from_row(accounts.get(account_id))
        loss = _account_loss(book, by_acct.get(account_id, [])) if limits.daily_loss_kill_pct is not None else None
        if loss is not None and limits.daily_loss_kill_pct is not None and loss > limits.daily_loss_kill_pct:
            context.log.warning(f"{account_id}: kill switch — lost {loss:.2%} since the last close; no new buys")
            audit.record(wh, action="kill_switch_tripped", actor="system", role="system", account_id=account_id,
                         target=session.isoformat(), origin="dagster",   # read by pipelines.sensors
                         detail=f"lost {loss:.2%} since the last close (limit {limits.daily_loss_kill_pct:.2%})")
        acct, error = None, None
        if not limits.dry_run:
            try:
                acct = broker.connect(account_id, wh, {r["ticker"]: float(r["ref_price"])
                                                       for r in rows.to_dict("records")}, session)
            except Exception as exc:   # no keys, refused endpoint: this account fails alone
                error = f"account {account_id}: broker unavailable: {type(exc).__name__}: {exc}"
                context.log.error(error)
        with wh.pinned():   # one connection for this account's per-order records (each still its own transaction)
            counts = _submit_account(context, acct, wh, rows.to_dict("records"), limits, loss, error)
        if counts["sent"] or counts["blocked"] or counts["failed"]:
            audit.record(wh, action="order_batch_submitted", actor="system", role="system", account_id=account_id,
                         target=session.isoformat(), origin="dagster",
                         detail=f"{counts['sent']} sent ({counts['new_at_broker']} new at the broker), "
                                f"{counts['blocked']} blocked, {counts['failed']} failed")
        failed_accounts += [account_id] if counts["failed"] else []
        totals = {k: totals.get(k, 0) + v for k, v in counts.items()}
    recorded = order_repo.session_orders(wh, session)
    order_repo.replace_fills(wh, session, recorded.to_dict("records"))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(len(recorded)), "orders_recorded": len(recorded),
        "orders_sent": totals.get("sent", 0),
        "new_at_broker": totals.get("new_at_broker", 0), "blocked": totals.get("blocked", 0),
        "failed": totals.get("failed", 0), "already_recorded": totals.get("already_recorded", 0),
        "failed_accounts": ", ".join(failed_accounts) or "none",
        "unique_client_ids": int(recorded["client_order_id"].nunique())})


@dg.asset_check(asset=submitted_orders, blocking=False,
                description="Every planned order of the session has a broker answer (none planned or failed).")
def orders_answered(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """WARN when an account's orders are still ``planned`` or ``failed`` (its broker failed): re-running the
    session later sends them exactly once (or finds them, if the broker had accepted them)."""
    tag = context.run.tags.get("dagster/partition")
    rows = order_repo.session_orders(warehouse.open(), dt.date.fromisoformat(tag)) if tag else pd.DataFrame()
    bad = rows[rows["status"].isin(sorted(order_repo.UNANSWERED))] if len(rows) else rows
    reasons = sorted({f"{r['account_id']}: {r['reason']}" for r in bad.to_dict("records")}) if len(bad) else []
    return dg.AssetCheckResult(passed=not reasons, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"unanswered": len(bad), "reasons": "; ".join(reasons) or "none"})


OPEN_STATUSES = ("new", "accepted", "partially_filled", "pending_new", "accepted_for_bidding")


def _refresh_open_orders(context, broker: BrokerResource, wh: Warehouse, session: dt.date,
                         rows: pd.DataFrame) -> pd.DataFrame:
    """Ask the broker again (with the retry policy) about the session's orders still open when recorded (fills
    can arrive after the submission step): status, filled quantity and average price are updated in ``orders``
    and ``fills``. An account whose broker fails keeps its recorded rows (logged). Re-materialising
    ``positions`` after the close therefore picks up late fills."""
    open_rows = rows[rows["status"].isin(OPEN_STATUSES)]
    if open_rows.empty:
        return rows
    rows = rows.copy()
    for acct_id, group in open_rows.groupby("account_id"):
        try:
            acct = broker.connect(acct_id, wh, {}, session)
            for idx, r in group.iterrows():
                now = acct.get_order(r["client_order_id"])
                if now is None:
                    continue
                rows.loc[idx, ["status", "filled_qty", "filled_avg_price"]] = [now.status, now.filled_qty,
                                                                               now.filled_avg_price]
                order_repo.record(wh, rows.loc[idx].to_dict(), status=now.status, reason=now.reason,
                                  broker_order_id=now.broker_order_id or r["broker_order_id"],
                                  submitted_at=r["submitted_at"], filled_qty=now.filled_qty,
                                  filled_avg_price=now.filled_avg_price)
                context.log.info(f"{r['client_order_id']}: {r['status']} → {now.status}, filled {now.filled_qty}")
        except Exception as exc:
            context.log.error(f"account {acct_id}: late fills not read ({type(exc).__name__}: {exc})")
    order_repo.replace_fills(wh, session, rows.to_dict("records"), filled_at=_now())
    return rows


def _settled_ledgers(wh: Warehouse, session: dt.date, syms: list, order_rows: pd.DataFrame,
                     book: SessionBook) -> dict[str, Ledger]:
    """Every tradable symphony's ledger after the session (engine.ledger.settle over the stored intents)."""
    intents = wh.read("order_intents", where={"session_date": session})
    intents = intents[intents["disposition"] != "skipped"]   # not sent, not crossed: no ledger moves
    groups = []
    for (cid, _ticker), g in intents.groupby([intents["client_order_id"].fillna(""), "ticker"], sort=True):
        recs = g.to_dict("records")
        groups.append((cid or None, tuple(SymphonyIntent(r["symphony_id"], r["ticker"], float(r["delta_qty"]),
                                                         float(r["ref_price"]), bool(r["liquidate"])) for r in recs)))
    outcomes = {r["client_order_id"]: OrderOutcome(float(r["filled_qty"]), float(r["filled_avg_price"]))
                for r in order_rows.to_dict("records")
                if not pd.isna(r["filled_qty"]) and float(r["filled_qty"]) > 0}
    return settle({row["symphony_id"]: book.book(row)[0] for row, _ in syms}, groups, outcomes)


def _reconcile(broker: BrokerResource, wh: Warehouse, session: dt.date, syms: list,
               settled: dict[str, Ledger]) -> list[str]:
    """Differences between each account's summed ledgers and the broker's positions (retried reads; an account
    whose broker cannot be read is one line saying so)."""
    diffs = []
    for account_id, acct_syms in _by_account(syms).items():
        ours: dict[str, float] = {}
        for row, _ in acct_syms:
            for t, q in settled[row["symphony_id"]].holdings.items():
                ours[t] = ours.get(t, 0.0) + q
        try:
            theirs = broker.connect(account_id, wh, {}, session).account().positions
        except Exception as exc:
            diffs.append(f"{account_id}: broker positions not read ({type(exc).__name__}: {exc})")
            continue
        diffs += [f"{account_id} {t}: ledgers {ours.get(t, 0.0):.6f} vs broker {theirs.get(t, 0.0):.6f}"
                  for t in sorted(set(ours) | set(theirs)) if abs(ours.get(t, 0.0) - theirs.get(t, 0.0)) > 1e-6]
    return diffs


@dg.asset(partitions_def=sessions_partitions, group_name="trading", deps=[submitted_orders], kinds={"python"},
          metadata={"partition_expr": "session_date"})
def positions(context: dg.AssetExecutionContext, broker: BrokerResource,
              warehouse: WarehouseResource) -> dg.MaterializeResult:
    """End-of-session ledgers of every symphony (shares and ``$USD`` cash) after its share of the fills.

    Each ticker's broker fill is split among the symphonies behind the netted order and crossed intents change
    hands at the reference price (:func:`engine.ledger.settle`). With an external broker, late fills are read
    first and the sum of the ledgers is reconciled against the broker's positions (differences logged and
    returned as metadata). The ledger invariant is checked by the ``ledgers_hold`` asset check.
    """
    session = partition_session(context)
    wh = warehouse.open()
    order_rows = order_repo.session_orders(wh, session)
    if broker.reconciles():
        order_rows = _refresh_open_orders(context, broker, wh, session, order_rows)
    book, syms = SessionBook(wh, session), tradable_symphonies(wh)
    settled = _settled_ledgers(wh, session, syms, order_rows, book)
    refused = _refused_symphonies(wh, session)   # previous session not complete: their ledgers do not move
    out = [p for row, _ in syms if row["symphony_id"] not in refused for p in ledgers.position_rows(
        row["account_id"], row["symphony_id"], session, settled[row["symphony_id"]],
        book.prices(sorted(settled[row["symphony_id"]].holdings)))]
    n = wh.replace("positions", pd.DataFrame(out), where={"session_date": session})
    meta: dict = {"dagster/row_count": dg.MetadataValue.int(n), "position_rows": n}
    if broker.reconciles():
        diffs = _reconcile(broker, wh, session, syms, settled)
        for d in diffs:
            context.log.warning(f"reconciliation: {d}")
        meta["reconciliation_differences"] = len(diffs)
        meta["reconciliation"] = "; ".join(diffs) or "ledgers match the broker"
    return dg.MaterializeResult(metadata=meta)


@dg.asset_check(asset=positions, blocking=False,
                description="No stored ledger holds a negative quantity or cash below −1 cent (engine.ledger).")
def ledgers_hold(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Fails (an ERROR, not blocking: the other ledgers still get their NAV) when a stored ledger of the session
    breaks the invariant of :mod:`engine.ledger`, naming the symphony, ticker and amount."""
    tag = context.run.tags.get("dagster/partition")
    bad = ledgers.stored_violations(warehouse.open(), dt.date.fromisoformat(tag), ALL_ACCOUNTS) if tag else []
    return dg.AssetCheckResult(passed=not bad, metadata={"violations": len(bad), "detail": "; ".join(bad) or "none"})


#: Freshness of the paper NAV (Dagster's freshness policy, evaluated by the daemon and shown on the asset): by 16:15
#: New York on weekdays, daily_nav was written within the last 3 h 30 min — by the 15:50 run, or the 12:50 run of an
#: early-close day. On an NYSE holiday there is no run and the asset shows as failing its freshness until the next
#: session's run.
NAV_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="15 16 * * 1-5",
                                        lower_bound_delta=dt.timedelta(hours=3, minutes=30),
                                        timezone="America/New_York")


@dg.asset(partitions_def=sessions_partitions, group_name="performance", deps=[positions], kinds={"python"},
          metadata={"partition_expr": "session_date"}, freshness_policy=NAV_FRESHNESS)
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
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n), "symphonies": n,
                                          "total_nav_usd": float(sum(r["nav_usd"] for r in rows)),
                                          "nav": dg.MetadataValue.md(nav_markdown(rows))})


def nav_markdown(rows: list[dict]) -> str:
    """The session's NAVs as a Markdown table (Dagster UI): account, symphony, NAV USD, cash USD, daily return %."""
    lines = ["| account | symphony | NAV (USD) | cash (USD) | daily return |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['account_id']} | {r['symphony_id']} | {r['nav_usd']:,.2f} | {r['cash_usd']:,.2f} | "
              f"{r['daily_return']:+.2%} |" for r in sorted(rows, key=lambda r: (r["account_id"], r["symphony_id"]))]
    return "\n".join(lines) if rows else "no NAV this session"


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
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n), "metric_rows": n})


#: Minutes after the trading time (close − 10 min) by which a session's NAV is expected in the warehouse.
NAV_GRACE_MINUTES = 25


def expected_nav_session(now: dt.datetime) -> dt.date:
    """The latest NYSE session whose NAV should be stored at ``now`` (aware): its trading time plus
    :data:`NAV_GRACE_MINUTES` has passed (weekends and holidays have none; early closes trade at 12:50)."""
    from engine.calendar import sessions_in_range, trading_time

    local = pd.Timestamp(now).tz_convert("America/New_York")
    grace = pd.Timedelta(minutes=NAV_GRACE_MINUTES)
    for day in reversed(sessions_in_range(local.date() - dt.timedelta(days=14), local.date())):
        if trading_time(day) + grace <= local:
            return day
    raise ValueError(f"no NYSE session in the 14 days before {local:%Y-%m-%d}")


@dg.asset_check(asset=daily_nav, blocking=False,
                description="The last session's NAV is in the warehouse for every symphony that traded it "
                            "(NYSE calendar: no alarm on weekends and holidays).")
def daily_nav_fresh(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Freshness of the paper NAV, by the NYSE calendar: at any time, the latest session whose trading time plus
    :data:`NAV_GRACE_MINUTES` has passed (:func:`expected_nav_session`) must have ``daily_nav`` rows for every
    tradable symphony registered before that trading time (symphonies refused or newer do not count as missing
    when the session has rows). Run by ``daily_nav_freshness`` (pipelines.jobs, 16:30 New York on weekdays),
    not inside the trading runs (a backfill of old sessions is not stale). Fails (ERROR) naming what is missing.
    """
    from engine.calendar import trading_time

    wh = warehouse.open()
    session = expected_nav_session(_now())
    navs = wh.read("daily_nav", columns=["symphony_id", "session_date"])
    have = set(navs.loc[navs["session_date"] == session, "symphony_id"])
    refused = _refused_symphonies(wh, session)
    cutoff = trading_time(session)
    due = sorted(row["symphony_id"] for row, _ in tradable_symphonies(wh)
                 if row["symphony_id"] not in refused and (row.get("created_at") is None
                                                          or pd.Timestamp(row["created_at"]) <= cutoff))
    missing = [sid for sid in due if sid not in have]
    latest = max(navs["session_date"]) if len(navs) else None
    return dg.AssetCheckResult(passed=not missing, metadata={
        "expected_session": session.isoformat(), "latest_nav_session": str(latest) if latest else "none",
        "symphonies_due": len(due), "missing": ", ".join(missing) or "none"})


FRESHNESS_CHECKS = [daily_nav_fresh]

DAILY_ASSETS = [daily_bars, indicator_values, target_allocations, order_plan, submitted_orders, positions, daily_nav,
                performance_metrics]
DAILY_CHECKS = [daily_bars_complete, calendar_matches_broker, previous_session_complete, orders_answered,
                ledgers_hold]

__all__ = ["DAILY_ASSETS", "DAILY_CHECKS", "FRESHNESS_CHECKS", "NAV_FRESHNESS", "BundledMarketData"]
