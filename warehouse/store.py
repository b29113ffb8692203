"""The warehouse store: connections, the schema, idempotent partition writes and generic reads.

Named domain queries and writes (registration, ledgers, bars) live in :mod:`warehouse.repos`; tenant filters are
:class:`warehouse.scope.AccountScope` values.

One class, :class:`Warehouse`, over one SQLAlchemy engine, for both backends:

* **DuckDB** (default, a local file; ``duckdb:///path/to/file.duckdb``). DuckDB lets one process write a file *or*
  many processes read it (style guide §5.6–5.7), so every operation opens a short-lived connection (``NullPool``)
  and closes it at once: no connection, hence no file lock, outlives a call. While another process holds the lock
  ("Could not set lock on file"), a **writer** waits with exponential backoff until a deadline
  (``ORAGAMI_LOCK_WAIT_S``, default :data:`DEFAULT_LOCK_WAIT_S` seconds: long enough for a dashboard query or a
  second run to finish, short enough to leave the 15:50 run its window), then raises :class:`WarehouseLockedError`
  with one line naming the file and the process that holds it. Dashboards use :func:`open_read_only`, which opens
  the file ``read_only=True`` and gives up after a few short retries.
* **PostgreSQL** (``postgresql+psycopg2://user:pass@host:5432/db``): a normal pooled engine.

Write semantics (style guide §1a.9, §1c.3): :meth:`Warehouse.replace` deletes the rows of a partition and inserts
the new ones in **one transaction**; on any error the transaction rolls back and the table is unchanged, so running
a partition twice leaves the same rows (values replaced, not appended).

``where`` filters (used by :meth:`Warehouse.replace` and :meth:`Warehouse.read`) map a column to:

* a scalar: ``column = value``;
* ``None``: ``column IS NULL``;
* a ``list``/``tuple``/``set``/``frozenset`` (or array, Index, Series): ``column IN (...)`` (empty: matches nothing);
* :class:`Between` ``(lo, hi)``: ``lo <= column <= hi`` (inclusive; a ``None`` bound is open).

Values are coerced to the column's type first: DATE columns accept ``datetime.date``, ``datetime``,
``pandas.Timestamp``, ``numpy.datetime64`` or ISO strings (``"2022-01-01"``).

Types of the DataFrames returned by the reads (the same on both backends):

* DATE columns (``session_date``, ``as_of_date``, ``start_date``, ``end_date``): ``datetime.date`` objects
  (``object`` dtype), ``None`` for NULL.
* TIMESTAMP WITH TIME ZONE columns (``*_at``): ``datetime64[..., UTC]``, ``NaT`` for NULL.
* DOUBLE columns: ``float64``, ``NaN`` for NULL.
* INTEGER columns: ``int64``, or pandas ``Int64`` when the result holds NULLs.
* TEXT columns: pandas ``str`` dtype, ``NaN`` for NULL.

Inputs to the writes: NaN/None/NaT become NULL; naive timestamps are taken as UTC; DATE columns keep the calendar
date of whatever is given (a time of day is dropped).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

if TYPE_CHECKING:
    import pyarrow as pa

from warehouse.schema import TABLES, USER_SCOPED_TABLES, metadata
from warehouse.scope import AccountScope, require_scope

logger = logging.getLogger(__name__)

_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3

#: Environment variable holding the full warehouse URL (wins over the DuckDB path settings).
ENV_URL = "ORAGAMI_WAREHOUSE_URL"
#: Environment variable holding the DuckDB file path (used when no URL is set).
ENV_DUCKDB_PATH = "ORAGAMI_DUCKDB_PATH"
#: DuckDB file used when neither a URL nor a path is configured (relative to the working directory).
DEFAULT_DUCKDB_PATH = Path("var") / "oragami.duckdb"

SUPPORTED_BACKENDS: tuple[str, ...] = ("duckdb", "postgresql")

#: Environment variable: seconds a DuckDB writer waits for another process to release the file lock.
ENV_LOCK_WAIT_S = "ORAGAMI_LOCK_WAIT_S"
#: Default of :data:`ENV_LOCK_WAIT_S`: three minutes of the ten the 15:50 run has.
DEFAULT_LOCK_WAIT_S = 180.0
#: Longest single sleep between two attempts while waiting for the lock, seconds.
MAX_LOCK_BACKOFF_S = 5.0


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process until the deadline (or through every retry).

    ``str()`` is one line: the file, who holds it (program and PID, as DuckDB reports them), how long it waited
    and what to do.
    """


class ActivationLimitError(ValueError):
    """Activating a symphony would exceed its account's ``max_active_symphonies``."""


class ReadOnlyWarehouseError(PermissionError):
    """A write was attempted through a read-only :class:`Warehouse`."""


@dataclass(frozen=True)
class Between:
    """An inclusive range for a ``where`` filter: ``lo <= column <= hi``.

    Attributes:
        lo: lower bound (inclusive), or ``None`` for no lower bound.
        hi: upper bound (inclusive), or ``None`` for no upper bound.
    """

    lo: Any = None
    hi: Any = None


