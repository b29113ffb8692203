"""Dagster: the daily graph's bars from a local price directory (LocalDirectoryMarketData, chosen by path) and the
``daily_bars_quality`` asset check reporting a stale series and a split-like jump as data."""
from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import pytest

from assets.daily import daily_bars
from assets.data_quality import daily_bars_quality
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources, market_data_resource
from resources import LocalDirectoryMarketData
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
RSI = ROOT / "symphonies" / "editor_relative_strength_index.json"  # reads and holds SPY and BIL
SESSIONS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]


@pytest.fixture
def prices(tmp_path) -> Path:
    d = tmp_path / "prices"
    d.mkdir()
    # SPY halves on 01-04 (an unadjusted 2:1 split) ; BIL stops after 01-04
    (d / "SPY.csv").write_text("date,adj_close\n" + "".join(
        f"{s},{p}\n" for s, p in zip(SESSIONS, [470.0, 472.0, 236.0, 237.0, 238.0])))
    (d / "BIL.csv").write_text("date,adj_close\n" + "".join(f"{s},91.5\n" for s in SESSIONS[:3]))
    return d


def test_market_data_resource_accepts_a_directory(prices):
    res = market_data_resource(str(prices))
    assert isinstance(res, LocalDirectoryMarketData) and res.directory == str(prices.resolve())
    bars = res.bars(["SPY", "QQQ"], None, __import__("datetime").date(2024, 1, 3))
    assert bars["ticker"].tolist() == ["SPY", "SPY"] and bars["adj_close"].tolist() == [470.0, 472.0]
    assert res.provenance()["source"] == f"local:{prices.resolve()}"
    with pytest.raises(ValueError, match="does not exist"):
        market_data_resource(str(prices / "nowhere"))


def test_quality_check_reports_stale_and_jump(prices, tmp_path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(wh, [RSI], "acct-1", "Test account")
    result = dg.materialize([daily_bars, daily_bars_quality],
                            resources=build_resources(warehouse_url=url, market_data=str(prices)),
                            partition_key="2024-01-08", instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "daily_bars_quality" and check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in check.metadata.items()}
    assert meta["stale_count"] == 1 and meta["stale"].startswith("BIL 2024-01-04: last bar 2024-01-04, 2 session(s)")
    assert meta["jump_count"] == 1
    assert meta["jump"] == ("SPY 2024-01-04: -50.0% from 2024-01-03 (bound ±60% for 1×), like an unadjusted split "
                            "(ratio 1:2)")
    stored = wh.read("daily_bars", where={"ticker": "SPY"})
    assert sorted(stored["adj_close"].tolist()) == [236.0, 237.0, 238.0, 470.0, 472.0]
    assert set(stored["source"]) == {f"local:{prices.resolve()}"}
    wh.dispose()
