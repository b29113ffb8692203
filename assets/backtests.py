"""Backtests of every active symphony, from its warm-up to the last available session (one run per symphony).

Backtests are path-dependent, so each symphony's whole window runs in one go (style guide §5.2). Results replace
earlier results of the same configuration: the run id is a hash of the symphony, its source and the settings.
"""

import datetime as dt
import hashlib
import json

import dagster as dg
import pandas as pd
from pydantic import Field

from engine.backtest import BacktestResult, run_backtest
from engine.model import tickers as symphony_tickers
from assets.daily import active_symphonies, daily_bars
from resources import MarketDataResource, WarehouseResource
from warehouse import Warehouse


class BacktestConfig(dg.Config):
    """Settings of the backtests launched from the Dagster UI (launchpad) or the demo."""

    capital_usd: float = Field(default=10_000.0, description="starting capital, USD")
    slippage_bps: float = Field(default=1.0, description="slippage on traded notional, basis points")
    start: str | None = Field(default=None, description="first session (ISO date); default: the warm-up date")
    end: str | None = Field(default=None, description="last session (ISO date); default: the last bar")
    apply_reg_fee: bool = Field(default=True, description="charge the SEC fee on sells (Composer's default)")
    apply_taf_fee: bool = Field(default=True, description="charge the FINRA TAF per share sold (Composer's default)")
    benchmark: str = Field(default="SPY", description="benchmark ticker for alpha/beta")


def backtest_run_id(symphony_id: str, source_text: str, config: dict) -> str:
    """Deterministic id of a backtest configuration (same symphony, source and settings → same id)."""
    payload = json.dumps({"symphony": symphony_id, "source": source_text, "config": config}, sort_keys=True)
    return f"bt-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def wide_closes(market_data: MarketDataResource, tickers: list[str], end: dt.date | None) -> pd.DataFrame:
    """Wide adjusted closes through the resource's price reader (:meth:`MarketDataResource.close_reader`, the
    :class:`engine.prices.CloseReader` contract: sessions × tickers, USD, interior gaps filled by the one rule).

    Raises:
        engine.prices.UnknownTickersError: a ticker the source does not have.
    """
    return market_data.close_reader().closes(tickers, end=end)


