"""Performance statistics with Composer's definitions (composer_format.md §6, "Stats").

All inputs are daily values; all outputs are fractions (0.10 = 10 %), never percent. ``periods_per_year`` is 252
trading days, as Composer uses.

* cumulative return ``= V_end / V_0 - 1`` where ``V_0`` is the starting capital (Composer measures from the
  capital, not from the first post-cost value: SPY probe 308153.92 / 10000 = 30.815, §6).
* annualized return ``= (1 + cumulative)^(252 / (n + 1)) - 1`` with ``n`` the number of daily returns (Composer's
  ``size``), i.e. the exponent counts the n + 1 daily values (§6, VERIFIED: SPY probe 30.815392^(252/8404) − 1 =
  0.1082602914734887, Composer's value to every digit; 252/8403 would give 0.1082738). See
  :func:`annualized_return`.
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


def annualized_return(cumulative: float, size: int, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Composer's annualised return ``(1 + cumulative)^(periods_per_year / (size + 1)) − 1`` (fraction).

    Args:
        cumulative: cumulative return over the backtest (fraction, ``V_end / V_start − 1``).
        size: number of daily returns (Composer's ``size``); the exponent counts the ``size + 1`` values.
        periods_per_year: trading days per year (252).

    Returns:
        The annualised return as a fraction; NaN when ``size < 1`` or ``cumulative ≤ −1``.

    Source: composer_format.md §6 (VERIFIED on the SPY probe and six more Composer stats responses; the
    2022 response in ``tests/fixtures/composer/eu_raekon_frankenbot.backtest_response.json`` also follows it).
    """
    if size < 1 or not cumulative > -1.0:
        return float("nan")
    return (1.0 + cumulative) ** (periods_per_year / (size + 1)) - 1.0


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
    ann = annualized_return(cum, n, periods_per_year) if len(nav) else nan
    sd = float(rets.std(ddof=1)) * math.sqrt(periods_per_year) if n > 1 else nan
    mean = float(rets.mean()) if n > 0 else nan
    sharpe = mean * periods_per_year / sd if n > 1 and sd > 0 else nan
    mdd = max_drawdown(nav) if len(nav) else nan
    calmar = ann / mdd if mdd and mdd > 0 and np.isfinite(ann) else nan
    out.update(cumulative_return=cum, annualized_return=ann, standard_deviation=sd, sharpe_ratio=sharpe,
               max_drawdown=mdd, calmar_ratio=calmar, n_days=float(n))
    return out


#: Composer's trailing-return windows: key → calendar offset back from the last session.
TRAILING_WINDOWS: dict[str, pd.DateOffset] = {
    "trailing_one_day_return": pd.DateOffset(days=1),
    "trailing_one_week_return": pd.DateOffset(weeks=1),
    "trailing_two_week_return": pd.DateOffset(weeks=2),
    "trailing_one_month_return": pd.DateOffset(months=1),
    "trailing_three_month_return": pd.DateOffset(months=3),
    "trailing_one_year_return": pd.DateOffset(years=1),
}


def trailing_return(nav: pd.Series, offset: pd.DateOffset) -> float:
    """``V_T / V_τ − 1`` with ``τ`` the last session on or before ``T − offset`` (calendar); NaN if none."""
    nav = nav.dropna().astype("float64")
    if len(nav) < 2:
        return float("nan")
    cutoff = nav.index[-1] - offset
    past = nav[nav.index <= cutoff]
    if past.empty:
        return float("nan")
    return float(nav.iloc[-1] / past.iloc[-1] - 1.0)


def skewness(x: np.ndarray) -> float:
    """Population (biased) Fisher–Pearson skewness ``m3 / m2^1.5`` with central moments ``m_k`` over ``n``."""
    x = np.asarray(x, dtype="float64")
    if len(x) < 2:
        return float("nan")
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 3) / m2 ** 1.5) if m2 > 0 else float("nan")


def excess_kurtosis(x: np.ndarray) -> float:
    """Population (biased) excess kurtosis ``m4 / m2² − 3`` (a normal sample gives ≈ 0)."""
    x = np.asarray(x, dtype="float64")
    if len(x) < 2:
        return float("nan")
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 4) / m2 ** 2 - 3.0) if m2 > 0 else float("nan")


def downside_deviation(x: np.ndarray) -> float:
    """Daily downside deviation below 0: ``sqrt(Σ min(r, 0)² / (n − 1))`` — every day counts in ``n``."""
    x = np.asarray(x, dtype="float64")
    if len(x) < 2:
        return float("nan")
    neg = np.minimum(x, 0.0)
    return float(math.sqrt(float(np.sum(neg * neg)) / (len(x) - 1)))


