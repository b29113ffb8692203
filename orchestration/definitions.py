"""The one ``Definitions`` of the code location (``dagster dev -w workspace.yaml`` loads it)."""
from __future__ import annotations

import dagster as dg

from assets.backtests import symphony_backtests
from assets.daily import DAILY_ASSETS, DAILY_CHECKS
from orchestration.resources import BundledMarketData, SimulatedBroker, WarehouseResource
from pipelines.jobs import backtest_all, daily_trading, daily_trading_schedule


def build_resources(warehouse_url: str | None = None, duckdb_path: str | None = None) -> dict:
    """The offline resources: bundled market data, simulated paper broker, warehouse (settings read at run time)."""
    return {
        "market_data": BundledMarketData(),
        "broker": SimulatedBroker(),
        "warehouse": WarehouseResource(url=warehouse_url, duckdb_path=duckdb_path),
    }


defs = dg.Definitions(
    assets=[*DAILY_ASSETS, symphony_backtests],
    asset_checks=DAILY_CHECKS,
    jobs=[daily_trading, backtest_all],
    schedules=[daily_trading_schedule],
    resources=build_resources(),
)
