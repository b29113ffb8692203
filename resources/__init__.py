"""Resources: the floor between the warehouse and the assets (market data, brokers, the warehouse).

Each has an offline implementation used by default and by the tests (bundled bars, the simulated broker, a DuckDB
file) and a networked one (EODHD / Alpaca market data, Alpaca paper accounts, Postgres). Imports point down only:
``resources`` may import ``engine`` and ``warehouse``; ``assets``, ``pipelines`` and ``orchestration`` import it.

The names below are loaded on first use (PEP 562 ``__getattr__``): ``from resources import SimulatedBroker`` works
as before, while a process that only needs a Dagster-free submodule (``resources.credentials`` for the CLI's
``credentials`` commands, ``resources.alpaca_broker``) does not import Dagster through this package.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each exported name and the submodule that defines it.
_EXPORTS = {
    "AlpacaBroker": "resources.brokers", "BrokerResource": "resources.brokers",
    "ComposerTickers": "resources.brokers", "SimulatedAccount": "resources.brokers",
    "SimulatedBroker": "resources.brokers",
    "BundledMarketData": "resources.market_data", "LocalDirectoryMarketData": "resources.market_data",
    "MarketDataResource": "resources.market_data",
    "WarehouseResource": "resources.warehouse",
}

if TYPE_CHECKING:
    from resources.brokers import AlpacaBroker, BrokerResource, ComposerTickers, SimulatedAccount, SimulatedBroker
    from resources.market_data import BundledMarketData, LocalDirectoryMarketData, MarketDataResource
    from resources.warehouse import WarehouseResource

__all__ = ["AlpacaBroker", "BrokerResource", "BundledMarketData", "ComposerTickers", "LocalDirectoryMarketData",
           "MarketDataResource",
           "SimulatedAccount", "SimulatedBroker", "WarehouseResource"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'resources' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
