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
import importlib
from typing import TYPE_CHECKING

#: Public name → the module that defines it. Imported on first access (PEP 562), so that ``import
#: warehouse.bundled`` (a backtest's price load) does not import SQLAlchemy and DuckDB through the store.
_LAZY = {
    **dict.fromkeys(("CASH_TICKER", "DEFAULT_CAPITAL_USD", "NO_WINDOW", "TABLES", "USER_SCOPED_TABLES", "metadata"),
                    "warehouse.schema"),
    **dict.fromkeys(("ALL_ACCOUNTS", "AccountScope"), "warehouse.scope"),
    **dict.fromkeys(("ActivationLimitError", "DEFAULT_DUCKDB_PATH", "ENV_DUCKDB_PATH", "ENV_URL", "Between",
                     "ReadOnlyWarehouseError", "Warehouse", "WarehouseLockedError", "duckdb_url", "open_read_only"),
                    "warehouse.store"),
}
_SUBMODULES = {"schema", "scope", "store"}  # ``warehouse.store`` after a plain ``import warehouse``, as before

if TYPE_CHECKING:
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


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"warehouse.{name}")
    raise AttributeError(f"module 'warehouse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


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
