"""Market data as Dagster resources: bundled, a local directory (bring your own), EODHD and Alpaca.

Offline sources: :class:`BundledMarketData` (``data/bundled``) and :class:`LocalDirectoryMarketData` (CSV/Parquet
files in a directory; formats in :mod:`warehouse.prices`). Network sources: EODHD end-of-day prices and Alpaca
daily bars. Every source also serves its adjusted closes through :meth:`MarketDataResource.close_reader`, the one
price reader (:class:`engine.prices.CloseReader`) the backtest and research assets use.

Both return the :class:`MarketDataResource` frame — long, columns ``session_date``
(``datetime.date``, the New York session), ``ticker`` (as the caller spelt it), ``open``, ``high``, ``low``,
``close``, ``adj_close``, ``volume`` — with every price **adjusted for all corporate actions** (splits and
dividends), so ``close == adj_close`` and :meth:`provenance` says ``adjustment="all"``. ``volume`` is what the
vendor reports (shares).

Shared behaviour:

* **Retries, reads only.** A read that fails with HTTP 429, a 5xx or a connection error/timeout is retried with
  exponential backoff (``retry_base_wait_s · 2^k``, capped at ``retry_max_wait_s``) up to ``max_attempts`` tries in
  all (tenacity). Anything else (401/403/404/400, a malformed body) fails at once. Set ``retry_base_wait_s=0`` in
  tests.
* **Errors name the ticker(s)** (:class:`MarketDataError`; :class:`TransientMarketDataError` for the retryable
  kind) and never contain a credential: keys are masked (``***``) in every message, including URLs quoted by
  ``requests``, and the original exception is not chained (its message and traceback could carry the key).
* **Provenance.** :meth:`source_name` is ``"eodhd"`` / ``"alpaca"``; :meth:`provenance` returns
  ``{"source", "adjustment", "feed"}`` to store with each bar (style guide §5.4).
* **Incremental fetch.** :func:`missing_sessions` turns the last stored session into the range to request.

Configuration comes from resource fields (``dg.EnvVar("EODHD_API_KEY")`` etc. when wired); nothing is read and no
client is built at import time. Ticker spellings are mapped by :mod:`engine.tickers` (``BRK/B`` ↔ ``BRK.B`` ↔
``BRK-B.US``).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from pathlib import Path
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import requests
from pydantic import Field, PrivateAttr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from engine.prices import CloseReader
from engine.tickers import to_alpaca, to_eodhd
from warehouse.bundled import BUNDLE_DIR
from warehouse.prices import BarsCloseReader, BundledCloseReader, LocalDirectoryCloseReader

logger = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
BAR_COLUMNS = ["session_date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
#: HTTP statuses worth retrying on a read.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: ``requests`` failures worth retrying (the connection broke or stalled).
_TRANSIENT_REQUEST_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
#: Requested when ``start`` is None ("from the first bar"): before any data either vendor has for US listings.
EODHD_EARLIEST = dt.date(1900, 1, 1)
#: Alpaca's historical stock data begins in 2016; asking earlier is harmless.
ALPACA_EARLIEST = dt.date(2015, 1, 1)

T = TypeVar("T")


class MarketDataResource(dg.ConfigurableResource):
    """Source of daily bars. Subclasses implement :meth:`bars`."""

    def source_name(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def provenance(self) -> dict:
        """Stored with every bar: ``source``, ``adjustment`` (always ``all``: total-return adjusted) and ``feed``."""
        return {"source": self.source_name(), "adjustment": "all", "feed": None}

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        """Daily bars, long: columns ``session_date (date), ticker, open, high, low, close, adj_close, volume``.

        ``adj_close`` is total-return adjusted (USD); OHLC may be NaN where the source has none. Sessions from
        ``start`` (None = the ticker's first bar) to ``end`` inclusive.
        """
        raise NotImplementedError

    def close_reader(self) -> CloseReader:
        """This source's adjusted closes as a :class:`engine.prices.CloseReader` (sessions × tickers, USD,
        interior gaps filled by the one rule). Default: through :meth:`bars` (one read per ``closes`` call)."""
        return BarsCloseReader(self, self.source_name())


class BundledMarketData(MarketDataResource):
    """Bars from the bundled Parquet files (``data/bundled``; see its ``manifest.json``)."""

    bundle_dir: str = Field(default=str(BUNDLE_DIR), description="folder holding adj_close.parquet and bars.parquet")

    def source_name(self) -> str:
        return "bundled"

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        return self.close_reader().bars(tickers, start=start, end=end)

    def close_reader(self) -> BundledCloseReader:
        """:class:`warehouse.prices.BundledCloseReader` on ``bundle_dir``."""
        return BundledCloseReader(Path(self.bundle_dir))


class LocalDirectoryMarketData(MarketDataResource):
    """Bring your own data: daily prices from CSV or Parquet files in a local directory (or one long file).

    Formats (:mod:`warehouse.prices`): ``<TICKER>.csv`` / ``<TICKER>.parquet`` with ``date,adj_close`` and
    optionally ``open,high,low,close,volume``, or one long file with ``date,ticker,adj_close[,…]``. ``adj_close``
    is the total-return adjusted close in USD; OHLC NaN where not given. The files are read and validated once per
    resource instance; a bad file fails the read with :class:`warehouse.prices.PriceFileError` naming the file,
    row and column. :meth:`provenance` says ``source="local:<directory>"``, ``adjustment="all"`` (the files are
    taken to be total-return adjusted, as the format requires).
    """

    directory: str = Field(description="folder of <TICKER>.csv / .parquet files, or one long CSV/Parquet file")

    _reader: Any = PrivateAttr(default=None)

    def source_name(self) -> str:
        return f"local:{self.directory}"

    def close_reader(self) -> LocalDirectoryCloseReader:
        """:class:`warehouse.prices.LocalDirectoryCloseReader` on ``directory`` (one per resource instance)."""
        if self._reader is None:
            self._reader = LocalDirectoryCloseReader(Path(self.directory))
        return self._reader

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        """Long bars of ``tickers`` from ``start`` (None = first bar) to ``end``; absent tickers are absent."""
        return _finish(self.close_reader().bars(tickers, start=start, end=end))



# ----------------------------------------------------------------------------------------------------------------
# Errors and masking
# ----------------------------------------------------------------------------------------------------------------

class MarketDataError(RuntimeError):
    """A read from a market-data vendor failed; ``tickers`` names what was asked, ``status`` the HTTP status."""

    def __init__(self, message: str, tickers: Iterable[str] = (), status: int | None = None) -> None:
        super().__init__(message)
        self.tickers = list(tickers)
        self.status = status


class TransientMarketDataError(MarketDataError):
    """A failure worth retrying (HTTP 429, 5xx, connection error or timeout)."""


_TOKEN_PARAM = re.compile(r"(?i)((?:api_token|apikey|api_key|token|secret[a-z_]*)=)[^&\s'\"]+")


def mask_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every non-empty secret and every ``api_token=…``-style query value replaced by ``***``."""
    out = str(text)
    for s in secrets:
        if s:
            out = out.replace(s, "***")
            quoted = quote(s, safe="")
            if quoted != s:
                out = out.replace(quoted, "***")
    return _TOKEN_PARAM.sub(r"\1***", out)


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def missing_sessions(last_stored: dt.date | None, end: dt.date) -> tuple[dt.date | None, dt.date]:
    """The ``(start, end)`` to request so that the store is complete through ``end``.

    ``last_stored`` None (nothing stored) → ``(None, end)``: from the ticker's first bar. Otherwise the day after
    ``last_stored``; when ``last_stored >= end`` the range is ``(end, end)``: the session is fetched again and
    replaced (bars of a session still in progress change, and a re-run must be idempotent). Calendar days, not
    sessions: vendors return sessions only, so weekends and holidays in the range cost nothing.
    """
    if last_stored is None:
        return None, end
    if last_stored >= end:
        return end, end
    return last_stored + dt.timedelta(days=1), end


