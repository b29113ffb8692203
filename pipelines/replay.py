"""Replay of the live path over a date range, in one process: :func:`replay_range` and the ``paper_replay`` job.

:func:`replay_range` is what ``oragami replay`` and the ``paper_replay`` job run:

1. the roster of the daily graph (:func:`assets.daily.split_by_limit`: active symphonies, each account's limit,
   unparseable rows trading to cash), restricted to the requested accounts;
2. bars: every ticker the roster needs is ingested from the market-data resource up to the last session, as
   ``daily_bars`` does (missing history filled in, one ``replace`` per group of tickers);
3. closes through the warehouse price reader (the graph's), one read for the whole range;
4. :func:`engine.replay.replay` from each symphony's ledger before the first session
   (:func:`warehouse.repos.replay.start_state`) with the simulated broker's cost model and the live controls that
   can act within the range (:func:`warehouse.repos.replay.range_controls`; the previous session's targets for
   ``cash_until_rebalance`` under rule ``none``), decided session by session as the graph's ``order_plan`` does;
5. :func:`warehouse.repos.replay.write_replay`: one transaction, one bulk insert per table, replacing the replayed
   accounts' rows of those sessions, and the controls' changes (idempotent; other accounts untouched).

The job: ``paper_replay`` with run config ``ops: {replay_sessions: {config: {start, end, accounts, sizing}}}`` (ISO
dates; ``accounts`` empty = every account). One run replays the whole range — the replay is path-dependent (each
session starts from the previous session's ledgers), so it is not split into one run per session; progress is
logged every :data:`LOG_EVERY` sessions.
"""
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from assets.daily import BENCHMARK, split_by_limit
from engine.calendar import sessions_in_range
from engine.costs import CostModel
from engine.evaluate import root_tickers
from engine.prices import closes_from_long
from engine.replay import EXACT, SIZINGS, ReplayError, ReplayResult, ReplaySymphony, replay
from engine.risk import RiskLimits
from resources import BrokerResource, MarketDataResource, SimulatedBroker, WarehouseResource
from warehouse import Between, Warehouse
from warehouse.repos import bars as bar_repo
from warehouse.repos.controls import previous_targets
from warehouse.repos.replay import range_controls, start_state, write_replay
from warehouse.scope import AccountScope

EARLIEST = dt.date(1900, 1, 1)
#: The job logs its progress every this many sessions.
LOG_EVERY = 21


@dataclass
class ReplaySummary:
    """What :func:`replay_range` did.

    Attributes:
        start, end: first and last replayed session; sessions: how many.
        accounts: the replayed accounts; symphonies: how many traded.
        rows: rows inserted per table; timings: wall seconds per step (``bars``, ``closes``, ``replay``,
            ``write``); result: the :class:`engine.replay.ReplayResult`.
    """

    start: dt.date
    end: dt.date
    sessions: int
    accounts: list[str]
    symphonies: int
    rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    result: ReplayResult | None = None


def ingest_bars(wh: Warehouse, market_data: MarketDataResource, tickers: Sequence[str], end: dt.date,
                log: Callable[[str], None] = lambda _m: None) -> int:
    """Bars of ``tickers`` from the market-data resource up to ``end``, written as ``daily_bars`` writes them: per
    ticker from the day after its newest stored bar (inception when none), one ``replace`` per group of tickers
    with the same start. Returns the rows written."""
    last = bar_repo.last_bar_date(wh, list(tickers))
    by_start: dict[dt.date | None, list[str]] = {}
    for t in tickers:
        prev = last.get(t)
        if prev is not None and prev >= end:
            continue
        by_start.setdefault(prev + dt.timedelta(days=1) if prev else None, []).append(t)
    written = 0
    for start, group in sorted(by_start.items(), key=lambda kv: (kv[0] is not None, kv[0] or EARLIEST)):
        bars = market_data.bars(group, start, end)
        bars = bars.assign(**market_data.provenance(), ingested_at=dt.datetime.now(dt.timezone.utc))
        written += wh.replace("daily_bars", bars,
                              where={"ticker": group, "session_date": Between(start or EARLIEST, end)})
        log(f"{len(bars)} bars for {len(group)} ticker(s) from {start or 'inception'} to {end}")
    return written


def _sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    if start > end:
        raise ReplayError(f"--from {start} is after --to {end}")
    days = sessions_in_range(start, end)
    if not days:
        raise ReplayError(f"no NYSE session between {start} and {end}")
    return days


