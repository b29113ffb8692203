"""The price sources behind :class:`engine.prices.CloseReader`: bundled, warehouse, and a local directory.

* :class:`BundledCloseReader` — ``data/bundled`` (773 tickers, inception → 2026-07-31; :mod:`warehouse.bundled`).
* :class:`WarehouseCloseReader` — the ``daily_bars`` table (what the daily graph ingested and traded on).
* :class:`LocalDirectoryCloseReader` — bring your own data (formats below).
* :func:`close_reader` — the factory: ``"bundled"`` (default), ``"warehouse"`` or a path.

Every reader answers with :func:`engine.prices.closes_from_long`, so the frame contract and the interior-gap rule
(:func:`engine.prices.fill_interior_gaps`) are the same whichever source is chosen.

Local files (:func:`read_price_files`)
--------------------------------------
``PATH`` is a directory or a single file.

* **One file per ticker**: ``<TICKER>.csv`` or ``<TICKER>.parquet`` with columns ``date,adj_close`` and
  optionally ``open,high,low,close,volume``. The ticker is the file name without its extension, upper-cased.
* **One long file**: a ``.csv`` / ``.parquet`` with columns ``date,ticker,adj_close[,open,high,low,close,volume]``
  (``PATH`` itself, or any file of the directory that has a ``ticker`` column).

Column names are matched case-insensitively with spaces as underscores (``Adj Close`` → ``adj_close``); other
columns are ignored. Dates are ISO (``2024-01-02``, a time part is allowed and dropped). ``adj_close`` is the
total-return adjusted close in USD (the value every indicator and backtest uses); OHLC, when given, should be on
the same basis. Empty OHLCV cells are NaN; an empty ``adj_close`` is an error. Errors
(:class:`PriceFileError`) name the file, the row (CSV: the line number, header = line 1; Parquet: the 1-based
data row) and the column: a missing column, an unparsable date, a duplicate date (of a ticker), a non-numeric
value. Values are not judged here (a negative close is a finding of ``oragami data check``, not a read error).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import DataError
from engine.prices import LONG_COLUMNS, CloseReader, closes_from_long, select_long
from warehouse import bundled

OPTIONAL_COLUMNS = ("open", "high", "low", "close", "volume")
BAR_COLUMNS = ["session_date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
PRICE_FILE_SUFFIXES = (".csv", ".parquet", ".pq")
#: The source names :func:`close_reader` knows besides a path.
NAMED_SOURCES = ("bundled", "warehouse")


class PriceFileError(DataError):
    """A local price file that cannot be read: names ``file``, ``row`` (CSV line or Parquet data row) and
    ``column`` where known."""

    def __init__(self, message: str, *, file: str | os.PathLike, row: str | None = None,
                 column: str | None = None) -> None:
        self.message, self.file, self.row, self.column = message, str(file), row, column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = [self.file] + ([self.row] if self.row else []) + ([f"column '{self.column}'"] if self.column else [])
        return f"{': '.join(where)}: {self.message}"


# ----------------------------------------------------------------------------------------------------------------
# Bundled
# ----------------------------------------------------------------------------------------------------------------

class BundledCloseReader:
    """:class:`engine.prices.CloseReader` over ``data/bundled`` (reads only the requested tickers' row groups).

    Args:
        bundle_dir: the folder holding ``adj_close.parquet``, ``bars.parquet``, ``manifest.json``.
    """

    def __init__(self, bundle_dir: str | os.PathLike = bundled.BUNDLE_DIR) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.source = "bundled"

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.closes`."""
        names = list(dict.fromkeys(tickers))
        known = self.available_tickers()
        long = bundled.load_long_closes([t for t in names if t in known], None, end, self.bundle_dir)
        return closes_from_long(long, names, start, end, source=self.source, known=known)

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.long_closes`."""
        return bundled.load_long_closes(tickers, start, end, self.bundle_dir)

    def available_tickers(self) -> frozenset[str]:
        """See :meth:`engine.prices.CloseReader.available_tickers` (from the manifest)."""
        return frozenset(bundled.available_tickers(self.bundle_dir))

    def last_session(self) -> dt.date | None:
        """See :meth:`engine.prices.CloseReader.last_session` (from the manifest)."""
        return bundled.last_session(self.bundle_dir)

    def bars(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """Long bars (:data:`BAR_COLUMNS`): :func:`warehouse.bundled.load_bars`."""
        return bundled.load_bars(tickers, start, end, self.bundle_dir)

    def ticker_source(self, ticker: str) -> str:
        """Where a ticker's closes came from (the manifest's per-ticker ``source``)."""
        return bundled.manifest(self.bundle_dir)["tickers"].get(ticker, {}).get("source", "bundled")


# ----------------------------------------------------------------------------------------------------------------
# Warehouse
# ----------------------------------------------------------------------------------------------------------------

class WarehouseCloseReader:
    """:class:`engine.prices.CloseReader` over the warehouse's ``daily_bars`` (what the daily graph stored).

    Args:
        wh: a :class:`warehouse.Warehouse` (read-only is fine).
    """

    def __init__(self, wh) -> None:
        self.wh = wh
        self.source = "warehouse"

    def _read(self, tickers: Sequence[str] | None, start: Any, end: Any) -> pd.DataFrame:
        import sqlalchemy as sa  # on use: the bundled reader (backtests) needs no SQLAlchemy

        from warehouse.schema import daily_bars as b

        stmt = sa.select(b.c.session_date, b.c.ticker, b.c.adj_close).where(b.c.adj_close.is_not(None))
        if tickers is not None:
            stmt = stmt.where(b.c.ticker.in_(list(tickers)))
        if start is not None:
            stmt = stmt.where(b.c.session_date >= pd.Timestamp(start).date())
        if end is not None:
            stmt = stmt.where(b.c.session_date <= pd.Timestamp(end).date())
        # the store's fetch: DuckDB results travel as Arrow (one ~800k-row read in ~0.3 s instead of ~25 s of
        # Python Row objects); DATE columns come back as datetime.date
        long = self.wh.fetch(stmt.order_by(b.c.ticker, b.c.session_date))
        long.columns = LONG_COLUMNS
        long["adj_close"] = long["adj_close"].astype("float64")
        return long

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.closes`."""
        names = list(dict.fromkeys(tickers))
        long = self._read(names, None, end)
        return closes_from_long(long, names, start, end, source=self.source, known=self.available_tickers())

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.long_closes`."""
        return self._read(tickers, start, end)

    def available_tickers(self) -> frozenset[str]:
        """See :meth:`engine.prices.CloseReader.available_tickers` (distinct ``daily_bars.ticker``)."""
        import sqlalchemy as sa  # on use: the bundled reader (backtests) needs no SQLAlchemy

        from warehouse.schema import daily_bars as b

        with self.wh.connect() as conn:
            return frozenset(r[0] for r in conn.execute(
                sa.select(b.c.ticker).where(b.c.adj_close.is_not(None)).distinct()))

    def last_session(self) -> dt.date | None:
        """See :meth:`engine.prices.CloseReader.last_session` (``max(daily_bars.session_date)``)."""
        import sqlalchemy as sa  # on use: the bundled reader (backtests) needs no SQLAlchemy

        from warehouse.schema import daily_bars as b

        with self.wh.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(b.c.session_date))).scalar()
        return None if last is None else pd.Timestamp(last).date()


