"""The warehouse resource: opens :class:`warehouse.Warehouse` (DuckDB file by default, Postgres by URL)."""
from __future__ import annotations

import contextlib
import threading

import dagster as dg
from pydantic import Field, PrivateAttr

from warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """Where results are stored. ``url`` (SQLAlchemy URL, e.g. Postgres) wins over ``duckdb_path``; both empty →
    ``ORAGAMI_WAREHOUSE_URL`` / ``ORAGAMI_DUCKDB_PATH`` from the environment, else ``./var/oragami.duckdb``.

    Inside a run (or a sensor tick), the first :meth:`open` opens the warehouse, creates the schema and holds a
    DuckDB file open until the run ends (:meth:`warehouse.Warehouse.held`); later calls return the same warehouse.
    Every step's connections are then cheap (under 1 ms instead of 20–70 ms each), and once the run has the file
    lock no outside process (a notebook) can take it between two of the run's writes. The first open still waits
    for the lock with back-off up to ``ORAGAMI_LOCK_WAIT_S`` and fails that step with the lock's one line. Nothing is
    opened until a step asks. Outside a run (an asset called directly) :meth:`open` opens a new warehouse each time.
    Evaluate sensors as the daemon does, with ``with dg.build_sensor_context(...) as context``.
    """

    url: str | None = Field(default=None, description="SQLAlchemy URL of the warehouse")
    duckdb_path: str | None = Field(default=None, description="DuckDB file when no URL is set")

    _in_run: bool = PrivateAttr(default=False)
    _held: Warehouse | None = PrivateAttr(default=None)
    _stack: contextlib.ExitStack | None = PrivateAttr(default=None)
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        with self._guard:
            stack, self._stack, self._held, self._in_run = self._stack, None, None, False
        if stack is not None:
            stack.close()

    def open(self) -> Warehouse:
        """The run's warehouse (schema created), or outside a run a new one.

        Raises:
            warehouse.WarehouseLockedError: the DuckDB file stayed locked by another process past the wait.
        """
        if not self._in_run:
            return self._fresh()
        with self._guard:
            if self._held is None:
                wh = self._fresh()
                stack = contextlib.ExitStack()
                stack.enter_context(wh.held())
                self._stack, self._held = stack, wh
            return self._held

    def _fresh(self) -> Warehouse:
        wh = Warehouse.from_settings(url=self.url, duckdb_path=self.duckdb_path)
        wh.create_schema()
        return wh
