"""Materialise the daily graph for real sessions on the bundled data (DuckDB and Postgres warehouses)."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.backtests import symphony_backtests
from assets.daily import DAILY_ASSETS, DAILY_CHECKS
from engine.evaluate import evaluate
from engine.parsing import load_symphony
from engine.model import tickers
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources, defs
from resources import BundledMarketData
from warehouse import Warehouse
from warehouse.bundled import load_adjusted_closes
from warehouse.scope import ALL_ACCOUNTS

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj", ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"]
S1, S2 = "2024-06-20", "2024-06-21"
TABLES = ["daily_bars", "indicator_values", "target_allocations", "decision_traces", "symphony_runs", "orders",
          "fills", "positions", "daily_nav", "performance_metrics"]


@pytest.fixture
def seeded(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(wh, FILES, "acct-1", "Test account")
    yield wh
    wh.dispose()


def materialize(url: str, session: str):
    result = dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=url), partition_key=session,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=True,
                            selection=None)
    return result


@pytest.mark.slow
def test_one_session_end_to_end_and_idempotent(seeded, warehouse_url):
    wh = seeded
    result = dg.materialize([*DAILY_ASSETS, *DAILY_CHECKS], resources=build_resources(warehouse_url=warehouse_url),
                            partition_key=S2, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["daily_bars_complete"].passed and checks["calendar_matches_broker"].passed
    session = dt.date.fromisoformat(S2)

    # allocations equal the engine's own evaluation on the bundled data (an independent read path)
    alloc = wh.read("target_allocations", where={"session_date": session})
    for f in FILES:
        root = load_symphony(f)
        sid = f.stem.replace("_", "-")
        ev = evaluate(root, load_adjusted_closes(sorted(tickers(root)), end=S2))
        want = ev.weights_on(S2)
        got = {r["ticker"]: r["target_weight"] for r in alloc[alloc["symphony_id"] == sid].to_dict("records")}
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == pytest.approx(want[k], abs=1e-12)
        assert sum(got.values()) == pytest.approx(1.0)

    # first trading day: 10,000 invested with 1 bp fills → NAV = 10,000 − 10,000·s/(1+s) ≈ 9,999.00
    nav = wh.read("daily_nav", where={"session_date": session})
    assert len(nav) == 2
    for v in nav["nav_usd"]:
        assert v == pytest.approx(10_000 - 10_000 * 1e-4 / (1 + 1e-4), abs=0.02)
    orders = wh.read("orders", where={"session_date": session})
    assert len(orders) == orders["client_order_id"].nunique() > 0
    assert set(orders["status"]) == {"filled"}
    traces = wh.read("decision_traces", where={"session_date": session})
    assert set(traces["node_type"]) == {"filter", "wt-inverse-vol"}

    counts = wh.row_counts(ALL_ACCOUNTS)
    again = dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=warehouse_url),
                           partition_key=S2, instance=dg.DagsterInstance.ephemeral())
    assert again.success
    assert wh.row_counts(ALL_ACCOUNTS) == counts  # re-running a session replaces its rows


@pytest.mark.slow
def test_second_session_marks_to_market(seeded, warehouse_url):
    wh = seeded
    for s in (S1, S2):
        assert dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=warehouse_url),
                              partition_key=s, instance=dg.DagsterInstance.ephemeral()).success
    nav = wh.read("daily_nav").sort_values(["symphony_id", "session_date"])
    for sid, g in nav.groupby("symphony_id"):
        v1, v2 = g["nav_usd"].tolist()
        assert g["daily_return"].iloc[1] == pytest.approx(v2 / v1 - 1, rel=1e-9)
        # the day-1 holdings valued at day-2 prices, minus day-2 trading costs (≤ 1 bp of NAV per side)
        pos1 = wh.read("positions", where={"symphony_id": sid, "session_date": dt.date.fromisoformat(S1)})
        closes = load_adjusted_closes([t for t in pos1["ticker"] if t != "$USD"], end=S2).iloc[-1]
        marked = sum(q * closes[t] for t, q in zip(pos1["ticker"], pos1["qty"]) if t != "$USD") + \
            float(pos1.loc[pos1["ticker"] == "$USD", "qty"].sum())
        assert v2 == pytest.approx(marked, abs=marked * 2e-4)
    metrics = wh.read("performance_metrics", where={"as_of_date": dt.date.fromisoformat(S2)})
    assert set(metrics["metric"]) >= {"cumulative_return", "sharpe_ratio", "max_drawdown"}


@pytest.mark.slow
def test_backtest_asset_writes_runs(seeded, warehouse_url):
    wh = seeded
    result = dg.materialize([symphony_backtests], resources=build_resources(warehouse_url=warehouse_url),
                            instance=dg.DagsterInstance.ephemeral(),
                            run_config={"ops": {"symphony_backtests": {"config": {"start": "2024-01-02",
                                                                                   "end": "2024-06-21"}}}})
    assert result.success
    runs = wh.read("backtest_runs")
    assert len(runs) == 2
    assert set(runs["start_date"].astype(str)) == {"2024-01-02"}
    daily = wh.read("backtest_daily")
    assert len(daily) == 2 * len(load_adjusted_closes(["SPY"], start="2024-01-02", end="2024-06-21"))


def test_definitions_load():
    assert defs.resolve_job_def("daily_trading") is not None
    assert defs.resolve_job_def("backtest_all") is not None
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"daily_bars", "indicator_values", "target_allocations", "order_plan", "submitted_orders", "positions",
            "daily_nav", "performance_metrics", "symphony_backtests"} <= keys


class GappyMarketData(BundledMarketData):
    """The bundled data with one ticker's bar missing on one session (a feed gap)."""

    drop_ticker: str
    drop_session: str

    def bars(self, tickers, start, end):
        bars = super().bars(tickers, start, end)
        gone = (bars["ticker"] == self.drop_ticker) & (bars["session_date"] == dt.date.fromisoformat(self.drop_session))
        return bars[~gone].reset_index(drop=True)


