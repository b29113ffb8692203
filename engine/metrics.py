"""Performance statistics with Composer's definitions (composer_format.md §6, "Stats").

All inputs are daily values; all outputs are fractions (0.10 = 10 %), never percent. ``periods_per_year`` is 252
trading days, as Composer uses.

* cumulative return ``= V_end / V_0 - 1`` where ``V_0`` is the starting capital (Composer measures from the
  capital, not from the first post-cost value: SPY probe 308153.92 / 10000 = 30.815, §6).
* annualized return ``= (1 + cumulative)^(252 / n) - 1`` with ``n`` the number of daily returns.
* standard deviation ``= stdev(daily returns, ddof=1) · √252`` (annualised).
* Sharpe ``= mean(daily returns) · 252 / standard deviation`` (no risk-free rate).
* max drawdown ``= max_t (1 - V_t / max_{s≤t} V_s)``, a positive fraction.
* Calmar ``= annualized return / max drawdown``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252


def daily_returns(nav: pd.Series) -> pd.Series:
    """Simple daily returns of a value series (fraction); the first session has none and is dropped."""
    return nav.astype("float64").pct_change().iloc[1:]


def drawdown_series(nav: pd.Series) -> pd.Series:
    """Drawdown on each session, ``V_t / running max - 1`` (≤ 0, fraction). Index as ``nav``."""
    nav = nav.astype("float64")
    return nav / nav.cummax() - 1.0


def max_drawdown(nav: pd.Series) -> float:
    """Largest peak-to-trough decline of ``nav`` as a positive fraction (0 for a never-falling series)."""
    if len(nav) == 0:
        return float("nan")
    return float(-drawdown_series(nav).min())


def composer_stats(nav: pd.Series, capital: float | None = None,
                   periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, float]:
    """Composer's headline statistics of a daily NAV series.

    Args:
        nav: daily portfolio values in USD, index = sessions (ascending), first value on the first backtest day
            (after the first day's trading costs).
        capital: the starting capital in USD for the cumulative return; defaults to ``nav.iloc[0]``.
        periods_per_year: trading days per year (252).

    Returns:
        dict with ``cumulative_return``, ``annualized_return``, ``standard_deviation`` (annualised),
        ``sharpe_ratio``, ``max_drawdown``, ``calmar_ratio`` (fractions / ratios), plus ``n_days`` (daily
        returns counted), ``start_value`` and ``end_value`` (USD). NaN where undefined (fewer than 2 values,
        zero volatility, zero drawdown).
    """
    nav = nav.dropna().astype("float64")
    start = float(capital) if capital is not None else (float(nav.iloc[0]) if len(nav) else float("nan"))
    out = {"start_value": start, "end_value": float(nav.iloc[-1]) if len(nav) else float("nan")}
    rets = daily_returns(nav)
    n = len(rets)
    nan = float("nan")
    cum = out["end_value"] / start - 1.0 if len(nav) else nan
    ann = (1.0 + cum) ** (periods_per_year / n) - 1.0 if n > 0 and cum > -1 else nan
    sd = float(rets.std(ddof=1)) * math.sqrt(periods_per_year) if n > 1 else nan
    mean = float(rets.mean()) if n > 0 else nan
    sharpe = mean * periods_per_year / sd if n > 1 and sd > 0 else nan
    mdd = max_drawdown(nav) if len(nav) else nan
    calmar = ann / mdd if mdd and mdd > 0 and np.isfinite(ann) else nan
    out.update(cumulative_return=cum, annualized_return=ann, standard_deviation=sd, sharpe_ratio=sharpe,
               max_drawdown=mdd, calmar_ratio=calmar, n_days=float(n))
    return out
