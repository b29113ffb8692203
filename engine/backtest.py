"""Backtest simulation of a symphony at the daily close.

Fill convention (composer_format.md §6): the weights of session t are decided on closes up to t and traded at
the close of t. On the first backtest day the whole capital is invested at that day's close. Between rebalance
days holdings drift with prices. Fractional shares; no margin; residual cash earns nothing.

Cost model: slippage ``s`` (``slippage_bps / 10_000``) on traded notional — a buy of notional ``N`` costs
``N·(1+s)``, a sale of notional ``N`` yields ``N·(1-s)``. With ``V`` the pre-trade value and ``V'`` the
post-trade value, target holdings are ``w_i·V'`` and ``V' = V − s·Σ_i |w_i·V' − h_i|`` (``h_i`` the pre-trade
holding values), solved by fixed-point iteration (converges geometrically with ratio ≤ s). On the first day this
gives ``V' = capital/(1+s)``, i.e. shares = capital/(close·(1+s)) — Composer's v2 engine (SPY probe at 50 bps:
first value 9950.25 for 10,000, §6).

Regulatory fees (:class:`engine.costs.CostModel`, the same model the simulated paper broker fills with; rates
by trade date from :mod:`engine.fees`; Composer's ``apply_reg_fee`` / ``apply_taf_fee``, default on, and the CAT
fee Composer reports as ``cat_fee``): after the slippage fixed point, every ticker whose holding changes is one
fill: a sale pays the SEC fee on its principal (shares sold × close × (1 − s)) and the FINRA TAF on its shares
(capped per fill); a buy or a sale pays the CAT fee on its shares; each fee rounded up to the cent, at the rates
in force on the session. Legs under one cent of notional are floating-point residue of re-targeting an unchanged
weight, not fills, and pay nothing. Sells come before buys: the fees are paid from the cash after the sells; if
the planned buys no longer fit in the cash left, every buy is scaled down by the same factor so that cash ends at
zero (the post-trade weights then sit a hair under target on the bought tickers; the CAT fee is taken on the
planned buy). Fees never change the slippage fixed point, so with every fee off the arithmetic is exactly the
fee-free one.

Missing prices are errors, never frozen prices: when the symphony holds a ticker (shares carried into the session,
or a positive target on a trade day) on a session without a close, :func:`run_backtest` raises
:class:`MissingPriceError` naming the ticker and the sessions; with ``allow_missing_prices=True`` it carries the
last close forward and lists the sessions in ``data_warnings`` (``"Close price data is missing for X on …"``).

Rebalance reasons (``BacktestResult.rebalance_reasons``, the ``reason`` column of ``rebalances.csv``): ``initial``
(the first backtest day), ``calendar`` (a calendar rebalance day, or every day for ``daily``), ``branch switch``
(threshold mode: the set of target assets differs from the held set, §5.3 "it doesn't matter what drift percentage
has been set"), ``corridor`` (threshold mode: some weight left its band).

Rebalance rules (composer_format.md §5.3): ``daily``; ``weekly``/``monthly``/``quarterly``/``yearly`` trade on
the first backtest day and then on the first session of each new calendar period; ``none`` with a corridor
width ``w`` trades (fully, to target) when the set of target assets differs from the held set or when some
``|actual weight − target weight| > w`` (absolute, fraction); ``none`` without a width trades only on the first
day.

Benchmark (Composer's ``benchmark_tickers``, default ``["SPY"]``): the same capital bought at the first
backtest day's close with the same slippage and then held (no fees: a buy pays none), on the backtest's
sessions. See :func:`engine.metrics.full_stats` for the statistics against it.

Data warnings (Composer's ``data_warnings``; composer_format.md §4 "Warm-up", SVIX example): the reference day is
the requested ``start`` (clipped to the price frame) or, without one, the first session of the frame — the
earliest day the symphony could start. For every ticker the symphony holds or reads:

* ``"Close price data is not available for X until D"`` when X's first close ``D`` is after the reference day;
* ``"Window functions on Close price data for X are not available until D"`` when the symphony reads some
  windowed function of X and ``D``, the first session on which all of them are defined, is after the reference
  day.

INFERRED from the wording of Composer's messages and the one verified example (SVIX: close 2022-03-30, window
functions 2022-04-13, backtest first day 2022-04-13); Composer's exact reference day is not documented.
Sub-strategy series (filters / inverse-vol over groups) have no ticker and produce no message.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.costs import MIN_FILL_NOTIONAL, CostModel
from engine.errors import DataError
from engine.evaluate import (CASH, Evaluation, IndicatorCache, earliest_valid_index, evaluate,
                             root_tickers)
from engine.fees import COMPOSER_FEE_SCHEDULE, FeeSchedule
from engine.metrics import composer_stats, full_stats
from engine.model import Root, indicator_refs

#: Composer's default benchmark ticker (``benchmark_tickers: ["SPY"]``, composer_format.md §6).
DEFAULT_BENCHMARK = "SPY"
__all__ = ["MIN_FILL_NOTIONAL", "BacktestResult", "MissingPriceError", "Simulation", "run_backtest",
           "simulate_detailed", "simulate", "benchmark_nav", "rebalance_mask", "data_warnings"]


class MissingPriceError(DataError):
    """The symphony holds a ticker on sessions without a close (a series that stops early, a gap).

    Attributes:
        missing: ``{ticker: [session, …]}`` (``pd.Timestamp``), tickers in alphabetical order.
    """

    def __init__(self, message: str, missing: dict[str, list[pd.Timestamp]]) -> None:
        super().__init__(message)
        self.missing = missing


def _date_ranges(days: list[pd.Timestamp], sessions: pd.DatetimeIndex) -> str:
    """``"2026-05-26..2026-07-31 (47 sessions), 2026-08-05"``: runs of consecutive sessions."""
    pos = sessions.get_indexer(pd.DatetimeIndex(days))
    runs: list[tuple[int, int]] = []
    for p in pos:
        if runs and p == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    parts = []
    for a, b in runs:
        if a == b:
            parts.append(f"{sessions[a].date()}")
        else:
            parts.append(f"{sessions[a].date()}..{sessions[b].date()} ({b - a + 1} sessions)")
    return ", ".join(parts)


@dataclass
class BacktestResult:
    """Outcome of :func:`run_backtest`.

    Attributes:
        nav: daily portfolio value in USD (index = sessions from ``first_day`` to ``last_day``).
        daily_return: daily simple returns (fraction), first day relative to the capital.
        weights: end-of-day value weights of holdings after trading (sessions × tickers, fractions).
        target_weights: the symphony's target weights per session (sessions × tickers, fractions).
        rebalanced: True on sessions where trades happened.
        costs: slippage paid per session, USD.
        holdings: shares held at the end of the last day ``{ticker: shares}``, plus ``$USD`` cash.
        stats: :func:`engine.metrics.composer_stats` of ``nav`` against the capital (headline keys).
        warnings: data warnings in words (late tickers, window functions, requested start before warm-up).
        fees: regulatory fees (SEC + FINRA TAF + CAT) paid per session, USD.
        costs_summary: totals shaped like Composer's ``costs``: ``{"slippage", "reg_fee", "taf_fee", "cat_fee"}``
            (USD).
        turnover: one-way turnover per session, ``½ Σ |w_after − w_before|`` over tickers and cash (fraction;
            1.0 on the first day, when the capital leaves cash).
        full_stats: :func:`engine.metrics.full_stats` — Composer's full ``stats`` set (and alpha/beta against the
            benchmark when there is one).
        benchmark_nav: buy-and-hold value of the benchmark on the backtest sessions (USD), or None.
        benchmark_stats: :func:`engine.metrics.full_stats` of ``benchmark_nav``, or None.
        data_warnings: ``{ticker: [message, …]}``, Composer's ``data_warnings`` (empty when none).
        apply_reg_fee, apply_taf_fee, apply_cat_fee: the fee switches the run used.
        rebalance_reasons: why each session traded (``initial``, ``calendar``, ``branch switch``, ``corridor``;
            ``""`` on sessions without a trade), index as ``nav``.
        fee_breakdown: per-session fees (sessions × ``reg_fee, taf_fee, cat_fee``), USD.
        costs_model: the :class:`engine.costs.CostModel` the run used.
    """

    nav: pd.Series
    daily_return: pd.Series
    weights: pd.DataFrame
    target_weights: pd.DataFrame
    rebalanced: pd.Series
    costs: pd.Series
    holdings: dict[str, float]
    stats: dict[str, float]
    capital: float
    slippage_bps: float
    warnings: list[str] = field(default_factory=list)
    fees: pd.Series | None = None
    costs_summary: dict[str, float] = field(default_factory=dict)
    turnover: pd.Series | None = None
    full_stats: dict[str, float] = field(default_factory=dict)
    benchmark_nav: pd.Series | None = None
    benchmark_stats: dict[str, float] | None = None
    data_warnings: dict[str, list[str]] = field(default_factory=dict)
    apply_reg_fee: bool = True
    apply_taf_fee: bool = True
    apply_cat_fee: bool = True
    rebalance_reasons: pd.Series | None = None
    fee_breakdown: pd.DataFrame | None = None
    costs_model: CostModel | None = None

    def rebalances(self) -> pd.DataFrame:
        """The sessions that traded: columns ``date, reason, turnover, slippage_usd, reg_fee_usd, taf_fee_usd,
        cat_fee_usd, holdings`` (``holdings`` = the tickers held after the trade, ``;``-separated, alphabetical).

        ``turnover`` is one-way, ``½ Σ |w_after − w_before|`` over tickers and cash (fraction).
        """
        traded = self.rebalanced.to_numpy()
        idx = self.nav.index[traded]
        fb = self.fee_breakdown if self.fee_breakdown is not None else pd.DataFrame(
            0.0, index=self.nav.index, columns=["reg_fee", "taf_fee", "cat_fee"])
        held = self.weights.loc[idx]
        names = [";".join(sorted(c for c, w in row.items() if w > 1e-9)) for _, row in held.iterrows()]
        reasons = (self.rebalance_reasons if self.rebalance_reasons is not None
                   else pd.Series("", index=self.nav.index))
        turnover = self.turnover if self.turnover is not None else pd.Series(np.nan, index=self.nav.index)
        return pd.DataFrame({"date": idx.date, "reason": reasons.loc[idx].to_numpy(),
                             "turnover": turnover.loc[idx].to_numpy(),
                             "slippage_usd": self.costs.loc[idx].to_numpy(),
                             "reg_fee_usd": fb["reg_fee"].loc[idx].to_numpy(),
                             "taf_fee_usd": fb["taf_fee"].loc[idx].to_numpy(),
                             "cat_fee_usd": fb["cat_fee"].loc[idx].to_numpy(), "holdings": names})

    def holdings_weights(self) -> pd.DataFrame:
        """Day-end (drifted) value weights, one row per session, columns ``$USD`` then tickers (alphabetical),
        fractions summing to 1 — what Composer's "Historical Allocations" export shows (oldest first here)."""
        w = self.weights.copy()
        cash = 1.0 - w.sum(axis=1)
        w = w[sorted(w.columns)]
        w.insert(0, CASH, cash.clip(lower=0.0).where(cash.abs() > 1e-12, 0.0))
        return w

    @property
    def first_day(self) -> pd.Timestamp:
        return self.nav.index[0]

    @property
    def last_day(self) -> pd.Timestamp:
        return self.nav.index[-1]