# ----------------------------------------------------------------------------------------------------------------
# Value coercion (one representation per SQL type, on both backends)
# ----------------------------------------------------------------------------------------------------------------

def _is_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def to_python(col: sa.Column, value: Any) -> Any:
    """Coerce one value to the Python object the DBAPI gets for ``col`` (``None`` for NULL).

    Raises:
        ValueError: the value cannot represent the column's type (names the column).
    """
    if _is_null(value):
        return None
    type_ = col.type
    try:
        if isinstance(type_, sa.DateTime):
            ts = pd.Timestamp(value)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            return ts.to_pydatetime()
        if isinstance(type_, sa.Date):
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            return pd.Timestamp(value).date()
        if isinstance(type_, sa.Integer):
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError(f"{value!r} is not an integer")
            return int(as_float)
        if isinstance(type_, sa.Float):
            return float(value)
        if isinstance(type_, sa.String):
            return str(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"column '{col.name}' of table '{col.table.name}': cannot use {value!r} "
                         f"as {type_}: {exc}") from exc
    return value


def _to_frame_value(col: sa.Column, value: Any) -> Any:
    """Coerce a ``where`` value to the representation :func:`_coerce_frame` gives the column."""
    value = to_python(col, value)
    if value is not None and isinstance(col.type, (sa.Date, sa.DateTime)):
        return pd.Timestamp(value)
    return value


