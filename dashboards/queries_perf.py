"""Pure reads and computations behind the Performance, Backtests and Orders & positions pages.

No Streamlit here (style guide §3.3): :mod:`dashboards.data_perf` wraps the reads in ``st.cache_data`` and the pages
only lay the results out. Every read takes a :class:`warehouse.Warehouse` and ``account_id``: ``None`` reads every
account (the operator), a string restricts the **warehouse query** to that account (never filtered afterwards).
Market data (``daily_bars``) belongs to no account.

Units: ``*_usd`` are US dollars; weights, returns and drawdowns are fractions (0.01 = 1 %) unless a column or a
docstring says percent; dates are ``datetime.date`` (America/New_York sessions) in what the reads return and
``datetime64`` in the derived frames meant for charts.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboards.queries import display_labels, holdings_string
from engine.metrics import PERIODS_PER_YEAR, daily_returns, drawdown_series, full_stats
from warehouse import CASH_TICKER, Between, Warehouse
from warehouse.repos import bars as bar_repo

#: Sessions in the rolling-Sharpe window (about one quarter of trading days).
ROLLING_SHARPE_WINDOW = 63
#: Default benchmark ticker (read from ``daily_bars``).
BENCHMARK = "SPY"
#: Weight gap (fraction) above which the same tickers count as "price difference": 0.5 percentage point.
WEIGHT_TOLERANCE = 0.005
#: Daily return gap (fraction) above which the same holdings count as "costs": 1 basis point.
RETURN_TOLERANCE = 0.0001
#: Order statuses that mean a symphony's wanted trade did not (fully) happen.
MISSED_STATUSES: frozenset[str] = frozenset({"rejected", "blocked", "partially_filled", "canceled", "expired"})
#: Causes of :func:`classify_days`, in the order they are tried.
CAUSES: tuple[str, ...] = ("different branch", "missed fill", "price difference", "costs")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TINY = 1e-9


def _scope(where: dict[str, Any], account_id: str | None) -> dict[str, Any]:
    return where if account_id is None else {"account_id": account_id, **where}


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


# ----------------------------------------------------------------------------------------------------------------
# Reads (one warehouse query each, scoped to the account in the query)
# ----------------------------------------------------------------------------------------------------------------

def symphonies(wh: Warehouse, account_id: str | None) -> pd.DataFrame:
    """The account's symphonies (every account's for ``None``), active first.

    Returns:
        Columns ``symphony_id, name, label, account_id, status, rebalance, capital_usd``; ``label`` is the name,
        followed by the id when the name is missing or shared.
    """
    cols = ["symphony_id", "name", "account_id", "status", "rebalance", "capital_usd"]
    out = wh.read("symphonies", where=_scope({}, account_id), columns=cols)
    out["label"] = pd.Series([display_labels(out).get(s, s) for s in out["symphony_id"]], index=out.index,
                             dtype=object)
    out = out.assign(_inactive=out["status"] != "active").sort_values(["_inactive", "label", "symphony_id"])
    return out[["symphony_id", "name", "label", "account_id", "status", "rebalance", "capital_usd"]] \
        .reset_index(drop=True)


def symphony_model_json(wh: Warehouse, symphony_id: str, account_id: str | None) -> str | None:
    """The stored parsed model (``symphonies.parsed_json``) of a symphony, or ``None`` when absent."""
    row = wh.read("symphonies", where=_scope({"symphony_id": symphony_id}, account_id), columns=["parsed_json"])
    if row.empty or not isinstance(row["parsed_json"].iloc[0], str) or not row["parsed_json"].iloc[0]:
        return None
    return str(row["parsed_json"].iloc[0])


def paper_nav(wh: Warehouse, symphony_id: str, account_id: str | None) -> pd.DataFrame:
    """Paper NAV of one symphony (``daily_nav``): ``session_date, nav_usd, cash_usd, daily_return``, by date."""
    return wh.read("daily_nav", where=_scope({"symphony_id": symphony_id}, account_id),
                   columns=["session_date", "nav_usd", "cash_usd", "daily_return"], order_by="session_date")


def benchmark_closes(wh: Warehouse, ticker: str, start: Any, end: Any) -> pd.Series:
    """Adjusted closes of ``ticker`` from ``daily_bars`` over ``[start, end]`` (market data: no account).

    Returns:
        Series indexed by ``datetime64`` sessions, USD, named ``ticker``; empty when there are no bars.
    """
    wide = bar_repo.adjusted_closes(wh, [ticker], start=start, end=end)
    return wide[ticker].dropna().rename(ticker)


def backtest_runs(wh: Warehouse, account_id: str | None, symphony_id: str | None = None) -> pd.DataFrame:
    """Backtest runs (newest first) with their config and headline stats.

    Returns:
        Columns ``run_id, account_id, symphony_id, start_date, end_date, capital_usd, slippage_bps, cagr,
        sharpe, max_drawdown`` (positive fraction), ``created_at``, ``config`` (dict from ``config_json``) and
        ``stats``, ``costs``, ``benchmark`` (dicts from ``stats_json``; empty when absent or unreadable).
    """
    where = _scope({} if symphony_id is None else {"symphony_id": symphony_id}, account_id)
    runs = wh.read("backtest_runs", where=where, order_by=["-created_at", "run_id"])

    def parse(text: Any) -> dict:
        if not isinstance(text, str) or not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    stats = [parse(t) for t in runs["stats_json"]]
    runs["config"] = pd.Series([parse(t) for t in runs["config_json"]], index=runs.index, dtype=object)
    for key in ("stats", "costs", "benchmark"):
        runs[key] = pd.Series([s.get(key) if isinstance(s.get(key), dict) else {} for s in stats],
                              index=runs.index, dtype=object)
    return runs.drop(columns=["config_json", "stats_json"]).reset_index(drop=True)


def backtest_daily(wh: Warehouse, run_ids: list[str], account_id: str | None) -> pd.DataFrame:
    """Equity curves of ``run_ids``: ``run_id, symphony_id, session_date, nav_usd, daily_return``."""
    return wh.read("backtest_daily", where=_scope({"run_id": list(run_ids)}, account_id),
                   columns=["run_id", "symphony_id", "session_date", "nav_usd", "daily_return"],
                   order_by=["run_id", "session_date"])


def backtest_weights(wh: Warehouse, run_id: str, account_id: str | None, start: Any = None,
                     end: Any = None) -> pd.DataFrame:
    """Stored target weights of a backtest run over ``[start, end]``: ``session_date, ticker, weight``."""
    where: dict[str, Any] = {"run_id": run_id}
    if start is not None or end is not None:
        where["session_date"] = Between(start, end)
    return wh.read("backtest_weights", where=_scope(where, account_id), columns=["session_date", "ticker", "weight"],
                   order_by=["session_date", "ticker"])


def target_allocations(wh: Warehouse, symphony_id: str, account_id: str | None, start: Any = None,
                       end: Any = None) -> pd.DataFrame:
    """Paper target weights of a symphony over ``[start, end]``: ``session_date, ticker, target_weight``."""
    where: dict[str, Any] = {"symphony_id": symphony_id}
    if start is not None or end is not None:
        where["session_date"] = Between(start, end)
    return wh.read("target_allocations", where=_scope(where, account_id),
                   columns=["session_date", "ticker", "target_weight"], order_by=["session_date", "ticker"])


def symphony_order_outcomes(wh: Warehouse, symphony_id: str, account_id: str | None, start: Any = None,
                            end: Any = None) -> pd.DataFrame:
    """The symphony's intents over ``[start, end]`` joined to the netted account order each went into.

    Returns:
        Columns ``session_date, ticker, delta_qty, disposition, client_order_id, status, reason, qty,
        filled_qty`` (order columns are empty for crossed or skipped intents).
    """
    where: dict[str, Any] = {"symphony_id": symphony_id}
    if start is not None or end is not None:
        where["session_date"] = Between(start, end)
    intents = wh.read("order_intents", where=_scope(where, account_id),
                      columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id"])
    ids = [i for i in intents["client_order_id"].dropna().unique().tolist()]
    orders = wh.read("orders", where=_scope({"client_order_id": ids}, account_id),
                     columns=["client_order_id", "status", "reason", "qty", "filled_qty"]) if ids else \
        pd.DataFrame(columns=["client_order_id", "status", "reason", "qty", "filled_qty"])
    return intents.merge(orders, on="client_order_id", how="left")


def activity_sessions(wh: Warehouse, account_id: str | None) -> list[dt.date]:
    """Sessions with orders or symphony runs of the account, newest first."""
    dates: set[dt.date] = set()
    for table in ("orders", "symphony_runs"):
        dates |= set(wh.read(table, where=_scope({}, account_id), columns=["session_date"])["session_date"])
    return sorted(dates, reverse=True)


def orders_on(wh: Warehouse, session_date: Any, account_id: str | None) -> pd.DataFrame:
    """The netted account orders of one session (``orders``), with their status, fill and reason."""
    return wh.read("orders", where=_scope({"session_date": session_date}, account_id),
                   columns=["account_id", "client_order_id", "ticker", "side", "notional_usd", "qty", "status",
                            "filled_qty", "filled_avg_price", "ref_price", "reason", "submitted_at"],
                   order_by=["account_id", "ticker", "side"])


def fills_on(wh: Warehouse, session_date: Any, account_id: str | None) -> pd.DataFrame:
    """Executions of one session (``fills``)."""
    return wh.read("fills", where=_scope({"session_date": session_date}, account_id),
                   columns=["account_id", "client_order_id", "ticker", "side", "qty", "price", "notional_usd",
                            "filled_at"], order_by=["account_id", "ticker", "filled_at"])


def intents_on(wh: Warehouse, session_date: Any, account_id: str | None) -> pd.DataFrame:
    """Each symphony's wanted change per ticker of one session (``order_intents``)."""
    return wh.read("order_intents", where=_scope({"session_date": session_date}, account_id),
                   columns=["account_id", "symphony_id", "ticker", "delta_qty", "ref_price", "liquidate",
                            "disposition", "client_order_id"], order_by=["account_id", "symphony_id", "ticker"])


