"""Which warehouse the dashboard reads, and whether it can be read (no account data here).

Nothing is created or opened at import time; every function reads the settings when called.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from warehouse import Warehouse, open_read_only

#: Tables the pages read; if one is missing the schema was never created.
REQUIRED_TABLES: tuple[str, ...] = ("accounts", "symphonies", "target_allocations", "decision_traces",
                                    "symphony_runs", "daily_nav", "backtest_runs", "backtest_daily")


def settings_url() -> str:
    """The URL of the warehouse chosen by the settings, read now (never at import time).

    Same precedence as :meth:`Warehouse.from_settings`: env ``ORAGAMI_WAREHOUSE_URL``, else the DuckDB file at
    env ``ORAGAMI_DUCKDB_PATH``, else ``./var/oragami.duckdb``. Nothing is created or opened.

    Returns:
        The full URL, password included: pass it to the cached reads, never display it (use :func:`safe_url`).
    """
    wh = Warehouse.from_settings(read_only=True)
    try:
        return wh.engine.url.render_as_string(hide_password=False)
    finally:
        wh.dispose()


def safe_url(url: str) -> str:
    """``url`` with its password masked (``***``), safe to display."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def duckdb_file(url: str) -> str | None:
    """The file of a DuckDB URL; ``None`` for PostgreSQL or an in-memory DuckDB."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def warehouse_state(url: str) -> str:
    """Whether the warehouse can be read, without creating anything.

    Returns:
        ``"missing"``: the DuckDB file does not exist; ``"no_schema"``: it exists but lacks the tables (run
        ``make demo`` / ``oragami seed``); ``"ok"``: readable.

    Raises:
        warehouse.WarehouseLockedError: a writer held the DuckDB file through every retry.
        sqlalchemy.exc.OperationalError: the server (PostgreSQL) cannot be reached.
    """
    path = duckdb_file(url)
    if path is not None and not Path(path).exists():
        return "missing"
    wh = open_read_only(url)
    try:
        with wh.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
    finally:
        wh.dispose()
    return "ok" if set(REQUIRED_TABLES) <= names else "no_schema"


def has_users_table(wh: Warehouse) -> bool:
    """Whether the ``users`` table exists (a warehouse created before sign-in existed lacks it)."""
    with wh.connect() as conn:
        return "users" in sa.inspect(conn).get_table_names()


__all__ = ["REQUIRED_TABLES", "settings_url", "safe_url", "duckdb_file", "warehouse_state", "has_users_table"]
