"""Resources: the floor between the warehouse and the assets (market data, brokers, the warehouse).

Each has an offline implementation used by default and by the tests (bundled bars, the simulated broker, a DuckDB
file) and a networked one (EODHD / Alpaca market data, Alpaca paper accounts, Postgres). Imports point down only:
``resources`` may import ``engine`` and ``warehouse``; ``assets``, ``pipelines`` and ``orchestration`` import it.
"""
from resources.brokers import AlpacaBroker, BrokerResource, ComposerTickers, SimulatedAccount, SimulatedBroker
from resources.market_data import BundledMarketData, LocalDirectoryMarketData, MarketDataResource
from resources.warehouse import WarehouseResource

__all__ = ["AlpacaBroker", "BrokerResource", "BundledMarketData", "ComposerTickers", "LocalDirectoryMarketData",
           "MarketDataResource",
           "SimulatedAccount", "SimulatedBroker", "WarehouseResource"]
