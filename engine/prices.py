"""Price access: the one way every caller reads adjusted closes (:class:`CloseReader`), and its gap rule.

Every path that needs adjusted closes — the daily graph, backtests (CLI and Dagster), research runs, the
dashboard's symphony detail and replay, ``oragami explain`` — asks a :class:`CloseReader`. Implementations:

* :class:`InMemoryCloseReader` (here): a frame held in memory (tests, and anything that already has prices);
* ``warehouse.prices.BundledCloseReader`` (``data/bundled``), ``WarehouseCloseReader`` (``daily_bars``) and
  ``LocalDirectoryCloseReader`` (bring-your-own CSV/Parquet), chosen by ``warehouse.prices.close_reader(source)``.

They all shape their answer with :func:`closes_from_long`, so the frame contract and the gap rule live in one
place:

* index: ``DatetimeIndex`` named ``session_date``, ascending — the sessions on which at least one of the
  requested tickers has a bar, within ``[start, end]``;
* columns: the requested tickers, in the order given (duplicates dropped);
* values: adjusted close (total return: splits and dividends), USD, ``float64``;
* gaps: :func:`fill_interior_gaps` — a session missing *inside* a ticker's history carries the previous close;
  NaN before a ticker's first bar and after its last bar (never invented prices). The rule is applied on the
  history up to ``end`` *before* cutting at ``start``, so a gap on the first returned session is still filled.

A ticker the source does not have at all raises :class:`UnknownTickersError` naming it (never an all-NaN
column), so a symphony cannot silently run without one of its tickers.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from engine.errors import DataError

#: The columns of a long close frame (:meth:`CloseReader.long_closes`).
LONG_COLUMNS = ["session_date", "ticker", "adj_close"]


class UnknownTickersError(DataError, KeyError):
    """Tickers the price source does not have at all.

    Attributes:
        tickers: the missing tickers, sorted.
        source: the source's name (``"bundled"``, ``"warehouse"``, a directory path).

    Subclasses :class:`~engine.errors.DataError` (and ``KeyError``, for callers written against the earlier
    bundled loader).
    """

    def __init__(self, tickers: Iterable[str], source: str) -> None:
        self.tickers = sorted(set(tickers))
        self.source = source
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"tickers not in the {self.source} data: {', '.join(self.tickers)}"


@runtime_checkable
class CloseReader(Protocol):
    """Reads adjusted closes (the contract of every price source; module docstring for the frame and gap rule).

    Attributes:
        source: what the prices come from, for messages and provenance (``"bundled"``, ``"warehouse"``, a path).
    """

    source: str

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """Wide adjusted closes of ``tickers`` from ``start`` to ``end`` (inclusive, date-like; None = unbounded).

        Returns:
            index ``session_date`` (sessions, ascending), columns = ``tickers`` in order, values adjusted close USD
            (float64), interior gaps filled by :func:`fill_interior_gaps`, NaN before the first / after the last bar.

        Raises:
            UnknownTickersError: naming the tickers the source does not have at all.
        """
        ...

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """The stored closes as they are (no filling), long: ``session_date`` (``datetime.date``), ``ticker``,
        ``adj_close`` (USD), sorted by ticker then date. ``tickers`` None = every ticker. Unknown tickers are
        absent (no error): this is the view for coverage and data-quality checks."""
        ...

    def available_tickers(self) -> frozenset[str]:
        """Every ticker the source has at least one adjusted close for."""
        ...

    def last_session(self) -> dt.date | None:
        """The newest session with any adjusted close in the source (None when it is empty)."""
        ...


def fill_interior_gaps(closes: pd.DataFrame) -> pd.DataFrame:
    """Forward-fill a ticker's missing sessions *inside* its history; never before its first or after its last bar.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers (USD).

    Returns:
        The same shape, float64: a session a ticker lacks between two of its bars carries the previous close
        (e.g. 2011-02-17, absent from some sources); leading and trailing NaN stay NaN, so a ticker that has not
        started or has stopped trading is never given invented prices.
    """
    inside = closes.ffill().notna() & closes.bfill().notna()
    return closes.ffill().where(inside).astype("float64")


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).normalize()


def closes_from_long(long: pd.DataFrame, tickers: Sequence[str], start: Any = None, end: Any = None, *,
                     source: str = "memory", known: Iterable[str] | None = None) -> pd.DataFrame:
    """The :class:`CloseReader` answer built from a long frame (the one implementation of the contract).

    Args:
        long: columns ``session_date`` (date-like), ``ticker``, ``adj_close`` (USD); may hold other tickers and
            dates outside the window (they are dropped here). NaN closes count as no bar.
        tickers: the requested tickers (order kept, duplicates dropped).
        start, end: inclusive window (date-like; None = unbounded). The gap rule sees the history up to ``end``.
        source: the source's name, for the error.
        known: the tickers the source has (default: those present in ``long``).

    Raises:
        UnknownTickersError: a requested ticker is not in ``known``.
    """
    names = list(dict.fromkeys(tickers))
    have = set(known) if known is not None else set(long["ticker"].unique())
    missing = [t for t in names if t not in have]
    if missing:
        raise UnknownTickersError(missing, source)
    sel = long.loc[long["ticker"].isin(names), LONG_COLUMNS].dropna(subset=["adj_close"])
    dates = pd.to_datetime(sel["session_date"])
    end_ts, start_ts = _ts(end), _ts(start)
    if end_ts is not None:
        keep = (dates <= end_ts).to_numpy()
        sel, dates = sel[keep], dates[keep]
    if sel.empty:
        wide = pd.DataFrame(index=pd.DatetimeIndex([], name="session_date"), columns=names, dtype="float64")
    else:
        frame = pd.DataFrame({"session_date": dates.to_numpy(), "ticker": sel["ticker"].to_numpy(),
                              "adj_close": sel["adj_close"].to_numpy(dtype="float64")})
        if frame.duplicated(["session_date", "ticker"]).any():
            dup = frame[frame.duplicated(["session_date", "ticker"], keep=False)].iloc[0]
            raise DataError(f"{source}: more than one close for {dup['ticker']} on "
                            f"{pd.Timestamp(dup['session_date']).date()}")
        wide = frame.pivot(index="session_date", columns="ticker", values="adj_close").sort_index()
        wide = fill_interior_gaps(wide.reindex(columns=names))
    if start_ts is not None:
        wide = wide[wide.index >= start_ts]
    wide.index = pd.DatetimeIndex(wide.index, name="session_date")
    wide.columns = pd.Index(names, dtype=object)
    return wide.astype("float64")


def wide_to_long(wide: pd.DataFrame) -> pd.DataFrame:
    """A wide close frame (sessions × tickers) as the long frame of :meth:`CloseReader.long_closes` (NaN dropped)."""
    w = wide.copy()
    w.index = pd.DatetimeIndex(w.index, name="session_date")
    w.columns = pd.Index([str(c) for c in w.columns], name="ticker")
    long = w.stack().rename("adj_close").reset_index()
    long = long.dropna(subset=["adj_close"])
    long["session_date"] = long["session_date"].dt.date
    long["adj_close"] = long["adj_close"].astype("float64")
    return long[LONG_COLUMNS].sort_values(["ticker", "session_date"], ignore_index=True)


class InMemoryCloseReader:
    """A :class:`CloseReader` over closes held in memory.

    Args:
        frame: wide (index = sessions, columns = tickers, USD) or long (columns ``session_date, ticker,
            adj_close``). NaN cells are "no bar".
        source: name used in messages (default ``"memory"``).
    """

    def __init__(self, frame: pd.DataFrame, source: str = "memory") -> None:
        if set(LONG_COLUMNS) <= set(frame.columns):
            long = frame[LONG_COLUMNS].dropna(subset=["adj_close"]).copy()
            long["session_date"] = pd.to_datetime(long["session_date"]).dt.date
            long["adj_close"] = long["adj_close"].astype("float64")
            self._long = long.sort_values(["ticker", "session_date"], ignore_index=True)
        else:
            self._long = wide_to_long(frame)
        self.source = source

    def closes(self, tickers: Sequence[str], start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`CloseReader.closes`."""
        return closes_from_long(self._long, tickers, start, end, source=self.source)

    def long_closes(self, tickers: Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """See :meth:`CloseReader.long_closes`."""
        return select_long(self._long, tickers, start, end)

    def available_tickers(self) -> frozenset[str]:
        """See :meth:`CloseReader.available_tickers`."""
        return frozenset(self._long["ticker"].unique())

    def last_session(self) -> dt.date | None:
        """See :meth:`CloseReader.last_session`."""
        return None if self._long.empty else max(self._long["session_date"])


def select_long(long: pd.DataFrame, tickers: Sequence[str] | None = None, start: Any = None,
                end: Any = None) -> pd.DataFrame:
    """Rows of a long close frame for ``tickers`` (None = all) within ``[start, end]`` (inclusive)."""
    sel = long if tickers is None else long[long["ticker"].isin(list(tickers))]
    if start is not None:
        sel = sel[sel["session_date"] >= pd.Timestamp(start).date()]
    if end is not None:
        sel = sel[sel["session_date"] <= pd.Timestamp(end).date()]
    return sel.reset_index(drop=True)


__all__ = ["CloseReader", "InMemoryCloseReader", "UnknownTickersError", "closes_from_long", "fill_interior_gaps",
           "select_long", "wide_to_long", "LONG_COLUMNS"]