@dataclass
class Simulation:
    """Arrays of :func:`simulate_detailed` (T sessions, K tickers; USD unless stated).

    Attributes:
        nav: (T,) end-of-day value after trading and fees.
        shares: (T, K) shares held at the end of each day.
        traded: (T,) True on trade days.
        slippage: (T,) slippage paid.
        reg_fee: (T,) SEC fees paid.
        taf_fee: (T,) FINRA TAF paid.
        weights: (T, K) end-of-day value weights (fractions).
        cash: (T,) end-of-day cash.
        turnover: (T,) one-way turnover ``½ Σ |w_after − w_before|`` over tickers and cash (fraction).
        cat_fee: (T,) CAT fees paid.
        reason: (T,) why the session traded (``initial``, ``calendar``, ``branch switch``, ``corridor``; ``""``).
        missing: (T, K) True where a held ticker had no price (the last one was carried forward).
    """

    nav: np.ndarray
    shares: np.ndarray
    traded: np.ndarray
    slippage: np.ndarray
    reg_fee: np.ndarray
    taf_fee: np.ndarray
    weights: np.ndarray
    cash: np.ndarray
    turnover: np.ndarray
    cat_fee: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    missing: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))


def rebalance_mask(sessions: pd.DatetimeIndex, rule: str) -> np.ndarray:
    """True on sessions that start a new rebalance period (the first session is always True).

    Args:
        sessions: the backtest sessions (ascending).
        rule: ``daily``, ``weekly``, ``monthly``, ``quarterly``, ``yearly``; ``none`` gives only the first day.
    """
    n = len(sessions)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    if rule == "daily":
        mask[:] = True
        return mask
    if rule == "none":
        mask[0] = True
        return mask
    if rule == "weekly":
        iso = sessions.isocalendar()
        key = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy())
    elif rule == "monthly":
        key = sessions.year * 100 + sessions.month
    elif rule == "quarterly":
        key = sessions.year * 10 + sessions.quarter
    elif rule == "yearly":
        key = np.asarray(sessions.year)
    else:
        raise ValueError(f"unknown rebalance rule {rule!r}")
    key = np.asarray(key)
    mask[0] = True
    mask[1:] = key[1:] != key[:-1]
    return mask


