"""Reads and computations of the Performance page: the benchmark's closes, NAV series arithmetic, the metrics
table (Composer's definitions and quantstats') and the quantstats tear sheet.

The tenant reads this page needs are :func:`dashboards.reads.common.paper_nav` and
:func:`dashboards.reads.backtests.backtest_runs` (scoped); :func:`benchmark_closes` reads market data (no
account). The metrics themselves live in :mod:`engine.metrics`.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest import DEFAULT_BENCHMARK
from engine.metrics import daily_returns, drawdown_series, full_stats
from engine.prices import UnknownTickersError
from warehouse import Warehouse
from warehouse.prices import WarehouseCloseReader

#: Default benchmark ticker (read from ``daily_bars``), the backtest's default.
BENCHMARK = DEFAULT_BENCHMARK


def benchmark_closes(wh: Warehouse, ticker: str, start: Any, end: Any) -> pd.Series:
    """Adjusted closes of ``ticker`` over ``[start, end]`` from the warehouse's ``daily_bars`` (market data: no
    account), through the one price reader (:class:`warehouse.prices.WarehouseCloseReader`).

    Returns:
        Series indexed by ``datetime64`` sessions, USD, named ``ticker``; empty when the warehouse has no bars of
        it.
    """
    try:
        wide = WarehouseCloseReader(wh).closes([ticker], start=start, end=end)
    except UnknownTickersError:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], name="session_date"), name=ticker)
    return wide[ticker].dropna().rename(ticker)


def nav_series(frame: pd.DataFrame, value: str = "nav_usd") -> pd.Series:
    """``frame[value]`` as a float Series indexed by ``datetime64`` ``session_date`` (ascending, NaN dropped)."""
    if frame is None or frame.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], name="session_date"))
    s = pd.Series(frame[value].to_numpy(dtype="float64"),
                  index=pd.DatetimeIndex(pd.to_datetime(frame["session_date"]), name="session_date"))
    return s.dropna().sort_index()


def rebase(series: pd.Series, base: float = 1.0) -> pd.Series:
    """``series / series[first] * base``: the first (non-NaN, non-zero) value becomes ``base``."""
    s = series.dropna()
    s = s[s != 0]
    if s.empty:
        return series.astype("float64") * float("nan")
    return series.astype("float64") / float(s.iloc[0]) * float(base)


def nav_vs_benchmark(nav: pd.Series, benchmark: pd.Series | None) -> pd.DataFrame:
    """Paper NAV and the benchmark rebased to 1.0 on the first paper session.

    The benchmark is cut to the paper's sessions and forward-filled on sessions it lacks.

    Returns:
        Index ``session_date`` (``datetime64``); columns ``paper`` and, when a benchmark is given, ``benchmark``
        (growth of 1, both 1.0 on the first session).
    """
    out = pd.DataFrame({"paper": rebase(nav)})
    if benchmark is not None and len(benchmark):
        b = benchmark.astype("float64").reindex(nav.index.union(benchmark.index)).ffill().reindex(nav.index)
        out["benchmark"] = rebase(b)
    return out


def daily_table(nav_frame: pd.DataFrame, benchmark: pd.Series | None = None) -> pd.DataFrame:
    """The daily series offered as CSV: ``session_date, nav_usd, cash_usd, daily_return, drawdown`` and,
    with a benchmark, ``benchmark_close`` and ``benchmark_rebased_usd`` (the benchmark scaled to the first NAV)."""
    nav = nav_series(nav_frame)
    out = pd.DataFrame({"session_date": nav.index.date, "nav_usd": nav.to_numpy()})
    cash = nav_series(nav_frame, "cash_usd") if "cash_usd" in nav_frame else None
    out["cash_usd"] = cash.reindex(nav.index).to_numpy() if cash is not None else np.nan
    out["daily_return"] = nav.pct_change().to_numpy()
    out["drawdown"] = drawdown_series(nav).to_numpy() if len(nav) else []
    if benchmark is not None and len(benchmark) and len(nav):
        b = benchmark.astype("float64").reindex(nav.index.union(benchmark.index)).ffill().reindex(nav.index)
        out["benchmark_close"] = b.to_numpy()
        out["benchmark_rebased_usd"] = rebase(b, float(nav.iloc[0])).to_numpy()
    return out


# ----------------------------------------------------------------------------------------------------------------
# Metrics: ours (Composer's definitions) and quantstats' (cross-check), each row labelled with its source
# ----------------------------------------------------------------------------------------------------------------

SOURCE_COMPOSER = "Composer definitions (engine.metrics)"
SOURCE_QUANTSTATS = "quantstats"

#: (key of :func:`engine.metrics.full_stats`, label, kind) shown in the metrics table.
COMPOSER_ROWS: tuple[tuple[str, str, str], ...] = (
    ("cumulative_return", "Cumulative return", "percent"),
    ("annualized_rate_of_return", "Annualized return (CAGR)", "percent"),
    ("standard_deviation", "Volatility (annualised)", "percent"),
    ("sharpe_ratio", "Sharpe ratio", "ratio"),
    ("sortino_ratio", "Sortino ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("calmar_ratio", "Calmar ratio", "ratio"),
    ("win_rate", "Win rate (days up)", "percent"),
    ("skewness", "Skewness", "ratio"),
    ("kurtosis", "Excess kurtosis", "ratio"),
    ("size", "Daily returns counted", "count"),
    ("beta", "Beta vs benchmark", "ratio"),
    ("alpha", "Alpha vs benchmark (annualised)", "percent"),
)

#: (quantstats.stats function, label, kind); quantstats reports max drawdown as a negative fraction.
QUANTSTATS_ROWS: tuple[tuple[str, str, str], ...] = (
    ("cagr", "CAGR", "percent"),
    ("sortino", "Sortino ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("volatility", "Volatility (annualised)", "percent"),
)


def _fmt(value: float, kind: str) -> str:
    """A metric as text (:mod:`dashboards.present.format`: U+2212 minus, ``—`` when undefined)."""
    from dashboards.present.format import format_number, format_pct

    if value is None or not np.isfinite(value):
        return "—"
    if kind == "percent":
        return format_pct(value)
    if kind == "count":
        return format_number(value, 0)
    return format_number(value)


def quantstats_metrics(returns: pd.Series) -> dict[str, float]:
    """quantstats' CAGR, Sortino, max drawdown and volatility of **daily simple returns** (style guide §2e).

    Raises:
        Exception: whatever quantstats raises (the caller reports it).
    """
    import quantstats as qs  # lazy: a heavy import, only needed here

    r = returns.dropna().astype("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: float(getattr(qs.stats, name)(r)) for name, _, _ in QUANTSTATS_ROWS}


def metrics_table(nav: pd.Series, capital: float | None = None,
                  benchmark: pd.Series | None = None) -> tuple[pd.DataFrame, str | None]:
    """The metrics table of a NAV series: Composer's set and a few of quantstats', each row with its source.

    Composer's rows are :func:`engine.metrics.full_stats` of the NAV (fractions; max drawdown positive).
    quantstats' rows are computed on the daily simple returns of the same NAV (its CAGR counts years as
    ``len(returns) / 252`` in 0.0.86; its max drawdown, negative in quantstats, is given positive like ours), so
    small differences are expected.

    Returns:
        ``(table, error)``: columns ``metric, value`` (formatted text), ``raw`` (float), ``source``; ``error`` is
        a message when quantstats failed (its rows are then left out), else ``None``.
    """
    nav = nav.dropna().astype("float64")
    stats = full_stats(nav, capital=capital, benchmark_nav=benchmark if benchmark is not None and len(benchmark)
                       else None) if len(nav) else {}
    rows = [(label, _fmt(stats[key], kind), float(stats[key]), SOURCE_COMPOSER)
            for key, label, kind in COMPOSER_ROWS if key in stats]
    error = None
    if len(nav) >= 2:
        try:
            qs_values = quantstats_metrics(daily_returns(nav))
        except Exception as exc:  # quantstats is pinned but has broken under new pandas releases before
            error = f"quantstats could not compute its metrics ({type(exc).__name__}: {exc})"
        else:
            # one drawdown convention on the page: quantstats' negative max drawdown shown positive, as ours
            qs_values["max_drawdown"] = abs(qs_values["max_drawdown"])
            rows += [(label, _fmt(qs_values[key], kind), qs_values[key], SOURCE_QUANTSTATS)
                     for key, label, kind in QUANTSTATS_ROWS]
    table = pd.DataFrame(rows, columns=["metric", "value", "raw", "source"])
    table["raw"] = table["raw"].astype("float64")
    return table, error


class TearSheetError(RuntimeError):
    """quantstats could not write the tear sheet; the message says why."""


def tear_sheet_html(returns: pd.Series, title: str, output: str | Path,
                    benchmark: pd.Series | None = None) -> Path:
    """Write quantstats' HTML tear sheet of **daily simple returns** to ``output``.

    Args:
        returns: daily simple returns (fractions) indexed by session dates.
        title: the report's title (the symphony name); it appears in the HTML.
        output: file to write.
        benchmark: the benchmark's daily simple returns on the same sessions, or ``None``.

    Returns:
        ``output`` as a :class:`~pathlib.Path`.

    Raises:
        TearSheetError: too few returns, or quantstats failed (e.g. an incompatibility with the installed
            pandas); the message names the cause.
    """
    r = returns.dropna().astype("float64")
    if len(r) < 2:
        raise TearSheetError("A tear sheet needs at least two daily returns (three paper sessions).")
    r.index = pd.DatetimeIndex(pd.to_datetime(r.index)).tz_localize(None)
    bench = None
    if benchmark is not None and len(benchmark.dropna()):
        bench = benchmark.dropna().astype("float64")
        bench.index = pd.DatetimeIndex(pd.to_datetime(bench.index)).tz_localize(None)
        bench = bench.reindex(r.index).fillna(0.0).rename("Benchmark")
    path = Path(output)
    try:
        import quantstats as qs  # lazy: heavy import

        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qs.reports.html(r.rename(title), benchmark=bench, output=str(path), title=title,
                            download_filename=path.name)
    except Exception as exc:
        raise TearSheetError(f"quantstats failed to build the tear sheet ({type(exc).__name__}: {exc}). "
                             "The metrics table and CSV above are unaffected.") from exc
    if not path.exists():
        raise TearSheetError("quantstats wrote no tear sheet file.")
    return path


__all__ = ["BENCHMARK", "benchmark_closes", "nav_series", "rebase", "nav_vs_benchmark", "daily_table",
           "SOURCE_COMPOSER", "SOURCE_QUANTSTATS", "COMPOSER_ROWS", "QUANTSTATS_ROWS", "quantstats_metrics",
           "metrics_table", "TearSheetError", "tear_sheet_html"]