@pytest.mark.slow
def test_missing_bar_blocks_trading(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(wh, FILES[:1], "acct-1")
    resources = {**build_resources(warehouse_url=warehouse_url),
                 "market_data": GappyMarketData(drop_ticker="TLT", drop_session=S2)}
    result = dg.materialize([*DAILY_ASSETS, *DAILY_CHECKS], resources=resources, partition_key=S2,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "daily_bars_complete")
    assert check.passed is False
    assert check.metadata["missing"].value == "TLT"
    # the blocking check stops everything downstream of the bars: no allocation, no order
    assert wh.read("target_allocations").empty and wh.read("orders").empty
    wh.dispose()


def test_dagster_cli_validates_definitions(tmp_path):
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    exe = Path(sys.executable).with_name("dagster")
    proc = subprocess.run([str(exe), "definitions", "validate", "-w", "workspace.yaml"], cwd=ROOT,
                          env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful for code location oragami" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_monthly_symphony_trades_on_first_session_of_month_only(warehouse_url, tmp_path):
    monthly = tmp_path / "spy_tlt_monthly.clj"
    monthly.write_text('(defsymphony "SPY TLT monthly" {:asset-class "EQUITIES", :rebalance-frequency :monthly}'
                       ' (weight-equal [(asset "SPY") (asset "TLT")]))')
    daily = tmp_path / "spy_tlt_daily.clj"
    daily.write_text(monthly.read_text().replace(":monthly", ":daily").replace("SPY TLT monthly", "SPY TLT daily"))
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    seed_symphonies(wh, [monthly, daily], "acct-1")
    for s in ("2024-06-27", "2024-06-28", "2024-07-01"):
        assert dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=warehouse_url),
                              partition_key=s, instance=dg.DagsterInstance.ephemeral()).success
    intents = wh.read("order_intents")
    days = lambda sid: sorted(set(intents.loc[intents["symphony_id"] == sid, "session_date"].astype(str)))
    # the daily twin re-balances its drift every session; the monthly one on its first trade and on 07-01
    assert days("spy-tlt-daily") == ["2024-06-27", "2024-06-28", "2024-07-01"]
    assert days("spy-tlt-monthly") == ["2024-06-27", "2024-07-01"]
    # both symphonies are in one account: one netted order per ticker and side, never one per symphony
    orders = wh.read("orders")
    assert not orders.duplicated(["session_date", "ticker"]).any()
    assert set(orders["symphony_id"]) == {"net"}
    assert len(wh.read("daily_nav")) == 6
    wh.dispose()


class IntradayMarketData(BundledMarketData):
    """At 15:50 the source has history up to yesterday and a latest trade for today."""

    def bars(self, tickers, start, end):
        bars = super().bars(tickers, start, end)
        return bars[bars["session_date"] < dt.date.fromisoformat(S2)].reset_index(drop=True)

    def latest_prices(self, tickers):
        closes = load_adjusted_closes(list(tickers), end=S2).iloc[-1]
        when = pd.Timestamp(f"{S2} 15:49:58", tz="America/New_York").to_pydatetime()
        return {t: (float(closes[t]) * 1.001, when) for t in tickers}


@pytest.mark.slow
def test_live_prices_stand_in_for_todays_close(warehouse_url, monkeypatch):
    import assets.daily as daily

    monkeypatch.setattr(daily, "new_york_today", lambda: dt.date.fromisoformat(S2))
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(wh, FILES[:1], "acct-1")
    resources = {**build_resources(warehouse_url=warehouse_url), "market_data": IntradayMarketData()}
    result = dg.materialize([*DAILY_ASSETS, *DAILY_CHECKS], resources=resources, partition_key=S2,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert next(c for c in result.get_asset_check_evaluations() if c.check_name == "daily_bars_complete").passed
    today = wh.read("daily_bars", where={"session_date": dt.date.fromisoformat(S2)})
    assert set(today["source"]) == {"bundled-live"} and set(today["adjustment"]) == {"live"}
    spy = today[today["ticker"] == "SPY"].iloc[0]
    assert spy["adj_close"] == pytest.approx(float(load_adjusted_closes(["SPY"], end=S2).iloc[-1, 0]) * 1.001)
    assert spy["ingested_at"] == pd.Timestamp(f"{S2} 15:49:58", tz="America/New_York")
    assert len(wh.read("orders")) > 0      # the session traded on the live prices
    wh.dispose()