def simulate_detailed(prices: np.ndarray, targets: np.ndarray, trade_days: np.ndarray | None, *, capital: float,
                      slippage: float, corridor: float | None = None, sessions=None, apply_reg_fee: bool = False,
                      apply_taf_fee: bool = False, fee_schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE,
                      apply_cat_fee: bool = False, costs: CostModel | None = None) -> Simulation:
    """Path-dependent simulation on arrays, with regulatory fees on sells.

    The per-session loop runs compiled (:func:`engine.kernel.simulate_arrays`, Numba, cached on disk): the same
    floating-point operations in the same order as the NumPy loop it replaced (``reference_simulate_detailed`` in
    tests/engine/reference.py), so the results are bit-identical to it.

    Args:
        prices: (T, K) adjusted closes of the held universe; NaN where there is none (a held ticker without a
            price keeps its last one and is flagged in ``Simulation.missing``).
        targets: (T, K) target weights (fractions; row sum ≤ 1, the rest is cash).
        trade_days: (T,) bool, the calendar rebalance days; ``None`` with a ``corridor`` for threshold mode.
        capital: starting cash, USD.
        slippage: fraction of traded notional.
        corridor: threshold band (fraction) for ``rebalance: none``.
        sessions: (T,) trade dates, needed when a fee is on (the rate schedule is dated).
        apply_reg_fee, apply_taf_fee: charge the SEC fee / FINRA TAF on sells (off by default at this level;
            :func:`run_backtest` turns them on as Composer does).
        fee_schedule: dated fee rates.
        apply_cat_fee: charge the CAT fee on buys and sells (off by default at this level).
        costs: a :class:`engine.costs.CostModel`; when given it replaces the fee switches and the schedule (the
            slippage used is still ``slippage``, which :func:`run_backtest` takes from the model).

    Raises:
        ValueError: a fee is on and ``sessions`` is missing or of the wrong length.

    Returns:
        :class:`Simulation`.
    """
    T, K = prices.shape
    model = costs if costs is not None else CostModel(slippage * 10_000.0, apply_reg_fee, apply_taf_fee,
                                                      apply_cat_fee, fee_schedule)
    rates = None
    if model.any_fee:
        if sessions is None:
            raise ValueError("sessions are required to look up the dated fee rates")
        if len(sessions) != T:
            raise ValueError(f"sessions has {len(sessions)} entries for {T} price rows")
        rates = model.session_rates(sessions)
    # the per-session loop is compiled (engine.kernel); the NumPy loop it replaced is tests/engine/reference.py
    from engine import kernel

    out = kernel.run(prices, targets, trade_days, corridor=corridor, capital=capital, slippage=slippage,
                     fee_slippage=model.slippage, rates=rates)
    nav, held_shares, traded, slip, reg, taf, cat, vweights, cash_end, turnover, reason, missing = out
    return Simulation(nav=nav, shares=held_shares, traded=traded, slippage=slip, reg_fee=reg, taf_fee=taf,
                      weights=vweights, cash=cash_end, turnover=turnover, cat_fee=cat, reason=reason,
                      missing=missing)