def coerce_frame(table: sa.Table, rows: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``rows`` whose columns have one dtype per SQL type.

    DATE -> ``datetime64`` at midnight, TIMESTAMPTZ -> ``datetime64[UTC]``, DOUBLE -> ``float64``,
    INTEGER -> ``Int64``, TEXT -> ``str``. Missing values stay missing (they become NULL).

    Raises:
        ValueError: a column cannot be converted (names the column and table).
    """
    out = {}
    for name in rows.columns:
        col = table.c[name]
        s = rows[name]
        try:
            if isinstance(col.type, sa.DateTime):
                s = pd.to_datetime(s, utc=True)
            elif isinstance(col.type, sa.Date):
                if isinstance(s.dtype, pd.DatetimeTZDtype):
                    s = s.dt.tz_localize(None)
                s = pd.to_datetime(s).dt.normalize()
            elif isinstance(col.type, sa.Integer):
                s = pd.to_numeric(s).astype("Int64")
            elif isinstance(col.type, sa.Float):
                s = pd.to_numeric(s).astype("float64")
            elif isinstance(col.type, sa.String):
                if not isinstance(s.dtype, pd.StringDtype):
                    missing = s.isna().to_numpy()
                    s = pd.Series([None if m else (v if isinstance(v, str) else str(v))
                                   for v, m in zip(s.tolist(), missing)], index=s.index, dtype=object)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"column '{name}' of table '{table.name}': cannot convert to {col.type}: "
                             f"{exc}") from exc
        out[name] = s
    return pd.DataFrame(out, index=rows.index)


def _python_columns(table: sa.Table, frame: pd.DataFrame) -> list[list[Any]]:
    """Column-wise lists of DBAPI-ready Python objects (``None`` for NULL) from a coerced frame."""
    cols = []
    for name in frame.columns:
        s = frame[name]
        type_ = table.c[name].type
        if isinstance(type_, sa.DateTime):
            values = list(s.dt.to_pydatetime())
        elif isinstance(type_, sa.Date):
            values = s.dt.date.tolist()
        else:
            values = s.tolist()
        for i in np.flatnonzero(s.isna().to_numpy()):
            values[i] = None
        cols.append(values)
    return cols


def _arrow_table(table: sa.Table, frame: pd.DataFrame) -> "pa.Table":
    """A coerced frame as an Arrow table with the SQL column types (DATE -> date32; NaN/NaT/None -> null)."""
    import pyarrow as pa

    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for i, name in enumerate(frame.columns):
        if isinstance(table.c[name].type, sa.Date) and not isinstance(table.c[name].type, sa.DateTime):
            arrow = arrow.set_column(i, name, arrow.column(i).cast(pa.date32()))
    return arrow


def _normalize_result(frame: pd.DataFrame, types: Mapping[str, sa.types.TypeEngine]) -> pd.DataFrame:
    """Apply the documented read dtypes (module docstring) to a frame built from fetched rows."""
    for name, type_ in types.items():
        if name not in frame.columns:
            continue
        s = frame[name]
        if isinstance(type_, sa.DateTime):
            frame[name] = pd.to_datetime(s, utc=True)
        elif isinstance(type_, sa.Date):
            if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "date":
                frame[name] = s.where(s.notna(), None)   # already datetime.date (DuckDB/Arrow): no Python loop
            else:
                frame[name] = pd.Series([None if _is_null(v) else (v.date() if isinstance(v, dt.datetime) else v)
                                         for v in s], index=frame.index, dtype=object)
        elif isinstance(type_, sa.Integer):
            s = pd.to_numeric(s)
            frame[name] = s.astype("Int64") if s.isna().any() else s.astype("int64")
        elif isinstance(type_, sa.Float):
            frame[name] = pd.to_numeric(s).astype("float64")
        elif isinstance(type_, sa.String):
            # pandas >= 3: the ``str`` dtype (NaN for NULL); pandas 2 would turn None into the text "None".
            frame[name] = s.astype("str") if _PANDAS_3 else s.astype(object).where(s.notna(), None)
    return frame


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_DUCKDB_CAST = (
    (sa.DateTime, "TIMESTAMPTZ"),
    (sa.Date, "DATE"),
    (sa.Integer, "INTEGER"),
    (sa.Float, "DOUBLE"),
    (sa.String, "VARCHAR"),
)


def _duckdb_type(type_: sa.types.TypeEngine) -> str | None:
    for cls, name in _DUCKDB_CAST:
        if isinstance(type_, cls):
            return name
    return None


def _is_collection(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Index, pd.Series))


def as_list(values: str | Iterable[str]) -> list[str]:
    if isinstance(values, str):
        return [values]
    return list(dict.fromkeys(values))


# ----------------------------------------------------------------------------------------------------------------
# The warehouse
# ----------------------------------------------------------------------------------------------------------------

class Warehouse:
    """Access to the warehouse tables (:mod:`warehouse.schema`) on DuckDB or PostgreSQL.

    Args:
        url: SQLAlchemy URL: ``duckdb:///path/to/file.duckdb`` (``duckdb:///:memory:`` for a private in-memory
            database) or ``postgresql+psycopg2://user:password@host:5432/dbname``.
        read_only: refuse writes; a DuckDB file is opened with ``read_only=True`` so that other processes
            can read it too (a read-only open still waits for a writer to finish, see ``lock_retries``).
        lock_retries: DuckDB only: how many times to retry opening the file while another process holds its
            lock; after the last retry :class:`WarehouseLockedError` is raised. ``None`` (default): a writer waits
            until ``lock_wait_s`` instead, a read-only warehouse retries 6 times.
        lock_backoff_s: DuckDB only: the first retry delay in seconds; each retry doubles it (plus jitter), up to
            :data:`MAX_LOCK_BACKOFF_S`.
        lock_wait_s: DuckDB only: the deadline in seconds for getting the lock (with ``lock_retries``, whichever
            comes first). ``None``: env ``ORAGAMI_LOCK_WAIT_S``, else :data:`DEFAULT_LOCK_WAIT_S` for a writer.

    Raises:
        ValueError: the URL names a backend other than DuckDB or PostgreSQL.

    Use it as a context manager, or call :meth:`dispose` when done. The URL's password never appears in logs or
    ``repr``; use :attr:`safe_url` to display the URL.
    """

    def __init__(self, url: str | URL, *, read_only: bool = False, lock_retries: int | None = None,
                 lock_backoff_s: float = 0.1, lock_wait_s: float | None = None) -> None:
        self._url = make_url(url)
        backend = self._url.get_backend_name()
        if backend not in SUPPORTED_BACKENDS:
            raise ValueError(f"unsupported warehouse backend '{backend}' in {self.safe_url}; "
                             f"expected one of {', '.join(SUPPORTED_BACKENDS)}")
        self._backend = backend
        self._read_only = read_only
        if lock_retries is None and read_only:
            lock_retries = 6
        self._lock_retries = None if lock_retries is None else max(0, int(lock_retries))
        self._lock_backoff_s = max(0.0, float(lock_backoff_s))
        if lock_wait_s is None and self._lock_retries is None:
            lock_wait_s = lock_wait_from_env()
        self._lock_wait_s = None if lock_wait_s is None else max(0.0, float(lock_wait_s))
        #: a private in-memory DuckDB database: one connection kept (StaticPool), nothing to hold or lock
        self._in_memory = backend == "duckdb" and self._url.database in (None, "", ":memory:")
        self._engine = self._create_engine()
        self._pinned = threading.local()   # see pinned(): one connection reused by this thread's calls
        self._hold_lock = threading.Lock()   # see held(): one keep-alive connection, counted
        self._hold_count = 0
        self._hold_conn: Connection | None = None

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, url: str | None = None, duckdb_path: str | os.PathLike | None = None, *,
                      read_only: bool = False, **kwargs: Any) -> "Warehouse":
        """Build a warehouse from explicit settings or the environment (read now, never at import time).

        Precedence: explicit arguments before the environment — ``url``; else a DuckDB file at ``duckdb_path``;
        else env ``ORAGAMI_WAREHOUSE_URL``; else env ``ORAGAMI_DUCKDB_PATH``; else ``./var/oragami.duckdb``. The
        DuckDB file's parent folder is created.

        Args:
            url: full SQLAlchemy URL.
            duckdb_path: DuckDB file path, used when no ``url`` is given.
            read_only: see :class:`Warehouse`.
            **kwargs: passed to :class:`Warehouse` (``lock_retries``, ``lock_backoff_s``, ``lock_wait_s``).

        Returns:
            The warehouse (the schema is not created; call :meth:`create_schema`).
        """
        chosen = url or (None if duckdb_path else os.environ.get(ENV_URL)) or None
        if chosen is None:
            path = Path(duckdb_path or os.environ.get(ENV_DUCKDB_PATH) or DEFAULT_DUCKDB_PATH).expanduser()
            path = path.resolve()
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            chosen = duckdb_url(path)
        return cls(chosen, read_only=read_only, **kwargs)

    def _create_engine(self) -> Engine:
        if self._backend == "duckdb":
            in_memory = self._in_memory
            connect_args: dict[str, Any] = {}
            if self._read_only and not in_memory:
                connect_args["read_only"] = True
            # NullPool: a connection (and the file lock) lives only as long as one call. In-memory databases
            # need the single connection kept, or every call would see a new, empty database.
            poolclass = sa.pool.StaticPool if in_memory else sa.pool.NullPool
            return sa.create_engine(self._url, poolclass=poolclass, connect_args=connect_args)
        connect_args = {} if "connect_timeout" in self._url.query else {"connect_timeout": 10}
        options = {"postgresql_readonly": True} if self._read_only else {}
        return sa.create_engine(self._url, pool_pre_ping=True, connect_args=connect_args,
                                execution_options=options)

    # -- properties ---------------------------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """``'duckdb'`` or ``'postgresql'``."""
        return self._backend

    @property
    def safe_url(self) -> str:
        """The URL with its password masked (``***``): safe to log and display."""
        return self._url.render_as_string(hide_password=True)

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._read_only

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for ad-hoc queries; prefer the methods below)."""
        return self._engine

    def __repr__(self) -> str:
        return f"Warehouse({self.safe_url!r}, read_only={self._read_only})"

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        """Close every pooled connection (releases DuckDB file locks). The object stays usable; a :meth:`held`
        block keeps its connection (the block's end closes it)."""
        self._engine.dispose()

    # -- connections --------------------------------------------------------------------------------------------

    def _open(self) -> Connection:
        """Open a connection; on DuckDB, while the file is locked, retry with exponential backoff until the
        deadline (``lock_wait_s``) or the retry count (``lock_retries``) runs out."""
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                return self._engine.connect()
            except Exception as exc:  # noqa: BLE001 - only the DuckDB lock error is retried, the rest re-raised
                if self._backend != "duckdb" or not _is_lock_error(exc):
                    raise
                waited = time.monotonic() - started
                left = None if self._lock_wait_s is None else self._lock_wait_s - waited
                if (self._lock_retries is not None and attempt >= self._lock_retries) or \
                        (left is not None and left <= 0):
                    raise WarehouseLockedError(_locked_message(self._url.database, exc, waited, attempt + 1,
                                                               self._read_only)) from None
                delay = min(MAX_LOCK_BACKOFF_S, self._lock_backoff_s * (2 ** min(attempt, 30)))
                delay *= 1.0 + 0.25 * random.random()
                if left is not None:
                    delay = min(delay, left)
                if attempt == 0:
                    logger.info("DuckDB file %s is locked by %s; waiting up to %s", self._url.database,
                                   _lock_holder(exc), f"{self._lock_wait_s:.0f} s" if self._lock_wait_s is not None
                                   else f"{self._lock_retries} retries")
                time.sleep(delay)
                attempt += 1

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A short-lived connection for reads (closed on exit); inside :meth:`pinned`, the pinned one."""
        pinned = getattr(self._pinned, "conn", None)
        if pinned is not None:
            try:
                yield pinned
            finally:
                if pinned.in_transaction():   # a read's implicit transaction: end it so the next begin() works
                    pinned.rollback()
            return
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def pinned(self) -> Iterator["Warehouse"]:
        """Reuse one connection for every call this thread makes inside the block (reads and transactions).

        For loops of many small writes (one order recorded per broker answer): a DuckDB connection costs ~20 ms
        to open, a statement ~1 ms. Each :meth:`begin` inside the block is still its own transaction (committed
        or rolled back on its own). While pinned, a DuckDB file stays locked by this process, so keep the block
        short (one account's submissions). Nested use reuses the outer connection.
        """
        if getattr(self._pinned, "conn", None) is not None:
            yield self
            return
        conn = self._open()
        self._pinned.conn = conn
        try:
            yield self
        finally:
            self._pinned.conn = None
            conn.close()

    @contextlib.contextmanager
    def held(self) -> Iterator["Warehouse"]:
        """Keep a DuckDB file open in this process for the block, so that every connection inside it (any thread,
        any :class:`Warehouse` on the same file and settings) is cheap.

        DuckDB keeps one database instance per file and process while any connection to it is open; opening the
        file anew reads its catalog and closing the last connection checkpoints it (20–70 ms each on this 2-core
        machine, against under 1 ms for a connection to an instance already open). A Dagster run holds its
        warehouse this way (:class:`resources.warehouse.WarehouseResource`), so the run takes the file lock once,
        waiting with back-off as :meth:`connect` does, and keeps it until the run ends: no outside process can
        take it between two of the run's writes. Re-entrant (counted); a no-op on PostgreSQL and in-memory
        DuckDB. Each call inside the block is still its own connection and transaction.

        Raises:
            WarehouseLockedError: another process held the file past ``lock_wait_s``.
        """
        if self._backend != "duckdb" or self._in_memory:
            yield self
            return
        with self._hold_lock:
            if self._hold_count == 0:
                self._hold_conn = self._open()
            self._hold_count += 1
        try:
            yield self
        finally:
            with self._hold_lock:
                self._hold_count -= 1
                if self._hold_count == 0 and self._hold_conn is not None:
                    conn, self._hold_conn = self._hold_conn, None
                    conn.close()

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on any exception.

        Raises:
            ReadOnlyWarehouseError: the warehouse is read-only.
        """
        self._check_writable()
        with self.connect() as conn, conn.begin():
            yield conn

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyWarehouseError(f"{self!r} is read-only")

    # -- schema -------------------------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create every table of :mod:`warehouse.schema` that does not exist yet, and add columns that newer
        releases introduced to tables that do (idempotent; additive — nothing stored is changed or lost, except
        that a derived table of :data:`warehouse.schema.REBUILD_ON_KEY_CHANGE` whose primary key is older than
        the schema's is dropped and re-created empty: its asset recomputes it per session)."""
        from warehouse.schema import REBUILD_ON_KEY_CHANGE

        with self.begin() as conn:
            for name in REBUILD_ON_KEY_CHANGE:
                stored = [r[0] for r in conn.execute(sa.text(
                    "SELECT kcu.column_name FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
                    "AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name "
                    "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = :t "
                    "AND tc.table_schema = current_schema()"), {"t": name})]
                wanted = [c.name for c in metadata.tables[name].primary_key.columns]
                if stored and set(stored) != set(wanted):
                    logger.warning("rebuilding derived table %s: primary key %s -> %s", name, stored, wanted)
                    conn.exec_driver_sql(f"DROP TABLE {_quote(name)}")
            metadata.create_all(conn, checkfirst=True)
            for name, table in metadata.tables.items():
                existing = {r[0] for r in conn.execute(sa.text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = :t AND table_schema = current_schema()"), {"t": name})}
                for col in table.columns:
                    if col.name not in existing:
                        if not col.nullable and col.server_default is None:
                            raise RuntimeError(f"table {name} lacks required column {col.name}; rebuild the warehouse")
                        ddl = col.type.compile(dialect=conn.dialect)
                        conn.exec_driver_sql(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(col.name)} {ddl}")

    @staticmethod
    def table(name: str) -> sa.Table:
        """The :class:`sqlalchemy.Table` called ``name``.

        Raises:
            ValueError: no such table.
        """
        try:
            return TABLES[name]
        except KeyError:
            raise ValueError(f"unknown table '{name}'; known tables: {', '.join(sorted(TABLES))}") from None

    # -- writes -------------------------------------------------------------------------------------------------

    def replace(self, table: str, rows: pd.DataFrame, where: Mapping[str, Any]) -> int:
        """Overwrite a partition: delete the rows matching ``where``, insert ``rows``, in one transaction.

        Idempotent: calling it twice with the same arguments leaves the same rows. On any error (validation,
        constraint violation, connection loss) the transaction is rolled back and the table is unchanged.

        Args:
            table: table name (:data:`warehouse.schema.TABLES`).
            rows: the new rows; columns are a subset of the table's (omitted columns get their default or NULL).
                NaN/None/NaT become NULL. A ``where`` column with a scalar value may be left out of ``rows``:
                it is filled with that value.
            where: the partition to overwrite (module docstring: scalar, ``None``, collection -> IN,
                :class:`Between`). Must name at least one column.

        Returns:
            The number of rows inserted.

        Raises:
            ValueError: unknown table or column (named), an empty ``where``, a row whose value lies outside
                ``where`` (names the column and the first offending value), or a value that cannot be converted
                to its column's type. Nothing is written.
            ReadOnlyWarehouseError: the warehouse is read-only.
            sqlalchemy.exc.IntegrityError: duplicate primary keys or a NULL in a NOT NULL column (rolled back).
        """
        self._check_writable()
        t = self.table(table)
        if not where:
            raise ValueError(f"replace({table}): 'where' must name at least one column (it selects the rows to "
                             f"delete)")
        self._check_columns(t, where.keys(), "where")
        self._check_columns(t, rows.columns, "rows")
        frame = rows
        for name, value in where.items():
            if name not in frame.columns:
                if _is_collection(value) or isinstance(value, Between):
                    raise ValueError(f"replace({table}): rows lack column '{name}' named in where")
                frame = frame.assign(**{name: [value] * len(frame)})
        frame = coerce_frame(t, frame)
        self._check_rows_match(t, frame, where)
        condition = self._where_clause(t, where)
        started = time.perf_counter()
        with self.begin() as conn:
            deleted = conn.execute(t.delete().where(*condition)).rowcount
            inserted = self.insert(conn, t, frame)
        logger.info("replace %s where %s: deleted %s, inserted %d rows in %.3fs (%s)", table,
                    _describe_where(where), deleted if deleted is not None and deleted >= 0 else "?", inserted,
                    time.perf_counter() - started, self._backend)
        return inserted

    def upsert(self, table: str, rows: pd.DataFrame, key_columns: Sequence[str] | None = None) -> int:
        """Insert ``rows``, first deleting the existing rows with the same keys, in one transaction.

        Meant for small registry tables (``accounts``, ``symphonies``). The stored row is replaced as a whole:
        a column that ``rows`` omits gets its default (``created_at`` = now) or NULL, so pass ``created_at`` to
        keep it.

        Args:
            table: table name.
            rows: the rows to write; must contain every key column.
            key_columns: the columns identifying a row; default: the table's primary key.

        Returns:
            The number of rows inserted.

        Raises:
            ValueError: unknown table or column, a key column missing from ``rows``, a NULL key, or the same
                key twice in ``rows``. Nothing is written.
            ReadOnlyWarehouseError: the warehouse is read-only.
        """
        self._check_writable()
        t = self.table(table)
        keys = list(key_columns) if key_columns else [c.name for c in t.primary_key.columns]
        if not keys:
            raise ValueError(f"upsert({table}): no key columns given and the table has no primary key")
        self._check_columns(t, keys, "key_columns")
        self._check_columns(t, rows.columns, "rows")
        missing = [k for k in keys if k not in rows.columns]
        if missing:
            raise ValueError(f"upsert({table}): rows lack key column(s) {', '.join(missing)}")
        frame = coerce_frame(t, rows)
        if frame[keys].isna().any().any():
            bad = [k for k in keys if frame[k].isna().any()]
            raise ValueError(f"upsert({table}): NULL in key column(s) {', '.join(bad)}")
        if frame.duplicated(subset=keys).any():
            raise ValueError(f"upsert({table}): rows repeat a key ({', '.join(keys)})")
        key_values = _python_columns(t, frame[keys])
        with self.begin() as conn:
            if len(keys) == 1:  # one DELETE ... IN (...) per chunk
                values = key_values[0]
                for start in range(0, len(values), 10_000):
                    conn.execute(t.delete().where(t.c[keys[0]].in_(values[start:start + 10_000])))
            elif key_values[0]:  # composite key: executemany of DELETE ... WHERE k1 = ? AND k2 = ?
                params = [{f"k_{i}": v for i, v in enumerate(row)} for row in zip(*key_values)]
                conn.execute(t.delete().where(*(t.c[k] == sa.bindparam(f"k_{i}") for i, k in enumerate(keys))),
                             params)
            inserted = self.insert(conn, t, frame)
        logger.info("upsert %s: %d rows (%s)", table, inserted, self._backend)
        return inserted

    def insert(self, conn: Connection, t: sa.Table, frame: pd.DataFrame) -> int:
        """Bulk-insert a coerced frame inside ``conn``'s transaction; returns the row count.

        Driver errors are re-raised as SQLAlchemy's (``IntegrityError`` for a duplicate key or a NULL in a NOT NULL
        column), the same classes on both backends; the caller's transaction then rolls back.
        """
        if frame.empty:
            return 0
        dbapi_error = self._driver_error_class()
        try:
            return self._bulk_insert(conn, t, frame)
        except dbapi_error as exc:
            raise sa.exc.DBAPIError.instance(f"bulk insert into {t.name}", None, exc, dbapi_error) from exc

    def _driver_error_class(self) -> type[Exception]:
        if self._backend == "duckdb":
            import duckdb

            return duckdb.Error
        import psycopg2

        return psycopg2.Error

    def _bulk_insert(self, conn: Connection, t: sa.Table, frame: pd.DataFrame) -> int:
        """The backend-specific fast path (100k rows x 11 columns of ``daily_bars``, measured on a 2-core box:
        DuckDB ~220k rows/s when replacing existing rows, ~600k rows/s into an empty table; PostgreSQL via COPY
        ~110-140k rows/s, where ``execute_values`` managed ~28k rows/s)."""
        columns = list(frame.columns)
        col_sql = ", ".join(_quote(c) for c in columns)
        driver = conn.connection.driver_connection
        if self._backend == "duckdb":
            view = f"_oragami_rows_{uuid.uuid4().hex}"
            select = ", ".join(
                f"CAST({_quote(c)} AS {_duckdb_type(t.c[c].type)})" if _duckdb_type(t.c[c].type) else _quote(c)
                for c in columns)
            driver.register(view, frame.reset_index(drop=True))
            try:
                driver.execute(f"INSERT INTO {_quote(t.name)} ({col_sql}) SELECT {select} FROM {_quote(view)}")
            finally:
                # After a failed INSERT the transaction is aborted and unregister() would raise, hiding the
                # real error; the view dies with the (short-lived) connection anyway.
                with contextlib.suppress(Exception):
                    driver.unregister(view)
        else:
            # COPY ... FROM STDIN on the transaction's own connection, the CSV written by Arrow: several times
            # faster than INSERT ... VALUES batches. In PostgreSQL's CSV format an unquoted empty field is NULL
            # and a quoted one ("") an empty string; Arrow writes nulls unquoted and quotes every string.
            import pyarrow.csv as pa_csv

            buffer = io.BytesIO()
            options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
            pa_csv.write_csv(_arrow_table(t, frame), buffer, options)
            buffer.seek(0)
            with driver.cursor() as cur:
                cur.copy_expert(f"COPY {_quote(t.name)} ({col_sql}) FROM STDIN WITH (FORMAT csv)", buffer)
        return len(frame)

    # -- reads --------------------------------------------------------------------------------------------------

    def read(self, table: str, where: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None,
             order_by: str | Sequence[str] | None = None, limit: int | None = None) -> pd.DataFrame:
        """Read rows of a table.

        Args:
            table: table name.
            where: filter (module docstring); ``None`` reads every row.
            columns: columns to return, in this order; default: all, in table order.
            order_by: column name(s); prefix a name with ``-`` for descending. Default: the primary key.
            limit: at most this many rows.

        Returns:
            One row per stored row, dtypes as in the module docstring (DATE columns hold ``datetime.date``).
            An empty result keeps the columns.

        Raises:
            ValueError: unknown table or column (named).
        """
        t = self.table(table)
        cols = list(columns) if columns else [c.name for c in t.columns]
        self._check_columns(t, cols, "columns")
        stmt = sa.select(*(t.c[c] for c in cols))
        if where:
            self._check_columns(t, where.keys(), "where")
            stmt = stmt.where(*self._where_clause(t, where))
        if order_by is None:
            order = [c.name for c in t.primary_key.columns]
        else:
            order = [order_by] if isinstance(order_by, str) else list(order_by)
        self._check_columns(t, [o.lstrip("-") for o in order], "order_by")
        stmt = stmt.order_by(*(t.c[o[1:]].desc() if o.startswith("-") else t.c[o] for o in order))
        if limit is not None:
            stmt = stmt.limit(int(limit))
        return self.fetch(stmt)

    def fetch(self, stmt: sa.Select) -> pd.DataFrame:
        """Run a SELECT and return its rows as a DataFrame with the documented dtypes.

        DuckDB results travel as Arrow (columnar, ~20x faster than Python rows); PostgreSQL results as the
        driver's tuples.
        """
        types = {c.key: c.type for c in stmt.selected_columns}
        with self.connect() as conn:
            if self._backend == "duckdb":
                compiled = stmt.compile(dialect=self._engine.dialect,
                                        compile_kwargs={"render_postcompile": True})
                params = compiled.params
                args = [params[name] for name in (compiled.positiontup or [])]
                relation = conn.connection.driver_connection.sql(str(compiled), params=args or None)
                frame = relation.to_arrow_table().to_pandas()
                frame.columns = list(types)
            else:
                result = conn.execute(stmt)
                keys = list(result.keys())
                frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=keys)
        return _normalize_result(frame, types)

    # -- counts -------------------------------------------------------------------------------------------------

    def row_counts(self, scope: AccountScope) -> dict[str, int]:
        """Rows per table.

        Args:
            scope: count only these accounts' rows in user-scoped tables (:meth:`AccountScope.all` for all);
                market-data tables (``daily_bars``, ``indicator_values``) are always counted whole.

        Returns:
            ``{table_name: count}`` for every table of the schema, in schema order.
        """
        require_scope(scope)
        selects = []
        for name, t in TABLES.items():
            stmt = sa.select(sa.literal(name).label("name"), sa.func.count().label("n")).select_from(t)
            if name in USER_SCOPED_TABLES:
                stmt = stmt.where(*scope.clauses(t.c.account_id))
            selects.append(stmt)
        with self.connect() as conn:
            counts = {name: int(n) for name, n in conn.execute(sa.union_all(*selects)).all()}
        return {name: counts.get(name, 0) for name in TABLES}

    # -- helpers ------------------------------------------------------------------------------------------------

    @staticmethod
    def _check_columns(t: sa.Table, names: Iterable[Any], what: str) -> None:
        names = list(names)
        for name in names:
            if not isinstance(name, str) or name not in t.c:
                raise ValueError(f"unknown column '{name}' in {what} for table '{t.name}'; "
                                 f"columns: {', '.join(t.c.keys())}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"column(s) {', '.join(dup)} repeated in {what} for table '{t.name}'")

    @staticmethod
    def _where_clause(t: sa.Table, where: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        for name, value in where.items():
            col = t.c[name]
            if isinstance(value, Between):
                if value.lo is not None:
                    clauses.append(col >= to_python(col, value.lo))
                if value.hi is not None:
                    clauses.append(col <= to_python(col, value.hi))
            elif _is_collection(value):
                items = [to_python(col, v) for v in value]
                non_null = [v for v in items if v is not None]
                clause = col.in_(non_null) if non_null else sa.false()
                if len(non_null) != len(items):
                    clause = sa.or_(clause, col.is_(None))
                clauses.append(clause)
            elif _is_null(value):
                clauses.append(col.is_(None))
            else:
                clauses.append(col == to_python(col, value))
        return clauses

    @staticmethod
    def _check_rows_match(t: sa.Table, frame: pd.DataFrame, where: Mapping[str, Any]) -> None:
        """Raise ValueError naming the first ``where`` column that some row of ``frame`` does not satisfy."""
        if frame.empty:
            return
        for name, value in where.items():
            col, s = t.c[name], frame[name]
            if isinstance(value, Between):
                ok = pd.Series(True, index=s.index)
                if value.lo is not None:
                    ok &= (s >= _to_frame_value(col, value.lo)).fillna(False).astype(bool)
                if value.hi is not None:
                    ok &= (s <= _to_frame_value(col, value.hi)).fillna(False).astype(bool)
                ok &= s.notna()
            elif _is_collection(value):
                items = [_to_frame_value(col, v) for v in value]
                allowed = [v for v in items if v is not None]
                ok = s.isin(allowed) & s.notna()
                if len(allowed) != len(items):
                    ok |= s.isna()
            elif _is_null(value):
                ok = s.isna()
            else:
                ok = (s == _to_frame_value(col, value)).fillna(False).astype(bool) & s.notna()
            bad = ~ok.to_numpy(dtype=bool)
            if bad.any():
                first = s.to_numpy()[bad.argmax()]
                raise ValueError(f"replace({t.name}): {int(bad.sum())} row(s) have '{name}' outside where "
                                 f"({name}={value!r}); first offending value: {first!r}. Nothing was written.")


def _describe_where(where: Mapping[str, Any]) -> str:
    parts = []
    for k, v in where.items():
        if _is_collection(v):
            v = list(v)
            parts.append(f"{k} IN [{len(v)} values]" if len(v) > 5 else f"{k} IN {v}")
        else:
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def lock_wait_from_env() -> float:
    """Seconds a DuckDB writer waits for the file lock: env ``ORAGAMI_LOCK_WAIT_S``, else the default.

    Raises:
        ValueError: the variable is set but not a non-negative number.
    """
    text = os.environ.get(ENV_LOCK_WAIT_S, "").strip()
    if not text:
        return DEFAULT_LOCK_WAIT_S
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV_LOCK_WAIT_S}={text!r} is not a number of seconds") from None
    if not value >= 0:
        raise ValueError(f"{ENV_LOCK_WAIT_S}={text!r} must be >= 0 seconds")
    return value


def _lock_holder(exc: BaseException) -> str:
    """Who holds the lock, from DuckDB's message ("Conflicting lock is held in PROGRAM (PID N)") and, where the
    process is visible, its command line; ``"another process"`` when DuckDB does not say."""
    import re

    message = str(getattr(exc, "orig", exc))
    found = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if not found:
        return "another process"
    program, pid = found.group(1), found.group(2)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        cmdline = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)  # one line
    except OSError:
        cmdline = ""
    if cmdline:
        cmdline = cmdline if len(cmdline) <= 120 else cmdline[:117] + "..."
        return f"PID {pid} ({cmdline})"
    return f"PID {pid} ({program})"


def _locked_message(database: str | None, exc: BaseException, waited: float, attempts: int,
                    read_only: bool) -> str:
    """The one line of :class:`WarehouseLockedError`."""
    advice = ("" if read_only else
              f"; close that connection (notebooks: read a copy of the file, or use Postgres) or raise "
              f"{ENV_LOCK_WAIT_S}")
    return (f"DuckDB file {database} is locked by another process: {_lock_holder(exc)}; gave up after "
            f"{waited:.1f} s and {attempts} attempts{advice}")


def _is_lock_error(exc: BaseException) -> bool:
    """Whether a DuckDB connect error means "another process holds the file lock"."""
    import duckdb

    orig = getattr(exc, "orig", exc)
    message = str(orig)
    return isinstance(orig, duckdb.IOException) and ("lock" in message.lower())


def duckdb_url(path: str | os.PathLike) -> str:
    """The SQLAlchemy URL of a DuckDB file (``duckdb:////abs/path.duckdb``)."""
    return f"duckdb:///{Path(path).expanduser().resolve()}"


def open_read_only(url_or_path: str | os.PathLike, *, lock_retries: int | None = 6,
                   lock_backoff_s: float = 0.1) -> Warehouse:
    """Open the warehouse for dashboards: reads only, short-lived connections.

    For DuckDB every read opens the file ``read_only=True`` and closes it when done, so the writer (Dagster) is
    blocked only while a query runs; opening retries with exponential backoff while a writer holds the lock
    (bounded by ``lock_retries``, about 0.1+0.2+0.4+0.8+1.6+3.2 s with the defaults). Safe to cache the returned
    object (it holds no open DuckDB connection); with PostgreSQL it holds a normal connection pool.

    Args:
        url_or_path: a SQLAlchemy URL (contains ``://``) or a DuckDB file path.
        lock_retries: retries on the DuckDB lock error before :class:`WarehouseLockedError`.
        lock_backoff_s: first retry delay, seconds (doubles each retry).

    Returns:
        A read-only :class:`Warehouse`; writes raise :class:`ReadOnlyWarehouseError`.
    """
    text = os.fspath(url_or_path)
    url = text if "://" in text else duckdb_url(text)
    return Warehouse(url, read_only=True, lock_retries=lock_retries, lock_backoff_s=lock_backoff_s)
