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

Rebalance rules (composer_format.md §5.3): ``daily``; ``weekly``/``monthly``/``quarterly``/``yearly`` trade on
the first backtest day and then on the first session of each new calendar period; ``none`` with a corridor
width ``w`` trades (fully, to target) when the set of target assets differs from the held set or when some
``|actual weight − target weight| > w`` (absolute, fraction); ``none`` without a width trades only on the first
day.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.errors import DataError
from engine.evaluate import CASH, Evaluation, IndicatorCache, evaluate
from engine.metrics import composer_stats
from engine.model import Root


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
        stats: :func:`engine.metrics.composer_stats` of ``nav`` against the capital.
        warnings: data warnings in words (late tickers, requested start before warm-up).
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

    @property
    def first_day(self) -> pd.Timestamp:
        return self.nav.index[0]

    @property
    def last_day(self) -> pd.Timestamp:
        return self.nav.index[-1]


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


def simulate(prices: np.ndarray, targets: np.ndarray, trade_days: np.ndarray | None, *, capital: float,
             slippage: float, corridor: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                      np.ndarray, np.ndarray, float]:
    """Path-dependent simulation on arrays.

    Args:
        prices: (T, K) adjusted closes of the held universe; must be finite where a target is positive.
        targets: (T, K) target weights (fractions; row sum ≤ 1, the rest is cash).
        trade_days: (T,) bool, the calendar rebalance days; ``None`` with a ``corridor`` for threshold mode.
        capital: starting cash, USD.
        slippage: fraction of traded notional.
        corridor: threshold band (fraction) for ``rebalance: none``.

    Returns:
        ``(nav (T,), shares_end (T, K), traded (T,) bool, costs (T,), value_weights (T, K), cash_end)``.
    """
    T, K = prices.shape
    shares = np.zeros(K)
    cash = float(capital)
    nav = np.empty(T)
    costs = np.zeros(T)
    traded = np.zeros(T, dtype=bool)
    held_shares = np.empty((T, K))
    vweights = np.empty((T, K))
    px_prev = np.zeros(K)
    for t in range(T):
        px = prices[t]
        px = np.where(np.isfinite(px), px, px_prev)  # a missing bar keeps the last price
        px_prev = px
        hold = shares * px
        value = cash + hold.sum()
        target = targets[t]
        if t == 0:
            do_trade = True
        elif trade_days is not None:
            do_trade = bool(trade_days[t])
        else:
            cur_w = hold / value if value > 0 else np.zeros(K)
            do_trade = bool(np.any((target > 1e-12) != (shares > 1e-12)))
            if not do_trade and corridor is not None:
                do_trade = bool(np.any(np.abs(cur_w - target) > corridor + 1e-12))
        if do_trade:
            post = value
            for _ in range(50):
                new_post = value - slippage * np.abs(target * post - hold).sum()
                if abs(new_post - post) <= 1e-10 * max(1.0, abs(value)):
                    post = new_post
                    break
                post = new_post
            with np.errstate(divide="ignore", invalid="ignore"):
                shares = np.where(target > 0, target * post / px, 0.0)
            shares = np.nan_to_num(shares, nan=0.0, posinf=0.0, neginf=0.0)
            cash = post - (shares * px).sum()
            costs[t] = value - post
            traded[t] = True
            hold = shares * px
            value = post
        nav[t] = value
        held_shares[t] = shares
        vweights[t] = hold / value if value > 0 else 0.0
    return nav, held_shares, traded, costs, vweights, cash


def run_backtest(root: Root, closes: pd.DataFrame | IndicatorCache, *, start=None, end=None,
                 capital: float = 10_000.0, slippage_bps: float = 1.0,
                 evaluation: Evaluation | None = None) -> BacktestResult:
    """Backtest a symphony from its warm-up (or ``start``, whichever is later) to ``end``.

    Args:
        root: the parsed symphony.
        closes: wide adjusted closes (sessions × tickers) holding every ticker of the symphony, or a cache.
        start, end: optional bounds (anything ``pd.Timestamp`` accepts); default = first valid session and the
            last session of ``closes``.
        capital: starting capital, USD (Composer default 10,000).
        slippage_bps: slippage on traded notional in basis points (Composer default 1 bp).
        evaluation: a precomputed :func:`engine.evaluate.evaluate` result on the same frame.

    Returns:
        :class:`BacktestResult`.

    Raises:
        DataError: the symphony never becomes valid (warm-up never completes) inside ``[start, end]``.
    """
    cache = closes if isinstance(closes, IndicatorCache) else IndicatorCache(closes)
    ev = evaluation or evaluate(root, cache)
    sessions = ev.sessions
    lo = 0 if start is None else int(sessions.searchsorted(pd.Timestamp(start), side="left"))
    hi = len(sessions) if end is None else int(sessions.searchsorted(pd.Timestamp(end), side="right"))
    valid = ev.valid.to_numpy()
    warnings: list[str] = []
    idx = np.flatnonzero(valid[lo:hi])
    if len(idx) == 0:
        raise DataError(f"symphony {root.name!r} has no session with complete data between "
                        f"{sessions[min(lo, len(sessions) - 1)].date()} and {sessions[max(hi - 1, 0)].date()}")
    first = lo + int(idx[0])
    if start is not None and first > lo:
        warnings.append(f"start moved from {pd.Timestamp(start).date()} to {sessions[first].date()}: "
                        "indicator windows are not yet available (warm-up)")
    invalid_after = np.flatnonzero(~valid[first:hi])
    if len(invalid_after):
        warnings.append(f"{len(invalid_after)} session(s) after warm-up lack data for some indicator; "
                        f"first {sessions[first + int(invalid_after[0])].date()} (last targets kept)")
    window = sessions[first:hi]
    tickers = list(ev.weights.columns)
    targets = ev.weights.to_numpy()[first:hi].copy()
    # keep the previous day's targets on sessions that cannot be evaluated
    bad = ~valid[first:hi]
    for i in np.flatnonzero(bad):
        if i > 0:
            targets[i] = targets[i - 1]
    prices = cache.closes.reindex(columns=tickers).to_numpy(dtype="float64")[first:hi]
    if root.rebalance == "none":
        trade_days = None if root.corridor_width is not None else rebalance_mask(window, "none")
    else:
        trade_days = rebalance_mask(window, root.rebalance)
    nav, shares, traded, costs, vweights, cash = simulate(
        prices, targets, trade_days, capital=capital, slippage=slippage_bps / 10_000.0,
        corridor=root.corridor_width)
    nav_s = pd.Series(nav, index=window, name="nav_usd")
    rets = nav_s.pct_change()
    rets.iloc[0] = nav[0] / capital - 1.0
    holdings = {t: float(q) for t, q in zip(tickers, shares[-1]) if q > 0}
    holdings[CASH] = float(cash)
    return BacktestResult(
        nav=nav_s,
        daily_return=rets.rename("daily_return"),
        weights=pd.DataFrame(vweights, index=window, columns=tickers),
        target_weights=pd.DataFrame(targets, index=window, columns=tickers),
        rebalanced=pd.Series(traded, index=window, name="rebalanced"),
        costs=pd.Series(costs, index=window, name="slippage_usd"),
        holdings=holdings,
        stats=composer_stats(nav_s, capital=capital),
        capital=capital,
        slippage_bps=slippage_bps,
        warnings=warnings,
    )