def simulate(prices: np.ndarray, targets: np.ndarray, trade_days: np.ndarray | None, *, capital: float,
             slippage: float, corridor: float | None = None, sessions=None, apply_reg_fee: bool = False,
             apply_taf_fee: bool = False, fee_schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Path-dependent simulation on arrays (see :func:`simulate_detailed` for the arguments).

    Returns:
        ``(nav (T,), shares_end (T, K), traded (T,) bool, costs (T,), value_weights (T, K), cash_end)``;
        ``costs`` is the slippage only (fees are in :func:`simulate_detailed`'s result).
    """
    sim = simulate_detailed(prices, targets, trade_days, capital=capital, slippage=slippage, corridor=corridor,
                            sessions=sessions, apply_reg_fee=apply_reg_fee, apply_taf_fee=apply_taf_fee,
                            fee_schedule=fee_schedule)
    cash_end = float(sim.cash[-1]) if len(sim.cash) else float(capital)
    return sim.nav, sim.shares, sim.traded, sim.slippage, sim.weights, cash_end


def benchmark_nav(closes: pd.Series, sessions: pd.DatetimeIndex, *, capital: float,
                  slippage: float) -> pd.Series:
    """Buy-and-hold value of a benchmark on ``sessions`` (USD).

    ``capital`` buys ``capital / (close₀·(1+s))`` shares at the close of the first session with a close (the
    same slippage as the strategy's first buy; no regulatory fee, not even the CAT fee) and holds them. A missing
    bar keeps the last close (a benchmark is not held by the symphony); sessions before its first close are NaN.

    Args:
        closes: the benchmark's adjusted closes (index = dates).
        sessions: the backtest sessions.
        capital: starting capital, USD.
        slippage: fraction of traded notional.
    """
    px = closes.astype("float64")
    px.index = pd.DatetimeIndex(pd.to_datetime(px.index))
    px = px[~px.index.duplicated(keep="last")].sort_index()
    aligned = px.reindex(px.index.union(sessions)).ffill().reindex(sessions)
    first = aligned.first_valid_index()
    if first is None:
        return pd.Series(np.nan, index=sessions, name="benchmark_nav_usd")
    shares = capital / (float(aligned.loc[first]) * (1.0 + slippage))
    return (aligned * shares).rename("benchmark_nav_usd")


def _benchmark_from_column(closes: np.ndarray, first: int, hi: int, window: pd.DatetimeIndex, *, capital: float,
                           slippage: float) -> pd.Series | None:
    """:func:`benchmark_nav` of a column of the backtest's own price matrix (``closes`` (T,), rows
    ``first:hi`` = ``window``), on arrays: the last close carried forward over gaps, the same arithmetic; None
    when the benchmark has no close in the window."""
    x = np.asarray(closes, dtype="float64")
    carry = np.where(np.isnan(x), 0, np.arange(len(x)))
    np.maximum.accumulate(carry, out=carry)
    aligned = x[carry][first:hi]
    ok = ~np.isnan(aligned)
    if not ok.any():
        return None
    shares = capital / (float(aligned[int(np.argmax(ok))]) * (1.0 + slippage))
    return pd.Series(aligned * shares, index=window, name="benchmark_nav_usd")


def data_warnings(root: Root, cache: IndicatorCache, reference: pd.Timestamp) -> dict[str, list[str]]:
    """Composer-style data warnings for the symphony's tickers against the reference (earliest start) day.

    Args:
        root: the parsed symphony.
        cache: the indicator cache over the price frame (indicator series are shared with the evaluation).
        reference: the earliest day the backtest could start (requested start or the frame's first session).

    Returns:
        ``{ticker: [message, …]}`` for tickers with a message, tickers in alphabetical order.
    """
    sessions = cache.sessions
    after = int(sessions.searchsorted(pd.Timestamp(reference), side="right"))  # sessions[i] > reference ⟺ i ≥ after
    windowed: dict[str, list] = {}
    for ref in indicator_refs(root):
        if ref.window is not None or ref.params:
            windowed.setdefault(ref.ticker, []).append(ref)
    out: dict[str, list[str]] = {}
    for ticker in sorted(root_tickers(root)):
        if ticker not in cache:
            continue
        msgs = []
        ok = np.isfinite(cache.price(ticker))
        if ok.any() and int(np.argmax(ok)) >= after:
            msgs.append(f"Close price data is not available for {ticker} until {sessions[int(np.argmax(ok))].date()}")
        if ticker in windowed:
            firsts = []
            for ref in windowed[ticker]:
                defined = np.isfinite(cache.series(ref))
                firsts.append(int(np.argmax(defined)) if defined.any() else len(sessions))
            i = max(firsts)
            if after <= i < len(sessions):
                msgs.append(f"Window functions on Close price data for {ticker} are not available until "
                            f"{sessions[i].date()}")
        if msgs:
            out[ticker] = msgs
    return out


def run_backtest(root: Root, closes: pd.DataFrame | IndicatorCache, *, start=None, end=None,
                 capital: float = 10_000.0, slippage_bps: float = 1.0,
                 evaluation: Evaluation | None = None, apply_reg_fee: bool = True, apply_taf_fee: bool = True,
                 benchmark: pd.Series | str | None = DEFAULT_BENCHMARK,
                 fee_schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE, apply_cat_fee: bool = True,
                 costs: CostModel | None = None, allow_missing_prices: bool = False) -> BacktestResult:
    """Backtest a symphony from its warm-up (or ``start``, whichever is later) to ``end``.

    Args:
        root: the parsed symphony.
        closes: wide adjusted closes (sessions × tickers) holding every ticker of the symphony, or a cache.
        start, end: optional bounds (anything ``pd.Timestamp`` accepts); default = first valid session and the
            last session of ``closes``.
        capital: starting capital, USD (Composer default 10,000).
        slippage_bps: slippage on traded notional in basis points (Composer default 1 bp).
        evaluation: a precomputed :func:`engine.evaluate.evaluate` result on the same frame.
        apply_reg_fee: charge the SEC Section 31 fee on sells (Composer's ``apply_reg_fee``, default true).
        apply_taf_fee: charge the FINRA TAF on sells (Composer's ``apply_taf_fee``, default true).
        benchmark: the benchmark's adjusted closes (a Series), or the name of a column of ``closes``
            (default ``"SPY"``, Composer's default; silently no benchmark when that column is absent), or None.
        fee_schedule: dated fee rates (:data:`engine.fees.COMPOSER_FEE_SCHEDULE`).
        apply_cat_fee: charge the CAT fee on buys and sells (Composer's ``cat_fee``, default true).
        costs: a :class:`engine.costs.CostModel`; when given it replaces ``slippage_bps``, the three fee switches
            and ``fee_schedule``.
        allow_missing_prices: carry the last close forward where a held ticker has no close and list those
            sessions in ``data_warnings`` instead of raising.

    Returns:
        :class:`BacktestResult`.

    Raises:
        DataError: the symphony never becomes valid (warm-up never completes) inside ``[start, end]``.
        MissingPriceError: (a ``DataError``) the symphony holds a ticker on sessions without a close and
            ``allow_missing_prices`` is false; the message names the tickers and the sessions.
    """
    if costs is None:
        costs = CostModel(slippage_bps, apply_reg_fee, apply_taf_fee, apply_cat_fee, fee_schedule)
    cache = closes if isinstance(closes, IndicatorCache) else IndicatorCache(closes)
    sessions = cache.sessions
    lo = 0 if start is None else int(sessions.searchsorted(pd.Timestamp(start), side="left"))
    hi = len(sessions) if end is None else int(sessions.searchsorted(pd.Timestamp(end), side="right"))
    ev = evaluation
    if ev is None:
        if any(t not in cache for t in root_tickers(root)):
            ev = evaluate(root, cache)  # raises DataError naming the missing tickers
        else:
            # no session before the evaluated assets' latest first close is valid: evaluate from there (or the
            # start), not from the first session of the frame (the weights of later sessions are the same)
            ev_lo = max(lo, earliest_valid_index(root, cache))
            ev = evaluate(root, cache, start=sessions[ev_lo]) if ev_lo < hi else None
    # the evaluation covers sessions[off:] (all of them unless it was started later)
    off = len(sessions) if ev is None else int(sessions.searchsorted(ev.sessions[0])) if len(ev.sessions) else 0
    valid = np.zeros(len(sessions), dtype=bool)
    if ev is not None:
        valid[off:] = ev.valid_mask
    warnings: list[str] = []
    idx = np.flatnonzero(valid[lo:hi])
    if len(idx) == 0:
        raise DataError(f"symphony {root.name!r} has no session with complete data between "
                        f"{sessions[min(lo, len(sessions) - 1)].date()} and {sessions[max(hi - 1, 0)].date()}")
    first = lo + int(idx[0])
    reference = sessions[min(lo, len(sessions) - 1)]
    dwarn = data_warnings(root, cache, reference)
    for msgs in dwarn.values():
        warnings.extend(msgs)
    if start is not None and first > lo:
        warnings.append(f"start moved from {pd.Timestamp(start).date()} to {sessions[first].date()}: "
                        "indicator windows are not yet available (warm-up)")
    invalid_after = np.flatnonzero(~valid[first:hi])
    if len(invalid_after):
        warnings.append(f"{len(invalid_after)} session(s) after warm-up lack data for some indicator; "
                        f"first {sessions[first + int(invalid_after[0])].date()} (last targets kept)")
    window = sessions[first:hi]
    tickers = list(ev.held)
    targets = ev.weight_matrix[first - off:hi - off].copy()
    # keep the previous day's targets on sessions that cannot be evaluated
    bad = ~valid[first:hi]
    for i in np.flatnonzero(bad):
        if i > 0:
            targets[i] = targets[i - 1]
    nan_col = np.full(hi - first, np.nan)
    prices = (np.column_stack([cache.price(t)[first:hi] if t in cache else nan_col for t in tickers])
              if tickers else np.zeros((hi - first, 0)))
    if root.rebalance == "none":
        trade_days = None if root.corridor_width is not None else rebalance_mask(window, "none")
    else:
        trade_days = rebalance_mask(window, root.rebalance)
    slippage = costs.slippage
    sim = simulate_detailed(prices, targets, trade_days, capital=capital, slippage=slippage,
                            corridor=root.corridor_width, sessions=window, costs=costs)
    if sim.missing.any():
        gaps = {tickers[k]: list(window[np.flatnonzero(sim.missing[:, k])])
                for k in sorted(np.flatnonzero(sim.missing.any(axis=0)), key=lambda k: tickers[k])}
        if not allow_missing_prices:
            detail = "; ".join(f"{t} on {_date_ranges(days, window)}" for t, days in gaps.items())
            raise MissingPriceError(
                f"symphony {root.name!r} holds tickers on sessions without a close price: {detail}. "
                "Fix the data, or pass allow_missing_prices=True (CLI --allow-missing-prices) to carry the last "
                "close forward and list these sessions in data_warnings", gaps)
        for t, days in gaps.items():
            msg = (f"Close price data is missing for {t} on {_date_ranges(days, window)} while held "
                   "(last close carried forward)")
            dwarn.setdefault(t, []).append(msg)
            warnings.append(msg)
        dwarn = dict(sorted(dwarn.items()))
    nav_s = pd.Series(sim.nav, index=window, name="nav_usd")
    rets = nav_s.pct_change()
    rets.iloc[0] = sim.nav[0] / capital - 1.0
    holdings = {t: float(q) for t, q in zip(tickers, sim.shares[-1]) if q > 0}
    holdings[CASH] = float(sim.cash[-1])
    weights = pd.DataFrame(sim.weights, index=window, columns=tickers)
    with np.errstate(divide="ignore", invalid="ignore"):
        cash_w = np.where(sim.nav > 0, sim.cash / sim.nav, 0.0)
    turnover = pd.Series(sim.turnover, index=window, name="turnover")

    bnav = None
    if isinstance(benchmark, str):
        if benchmark in cache:
            bnav = _benchmark_from_column(cache.price(benchmark), first, hi, window, capital=capital,
                                          slippage=slippage)
    elif benchmark is not None:
        bnav = benchmark_nav(benchmark, window, capital=capital, slippage=slippage)
        if bnav.isna().all():
            bnav = None
    fstats = full_stats(nav_s, capital, benchmark_nav=bnav, weights=weights.assign(**{CASH: cash_w}),
                        turnover=turnover)
    bstats = full_stats(bnav.dropna(), capital) if bnav is not None else None
    return BacktestResult(
        nav=nav_s,
        daily_return=rets.rename("daily_return"),
        weights=weights,
        target_weights=pd.DataFrame(targets, index=window, columns=tickers),
        rebalanced=pd.Series(sim.traded, index=window, name="rebalanced"),
        costs=pd.Series(sim.slippage, index=window, name="slippage_usd"),
        holdings=holdings,
        stats=composer_stats(nav_s, capital=capital),
        capital=capital,
        slippage_bps=costs.slippage_bps,
        warnings=warnings,
        fees=pd.Series(sim.reg_fee + sim.taf_fee + sim.cat_fee, index=window, name="fees_usd"),
        costs_summary={"slippage": float(sim.slippage.sum()), "reg_fee": float(sim.reg_fee.sum()),
                       "taf_fee": float(sim.taf_fee.sum()), "cat_fee": float(sim.cat_fee.sum())},
        turnover=turnover,
        full_stats=fstats,
        benchmark_nav=bnav,
        benchmark_stats=bstats,
        data_warnings=dwarn,
        apply_reg_fee=costs.apply_reg_fee,
        apply_taf_fee=costs.apply_taf_fee,
        apply_cat_fee=costs.apply_cat_fee,
        rebalance_reasons=pd.Series(sim.reason, index=window, name="reason").astype(str),
        fee_breakdown=pd.DataFrame({"reg_fee": sim.reg_fee, "taf_fee": sim.taf_fee, "cat_fee": sim.cat_fee},
                                   index=window),
        costs_model=costs,
    )