# ----------------------------------------------------------------------------------------------------------------
# Local directory (bring your own data)
# ----------------------------------------------------------------------------------------------------------------

def _norm(name: Any) -> str:
    return "_".join(str(name).strip().lower().split())


def _row_label(path: Path, i: int) -> str:
    return f"line {i + 2}" if path.suffix.lower() == ".csv" else f"row {i + 1}"


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise PriceFileError(f"cannot be read as {path.suffix.lstrip('.').upper()}: {exc}", file=path) from None
    frame.columns = [_norm(c) for c in frame.columns]
    return frame


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str)
                                                                                and not value.strip())


def _parse_dates(path: Path, values: pd.Series) -> list[dt.date]:
    out = []
    for i, v in enumerate(values.tolist()):
        if isinstance(v, dt.datetime):
            out.append(v.date())
        elif isinstance(v, dt.date):
            out.append(v)
        else:
            text = str(v).strip() if not _is_blank(v) else ""
            try:
                if not text:
                    raise ValueError
                out.append(pd.Timestamp(dt.datetime.fromisoformat(text)).date())
            except ValueError:
                raise PriceFileError(f"unparsable date {text!r} (expected ISO, e.g. 2024-01-02)", file=path,
                                     row=_row_label(path, i), column="date") from None
    return out


