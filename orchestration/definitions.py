"""The one ``Definitions`` of the code location (``dagster dev -w workspace.yaml`` loads it)."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.backtests import symphony_backtests
from assets.daily import DAILY_ASSETS, DAILY_CHECKS, FRESHNESS_CHECKS
from assets.data_quality import DATA_QUALITY_CHECKS
from assets.research import RESEARCH_ASSETS
from resources import AlpacaBroker, BundledMarketData, SimulatedBroker, WarehouseResource
from pipelines.jobs import (backtest_all, daily_nav_freshness, daily_nav_freshness_schedule, daily_trading,
                           daily_trading_schedule)
from pipelines.research import RESEARCH_JOBS, RESEARCH_SENSORS
from pipelines.replay import paper_replay_job
from pipelines.sensors import ALERT_SENSORS
from resources.alerts import AlertsResource


def market_data_resource(source: str = "bundled", alpaca_data_url: str | None = None, feed: str = "iex"):
    """``bundled`` (offline default), ``eodhd`` (key ``EODHD_API_KEY``), ``alpaca`` (``ALPACA_API_KEY`` /
    ``ALPACA_SECRET_KEY``) or a path: a local directory (or long file) of CSV/Parquet prices
    (:class:`resources.market_data.LocalDirectoryMarketData`); keys are Dagster ``EnvVar``s, read when a run
    starts and hidden in the UI."""
    if source == "bundled":
        return BundledMarketData()
    from resources.market_data import AlpacaMarketData, EodhdMarketData, LocalDirectoryMarketData

    if source not in ("eodhd", "alpaca") and ("/" in source or source.startswith(".") or Path(source).exists()):
        if not Path(source).expanduser().exists():
            raise ValueError(f"market data directory {source!r} does not exist")
        return LocalDirectoryMarketData(directory=str(Path(source).expanduser().resolve()))

    if source == "eodhd":
        return EodhdMarketData(api_key=dg.EnvVar("EODHD_API_KEY"))
    if source == "alpaca":
        return AlpacaMarketData(api_key=dg.EnvVar("ALPACA_API_KEY"), secret_key=dg.EnvVar("ALPACA_SECRET_KEY"),
                                feed=feed, url_override=alpaca_data_url)
    raise ValueError(f"unknown market data source {source!r}: use 'bundled', 'eodhd', 'alpaca' or a directory")


def build_resources(warehouse_url: str | None = None, duckdb_path: str | None = None, broker: str = "simulated",
                    alpaca_url: str | None = None, market_data: str = "bundled") -> dict:
    """Resources: market data (bundled offline default), a broker (``simulated`` offline default, or ``alpaca``
    paper), warehouse.

    Settings that hold secrets (Alpaca / EODHD keys) are read when a run needs them, never here.
    """
    if broker not in ("simulated", "alpaca"):
        raise ValueError(f"unknown broker {broker!r}: use 'simulated' or 'alpaca'")
    return {
        "market_data": market_data_resource(market_data),
        "broker": SimulatedBroker() if broker == "simulated" else AlpacaBroker(url_override=alpaca_url),
        "warehouse": WarehouseResource(url=warehouse_url, duckdb_path=duckdb_path),
        "alerts": AlertsResource(),   # channels from ORAGAMI_ALERT_* at send time (resources.alerts)
    }


def build_definitions(**resource_settings) -> dg.Definitions:
    """The code location's definitions with the given resource settings (see :func:`build_resources`)."""
    return dg.Definitions(
        assets=[*DAILY_ASSETS, symphony_backtests, *RESEARCH_ASSETS],
        asset_checks=[*DAILY_CHECKS, *DATA_QUALITY_CHECKS, *FRESHNESS_CHECKS],
        jobs=[daily_trading, backtest_all, *RESEARCH_JOBS, paper_replay_job,
              daily_nav_freshness],
        schedules=[daily_trading_schedule, daily_nav_freshness_schedule],
        sensors=[*RESEARCH_SENSORS, *ALERT_SENSORS],
        resources=build_resources(**resource_settings),
    )


def _broker_choice() -> dict:
    """``ORAGAMI_BROKER=alpaca`` (and optional ``ORAGAMI_ALPACA_URL``) makes the UI's runs trade Alpaca paper.

    ``ORAGAMI_MARKET_DATA=eodhd|alpaca|<directory>`` picks the bar source. Only the *choices* are read when the code location
    loads; keys are read at run time.
    """
    import os

    choice = os.environ.get("ORAGAMI_BROKER", "simulated")
    return {"broker": choice, "alpaca_url": os.environ.get("ORAGAMI_ALPACA_URL") or None,
            "market_data": os.environ.get("ORAGAMI_MARKET_DATA", "bundled")}


defs = build_definitions(**_broker_choice())
