"""A fake of EODHD's end-of-day API, served on 127.0.0.1 (ephemeral port, background thread, stdlib only).

``GET /api/eod/{SYMBOL}?api_token=…&fmt=json[&period=d][&from=YYYY-MM-DD][&to=YYYY-MM-DD][&order=a|d]`` answers a
JSON list of ``{"date", "open", "high", "low", "close", "adjusted_close", "volume"}`` like EODHD does: ``close``
and ``open/high/low`` raw, ``adjusted_close`` adjusted for splits and dividends. Point a client at
``server.url`` (``http://127.0.0.1:PORT/api``, the counterpart of ``https://eodhd.com/api``).

Errors as EODHD gives them: no or wrong ``api_token`` → 401 ``{"message": "Unauthenticated"}``; unknown symbol →
404 ``Ticker Not Found.``; ``fmt`` other than json or ``period`` other than d/w/m → 400.

Data: ``frames`` maps an EODHD symbol (``"SPY.US"``, ``"BRK-B.US"``) to a frame with ``session_date``, ``open``,
``high``, ``low``, ``close`` (served raw), ``adj_close`` (served as ``adjusted_close``) and ``volume``.

Faults (all thread-safe, settable while serving):

* :meth:`FakeEodhdServer.fail_next` — the next ``times`` requests for a symbol (``"*"`` = any) get ``status``
  (500, 429, …). The default body quotes the request line **including the api_token**, as careless proxies do, so
  tests can prove clients mask it.
* :meth:`FakeEodhdServer.stop_after` — the symbol has no rows after a date (a delisted or stalled feed).
* :meth:`FakeEodhdServer.drop_session` — one session missing (a gap).
* :meth:`FakeEodhdServer.set_bar` — overwrite fields of one row (a bad bar: non-positive price, a 60 % spike).

:attr:`FakeEodhdServer.requests` logs ``(symbol, params)`` of every request, the token replaced by ``"<ok>"`` or
``"<bad>"``.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote, urlsplit

import pandas as pd

from tests.fakes._loopback import LoopbackServer

DEFAULT_TOKEN = "fakeEodhdToken0123456789"

_FIELDS = {"open": "open", "high": "high", "low": "low", "close": "close", "adj_close": "adjusted_close",
           "volume": "volume"}


def _num(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class FakeEodhdServer(LoopbackServer):
    """EODHD EOD fake; use as a context manager (``with FakeEodhdServer(frames) as server``)."""

    thread_name = "fake-eodhd"

    @property
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def __init__(self, frames: Mapping[str, pd.DataFrame], api_token: str = DEFAULT_TOKEN) -> None:
        self.api_token = api_token
        self._lock = threading.Lock()
        self._rows: dict[str, dict[dt.date, dict]] = {}
        for symbol, frame in frames.items():
            rows = {}
            for rec in frame.to_dict("records"):
                d = pd.Timestamp(rec["session_date"]).date()
                rows[d] = {"date": d.isoformat(), **{out: _num(rec.get(col)) for col, out in _FIELDS.items()}}
            self._rows[symbol.upper()] = rows
        self._failures: list[list] = []  # [symbol, status, remaining, body]
        self._stop_after: dict[str, dt.date] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/api``."""
        return f"{self.origin}/api"

    # -- faults ---------------------------------------------------------------------------------------------------

    def fail_next(self, symbol: str, status: int, times: int = 1, body: str | None = None) -> None:
        """The next ``times`` requests for ``symbol`` (``"*"`` = any) answer ``status`` with ``body`` (default: a
        message quoting the full request target, api token included)."""
        with self._lock:
            self._failures.append([symbol.upper(), status, times, body])

    def stop_after(self, symbol: str, last: dt.date) -> None:
        """``symbol`` has no rows after ``last``."""
        with self._lock:
            self._stop_after[symbol.upper()] = last

    def drop_session(self, symbol: str, session: dt.date) -> None:
        """Remove ``symbol``'s row of ``session``."""
        with self._lock:
            self._rows[symbol.upper()].pop(session, None)

    def set_bar(self, symbol: str, session: dt.date, **values: float) -> None:
        """Overwrite fields of one row (names as served: ``open``, ``close``, ``adjusted_close``, ...)."""
        with self._lock:
            row = self._rows[symbol.upper()][session]
            for k, v in values.items():
                if k not in row:
                    raise KeyError(f"unknown EOD field {k!r}")
                row[k] = v

    # -- serving --------------------------------------------------------------------------------------------------

    def _take_failure(self, symbol: str) -> tuple[int, str | None] | None:
        with self._lock:
            for f in self._failures:
                if f[2] > 0 and f[0] in (symbol, "*"):
                    f[2] -= 1
                    return f[1], f[3]
        return None

    def handle(self, path: str, query: str, target: str) -> tuple[int, str, str]:
        """``(status, content type, body)`` for one GET."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        parts = path.split("/")
        token_ok = params.get("api_token") == self.api_token
        logged = {**params, "api_token": "<ok>" if token_ok else "<bad>"} if "api_token" in params else params
        symbol = unquote(parts[3]).upper() if len(parts) == 4 and parts[:3] == ["", "api", "eod"] else None
        with self._lock:
            self.requests.append((symbol or path, logged))
        if symbol is None:
            return 404, "text/plain", "Not Found"
        if not token_ok:
            return 401, "application/json", json.dumps({"message": "Unauthenticated"})
        failure = self._take_failure(symbol)
        if failure is not None:
            status, body = failure
            return status, "application/json", body if body is not None else json.dumps(
                {"message": f"upstream error while serving GET {target}"})
        if params.get("fmt", "csv") != "json":
            return 400, "text/plain", "the fake serves fmt=json only"
        if params.get("period", "d") not in ("d", "w", "m"):
            return 400, "application/json", json.dumps({"message": "invalid period"})
        with self._lock:
            rows = self._rows.get(symbol)
            if rows is None:
                return 404, "text/plain", "Ticker Not Found."
            start = dt.date.fromisoformat(params["from"]) if params.get("from") else dt.date.min
            end = dt.date.fromisoformat(params["to"]) if params.get("to") else dt.date.max
            last = self._stop_after.get(symbol, dt.date.max)
            out = [dict(r) for d, r in sorted(rows.items()) if start <= d <= end and d <= last]
        if params.get("order") == "d":
            out.reverse()
        return 200, "application/json", json.dumps(out)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        split = urlsplit(self.path)
        status, ctype, body = self.server.fake.handle(split.path, split.query, self.path)  # type: ignore[attr-defined]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # silence (and never print tokens)
        pass


__all__ = ["FakeEodhdServer", "DEFAULT_TOKEN"]