def _clean(d: dict) -> dict:
    """JSON-safe copy: NaN → None."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


def backtest_frames(run_id: str, row: dict, cfg: dict, res: BacktestResult) -> dict[str, pd.DataFrame]:
    """The rows of one backtest for ``backtest_runs``, ``backtest_daily`` and ``backtest_weights``.

    Args:
        run_id: :func:`backtest_run_id` of the configuration.
        row: the symphony's registry row (``symphony_id``, ``account_id``).
        cfg: the settings as a dict (``BacktestConfig.model_dump()``): stored as ``config_json``.
        res: the backtest.
    """
    sid = row["symphony_id"]
    stats = res.stats
    run = pd.DataFrame([{
        "run_id": run_id, "account_id": row["account_id"], "symphony_id": sid,
        "start_date": res.first_day.date(), "end_date": res.last_day.date(), "capital_usd": cfg["capital_usd"],
        "slippage_bps": cfg["slippage_bps"], "config_json": json.dumps(cfg, sort_keys=True),
        "stats_json": json.dumps({"stats": _clean(res.full_stats), "costs": _clean(res.costs_summary),
                                  "benchmark": _clean(res.benchmark_stats or {}),
                                  "data_warnings": res.data_warnings, "warnings": res.warnings}),
        "cagr": stats["annualized_return"], "sharpe": stats["sharpe_ratio"],
        "max_drawdown": stats["max_drawdown"], "created_at": dt.datetime.now(dt.timezone.utc)}])
    daily = pd.DataFrame({"run_id": run_id, "account_id": row["account_id"], "symphony_id": sid,
                          "session_date": res.nav.index.date, "nav_usd": res.nav.to_numpy(),
                          "daily_return": res.daily_return.to_numpy()})
    tw = res.target_weights.copy()
    tw.index = tw.index.date
    long = tw.stack().rename("weight").reset_index()
    long.columns = ["session_date", "ticker", "weight"]
    long = long[long["weight"] > 1e-12].assign(run_id=run_id, account_id=row["account_id"], symphony_id=sid)
    return {"backtest_runs": run, "backtest_daily": daily, "backtest_weights": long}


def write_backtest(wh: Warehouse, run_id: str, row: dict, cfg: dict, res: BacktestResult) -> dict[str, int]:
    """Replace run ``run_id`` in the backtest tables (same configuration → same rows, never appended).

    Returns:
        Rows written per table.
    """
    written = {}
    for table, frame in backtest_frames(run_id, row, cfg, res).items():
        written[table] = wh.replace(table, frame, where={"run_id": run_id})
    return written


def backtests_markdown(rows: list[dict]) -> str:
    """The backtests of a run as a Markdown table (Dagster UI): symphony, window, final NAV USD, CAGR, Sharpe,
    max drawdown."""
    lines = ["| symphony | window | final NAV (USD) | CAGR | Sharpe | max DD |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['symphony_id']} | {r['start']}..{r['end']} | {r['final_nav']:,.2f} | {r['cagr']:.2%} | "
              f"{r['sharpe']:.2f} | {r['max_drawdown']:.2%} |" for r in rows]
    return "\n".join(lines) if rows else "no backtest"


# Lineage: the backtests are computed from the daily bars (every session of them), so the graph draws
# daily_bars → symphony_backtests.
@dg.asset(group_name="backtest", kinds={"python"},
          deps=[dg.AssetDep(daily_bars, partition_mapping=dg.AllPartitionMapping())])
def symphony_backtests(context: dg.AssetExecutionContext, config: BacktestConfig, market_data: MarketDataResource,
                       warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Backtest every active symphony; store the run, its daily NAV and daily target weights.

    Metadata: ``dagster/row_count`` = the ``backtest_daily`` rows written (one per symphony and session), ``nav``
    a Markdown table of each backtest's final NAV and statistics.
    """
    wh = warehouse.open()
    syms = active_symphonies(wh)
    cfg = config.model_dump()
    summary, table, rows_written = [], [], 0
    for i, (row, root) in enumerate(syms, start=1):
        sid = row["symphony_id"]
        tickers = sorted(symphony_tickers(root) | {config.benchmark})
        end = dt.date.fromisoformat(config.end) if config.end else None
        try:
            closes = wide_closes(market_data, tickers, end)
            res = run_backtest(root, closes, start=config.start, end=config.end, capital=config.capital_usd,
                               slippage_bps=config.slippage_bps, apply_reg_fee=config.apply_reg_fee,
                               apply_taf_fee=config.apply_taf_fee, benchmark=config.benchmark)
        except Exception as exc:
            context.log.warning(f"[{i}/{len(syms)}] {sid}: backtest failed: {exc}")
            continue
        run_id = backtest_run_id(sid, row["source_text"], cfg)
        stats = res.stats
        rows_written += write_backtest(wh, run_id, row, cfg, res)["backtest_daily"]
        table.append({"symphony_id": sid, "start": res.first_day.date(), "end": res.last_day.date(),
                      "final_nav": float(res.nav.iloc[-1]), "cagr": stats["annualized_return"],
                      "sharpe": stats["sharpe_ratio"], "max_drawdown": stats["max_drawdown"]})
        context.log.info(f"[{i}/{len(syms)}] {sid}: {res.first_day.date()}..{res.last_day.date()} "
                         f"CAGR {stats['annualized_return']:.2%} Sharpe {stats['sharpe_ratio']:.2f} "
                         f"maxDD {stats['max_drawdown']:.2%}")
        summary.append(sid)
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(rows_written),
                                          "backtests": len(summary), "symphonies": len(syms),
                                          "nav": dg.MetadataValue.md(backtests_markdown(table))})