def _empty_bars() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    df["session_date"] = pd.Series(dtype=object)
    df["ticker"] = pd.Series(dtype=object)
    return df[BAR_COLUMNS]


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return _empty_bars()
    for c in ("open", "high", "low", "close", "adj_close", "volume"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame[BAR_COLUMNS].sort_values(["ticker", "session_date"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Shared base
# ----------------------------------------------------------------------------------------------------------------

class _NetworkMarketData(MarketDataResource):
    """Retry settings and helpers shared by the network sources (not used directly)."""

    max_attempts: int = Field(default=4, ge=1, description="tries per read in all (first try included)")
    retry_base_wait_s: float = Field(default=1.0, ge=0, description="first backoff wait, seconds (0 in tests)")
    retry_max_wait_s: float = Field(default=30.0, ge=0, description="longest backoff wait, seconds")
    timeout_s: float = Field(default=30.0, gt=0, description="HTTP connect/read timeout per request, seconds")

    def provenance(self) -> dict[str, str | None]:  # pragma: no cover - overridden
        raise NotImplementedError

    def missing_sessions(self, last_stored: dt.date | None, end: dt.date) -> tuple[dt.date | None, dt.date]:
        """See :func:`missing_sessions`."""
        return missing_sessions(last_stored, end)

    def _secrets(self) -> list[str]:  # pragma: no cover - overridden
        return []

    def _mask(self, text: Any) -> str:
        return mask_secrets(str(text), self._secrets())

    def _with_retries(self, what: str, call: Callable[[], T]) -> T:
        """``call()`` retried on :class:`TransientMarketDataError` (bounded, exponential backoff)."""

        def log_retry(state) -> None:
            exc = state.outcome.exception()
            logger.warning("%s: attempt %d of %d failed (%s); retrying in %.2fs", what, state.attempt_number,
                           self.max_attempts, self._mask(exc), state.next_action.sleep if state.next_action else 0)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.retry_base_wait_s, max=self.retry_max_wait_s),
            retry=retry_if_exception_type(TransientMarketDataError),
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(call)


# ----------------------------------------------------------------------------------------------------------------
# EODHD
# ----------------------------------------------------------------------------------------------------------------

class _HttpFailure(Exception):
    """Raised by the guarded EODHD transport; carries no URL (the URL holds the api token)."""

    def __init__(self, status: int | None, detail: str, transient: bool) -> None:
        super().__init__(detail)
        self.status, self.detail, self.transient = status, detail, transient


def _import_eodhd_endpoint() -> type:
    """``eodhd.APIs.EodHistoricalStockMarketDataAPI``, imported without its side effect.

    ``eodhd/apiclient.py`` (imported by ``import eodhd``) runs ``sys.tracebacklimit = 1`` at module level, which
    would cut every traceback in the Dagster process to one frame. The previous value is put back.
    """
    missing = object()
    before = getattr(sys, "tracebacklimit", missing)
    try:
        from eodhd.APIs import EodHistoricalStockMarketDataAPI
    finally:
        if before is missing:
            if hasattr(sys, "tracebacklimit"):
                del sys.tracebacklimit
        else:
            sys.tracebacklimit = before
    return EodHistoricalStockMarketDataAPI


@functools.lru_cache(maxsize=1)
def _guarded_eod_endpoint_class() -> type:
    """A subclass of the package's EOD endpoint whose transport is ours (see :class:`EodhdMarketData`)."""
    base = _import_eodhd_endpoint()

    class GuardedEodEndpoint(base):
        def __init__(self, base_url: str, session: requests.Session, timeout_s: float) -> None:
            super().__init__()  # sets the hard-coded https://eodhd.com/api and a rich Console; both replaced/unused
            self._api_url = base_url.rstrip("/")
            self._session = session
            self._timeout_s = timeout_s

        def _rest_get_method(self, api_key: str, endpoint: str = "", uri: str = "", querystring: str = ""):
            """Replaces ``BaseAPI._rest_get_method``: raise instead of logging and returning ``{}``, never
            ``sys.exit``, time out, URL-encode the symbol and the parameters."""
            if not endpoint.strip():
                raise ValueError("endpoint is empty")
            params = [("api_token", api_key), ("fmt", "json")] + parse_qsl(querystring.lstrip("&"))
            url = f"{self._api_url}/{quote(endpoint, safe='')}/{quote(uri, safe='')}"
            try:
                resp = self._session.get(url, params=params, timeout=self._timeout_s, allow_redirects=False)
            except requests.RequestException as exc:  # its message quotes the URL: masked by the caller
                failure = _HttpFailure(None, f"{type(exc).__name__}: {exc}",
                                       transient=isinstance(exc, _TRANSIENT_REQUEST_ERRORS))
            else:
                failure = None
            if failure is not None:  # raised outside the except block: no __context__ holding the raw message
                raise failure
            if resp.status_code != 200:
                raise _HttpFailure(resp.status_code, f"HTTP {resp.status_code}: {_snippet(resp.text)}",
                                   transient=resp.status_code in RETRYABLE_STATUSES)
            try:
                return resp.json()
            except ValueError:
                failure = _HttpFailure(200, f"body is not JSON: {_snippet(resp.text)}", transient=False)
            raise failure

    return GuardedEodEndpoint


class EodhdMarketData(_NetworkMarketData):
    """Daily bars from EODHD's end-of-day API (``GET {base_url}/eod/{CODE}.US?api_token=…&fmt=json&from=&to=``).

    **How the ``eodhd`` package (1.0.32) is used, and why not its ``APIClient`` as is.** Its source
    (``eodhd/apiclient.py``, ``eodhd/APIs/BaseAPI.py``) shows:

    1. The base URL is hard-coded (``self._api_url = "https://eodhd.com/api"`` in ``APIClient.__init__`` and in
       ``BaseAPI.__init__``), and ``APIClient.get_eod_historical_stock_market_data`` builds a *fresh*
       ``EodHistoricalStockMarketDataAPI()`` per call, so setting ``client._api_url`` changes nothing.
    2. ``BaseAPI._rest_get_method`` swallows errors: ``ConnectionError``, ``HTTPError``, ``Timeout`` and a bad JSON
       body are ``console.log``-ged and ``{}`` is returned — an outage looks like "no data".
    3. It calls ``sys.exit(1)`` when an error body has an ``"errors"`` key (``get_historical_data`` also
       ``sys.exit()``-s on a bad date), which would kill the run worker.
    4. The logged ``HTTPError`` text contains the request URL, i.e. ``api_token=<key>``, printed to stdout.
    5. ``requests.get`` without a timeout (a stalled connection hangs forever); symbol and token are pasted into
       the URL unencoded.
    6. ``import eodhd`` sets ``sys.tracebacklimit = 1`` for the whole process.
    7. ``APIClient`` rejects keys that do not match ``^[A-z0-9.]{16,32}$``; ``get_historical_data`` fills missing
       prices with 0 (``fillna(0)``), renames columns by position and truncates to ``results=300`` rows when only
       a start is given.

    So this resource keeps the package's EOD endpoint class (``eodhd.APIs.EodHistoricalStockMarketDataAPI``: its
    argument checks and query composition, ``period=d&from=&to=``) and replaces only its transport in a subclass
    (:func:`_guarded_eod_endpoint_class`): our base URL, our ``requests.Session`` with a timeout, encoded
    parameters, HTTP errors raised (retryable ones marked), no ``sys.exit``, no printing. The import restores
    ``sys.tracebacklimit`` (item 6). ``APIClient`` is not used (items 1, 7).

    **Prices.** ``adj_close`` is EODHD's ``adjusted_close`` (splits and dividends). EODHD's ``open/high/low/close``
    are raw (as traded), so they are scaled by ``adjusted_close / close`` of the same day to put them on the
    adjusted basis; ``close`` therefore equals ``adj_close``. OHLC is NaN when the raw close is not positive.
    ``volume`` is EODHD's raw share volume.
    """

    api_key: str = Field(repr=False, description="EODHD API token (dg.EnvVar('EODHD_API_KEY'))")
    base_url: str = Field(default="https://eodhd.com/api", description="EODHD API root (a local fake in tests)")

    _endpoint_obj: Any = PrivateAttr(default=None)

    def source_name(self) -> str:
        return "eodhd"

    def provenance(self) -> dict[str, str | None]:
        """``source="eodhd"``, ``adjustment="all"``, ``feed="eod"`` (EODHD's end-of-day prices; it has no feed
        choice)."""
        return {"source": "eodhd", "adjustment": "all", "feed": "eod"}

    def _secrets(self) -> list[str]:
        return [self.api_key]

    def _endpoint(self):
        if self._endpoint_obj is None:
            self._endpoint_obj = _guarded_eod_endpoint_class()(self.base_url, requests.Session(), self.timeout_s)
        return self._endpoint_obj

    def _fetch_raw(self, ticker: str, start: dt.date | None, end: dt.date) -> list[dict]:
        symbol = to_eodhd(ticker)
        endpoint = self._endpoint()

        def once() -> Any:
            try:
                return endpoint.get_eod_historical_stock_market_data(
                    api_token=self.api_key, symbol=symbol, period="d",
                    from_date=(start or EODHD_EARLIEST).isoformat(), to_date=end.isoformat(), order="a")
            except _HttpFailure as exc:
                cls = TransientMarketDataError if exc.transient else MarketDataError
                failure = cls(f"EODHD read of {ticker} ({symbol}) failed: {self._mask(exc.detail)}",
                              tickers=[ticker], status=exc.status)
            raise failure

        data = self._with_retries(f"EODHD {ticker}", once)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise MarketDataError(f"EODHD read of {ticker} ({symbol}): expected a list of bars, got "
                                  f"{self._mask(_snippet(repr(data)))}", tickers=[ticker])
        return data

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        """Daily bars of ``tickers`` from ``start`` (None = first bar) to ``end`` inclusive; one request per
        ticker. A ticker EODHD has no rows for in the range is simply absent (callers check coverage).

        Raises:
            MarketDataError: naming the ticker, when a read fails for good (after retries for transient errors).
        """
        frames = []
        for ticker in dict.fromkeys(tickers):
            rows = self._fetch_raw(ticker, start, end)
            if not rows:
                continue
            raw = pd.DataFrame(rows)
            for c in ("date", "open", "high", "low", "close", "adjusted_close", "volume"):
                if c not in raw.columns:
                    raw[c] = math.nan
            raw = raw.dropna(subset=["date"])
            session = pd.to_datetime(raw["date"]).dt.date
            close = pd.to_numeric(raw["close"], errors="coerce")
            adj = pd.to_numeric(raw["adjusted_close"], errors="coerce")
            factor = (adj / close).where(close > 0)
            df = pd.DataFrame({
                "session_date": session, "ticker": ticker,
                "open": pd.to_numeric(raw["open"], errors="coerce") * factor,
                "high": pd.to_numeric(raw["high"], errors="coerce") * factor,
                "low": pd.to_numeric(raw["low"], errors="coerce") * factor,
                "close": close * factor,
                "adj_close": adj,
                "volume": pd.to_numeric(raw["volume"], errors="coerce"),
            })
            keep = session <= end if start is None else (session >= start) & (session <= end)
            frames.append(df[keep.to_numpy()])
        return _finish(pd.concat(frames, ignore_index=True) if frames else _empty_bars())


# ----------------------------------------------------------------------------------------------------------------
# Alpaca
# ----------------------------------------------------------------------------------------------------------------

class _TimeoutSession(requests.Session):
    """A ``requests.Session`` with a default timeout (alpaca-py's ``RESTClient`` sets none)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(method, url, **kwargs)


class AlpacaMarketData(_NetworkMarketData):
    """Daily bars and latest prices from Alpaca's market-data API v2 through alpaca-py.

    * Bars: ``StockHistoricalDataClient(api_key, secret_key, url_override=…).get_stock_bars(StockBarsRequest(
      symbol_or_symbols=[…], timeframe=TimeFrame.Day, start, end, adjustment=Adjustment.ALL, feed=…))`` with
      tz-aware New York datetimes (``start`` 00:00, ``end`` 23:59:59 of the dates); one request for all tickers,
      alpaca-py follows ``next_page_token`` and merges the pages. ``session_date`` is the bar timestamp converted
      to New York (daily bars are stamped 00:00 New York = 04:00/05:00 UTC).
    * ``adj_close`` = the ``close`` of the ``adjustment=all`` bar: Alpaca's "all" adjusts for splits **and**
      dividends (and spin-offs), i.e. a total-return adjusted close, the same basis as the bundled data. Open, high,
      low and close are on that basis too.
    * ``feed``: ``"iex"`` (free plan, single venue: thin volume, prices fine for daily closes) or ``"sip"``
      (consolidated tape; the free plan refuses SIP data of the last 15 minutes). Recorded in :meth:`provenance`.
    * ``url_override``: a bare origin (``http://127.0.0.1:PORT``, no ``/v2``) for a local fake.

    alpaca-py's own retry (429/504 only, fixed 3 s sleep, ``common/rest.py``) is switched off on this client
    (``_retry = 0``) so that the bounded exponential backoff of this resource is the one retry layer (it also
    covers 5xx and connection errors). A retry of a paginated read starts the read again.
    """

    api_key: str = Field(repr=False, description="Alpaca API key id (dg.EnvVar('ALPACA_API_KEY'))")
    secret_key: str = Field(repr=False, description="Alpaca API secret (dg.EnvVar('ALPACA_SECRET_KEY'))")
    feed: str = Field(default="iex", description="stock data feed: 'iex' or 'sip'")
    url_override: str | None = Field(default=None, description="data API origin (a local fake in tests)")

    _client: Any = PrivateAttr(default=None)

    def source_name(self) -> str:
        return "alpaca"

    def provenance(self) -> dict[str, str | None]:
        """``source="alpaca"``, ``adjustment="all"``, ``feed`` as configured (``"iex"``/``"sip"``)."""
        return {"source": "alpaca", "adjustment": "all", "feed": self.feed}

    def _secrets(self) -> list[str]:
        return [self.api_key, self.secret_key]

    def _data_feed(self):
        from alpaca.data.enums import DataFeed

        try:
            return DataFeed(self.feed)
        except ValueError:
            raise ValueError(f"unknown Alpaca feed {self.feed!r}; expected one of "
                             f"{', '.join(f.value for f in DataFeed)}") from None

    def client(self):
        """The ``StockHistoricalDataClient`` (built on first use, SDK retries off, request timeout set)."""
        if self._client is None:
            from alpaca.data.historical import StockHistoricalDataClient

            c = StockHistoricalDataClient(self.api_key, self.secret_key, url_override=self.url_override)
            c._retry = 0  # see the class docstring: one retry layer, ours
            c._session = _TimeoutSession(self.timeout_s)
            self._client = c
        return self._client

    def _call(self, what: str, tickers: list[str], fn: Callable[[], T]) -> T:
        """``fn()`` with alpaca-py / requests errors turned into masked :class:`MarketDataError`s, retried."""
        from alpaca.common.exceptions import APIError

        names = ", ".join(tickers)

        def once() -> T:
            try:
                return fn()
            except APIError as exc:
                status = exc.status_code
                cls = TransientMarketDataError if status in RETRYABLE_STATUSES else MarketDataError
                failure = cls(f"Alpaca {what} of {names} failed: HTTP {status}: {self._mask(_snippet(str(exc)))}",
                              tickers=tickers, status=status)
            except requests.RequestException as exc:
                cls = TransientMarketDataError if isinstance(exc, _TRANSIENT_REQUEST_ERRORS) else MarketDataError
                failure = cls(f"Alpaca {what} of {names} failed: {type(exc).__name__}: {self._mask(exc)}",
                              tickers=tickers)
            except (ValueError, KeyError, TypeError) as exc:  # a body alpaca-py cannot parse (not retried)
                failure = MarketDataError(f"Alpaca {what} of {names}: unexpected response: "
                                          f"{self._mask(_snippet(str(exc)))}", tickers=tickers)
            raise failure

        return self._with_retries(f"Alpaca {what} {names}", once)

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        """Daily bars of ``tickers`` from ``start`` (None = from 2015) to ``end`` inclusive (one paginated read).

        Raises:
            MarketDataError: naming the tickers, when the read fails for good.
        """
        from alpaca.data.enums import Adjustment
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        tickers = list(dict.fromkeys(tickers))
        if not tickers:
            return _empty_bars()
        by_symbol = {to_alpaca(t): t for t in tickers}
        request = StockBarsRequest(
            symbol_or_symbols=list(by_symbol),
            timeframe=TimeFrame.Day,
            start=dt.datetime.combine(start or ALPACA_EARLIEST, dt.time(0, 0), tzinfo=NEW_YORK),
            end=dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=NEW_YORK),
            adjustment=Adjustment.ALL,
            feed=self._data_feed(),
        )
        barset = self._call("bars", tickers, lambda: self.client().get_stock_bars(request))
        rows = []
        for symbol, bars in (barset.data or {}).items():
            ticker = by_symbol.get(symbol)
            if ticker is None:
                continue
            for b in bars:
                session = b.timestamp.astimezone(NEW_YORK).date()
                if (start is None or session >= start) and session <= end:
                    rows.append((session, ticker, b.open, b.high, b.low, b.close, b.close, b.volume))
        return _finish(pd.DataFrame(rows, columns=BAR_COLUMNS))

    def latest_prices(self, tickers: list[str]) -> dict[str, tuple[float, dt.datetime]]:
        """Latest price (USD) and its time (tz-aware) per ticker, for live trading.

        The latest trade on the configured feed; for a ticker without one, the midpoint of the latest quote when
        both bid and ask are positive. Tickers with neither are absent from the result (callers check).

        Raises:
            MarketDataError: naming the tickers, when a read fails for good.
        """
        from alpaca.data.requests import StockLatestQuoteRequest, StockLatestTradeRequest

        tickers = list(dict.fromkeys(tickers))
        if not tickers:
            return {}
        by_symbol = {to_alpaca(t): t for t in tickers}
        feed = self._data_feed()
        trades = self._call("latest trades", tickers, lambda: self.client().get_stock_latest_trade(
            StockLatestTradeRequest(symbol_or_symbols=list(by_symbol), feed=feed)))
        out: dict[str, tuple[float, dt.datetime]] = {}
        for symbol, trade in (trades or {}).items():
            if symbol in by_symbol and trade.price and trade.price > 0:
                out[by_symbol[symbol]] = (float(trade.price), trade.timestamp)
        rest = [s for s, t in by_symbol.items() if t not in out]
        if rest:
            quotes = self._call("latest quotes", [by_symbol[s] for s in rest],
                                lambda: self.client().get_stock_latest_quote(
                                    StockLatestQuoteRequest(symbol_or_symbols=rest, feed=feed)))
            for symbol, q in (quotes or {}).items():
                if symbol in by_symbol and q.bid_price and q.ask_price and q.bid_price > 0 and q.ask_price > 0:
                    out[by_symbol[symbol]] = ((float(q.bid_price) + float(q.ask_price)) / 2.0, q.timestamp)
        return out


__all__ = ["MarketDataError", "TransientMarketDataError", "EodhdMarketData", "AlpacaMarketData",
           "BundledMarketData", "LocalDirectoryMarketData", "MarketDataResource",
           "missing_sessions", "mask_secrets", "RETRYABLE_STATUSES"]