def _parse_numbers(path: Path, values: pd.Series, column: str, required: bool) -> list[float]:
    out = []
    for i, v in enumerate(values.tolist()):
        if _is_blank(v):
            if required:
                raise PriceFileError("empty value (every row needs an adjusted close)", file=path,
                                     row=_row_label(path, i), column=column)
            out.append(float("nan"))
            continue
        if isinstance(v, bool):
            v = str(v)
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise PriceFileError(f"non-numeric value {str(v)!r}", file=path, row=_row_label(path, i),
                                 column=column) from None
    return out


def _parse_file(path: Path) -> pd.DataFrame:
    """One price file as long bars (:data:`BAR_COLUMNS`), validated (module docstring)."""
    raw = _read_table(path)
    long_format = "ticker" in raw.columns
    need = ["date", "ticker", "adj_close"] if long_format else ["date", "adj_close"]
    absent = [c for c in need if c not in raw.columns]
    if absent:
        raise PriceFileError(f"missing column {', '.join(absent)} (has: {', '.join(map(str, raw.columns)) or 'none'};"
                             f" expected {','.join(need)}[,{','.join(OPTIONAL_COLUMNS)}])", file=path)
    out = pd.DataFrame({"session_date": _parse_dates(path, raw["date"])})
    if long_format:
        tickers = raw["ticker"].tolist()
        for i, t in enumerate(tickers):
            if _is_blank(t):
                raise PriceFileError("empty ticker", file=path, row=_row_label(path, i), column="ticker")
        out["ticker"] = [str(t).strip().upper() for t in tickers]
    else:
        out["ticker"] = path.stem.strip().upper()
    out["adj_close"] = _parse_numbers(path, raw["adj_close"], "adj_close", required=True)
    for c in OPTIONAL_COLUMNS:
        out[c] = _parse_numbers(path, raw[c], c, required=False) if c in raw.columns else float("nan")
    dup = out.duplicated(["ticker", "session_date"], keep=False)
    if dup.any():
        rows = [i for i in range(len(out)) if dup.iloc[i]]
        first = out.iloc[rows[0]]
        same = [i for i in rows if out.iloc[i]["ticker"] == first["ticker"]
                and out.iloc[i]["session_date"] == first["session_date"]]
        raise PriceFileError(f"duplicate date {first['session_date']} for {first['ticker']} (also "
                             f"{', '.join(_row_label(path, i) for i in same[1:])})", file=path,
                             row=_row_label(path, same[0]), column="date")
    for c in [*OPTIONAL_COLUMNS, "adj_close"]:
        out[c] = out[c].astype("float64")
    return out[BAR_COLUMNS]


