"""A fake of Alpaca's market-data API v2 (stocks), served on 127.0.0.1 (ephemeral port, background thread, stdlib).

Paths and JSON as alpaca-py 0.44's ``StockHistoricalDataClient`` sends and parses them
(``alpaca/data/historical/stock.py``, ``alpaca/common/rest.py::_get_marketdata``, ``alpaca/data/mappings.py``):

* ``GET /v2/stocks/bars?symbols=A,B&timeframe=1Day&start=…&end=…&limit=…&adjustment=…&feed=…&page_token=…`` →
  ``{"bars": {"A": [{"t", "o", "h", "l", "c", "v", "n", "vw"}, …]}, "next_page_token": str | null}``. Items are
  ordered by symbol then time and paged by ``min(limit, page_size)`` (set ``page_size`` small to force
  pagination); the token encodes the offset. ``t`` is the session's 00:00 New York in UTC (``…T04:00:00Z`` or
  ``…T05:00:00Z``), as Alpaca stamps daily bars. ``adjustment=all`` serves the ``adj_close`` basis (``c`` =
  ``adj_close``, ``o/h/l`` scaled by ``adj_close/close``); ``raw`` (the default) serves ``close`` as given; other
  adjustments → 422. ``start``/``end`` must be RFC 3339 with an offset (naive times → 422), ``timeframe`` must be
  ``1Day``.
* ``GET /v2/stocks/trades/latest?symbols=…&feed=…`` → ``{"trades": {"A": {"t", "x", "p", "s", "c", "i", "z"}}}``
  and ``GET /v2/stocks/quotes/latest`` → ``{"quotes": {"A": {"t", "ax", "ap", "as", "bx", "bp", "bs", "c", "z"}}}``
  from :meth:`FakeAlpacaDataServer.set_latest_trade` / :meth:`~FakeAlpacaDataServer.set_latest_quote`; symbols
  without one are left out.

Every request must carry ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` equal to the server's, else 401
``{"message": "unauthorized."}``. :meth:`FakeAlpacaDataServer.fail_next` makes the next requests on a path answer an
error status (the body quotes both credentials, to prove clients mask them). :attr:`FakeAlpacaDataServer.requests`
logs ``(path, query)`` (no headers).

``frames`` maps an Alpaca symbol (``"SPY"``, ``"BRK.B"``) to a frame with ``session_date``, ``open``, ``high``,
``low``, ``close``, ``adj_close``, ``volume``.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from tests.fakes._loopback import LoopbackServer

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
DEFAULT_KEY = "fake-data-key-id"
DEFAULT_SECRET = "fake-data-secret-key"
FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")


def _utc_z(ts: dt.datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class FakeAlpacaDataServer(LoopbackServer):
    """Alpaca market-data fake; use as a context manager (``with FakeAlpacaDataServer(frames) as server``)."""

    thread_name = "fake-alpaca-data"

    @property
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def __init__(self, frames: Mapping[str, pd.DataFrame], *, api_key: str = DEFAULT_KEY,
                 secret_key: str = DEFAULT_SECRET, page_size: int = 10_000) -> None:
        self.api_key, self.secret_key, self.page_size = api_key, secret_key, page_size
        self._lock = threading.Lock()
        self._bars: dict[str, list[dict]] = {}
        for symbol, frame in frames.items():
            rows = []
            for rec in frame.sort_values("session_date").to_dict("records"):
                d = pd.Timestamp(rec["session_date"]).date()
                rows.append({"date": d, **{k: _num(rec.get(k)) for k in
                                           ("open", "high", "low", "close", "adj_close", "volume")}})
            self._bars[symbol.upper()] = rows
        self._trades: dict[str, dict] = {}
        self._quotes: dict[str, dict] = {}
        self._failures: list[list] = []  # [path, status, remaining]
        self.requests: list[tuple[str, dict[str, str]]] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The origin to pass as ``url_override`` (no ``/v2``)."""
        return self.origin

    # -- set-up and faults ----------------------------------------------------------------------------------------

    def set_latest_trade(self, symbol: str, price: float, at: dt.datetime) -> None:
        with self._lock:
            self._trades[symbol.upper()] = {"t": _utc_z(at), "x": "V", "p": price, "s": 100, "c": ["@"],
                                            "i": 52983525029461, "z": "B"}

    def set_latest_quote(self, symbol: str, bid: float, ask: float, at: dt.datetime) -> None:
        with self._lock:
            self._quotes[symbol.upper()] = {"t": _utc_z(at), "ax": "V", "ap": ask, "as": 2, "bx": "V", "bp": bid,
                                            "bs": 3, "c": ["R"], "z": "B"}

    def fail_next(self, path: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests on ``path`` (e.g. ``/v2/stocks/bars``; ``"*"`` = any) answer ``status``."""
        with self._lock:
            self._failures.append([path, status, times])

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for f in self._failures:
                if f[2] > 0 and f[0] in (path, "*"):
                    f[2] -= 1
                    return f[1]
        return None

    # -- serving --------------------------------------------------------------------------------------------------

    def handle(self, path: str, query: str, headers) -> tuple[int, object]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        with self._lock:
            self.requests.append((path, params))
        if headers.get("APCA-API-KEY-ID") != self.api_key or headers.get("APCA-API-SECRET-KEY") != self.secret_key:
            return 401, {"message": "unauthorized."}
        status = self._take_failure(path)
        if status is not None:
            return status, {"message": f"fake failure for key {headers.get('APCA-API-KEY-ID')} / "
                                       f"{headers.get('APCA-API-SECRET-KEY')}"}
        feed = params.get("feed", "sip")
        if feed not in FEEDS:
            return 400, {"message": f"invalid feed {feed!r}"}
        symbols = [s for s in params.get("symbols", "").upper().split(",") if s]
        if not symbols:
            return 400, {"message": "missing symbols"}
        if path == "/v2/stocks/bars":
            return self._bars_page(symbols, params)
        if path == "/v2/stocks/trades/latest":
            with self._lock:
                return 200, {"trades": {s: self._trades[s] for s in symbols if s in self._trades}}
        if path == "/v2/stocks/quotes/latest":
            with self._lock:
                return 200, {"quotes": {s: self._quotes[s] for s in symbols if s in self._quotes}}
        return 404, {"message": "Not Found"}

    def _bars_page(self, symbols: list[str], params: dict[str, str]) -> tuple[int, object]:
        if params.get("timeframe") != "1Day":
            return 422, {"message": f"the fake serves timeframe=1Day only, got {params.get('timeframe')!r}"}
        adjustment = params.get("adjustment", "raw")
        if adjustment not in ("raw", "all"):
            return 422, {"message": f"the fake serves adjustment raw or all, got {adjustment!r}"}
        bounds = []
        for name, default in (("start", dt.datetime.min.replace(tzinfo=UTC)),
                              ("end", dt.datetime.max.replace(tzinfo=UTC))):
            if name not in params:
                bounds.append(default)
                continue
            try:
                ts = dt.datetime.fromisoformat(params[name].replace("Z", "+00:00"))
            except ValueError:
                return 422, {"message": f"invalid {name}"}
            if ts.tzinfo is None:
                return 422, {"message": f"{name} must be RFC 3339 with an offset"}
            bounds.append(ts)
        start, end = bounds
        items = []
        with self._lock:
            for s in sorted(set(symbols)):
                for r in self._bars.get(s, []):
                    stamp = dt.datetime.combine(r["date"], dt.time(0, 0), tzinfo=NY)
                    if not (start <= stamp <= end):
                        continue
                    o, h, l, c = r["open"], r["high"], r["low"], r["close"]
                    if adjustment == "all":
                        f = r["adj_close"] / c if c else None
                        o, h, l = ((x * f if x is not None and f is not None else None) for x in (o, h, l))
                        c = r["adj_close"]
                    items.append((s, {"t": _utc_z(stamp), "o": o, "h": h, "l": l, "c": c, "v": r["volume"] or 0,
                                      "n": 1000, "vw": c}))
        offset = int(base64.urlsafe_b64decode(params["page_token"]).decode()) if params.get("page_token") else 0
        size = min(int(params.get("limit") or 1000), self.page_size)
        page = items[offset:offset + size]
        bars: dict[str, list] = {}
        for s, bar in page:
            bars.setdefault(s, []).append(bar)
        nxt = offset + size
        token = base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
        return 200, {"bars": bars, "next_page_token": token}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        split = urlsplit(self.path)
        status, payload = self.server.fake.handle(split.path, split.query, self.headers)  # type: ignore[attr-defined]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass


__all__ = ["FakeAlpacaDataServer", "DEFAULT_KEY", "DEFAULT_SECRET"]