def replay_range(wh: Warehouse, market_data: MarketDataResource, costs: CostModel, start: dt.date, end: dt.date,
                 accounts: Sequence[str] | None = None, *, sizing: str = EXACT, traces: bool = True,
                 log: Callable[[str], None] = lambda _m: None,
                 progress: Callable[[int, int, dt.date], None] | None = None) -> ReplaySummary:
    """Replay every NYSE session of ``[start, end]`` for ``accounts`` (None or empty = every account with an
    active symphony) and write the result (module docstring, steps 1–5).

    Raises:
        ReplayError: ``start`` after ``end``, no session in the range, an unknown sizing, a requested account
            without active symphonies, or a session after the last bar the market data has.
    """
    timings: dict[str, float] = {}
    sessions = _sessions(start, end)
    if sizing not in SIZINGS:
        raise ReplayError(f"unknown sizing {sizing!r}: use one of {', '.join(SIZINGS)}")
    trade, over = split_by_limit(wh)
    wanted = sorted(set(accounts)) if accounts else sorted({row["account_id"] for row, _ in trade})
    have = {row["account_id"] for row, _ in trade}
    unknown = [a for a in wanted if a not in have]
    if unknown:
        raise ReplayError(f"no active symphony in account(s) {', '.join(unknown)}"
                          + (f" (accounts with active symphonies: {', '.join(sorted(have))})" if have else
                             " (the warehouse has none: seed some with `oragami seed`)"))
    if not wanted:
        raise ReplayError("the warehouse has no active symphony: seed some with `oragami seed`")
    trade = [(row, root) for row, root in trade if row["account_id"] in wanted]
    over = [(row, why) for row, why in over if row["account_id"] in wanted]
    tickers = sorted({BENCHMARK} | {t for _, root in trade if root is not None for t in root_tickers(root)})
    t0 = time.perf_counter()
    ingest_bars(wh, market_data, tickers, sessions[-1], log)
    timings["bars"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    from warehouse.prices import close_reader

    reader = close_reader("warehouse", warehouse=wh)
    known = reader.available_tickers()
    names = [t for t in tickers if t in known]
    long = reader.long_closes(names, end=sessions[-1])
    closes = closes_from_long(long, names, end=sessions[-1], source="warehouse", known=known)
    present = _present(long, closes)
    last_bar = closes.index[-1].date() if len(closes.index) else None
    if last_bar is None or last_bar < sessions[-1]:
        raise ReplayError(f"the market data has no bar after {last_bar or 'none'}: replay to {last_bar} at the "
                          f"latest (asked for {sessions[-1]})")
    timings["closes"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scope = AccountScope.only(*wanted)
    carried = start_state(wh, scope, sessions[0])
    syms = []
    for row, root in trade:
        book = carried.get(row["symphony_id"])
        capital = row.get("capital_usd")
        capital = float(capital) if capital is not None and capital == capital and capital else 10_000.0
        syms.append(ReplaySymphony(
            row["account_id"], row["symphony_id"], root, capital,
            ledger=book.ledger if book is not None else None,
            has_traded=book is not None and book.ledger is not None,
            last_nav_usd=book.last_nav_usd if book is not None else None,
            nav_history=book.nav_history if book is not None else None,
            error=row.get("parse_error")))
    accounts_rows = {r["account_id"]: r for r in wh.read("accounts").to_dict("records")}
    limits = {a: RiskLimits.from_row(accounts_rows.get(a)) for a in wanted}
    acting = {sid: rows for sid, rows in range_controls(wh, wanted, sessions[0], sessions[-1]).items()
              if any(s.symphony_id == sid for s in syms)}
    before = previous_targets(wh, sessions[0], sorted(sid for sid, rows in acting.items()
                                                      if any(r["control"] == "cash_until_rebalance" for r in rows)))
    result = replay(syms, closes, sessions, costs, sizing=sizing, present=present, limits=limits,
                    skipped=[(row["account_id"], row["symphony_id"], why) for row, why in over], traces=traces,
                    progress=progress, controls=acting, targets_before=before)
    timings["replay"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    runs = [{"account_id": a, "start_date": sessions[0], "end_date": sessions[-1], "sessions": len(sessions),
             "symphonies": sum(1 for s in syms if s.account_id == a), "sizing": sizing,
             "slippage_bps": costs.slippage_bps, "apply_reg_fee": costs.apply_reg_fee,
             "apply_taf_fee": costs.apply_taf_fee, "apply_cat_fee": costs.apply_cat_fee,
             "elapsed_s": sum(timings.values()), "created_at": dt.datetime.now(dt.timezone.utc)} for a in wanted]
    rows = write_replay(wh, result, wanted, runs)
    timings["write"] = time.perf_counter() - t0
    return ReplaySummary(sessions[0], sessions[-1], len(sessions), wanted, len(syms), rows, timings, result)


def control_events(result: ReplayResult | None) -> list[str]:
    """One line per session a live control acted on the symphony's trading — sold it to cash, ended the cash
    (scheduled rebalance) or skipped a rebalance: ``session symphony: reason``, the line the graph's ``order_plan``
    logs for it. Sessions that only hold cash or wait for the rebalance to skip are left out."""
    if result is None:
        return []
    acted = {("cash_until_rebalance", "liquidate"), ("cash_until_rebalance", "rule"), ("skip_next_rebalance", "hold")}
    return [f"{d['session_date']} {d['symphony_id']}: {d['reason']}" for d in result.control_decisions
            if (d["control"], d["action"]) in acted]


def _present(long: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """True where a ticker has a bar of its own on a session (the graph's "price on the session" test)."""
    if long.empty:
        return closes.notna()
    dates = pd.to_datetime(long["session_date"])
    raw = pd.DataFrame({"d": dates.to_numpy(), "t": long["ticker"].to_numpy(), "v": np.ones(len(long), bool)})
    wide = raw.pivot_table(index="d", columns="t", values="v", aggfunc="any")
    return wide.reindex(index=closes.index, columns=closes.columns).fillna(False).astype(bool)


def cost_model_of(broker: BrokerResource) -> CostModel:
    """The simulated broker's cost model (the backtest's); a replay always fills at the simulated broker, with the
    default model when the configured broker is another one."""
    return broker.cost_model() if isinstance(broker, SimulatedBroker) else SimulatedBroker().cost_model()


class ReplayConfig(dg.Config):
    """Run config of ``paper_replay``: the range (ISO dates, inclusive), the accounts (empty = all) and the sizing."""

    start: str = Field(description="first session to replay, ISO date")
    end: str = Field(description="last session to replay, ISO date")
    accounts: list[str] = Field(default=[], description="accounts to replay; empty = every account")
    sizing: str = Field(default=EXACT, description="'exact' (paper = backtest) or 'buffered' (the graph's planner)")


@dg.op(name="replay_sessions", tags={"kind": "python"})
def paper_replay_op(context: dg.OpExecutionContext, config: ReplayConfig, market_data: MarketDataResource,
                    broker: BrokerResource, warehouse: WarehouseResource) -> dg.Output:
    """Replay the live path over the configured range in this one run and write every session's rows."""
    try:
        start, end = dt.date.fromisoformat(config.start), dt.date.fromisoformat(config.end)
    except ValueError as exc:
        raise dg.Failure(f"start/end must be ISO dates (YYYY-MM-DD): {exc}") from None

    def progress(i: int, n: int, session: dt.date) -> None:
        if i == n or i % LOG_EVERY == 0:
            context.log.info(f"replayed {i}/{n} sessions (through {session})")

    try:
        summary = replay_range(warehouse.open(), market_data, cost_model_of(broker), start, end,
                               config.accounts or None, sizing=config.sizing, log=context.log.info,
                               progress=progress)
    except ReplayError as exc:
        raise dg.Failure(str(exc)) from None
    navs = summary.result.daily_nav if summary.result else []
    last = {r["symphony_id"]: r["nav_usd"] for r in navs if r["session_date"] == summary.end}
    return dg.Output(None, metadata={
        "start": summary.start.isoformat(), "end": summary.end.isoformat(), "sessions": summary.sessions,
        "accounts": ", ".join(summary.accounts), "symphonies": summary.symphonies,
        "rows_written": sum(summary.rows.values()), "total_nav_usd": float(sum(last.values())),
        "live_controls": "; ".join(control_events(summary.result)) or "none",
        **{f"{k}_s": round(v, 3) for k, v in summary.timings.items()}})


@dg.job(name="paper_replay", executor_def=dg.in_process_executor, tags={"dagster/max_retries": "0"},
        description="Replay the live path (targets → netted orders → simulated fills → ledgers → NAV) over a date "
                    "range in one run; run config: start, end, accounts, sizing.")
def paper_replay_job():
    paper_replay_op()


__all__ = ["ReplaySummary", "ReplayConfig", "ingest_bars", "replay_range", "control_events", "cost_model_of",
           "paper_replay_job"]