def top_day_contribution(rets: np.ndarray, total_log_return: float, k: int) -> float:
    """Share of the whole log growth earned on the ``k`` best days: ``Σ_top-k ln(1+r) / ln(V_end / V_0)``."""
    if k <= 0 or len(rets) == 0 or not np.isfinite(total_log_return) or total_log_return == 0:
        return float("nan")
    lr = np.sort(np.log1p(np.asarray(rets, dtype="float64")))[::-1]
    return float(lr[:k].sum() / total_log_return)


def benchmark_relative(rets: pd.Series, bench_rets: pd.Series,
                       periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, float]:
    """Alpha, beta, R² and Pearson r of daily simple returns against a benchmark's (same sessions).

    ``beta = cov(r, b) / var(b)`` (both ddof = 1); ``alpha = (mean(r) − beta·mean(b))·252`` (annualised
    arithmetic, no risk-free rate); ``pearson_r = corr(r, b)``; ``r_square = pearson_r²``. Only sessions where
    both returns exist count. VERIFIED against the ``percent`` block of Composer's 2022 response (set E,
    ``tests/fixtures/composer/eu_raekon_frankenbot.backtest_response.json``: all four to float precision from
    Composer's own daily values); Composer's ``log`` block (the same on log returns) is not computed here.
    """
    both = pd.concat([rets, bench_rets], axis=1, join="inner").dropna()
    nan = float("nan")
    if len(both) < 2:
        return {"alpha": nan, "beta": nan, "r_square": nan, "pearson_r": nan}
    r, b = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
    var_b = float(np.var(b, ddof=1))
    cov = float(np.cov(r, b, ddof=1)[0, 1])
    beta = cov / var_b if var_b > 0 else nan
    sd_r = float(np.std(r, ddof=1))
    corr = cov / (sd_r * math.sqrt(var_b)) if var_b > 0 and sd_r > 0 else nan
    alpha = (float(r.mean()) - beta * float(b.mean())) * periods_per_year if np.isfinite(beta) else nan
    return {"alpha": alpha, "beta": beta, "r_square": corr * corr if np.isfinite(corr) else nan,
            "pearson_r": corr}


