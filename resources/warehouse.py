"""The warehouse resource: opens :class:`warehouse.Warehouse` (DuckDB file by default, Postgres by URL)."""
from __future__ import annotations

import dagster as dg
from pydantic import Field

from warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """Where results are stored. ``url`` (SQLAlchemy URL, e.g. Postgres) wins over ``duckdb_path``; both empty →
    ``ORAGAMI_WAREHOUSE_URL`` / ``ORAGAMI_DUCKDB_PATH`` from the environment, else ``./var/oragami.duckdb``."""

    url: str | None = Field(default=None, description="SQLAlchemy URL of the warehouse")
    duckdb_path: str | None = Field(default=None, description="DuckDB file when no URL is set")

    def open(self) -> Warehouse:
        wh = Warehouse.from_settings(url=self.url, duckdb_path=self.duckdb_path)
        wh.create_schema()
        return wh
