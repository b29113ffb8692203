"""Storage contract and adapters (DuckDB by default, PostgreSQL) for Oragami Composer.

Imports engine types only; never dagster, streamlit or broker code (style guide §5.1).

Public API:

* :class:`Warehouse` — the store: idempotent partition writes (:meth:`Warehouse.replace`,
  :meth:`Warehouse.upsert`) and generic reads (:meth:`Warehouse.read`).
* :mod:`warehouse.repos` — the named queries and domain writes shared by the CLI, the assets and the dashboards
  (symphony registration, ledgers, bars, scoped tenant reads).
* :class:`AccountScope` / :data:`ALL_ACCOUNTS` — which accounts a tenant query may return (always required).
* :func:`open_read_only` — a read-only warehouse for dashboards (short-lived DuckDB connections, bounded retry on
  the file lock).
* :class:`Between` — an inclusive range in a ``where`` filter.
* :mod:`warehouse.schema` — the tables (:data:`metadata`, :data:`TABLES`) and conventions (:data:`CASH_TICKER`,
  :data:`NO_WINDOW`).
"""
from warehouse.schema import CASH_TICKER, DEFAULT_CAPITAL_USD, NO_WINDOW, TABLES, USER_SCOPED_TABLES, metadata
from warehouse.scope import ALL_ACCOUNTS, AccountScope
from warehouse.store import (
    ActivationLimitError,
    DEFAULT_DUCKDB_PATH,
    ENV_DUCKDB_PATH,
    ENV_URL,
    Between,
    ReadOnlyWarehouseError,
    Warehouse,
    WarehouseLockedError,
    duckdb_url,
    open_read_only,
)

__all__ = [
    "Warehouse",
    "AccountScope",
    "ALL_ACCOUNTS",
    "Between",
    "open_read_only",
    "duckdb_url",
    "WarehouseLockedError",
    "ActivationLimitError",
    "ReadOnlyWarehouseError",
    "ENV_URL",
    "ENV_DUCKDB_PATH",
    "DEFAULT_DUCKDB_PATH",
    "metadata",
    "TABLES",
    "USER_SCOPED_TABLES",
    "CASH_TICKER",
    "NO_WINDOW",
    "DEFAULT_CAPITAL_USD",
]