def full_stats(nav: pd.Series, capital: float | None = None, benchmark_nav: pd.Series | None = None, *,
               weights: pd.DataFrame | None = None, turnover: pd.Series | None = None,
               periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, float]:
    """Composer's full ``stats`` set of a daily NAV series, with Composer's key names.

    Inputs: ``nav`` daily values in USD (index = sessions ascending; first value after the first day's costs);
    ``capital`` the starting capital (default ``nav.iloc[0]``). The daily returns are
    ``r_t = V_t / V_{t−1} − 1`` for t = 1..n (the first day, capital → V_0, is not a return: Composer's ``size``
    for the SPY probe is 8403 for 8404 sessions). All outputs are fractions or ratios.

    Definitions (VERIFIED against real Composer responses where marked, composer_format.md §6; the SPY-probe
    comparison is in docs/parity.md):

    * ``size`` = n. ``mean``, ``median``, ``min``, ``max`` of the daily returns.
    * ``cumulative_return`` = V_end / capital − 1 (VERIFIED; Composer's 2022 engine measured from V_0 instead,
      set E); ``annualized_rate_of_return`` = (1 + cumulative)^(252/(n+1)) − 1 (VERIFIED to every digit,
      :func:`annualized_return`); ``standard_deviation`` = stdev(r, ddof=1)·√252 (VERIFIED);
      ``sharpe_ratio`` = mean·252 / standard_deviation (VERIFIED); ``max_drawdown`` on the NAV, positive
      (VERIFIED); ``calmar_ratio`` = annualized / max_drawdown (VERIFIED). Identical to :func:`composer_stats`.
    * ``sortino_ratio`` = mean·252 / (downside deviation·√252), downside deviation =
      ``sqrt(Σ min(r,0)² / (n−1))`` — target 0, every day in the denominator, ddof = 1 like the standard
      deviation. CHOSEN on the probe: /(n−1) and /n both land within 0.3 % of Composer (the data-vendor gap);
      the semi-deviation of the negative days only (0.826) or the RMS over negative days only (0.619) are far off.
    * ``win_rate`` = share of the n daily returns that are > 0 (Composer's 0.5349… is exactly 4495/8403).
    * ``skewness`` = population Fisher–Pearson ``m3/m2^1.5``; ``kurtosis`` = population **excess** kurtosis
      ``m4/m2² − 3`` (Composer 11.76 vs raw kurtosis ≈ 14.8 rules out the non-excess form; biased vs
      bias-corrected differ by < 0.01 and the biased one is the closer). CHOSEN.
    * ``tail_ratio`` = |95th percentile / 5th percentile| of the daily returns (linear interpolation). INFERRED.
    * ``top_one_day_contribution``, ``top_five_percent_day_contribution``, ``top_ten_percent_day_contribution``
      = Σ ln(1 + r) over the best k days / ln(V_end / capital), k = 1, ⌈0.05·n⌉, ⌈0.10·n⌉. INFERRED (the
      probe's best day gives 0.039550 vs Composer 0.039550; ⌈·⌉ beats ⌊·⌋ on both percentages).
    * ``trailing_*_return`` = V_T / V_τ − 1, τ = the last session on or before T minus 1 day / 1 week / 2 weeks /
      1 month / 3 months / 1 year (calendar offsets). INFERRED (probe: all six within 1e-6 of Composer, while
      fixed session counts 5/10/21/63/252 miss the month and quarter by 0.7 pp / 0.3 pp). NaN when the history
      is shorter than the window.
    * ``herfindahl_index`` = mean over sessions of Σ_i w_i² of the end-of-day value weights, cash counted as a
      position (needs ``weights``; NaN without). INFERRED (probe: ours 1 − 1e-12, Composer 1 − 1.9e-6, which
      fits its $0.01 residual cash).
    * ``annualized_turnover`` = Σ_{t=1..n} turnover_t · 252 / n with turnover_t the one-way turnover
      ``½ Σ |w_after − w_before|`` over tickers and cash on session t; the first day's investment of the capital
      is not counted (needs ``turnover``; NaN without). INFERRED: Composer's 9.6e-7 for a monthly SPY-only
      backtest is ~0, which only a weight-change definition without the initial buy gives (counting it would
      give 252/8403 = 0.03).
    * With ``benchmark_nav``: ``alpha``, ``beta``, ``r_square``, ``pearson_r`` of
      :func:`benchmark_relative` (VERIFIED on set E's ``percent`` block; not in Composer's ``stats`` block but in
      its ``benchmarks``).

    Set E (Composer's 2022 7-day response) reproduces every key Composer printed there — size, cumulative and
    annualised return, standard deviation, Sharpe, max drawdown, Calmar, mean, median, min, max — from Composer's
    own daily values to float precision (``tests/engine/test_metrics.py``).

    Args:
        nav: daily portfolio values in USD.
        capital: starting capital in USD (cumulative return and contributions are measured from it).
        benchmark_nav: benchmark values on (a superset of) the same sessions, or None.
        weights: end-of-day value weights per session (sessions × positions, cash included), for
            ``herfindahl_index``.
        turnover: one-way turnover per session (fraction), for ``annualized_turnover``.
        periods_per_year: trading days per year (252).

    Returns:
        dict of floats keyed as Composer's ``stats`` (plus the four benchmark keys when a benchmark is given).
    """
    nav = nav.dropna().astype("float64")
    head = composer_stats(nav, capital=capital, periods_per_year=periods_per_year)
    nan = float("nan")
    rets = daily_returns(nav)
    r = rets.to_numpy()
    n = len(r)
    start = head["start_value"]
    out: dict[str, float] = {
        "size": float(n),
        "cumulative_return": head["cumulative_return"],
        "annualized_rate_of_return": head["annualized_return"],
        "standard_deviation": head["standard_deviation"],
        "sharpe_ratio": head["sharpe_ratio"],
        "max_drawdown": head["max_drawdown"],
        "calmar_ratio": head["calmar_ratio"],
        "mean": float(r.mean()) if n else nan,
        "median": float(np.median(r)) if n else nan,
        "min": float(r.min()) if n else nan,
        "max": float(r.max()) if n else nan,
        "skewness": skewness(r),
        "kurtosis": excess_kurtosis(r),
        "win_rate": float((r > 0).mean()) if n else nan,
    }
    dd = downside_deviation(r)
    out["sortino_ratio"] = (out["mean"] * periods_per_year / (dd * math.sqrt(periods_per_year))
                            if n > 1 and dd > 0 else nan)
    if n:
        q95, q05 = np.quantile(r, 0.95), np.quantile(r, 0.05)
        out["tail_ratio"] = float(abs(q95 / q05)) if q05 != 0 else nan
    else:
        out["tail_ratio"] = nan
    total = math.log(head["end_value"] / start) if n and start > 0 and head["end_value"] > 0 else nan
    out["top_one_day_contribution"] = top_day_contribution(r, total, 1)
    out["top_five_percent_day_contribution"] = top_day_contribution(r, total, math.ceil(0.05 * n - 1e-9))
    out["top_ten_percent_day_contribution"] = top_day_contribution(r, total, math.ceil(0.10 * n - 1e-9))
    for key, offset in TRAILING_WINDOWS.items():
        out[key] = trailing_return(nav, offset)
    if weights is not None and len(weights):
        w = weights.reindex(nav.index).fillna(0.0).to_numpy(dtype="float64")
        out["herfindahl_index"] = float(np.mean(np.sum(w * w, axis=1)))
    else:
        out["herfindahl_index"] = nan
    if turnover is not None and n > 0:
        tv = turnover.reindex(nav.index).fillna(0.0).to_numpy(dtype="float64")
        out["annualized_turnover"] = float(tv[1:].sum() * periods_per_year / n)
    else:
        out["annualized_turnover"] = nan
    if benchmark_nav is not None:
        bench = benchmark_nav.dropna().astype("float64")
        out.update(benchmark_relative(rets, daily_returns(bench), periods_per_year))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Rolling and calendar views, tracking error (moved from the dashboard's performance module; quantstats has the
# same flat-function shape: ``rolling_sharpe``, ``monthly_returns``)
# ----------------------------------------------------------------------------------------------------------------

#: Sessions in the default rolling-Sharpe window (about one quarter of trading days).
ROLLING_SHARPE_WINDOW = 63
#: Column names of :func:`monthly_returns`, January first.
MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rolling_sharpe(nav: pd.Series, window: int = ROLLING_SHARPE_WINDOW,
                   periods_per_year: int = PERIODS_PER_YEAR) -> pd.Series:
    """Rolling Sharpe ratio over the last ``window`` daily returns (63 sessions ≈ one quarter).

    ``sharpe_t = mean(r_{t-w+1..t}) · 252 / (stdev(r_{t-w+1..t}, ddof=1) · √252)``: Composer's Sharpe (no
    risk-free rate, :func:`composer_stats`) on a moving window of simple daily returns.

    Args:
        nav: daily values (USD), index = sessions ascending.
        window: number of daily returns in each window (sessions).
        periods_per_year: trading days per year (252).

    Returns:
        Series named ``rolling_sharpe`` indexed by the sessions of ``nav`` after the first (one per daily
        return); NaN until ``window`` returns exist and where the window's volatility is 0.
    """
    r = daily_returns(nav)
    mean = r.rolling(window, min_periods=window).mean()
    sd = r.rolling(window, min_periods=window).std(ddof=1)
    out = mean * periods_per_year / (sd * math.sqrt(periods_per_year))
    return out.where(sd > 0).rename("rolling_sharpe")


def monthly_returns(nav: pd.Series) -> pd.DataFrame:
    """Monthly returns in **percent** (10.0 = 10 %), one row per year, one column per month plus ``Year``.

    A month's return chains its month-end values: ``V(last session of month) / V(last session of the previous
    month) − 1``; the first month is measured from the first value. ``Year`` chains the year-ends the same way.

    Args:
        nav: daily values (USD) indexed by sessions (date-like); NaN values are dropped.

    Returns:
        Index ``year`` (int); columns :data:`MONTHS` then ``Year``; float64 percent, NaN for months without data.
        Empty (same columns) with fewer than two values.
    """
    nav = nav.dropna().astype("float64").sort_index()
    cols = list(MONTHS) + ["Year"]
    if len(nav) < 2:
        return pd.DataFrame(columns=cols, dtype="float64").rename_axis("year")
    idx = pd.DatetimeIndex(nav.index)

    def chained(period: str) -> pd.Series:
        ends = nav.groupby(idx.to_period(period)).last()
        prev = ends.shift(1)
        prev.iloc[0] = nav.iloc[0]
        return (ends / prev - 1.0) * 100.0

    monthly = chained("M")
    table = pd.DataFrame({"year": monthly.index.year, "month": monthly.index.month, "ret": monthly.to_numpy()})
    out = table.pivot(index="year", columns="month", values="ret").reindex(columns=range(1, 13))
    out.columns = list(MONTHS)
    yearly = chained("Y")
    out["Year"] = pd.Series(yearly.to_numpy(), index=yearly.index.year).reindex(out.index)
    out.index.name = "year"
    return out.astype("float64")


def tracking_error(returns: pd.Series, reference_returns: pd.Series,
                   periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Annualised tracking error of ``returns`` against ``reference_returns``:
    ``stdev(r − r_ref, ddof=1) · √252``.

    Args:
        returns: daily simple returns (fractions), e.g. the paper NAV's.
        reference_returns: daily simple returns on the same sessions, e.g. the backtest's.
        periods_per_year: trading days per year (252).

    Returns:
        A fraction (0.02 = 2 % a year), over the sessions where both have a return; NaN with fewer than two
        differences.
    """
    d = (returns.astype("float64") - reference_returns.astype("float64")).dropna()
    if len(d) < 2:
        return float("nan")
    return float(d.std(ddof=1) * math.sqrt(periods_per_year))