def read_price_files(path: str | os.PathLike) -> pd.DataFrame:
    """Every bar of a local price directory or file (module docstring), long (:data:`BAR_COLUMNS`), sorted by
    ticker then date.

    Raises:
        PriceFileError: naming the file (and row, column) that cannot be used, a ticker found in two files, or a
            directory without price files.
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in PRICE_FILE_SUFFIXES)
        if not files:
            raise PriceFileError("no price files (*.csv, *.parquet) in this directory", file=root)
    elif root.is_file():
        files = [root]
    else:
        raise PriceFileError("no such directory or file", file=root)
    frames, origin = [], {}
    for f in files:
        frame = _parse_file(f)
        for t in frame["ticker"].unique():
            if t in origin:
                raise PriceFileError(f"ticker {t} is also in {origin[t].name}: give each ticker one file", file=f)
            origin[t] = f
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BAR_COLUMNS)
    return out.sort_values(["ticker", "session_date"], ignore_index=True)


class LocalDirectoryCloseReader:
    """:class:`engine.prices.CloseReader` over a local directory or file of prices (module docstring).

    The files are read and validated once, on first use (:class:`PriceFileError` then names the bad file, row and
    column).

    Args:
        path: the directory (one file per ticker, or long files) or a single long file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.source = str(self.path)
        self._bars: pd.DataFrame | None = None

    def _all(self) -> pd.DataFrame:
        if self._bars is None:
            self._bars = read_price_files(self.path)
        return self._bars

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.closes`."""
        return closes_from_long(self._all()[LONG_COLUMNS], tickers, start, end, source=self.source)

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.long_closes`."""
        return select_long(self._all()[LONG_COLUMNS], tickers, start, end)

    def available_tickers(self) -> frozenset[str]:
        """See :meth:`engine.prices.CloseReader.available_tickers`."""
        return frozenset(self._all()["ticker"].unique())

    def last_session(self) -> dt.date | None:
        """See :meth:`engine.prices.CloseReader.last_session`."""
        bars = self._all()
        return None if bars.empty else max(bars["session_date"])

    def bars(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """Long bars (:data:`BAR_COLUMNS`) of ``tickers`` within ``[start, end]``; OHLCV NaN where not given."""
        return select_long(self._all(), list(tickers), start, end)[BAR_COLUMNS]


# ----------------------------------------------------------------------------------------------------------------
# Any bar source (EODHD, Alpaca through their Dagster resources)
# ----------------------------------------------------------------------------------------------------------------

class BarsCloseReader:
    """:class:`engine.prices.CloseReader` over anything with ``bars(tickers, start, end)`` returning long bars
    (a network market-data resource). Each :meth:`closes` call reads the source; a ticker for which it returns no
    row at all is :class:`~engine.prices.UnknownTickersError`. :meth:`available_tickers` is the tickers seen so
    far (a vendor cannot be enumerated).

    Args:
        source_bars: the object with ``bars``.
        source: its name (``"eodhd"``, ``"alpaca"``).
    """

    def __init__(self, source_bars, source: str) -> None:
        self._bars = source_bars
        self.source = source
        self._seen: set[str] = set()
        self._last: dt.date | None = None

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.long_closes` (``tickers`` is required here)."""
        if tickers is None:
            raise DataError(f"the {self.source} source cannot list every ticker: name the tickers")
        end_day = pd.Timestamp(end).date() if end is not None else dt.date.today()
        start_day = pd.Timestamp(start).date() if start is not None else None
        bars = self._bars.bars(list(dict.fromkeys(tickers)), start_day, end_day)
        long = bars.loc[bars["adj_close"].notna(), LONG_COLUMNS].copy()
        long["session_date"] = [pd.Timestamp(d).date() for d in long["session_date"]]
        self._seen |= set(long["ticker"])
        if len(long):
            self._last = max(self._last or dt.date.min, max(long["session_date"]))
        return long.sort_values(["ticker", "session_date"], ignore_index=True)

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`engine.prices.CloseReader.closes`."""
        long = self.long_closes(tickers, None, end)
        return closes_from_long(long, tickers, start, end, source=self.source)

    def available_tickers(self) -> frozenset[str]:
        """The tickers returned so far."""
        return frozenset(self._seen)

    def last_session(self) -> dt.date | None:
        """The newest session returned so far."""
        return self._last


# ----------------------------------------------------------------------------------------------------------------
# Factory
# ----------------------------------------------------------------------------------------------------------------

def close_reader(source: str | os.PathLike | None = None, *, warehouse=None) -> CloseReader:
    """The price reader for a source name: ``None`` / ``"bundled"``, ``"warehouse"`` or a directory/file path.

    Args:
        source: the choice (CLI ``--prices``, Dagster resource setting, dashboard selector).
        warehouse: the :class:`warehouse.Warehouse` for ``"warehouse"`` (default: ``Warehouse.from_settings()``).

    Raises:
        PriceFileError: a path that does not exist.
    """
    if source is None or str(source) == "bundled":
        return BundledCloseReader()
    if str(source) == "warehouse":
        if warehouse is None:
            from warehouse import Warehouse

            warehouse = Warehouse.from_settings()
        return WarehouseCloseReader(warehouse)
    path = Path(source).expanduser()
    if not path.exists():
        raise PriceFileError(f"no such directory or file (a price source is {', '.join(map(repr, NAMED_SOURCES))} "
                             f"or a path)", file=path)
    return LocalDirectoryCloseReader(path)


__all__ = ["BundledCloseReader", "WarehouseCloseReader", "LocalDirectoryCloseReader", "BarsCloseReader",
           "PriceFileError",
           "close_reader", "read_price_files", "BAR_COLUMNS", "NAMED_SOURCES"]