def positions_on(wh: Warehouse, session_date: Any, account_id: str | None) -> pd.DataFrame:
    """End-of-session holdings of every symphony of the account (cash row ``$USD``)."""
    return wh.read("positions", where=_scope({"session_date": session_date}, account_id),
                   columns=["account_id", "symphony_id", "ticker", "qty", "price", "market_value_usd"],
                   order_by=["account_id", "symphony_id", "ticker"])


def runs_on(wh: Warehouse, session_date: Any, account_id: str | None) -> pd.DataFrame:
    """Evaluation outcomes (``symphony_runs``: ok / failed / skipped with the reason) of one session."""
    return wh.read("symphony_runs", where=_scope({"session_date": session_date}, account_id),
                   columns=["account_id", "symphony_id", "status", "reason", "evaluated_at"],
                   order_by=["account_id", "symphony_id"])


# ----------------------------------------------------------------------------------------------------------------
# Series arithmetic (pure)
# ----------------------------------------------------------------------------------------------------------------

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


def rolling_sharpe(nav: pd.Series, window: int = ROLLING_SHARPE_WINDOW,
                   periods_per_year: int = PERIODS_PER_YEAR) -> pd.Series:
    """Rolling Sharpe ratio over the last ``window`` daily returns (63 sessions ≈ one quarter).

    ``sharpe_t = mean(r_{t-w+1..t}) · 252 / (stdev(r_{t-w+1..t}, ddof=1) · √252)``: Composer's Sharpe (no
    risk-free rate, :func:`engine.metrics.composer_stats`) on a moving window of simple daily returns. NaN until
    ``window`` returns exist and where the window's volatility is 0.
    """
    r = daily_returns(nav)
    mean = r.rolling(window, min_periods=window).mean()
    sd = r.rolling(window, min_periods=window).std(ddof=1)
    out = mean * periods_per_year / (sd * math.sqrt(periods_per_year))
    return out.where(sd > 0).rename("rolling_sharpe")


def monthly_returns(nav: pd.Series) -> pd.DataFrame:
    """Monthly returns in **percent**, one row per year, one column per month (``Jan`` … ``Dec``) plus ``Year``.

    A month's return chains its month-end NAVs: ``NAV(last session of month) / NAV(last session of the previous
    month) − 1``; the first month is measured from the first NAV. ``Year`` chains the year-ends the same way.
    Months without data are NaN.
    """
    nav = nav.dropna().astype("float64").sort_index()
    cols = list(MONTHS) + ["Year"]
    if len(nav) < 2:
        return pd.DataFrame(columns=cols, dtype="float64").rename_axis("year")
    idx = pd.DatetimeIndex(nav.index)

    def chained(period: str) -> pd.Series:
        keys = idx.to_period(period)
        ends = nav.groupby(keys).last()
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
    if value is None or not np.isfinite(value):
        return "—"
    if kind == "percent":
        return f"{value:.2%}"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


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
    ``len(returns) / 252`` in 0.0.86 and its max drawdown is negative), so small differences are expected.

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


# ----------------------------------------------------------------------------------------------------------------
# Backtests: comparison, replay, live vs backtest
# ----------------------------------------------------------------------------------------------------------------

def rebased_curves(daily: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Equity curves of several runs, each rebased to 1.0 on its own first session (long frame for charts).

    Returns:
        Columns ``run_id, label, session_date`` (``datetime64``), ``growth`` (NAV / first NAV).
    """
    frames = []
    for run_id, part in daily.groupby("run_id", sort=False):
        s = nav_series(part)
        frames.append(pd.DataFrame({"run_id": run_id, "label": (labels or {}).get(run_id, run_id),
                                    "session_date": s.index, "growth": rebase(s).to_numpy()}))
    if not frames:
        return pd.DataFrame({"run_id": [], "label": [], "session_date": pd.DatetimeIndex([]), "growth": []})
    return pd.concat(frames, ignore_index=True)


def trace_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """Decision-trace entries (:meth:`engine.evaluate.Evaluation.trace`) as a table:
    ``node_path, node_type, summary, detail`` (detail as compact JSON text)."""
    return pd.DataFrame({
        "node_path": [e.get("node_path") for e in entries],
        "node_type": [e.get("node_type") for e in entries],
        "summary": [e.get("summary") for e in entries],
        "detail": [json.dumps(e.get("detail"), default=str, separators=(", ", ": ")) for e in entries],
    }, dtype=object)


def replay(model_json: str, closes: pd.DataFrame, session_date: Any) -> dict[str, Any]:
    """Re-evaluate a stored symphony on one session: ``evaluate(root, closes, start=session_date)``.

    Args:
        model_json: ``symphonies.parsed_json``.
        closes: wide adjusted closes up to (at least) ``session_date`` with every ticker the symphony reads.
        session_date: a session of ``closes``.

    Returns:
        ``{"trace": trace_table(...), "weights": {ticker: fraction}, "session": date}``.

    Raises:
        engine.errors.DataError: the date is not a session of ``closes`` or prices are missing.
    """
    from engine.evaluate import evaluate
    from engine.model import Root

    root = Root.model_validate_json(model_json)
    ev = evaluate(root, closes, start=session_date)
    first = ev.sessions[0]
    return {"trace": trace_table(ev.trace(first)), "weights": ev.weights_on(first), "session": first.date()}


def model_tickers(model_json: str) -> list[str]:
    """Every ticker a stored symphony reads or holds, sorted."""
    from engine.model import Root, tickers

    return sorted(tickers(Root.model_validate_json(model_json)))


def align_live_backtest(paper: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """Paper NAV and backtest NAV on their common sessions within the paper window, rebased to the paper start.

    The backtest is scaled so that it equals the paper NAV on the first common session
    (``backtest_rebased = backtest_nav · paper_nav[start] / backtest_nav[start]``); daily returns are simple
    returns between consecutive common sessions (NaN on the first).

    Returns:
        Index ``session_date`` (``datetime64``); columns ``paper_usd``, ``backtest_usd`` (rebased),
        ``paper_return``, ``backtest_return``, ``return_diff`` (paper − backtest), fractions.
    """
    p, b = nav_series(paper), nav_series(backtest)
    both = pd.concat({"paper_usd": p, "backtest_usd": b}, axis=1, join="inner").dropna()
    both = both[both["backtest_usd"] != 0]
    if both.empty:
        return pd.DataFrame(columns=["paper_usd", "backtest_usd", "paper_return", "backtest_return", "return_diff"],
                            index=pd.DatetimeIndex([], name="session_date"), dtype="float64")
    both["backtest_usd"] = rebase(both["backtest_usd"], float(both["paper_usd"].iloc[0]))
    both["paper_return"] = both["paper_usd"].pct_change()
    both["backtest_return"] = both["backtest_usd"].pct_change()
    both["return_diff"] = both["paper_return"] - both["backtest_return"]
    both.index.name = "session_date"
    return both


def tracking_error(aligned: pd.DataFrame, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Annualised tracking error of paper against backtest: ``stdev(r_paper − r_backtest, ddof=1) · √252``.

    Uses the daily simple-return differences of :func:`align_live_backtest` (common sessions only); NaN with
    fewer than two differences.
    """
    d = aligned["return_diff"].dropna() if "return_diff" in aligned else pd.Series(dtype="float64")
    if len(d) < 2:
        return float("nan")
    return float(d.std(ddof=1) * math.sqrt(periods_per_year))


def _weights_by_day(frame: pd.DataFrame, column: str) -> dict[dt.date, dict[str, float]]:
    out: dict[dt.date, dict[str, float]] = {}
    if frame is None or frame.empty:
        return out
    for day, ticker, w in zip(frame["session_date"], frame["ticker"], frame[column]):
        if ticker == CASH_TICKER or w is None or pd.isna(w) or abs(float(w)) <= _TINY:
            continue
        out.setdefault(_as_date(day), {})[str(ticker)] = float(w)
    return out


def _missed(outcomes: pd.DataFrame) -> dict[dt.date, list[str]]:
    out: dict[dt.date, list[str]] = {}
    if outcomes is None or outcomes.empty:
        return out
    for row in outcomes.itertuples(index=False):
        status = getattr(row, "status", None)
        qty, filled = getattr(row, "qty", None), getattr(row, "filled_qty", None)
        short = (status == "filled" and qty is not None and filled is not None and not pd.isna(qty)
                 and not pd.isna(filled) and float(filled) < float(qty) - 1e-9)
        if isinstance(status, str) and (status in MISSED_STATUSES or short):
            reason = getattr(row, "reason", None)
            text = f"{row.ticker} {status}" + (f" ({reason})" if isinstance(reason, str) and reason else "")
            out.setdefault(_as_date(row.session_date), []).append(text)
    return out


DIVERGENCE_COLUMNS = ("session_date", "cause", "detail", "paper_holdings", "backtest_holdings", "max_weight_gap",
                      "return_diff_bp")


def classify_days(aligned: pd.DataFrame, paper_targets: pd.DataFrame, backtest_weights_df: pd.DataFrame,
                  outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper sessions on which live trading and the backtest differed, each with its cause.

    Sessions considered: the common sessions of :func:`align_live_backtest`. For each, the first rule that
    applies, in this order, gives the cause (a session where none applies is not listed):

    1. **different branch** — the paper target tickers (``target_allocations``) differ from the backtest's
       target tickers (``backtest_weights``) that day, cash (``$USD``) and zero weights left out: the symphony
       took another branch live (typically an indicator close to its threshold at the 15:50 snapshot).
    2. **missed fill** — one of the symphony's intents of that day went into a netted account order
       (``order_intents.client_order_id`` → ``orders``) whose status is rejected, blocked, partially_filled,
       canceled or expired, or that is ``filled`` with ``filled_qty < qty``.
    3. **price difference** — same tickers, but some ticker's target weight differs by more than
       :data:`WEIGHT_TOLERANCE` (0.5 percentage point), e.g. weights computed on live prices vs closes.
    4. **costs** — same holdings (within the weight tolerance), yet the daily returns differ by more than
       :data:`RETURN_TOLERANCE` (1 basis point): commissions, fees, slippage or fractional rounding.

    Rules 1 and 3 need targets on both sides that day; when one side has none they are skipped for that day.
    Rule 4 needs a daily return on both sides (not the first common session).

    Returns:
        Columns :data:`DIVERGENCE_COLUMNS`: ``session_date`` (date), ``cause``, ``detail`` (words),
        ``paper_holdings`` / ``backtest_holdings`` (e.g. ``"SPY 60%, TLT 40%"``), ``max_weight_gap``
        (fraction, NaN when not comparable) and ``return_diff_bp`` (paper − backtest, basis points).
    """
    paper_w = _weights_by_day(paper_targets, "target_weight")
    bt_w = _weights_by_day(backtest_weights_df, "weight")
    missed = _missed(outcomes)

    def text(w: dict[str, float] | None) -> str:
        if not w:
            return "—"
        return holdings_string(pd.DataFrame({"ticker": list(w), "target_weight": list(w.values())}))

    rows = []
    for ts, row in aligned.iterrows():
        day = ts.date()
        pw, bw = paper_w.get(day), bt_w.get(day)
        diff = row.get("return_diff")
        diff_bp = float(diff) * 1e4 if diff is not None and not pd.isna(diff) else float("nan")
        gap = float("nan")
        cause = detail = None
        if pw is not None and bw is not None:
            tickers = set(pw) | set(bw)
            gap = max(abs(pw.get(t, 0.0) - bw.get(t, 0.0)) for t in tickers) if tickers else 0.0
            if set(pw) != set(bw):
                only_p, only_b = sorted(set(pw) - set(bw)), sorted(set(bw) - set(pw))
                parts = ([f"only live: {', '.join(only_p)}"] if only_p else []) + \
                        ([f"only backtest: {', '.join(only_b)}"] if only_b else [])
                cause, detail = "different branch", "; ".join(parts)
        if cause is None and day in missed:
            cause, detail = "missed fill", "; ".join(missed[day])
        if cause is None and np.isfinite(gap) and gap > WEIGHT_TOLERANCE + _TINY:
            cause, detail = "price difference", f"largest weight gap {gap * 100:.2f} pp"
        if cause is None and np.isfinite(diff_bp) and abs(diff_bp) > RETURN_TOLERANCE * 1e4 + 1e-6 \
                and (not np.isfinite(gap) or gap <= WEIGHT_TOLERANCE + _TINY):
            cause, detail = "costs", f"return gap {diff_bp:+.1f} bp with the same holdings"
        if cause is not None:
            rows.append((day, cause, detail, text(pw), text(bw), gap, diff_bp))
    out = pd.DataFrame(rows, columns=list(DIVERGENCE_COLUMNS))
    out["max_weight_gap"] = out["max_weight_gap"].astype("float64")
    out["return_diff_bp"] = out["return_diff_bp"].astype("float64")
    return out


__all__ = [
    "ROLLING_SHARPE_WINDOW", "BENCHMARK", "WEIGHT_TOLERANCE", "RETURN_TOLERANCE", "MISSED_STATUSES", "CAUSES",
    "MONTHS", "symphonies", "symphony_model_json", "paper_nav", "benchmark_closes", "backtest_runs",
    "backtest_daily", "backtest_weights", "target_allocations", "symphony_order_outcomes", "activity_sessions",
    "orders_on", "fills_on", "intents_on", "positions_on", "runs_on", "nav_series", "rebase", "nav_vs_benchmark",
    "rolling_sharpe", "monthly_returns", "daily_table", "SOURCE_COMPOSER", "SOURCE_QUANTSTATS", "metrics_table",
    "quantstats_metrics", "TearSheetError", "tear_sheet_html", "rebased_curves", "trace_table", "replay",
    "model_tickers", "align_live_backtest", "tracking_error", "classify_days", "DIVERGENCE_COLUMNS",
]
