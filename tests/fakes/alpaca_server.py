"""A small fake of Alpaca's PAPER trading REST API (v2), served on 127.0.0.1 for tests.

Built on the standard library (``http.server.ThreadingHTTPServer`` in a background thread, ephemeral port) so the
real alpaca-py ``TradingClient`` can be pointed at it with ``url_override=server.url``. Nothing leaves loopback.

Endpoints (paths and JSON fields as alpaca-py 0.44 sends and parses them — ``alpaca/trading/client.py`` and
``alpaca/trading/models.py``): ``GET /v2/account``, ``GET /v2/positions``, ``POST /v2/orders``, ``GET /v2/orders``
(``status``, ``after``, ``until``, ``limit``, ``direction``, ``side``, ``symbols``), ``DELETE /v2/orders``,
``GET /v2/orders/{id}``, ``GET /v2/orders:by_client_order_id?client_order_id=...``, ``DELETE /v2/orders/{id}``,
``GET /v2/clock``, ``GET /v2/calendar``. Every request must carry ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``
equal to the server's keys, or ``Authorization: Bearer <token>`` with a token the fake issued, else 401.

OAuth 2.0 (Alpaca Connect, authorization-code flow with PKCE): ``GET /oauth/authorize`` (``response_type=code``,
``client_id``, ``redirect_uri``, ``state``, ``scope``, ``code_challenge``, ``code_challenge_method=S256``) stands in
for the user approving and answers ``302`` to ``redirect_uri?code=…&state=…`` (or ``?error=access_denied&state=…``
when :attr:`FakeAlpacaServer.oauth_deny` is set); ``POST /oauth/token`` (form: ``grant_type=authorization_code``,
``code``, ``client_id``, ``client_secret``, ``redirect_uri``, ``code_verifier``) checks the client, that the code was
issued to that client and redirect URI and not used before, and that ``base64url(sha256(code_verifier))`` equals
the challenge, then answers ``{"access_token", "token_type": "bearer", "scope"}``. Issued tokens are accepted as
``Authorization: Bearer`` on every trading endpoint. The client secret and verifier are never logged.

Order rules (``POST /v2/orders``): market orders only; exactly one of ``qty`` / ``notional``; notional and
fractional orders must be ``time_in_force=day``; ``client_order_id`` unique (422 ``client_order_id must be unique``);
buys beyond buying power → 403 ``{"code": 40310000, "message": "insufficient buying power"}``; sells beyond the
position → 403 ``insufficient qty available for order``. Accepted orders then follow :attr:`FakeAlpacaServer.fill_mode`
(or a per-ticker entry in :attr:`FakeAlpacaServer.fill_modes`):

* ``fill`` — filled at once at ``prices[ticker]`` (notional → ``qty = notional / price``);
* ``partial`` — ``partial_fraction`` of the quantity filled, status ``partially_filled``;
* ``reject`` — accepted by the API (HTTP 200) but the order's status is ``rejected``;
* ``pending`` — status ``accepted``; :meth:`FakeAlpacaServer.fill_pending` fills every open order later.

Fault injection (:meth:`FakeAlpacaServer.inject`): the next ``times`` requests matching a method and path get

* ``429`` — rate limited, nothing processed;            * ``504_before`` — gateway timeout, nothing processed;
* ``504_after`` — processed (an order IS created), but the client gets a 504 — the classic duplicate trap;
* ``drop_before`` — connection closed without a response, nothing processed;
* ``drop_after`` — processed (order created), then the connection is closed without a response;
* ``slow_after`` — processed, then the response is delayed ``delay_s`` seconds (client read timeouts);
* ``stale_404`` — answered 404 ``order not found`` without processing: a lookup that lags behind the order book;
* ``503`` — service unavailable, nothing processed.

Any endpoint can be faulted, the look-ups included: ``GET /v2/orders:by_client_order_id`` (the look-up before each
submission and the late-fill refresh), ``GET /v2/account`` and ``GET /v2/positions`` (reconciliation), ``POST
/v2/orders``; ``method="*"`` and ``path="*"`` match every request. :attr:`FakeAlpacaServer.down` set to True answers
every authorised request 503 without processing it (a broker that is down), until it is set back to False.

Every request is logged (:attr:`FakeAlpacaServer.requests`: method, path, query, body, status — ``None`` when the
connection was dropped — and the fault applied); :attr:`FakeAlpacaServer.orders_created` lists every order the fake
accepted, :attr:`FakeAlpacaServer.unique_client_ids` their distinct client ids. Credentials are never logged.

The market calendar is weekdays minus a table of NYSE holidays (2024–2025) with the early closes of those years;
tests may add to :attr:`FakeAlpacaServer.holidays` / :attr:`FakeAlpacaServer.early_closes`.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes._loopback import LoopbackServer

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc

FAULTS = ("429", "504_before", "504_after", "drop_before", "drop_after", "slow_after", "stale_404", "503")
FILL_MODES = ("fill", "partial", "reject", "pending")
OPEN_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled"})

#: NYSE full-day closures, 2024–2025.
NYSE_HOLIDAYS = frozenset(dt.date.fromisoformat(d) for d in (
    "2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04",
    "2024-09-02", "2024-11-28", "2024-12-25",
    "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19",
    "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
))
#: NYSE early closes (13:00 ET), 2024–2025.
NYSE_EARLY_CLOSES = {dt.date.fromisoformat(d): "13:00" for d in (
    "2024-07-03", "2024-11-29", "2024-12-24", "2025-07-03", "2025-11-28", "2025-12-24")}

ACCOUNT_ID = "7f3c2a5e-0b1d-4c6e-9a8f-1e2d3c4b5a69"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake saw it (no headers, so no credentials)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    fault: str | None = None


@dataclass
class _Fault:
    method: str
    path: str
    kind: str
    remaining: int
    delay_s: float


@dataclass
class _Position:
    qty: float = 0.0
    cost: float = 0.0


def _iso(ts: dt.datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(x: float | None) -> str | None:
    return None if x is None else f"{x:.9f}".rstrip("0").rstrip(".")


def _parse_ts(text: str) -> dt.datetime:
    ts = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # Alpaca reads naive timestamps as UTC


class FakeAlpacaServer(LoopbackServer):
    """Alpaca paper trading API fake; use as a context manager (``with FakeAlpacaServer(...) as server``).

    Args:
        api_key / secret_key: the credentials every request must carry.
        cash: starting cash, USD (buying power = cash − open buy orders; no margin).
        prices: fill price per ticker, USD (tickers without a price are unknown assets → 422).
        positions: starting shares per ticker (cost basis at the current price).
        fill_mode: one of :data:`FILL_MODES`; ``partial_fraction`` is the share filled in ``partial`` mode.
        now: a fixed timestamp (aware) for ``submitted_at`` and the clock; None = the real time.
    """

    thread_name = "fake-alpaca"

    @property
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def __init__(self, *, api_key: str = "fake-key-id", secret_key: str = "fake-secret-key",
                 cash: float = 100_000.0, prices: dict[str, float] | None = None,
                 positions: dict[str, float] | None = None, fill_mode: str = "fill",
                 partial_fraction: float = 0.5, now: dt.datetime | None = None, port: int = 0,
                 oauth_client_id: str = "fake-client-id", oauth_client_secret: str = "fake-client-secret",
                 oauth_token: str | None = None) -> None:
        if fill_mode not in FILL_MODES:
            raise ValueError(f"fill_mode must be one of {FILL_MODES}")
        self._api_key = api_key
        self._secret_key = secret_key
        self._oauth_client_id = oauth_client_id
        self._oauth_client_secret = oauth_client_secret
        self._next_token = oauth_token          # the token the next exchange issues (None: a random one)
        self._oauth_codes: dict[str, dict[str, str]] = {}
        self._tokens: set[str] = set()
        #: Set to True to answer the next authorizations as if the user had refused.
        self.oauth_deny = False
        self._port = int(port)
        self.cash = float(cash)
        self.prices: dict[str, float] = dict(prices or {})
        self.fill_mode = fill_mode
        self.fill_modes: dict[str, str] = {}
        self.partial_fraction = partial_fraction
        self.now = now
        self.holidays: set[dt.date] = set(NYSE_HOLIDAYS)
        self.early_closes: dict[dt.date, str] = dict(NYSE_EARLY_CLOSES)
        self._positions: dict[str, _Position] = {}
        for t, q in (positions or {}).items():
            self._positions[t] = _Position(float(q), float(q) * self.prices.get(t, 0.0))
        self._orders: dict[str, dict[str, Any]] = {}          # by id, insertion order = creation order
        self._created: list[str] = []
        self._faults: list[_Fault] = []
        self.down = False
        self._log: list[LoggedRequest] = []
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The base URL for ``url_override`` (bare origin, no ``/v2``)."""
        return self.origin

    # ------------------------------------------------------------------ test controls and observations
    def inject(self, method: str, path: str, fault: str, times: int = 1, delay_s: float = 1.0) -> None:
        """Script ``fault`` (one of :data:`FAULTS`) for the next ``times`` requests matching ``method`` (``"*"``: any)
        and ``path`` (an exact path such as ``/v2/orders`` or an ``fnmatch`` pattern; the query string is not part
        of it)."""
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(method.upper(), path, fault, times, delay_s))

    def fill_pending(self) -> int:
        """Fill every open order in full at the current prices; returns how many orders were filled."""
        with self._lock:
            n = 0
            for o in self._orders.values():
                if o["status"] in OPEN_STATUSES:
                    self._fill(o, 1.0)
                    n += 1
            return n

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def count(self, method: str, path: str) -> int:
        """Requests seen for ``method`` + ``path`` (exact or fnmatch pattern), answered or not."""
        return sum(1 for r in self.requests if r.method == method.upper() and fnmatch.fnmatchcase(r.path, path))

    def faults_served(self) -> int:
        """Requests answered with an injected fault (or while :attr:`down`)."""
        return sum(1 for r in self.requests if r.fault is not None)

    @property
    def post_order_attempts(self) -> int:
        return self.count("POST", "/v2/orders")

    @property
    def orders_created(self) -> list[dict[str, Any]]:
        """Every order the fake accepted, as its current JSON (creation order)."""
        with self._lock:
            return [self._order_json(self._orders[i]) for i in self._created]

    @property
    def unique_client_ids(self) -> set[str]:
        return {o["client_order_id"] for o in self.orders_created}

    def position(self, ticker: str) -> float:
        with self._lock:
            p = self._positions.get(ticker)
            return p.qty if p else 0.0

    @property
    def issued_tokens(self) -> int:
        """How many OAuth access tokens the fake has issued (and accepts)."""
        with self._lock:
            return len(self._tokens)

    def revoke_tokens(self) -> None:
        """Forget every issued OAuth token (requests with them then get 401)."""
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------------ OAuth 2.0 (called by _Handler)
    def _oauth_authorize(self, query: dict[str, str]) -> tuple[int, Any, str | None]:
        """(status, JSON error or None, Location) for ``GET /oauth/authorize``."""
        from urllib.parse import urlencode

        def bad(msg: str) -> tuple[int, Any, None]:
            return 400, {"error": "invalid_request", "error_description": msg}, None

        if query.get("response_type") != "code":
            return bad("response_type must be code")
        if query.get("client_id") != self._oauth_client_id:
            return 401, {"error": "invalid_client", "error_description": "unknown client_id"}, None
        redirect = query.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return bad("redirect_uri is required")
        if not query.get("state"):
            return bad("state is required")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return bad("PKCE code_challenge with code_challenge_method=S256 is required")
        sep = "&" if "?" in redirect else "?"
        if self.oauth_deny:
            return 302, None, redirect + sep + urlencode({"error": "access_denied", "state": query["state"]})
        code = uuid.uuid4().hex
        with self._lock:
            self._oauth_codes[code] = {"client_id": query["client_id"], "redirect_uri": redirect,
                                       "challenge": query["code_challenge"], "scope": query.get("scope", "")}
        return 302, None, redirect + sep + urlencode({"code": code, "state": query["state"]})

    def _oauth_token(self, form: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON) for ``POST /oauth/token``."""
        import base64
        import hashlib

        def err(status: int, error: str, msg: str) -> tuple[int, Any]:
            return status, {"error": error, "error_description": msg}

        if form.get("grant_type") != "authorization_code":
            return err(400, "unsupported_grant_type", "grant_type must be authorization_code")
        if form.get("client_id") != self._oauth_client_id or form.get("client_secret") != self._oauth_client_secret:
            return err(401, "invalid_client", "client authentication failed")
        with self._lock:
            issued = self._oauth_codes.pop(form.get("code", ""), None)   # one use only
            if issued is None or issued["client_id"] != form.get("client_id"):
                return err(400, "invalid_grant", "unknown or used authorization code")
            if issued["redirect_uri"] != form.get("redirect_uri"):
                return err(400, "invalid_grant", "redirect_uri does not match the authorization request")
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or challenge != issued["challenge"]:
                return err(400, "invalid_grant", "PKCE verification failed")
            token = self._next_token or uuid.uuid4().hex
            self._tokens.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "scope": issued["scope"]}

    # ------------------------------------------------------------------ request handling (called by _Handler)
    def _authorized(self, key: str | None, secret: str | None, bearer: str | None = None) -> bool:
        if bearer is not None:
            with self._lock:
                return bearer in self._tokens
        return key == self._api_key and secret == self._secret_key

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if f.remaining > 0 and f.method in (method, "*") and fnmatch.fnmatchcase(path, f.path):
                    f.remaining -= 1
                    return f
            return None

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _now(self) -> dt.datetime:
        return self.now if self.now is not None else dt.datetime.now(UTC)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """Route one authorised request; returns (HTTP status, JSON payload or None)."""
        with self._lock:
            if path == "/v2/account" and method == "GET":
                return 200, self._account_json()
            if path == "/v2/positions" and method == "GET":
                return 200, [self._position_json(t, p) for t, p in sorted(self._positions.items()) if p.qty]
            if path == "/v2/orders":
                if method == "POST":
                    return self._create_order(body)
                if method == "GET":
                    return self._list_orders(query)
                if method == "DELETE":
                    return 207, [{"id": o["id"], "status": 200, "body": self._order_json(self._cancel(o))}
                                 for o in list(self._orders.values()) if o["status"] in OPEN_STATUSES]
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                cid = query.get("client_order_id", "")
                for o in self._orders.values():
                    if o["client_order_id"] == cid:
                        return 200, self._order_json(o)
                return 404, {"code": 40410000, "message": "order not found"}
            if path.startswith("/v2/orders/"):
                o = self._orders.get(path[len("/v2/orders/"):])
                if o is None:
                    return 404, {"code": 40410000, "message": "order not found"}
                if method == "GET":
                    return 200, self._order_json(o)
                if method == "DELETE":
                    if o["status"] not in OPEN_STATUSES:
                        return 422, {"code": 42210000, "message": f'order is already in "{o["status"]}" state'}
                    self._cancel(o)
                    return 204, None
            if path == "/v2/clock" and method == "GET":
                return 200, self._clock_json()
            if path == "/v2/calendar" and method == "GET":
                return self._calendar_json(query)
            return 404, {"code": 40410000, "message": f"endpoint not found: {method} {path}"}

    # ------------------------------------------------------------------ orders
    def _create_order(self, body: Any) -> tuple[int, Any]:
        def bad(msg: str, code: int = 42210000, status: int = 422) -> tuple[int, Any]:
            return status, {"code": code, "message": msg}

        if not isinstance(body, dict):
            return bad("invalid request body", 40010000, 400)
        symbol = body.get("symbol")
        side = body.get("side")
        otype = body.get("type")
        tif = body.get("time_in_force")
        if not symbol:
            return bad("symbol is required")
        if symbol not in self.prices:
            return bad(f'asset "{symbol}" not found')
        if side not in ("buy", "sell"):
            return bad("side must be buy or sell")
        if otype != "market":
            return bad(f"order type {otype!r} is not supported (market orders only)")
        if tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            return bad("invalid time_in_force")
        qty_raw, notional_raw = body.get("qty"), body.get("notional")
        if qty_raw is not None and notional_raw is not None:
            return bad("qty and notional can not both be set")
        if qty_raw is None and notional_raw is None:
            return bad("qty or notional is required")
        try:
            qty = None if qty_raw is None else float(qty_raw)
            notional = None if notional_raw is None else float(notional_raw)
        except (TypeError, ValueError):
            return bad("qty and notional must be numbers")
        amount = qty if qty is not None else notional
        if amount is None or amount <= 0:
            return bad("qty or notional must be > 0")
        fractional = notional is not None or (qty is not None and qty != int(qty))
        if fractional and tif != "day":
            return bad("fractional orders must be DAY orders")
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if len(cid) > 128:
            return bad("client_order_id must be no more than 128 characters")
        if any(o["client_order_id"] == cid for o in self._orders.values()):
            return bad("client_order_id must be unique", 40010001)
        price = self.prices[symbol]
        if side == "buy":
            cost = notional if notional is not None else qty * price
            if cost > self._buying_power() + 1e-9:
                return bad("insufficient buying power", 40310000, 403)
        else:
            wanted = qty if qty is not None else notional / price
            available = self._available_qty(symbol)
            if wanted > available + 1e-9:
                return bad(f"insufficient qty available for order (requested: {_num(wanted)}, available: "
                           f"{_num(available)})", 40310000, 403)
        now = self._now()
        order = {
            "id": str(uuid.uuid4()), "client_order_id": cid, "symbol": symbol, "side": side, "type": otype,
            "time_in_force": tif, "qty": qty, "notional": notional, "filled_qty": 0.0, "filled_avg_price": None,
            "status": "accepted", "created_at": now, "updated_at": now, "submitted_at": now, "filled_at": None,
            "canceled_at": None, "failed_at": None, "expired_at": None,
        }
        self._orders[order["id"]] = order
        self._created.append(order["id"])
        mode = self.fill_modes.get(symbol, self.fill_mode)
        if mode == "fill":
            self._fill(order, 1.0)
        elif mode == "partial":
            self._fill(order, self.partial_fraction)
        elif mode == "reject":
            order.update(status="rejected", failed_at=now, updated_at=now)
        return 200, self._order_json(order)

    def _total_qty(self, o: dict[str, Any]) -> float:
        return o["qty"] if o["qty"] is not None else o["notional"] / self.prices[o["symbol"]]

    def _fill(self, o: dict[str, Any], fraction: float) -> None:
        """Fill ``o`` up to ``fraction`` of its quantity at the current price."""
        price = self.prices[o["symbol"]]
        target = self._total_qty(o) * min(1.0, fraction)
        delta = target - o["filled_qty"]
        if delta <= 0:
            return
        prev_value = o["filled_qty"] * (o["filled_avg_price"] or 0.0)
        o["filled_qty"] = target
        o["filled_avg_price"] = (prev_value + delta * price) / target
        pos = self._positions.setdefault(o["symbol"], _Position())
        if o["side"] == "buy":
            self.cash -= delta * price
            pos.qty += delta
            pos.cost += delta * price
        else:
            self.cash += delta * price
            avg = pos.cost / pos.qty if pos.qty else price
            pos.qty -= delta
            pos.cost -= delta * avg
            if abs(pos.qty) < 1e-9:
                pos.qty, pos.cost = 0.0, 0.0
        now = self._now()
        o["updated_at"] = now
        if fraction >= 1.0:
            o["status"], o["filled_at"] = "filled", now
        else:
            o["status"] = "partially_filled"

    def _cancel(self, o: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        o.update(status="canceled", canceled_at=now, updated_at=now)
        return o

    def _remaining_value(self, o: dict[str, Any]) -> float:
        price = self.prices[o["symbol"]]
        if o["notional"] is not None:
            return max(0.0, o["notional"] - o["filled_qty"] * price)
        return max(0.0, (o["qty"] - o["filled_qty"]) * price)

    def _buying_power(self) -> float:
        reserved = sum(self._remaining_value(o) for o in self._orders.values()
                       if o["side"] == "buy" and o["status"] in OPEN_STATUSES)
        return self.cash - reserved

    def _available_qty(self, symbol: str) -> float:
        held = self._positions.get(symbol, _Position()).qty
        pending = sum(self._total_qty(o) - o["filled_qty"] for o in self._orders.values()
                      if o["symbol"] == symbol and o["side"] == "sell" and o["status"] in OPEN_STATUSES)
        return held - pending

    def _list_orders(self, query: dict[str, str]) -> tuple[int, Any]:
        status = query.get("status", "open")
        if status not in ("open", "closed", "all"):
            return 422, {"code": 42210000, "message": "invalid status"}
        try:
            limit = int(query.get("limit", "50"))
            after = _parse_ts(query["after"]) if "after" in query else None
            until = _parse_ts(query["until"]) if "until" in query else None
        except ValueError:
            return 422, {"code": 42210000, "message": "invalid limit, after or until"}
        if not 1 <= limit <= 500:
            return 422, {"code": 42210000, "message": "limit must be between 1 and 500"}
        symbols = set(query["symbols"].split(",")) if query.get("symbols") else None
        side = query.get("side")
        rows = []
        for o in self._orders.values():
            is_open = o["status"] in OPEN_STATUSES
            if (status == "open" and not is_open) or (status == "closed" and is_open):
                continue
            if after is not None and not o["submitted_at"] > after:
                continue
            if until is not None and not o["submitted_at"] < until:
                continue
            if symbols is not None and o["symbol"] not in symbols:
                continue
            if side and o["side"] != side:
                continue
            rows.append(o)
        rows.sort(key=lambda o: o["submitted_at"], reverse=query.get("direction", "desc") != "asc")
        return 200, [self._order_json(o) for o in rows[:limit]]

    def _order_json(self, o: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": o["id"], "client_order_id": o["client_order_id"],
            "created_at": _iso(o["created_at"]), "updated_at": _iso(o["updated_at"]),
            "submitted_at": _iso(o["submitted_at"]), "filled_at": _iso(o["filled_at"]),
            "expired_at": _iso(o["expired_at"]), "canceled_at": _iso(o["canceled_at"]),
            "failed_at": _iso(o["failed_at"]), "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake:{o['symbol']}")),
            "symbol": o["symbol"], "asset_class": "us_equity",
            "notional": _num(o["notional"]), "qty": _num(o["qty"]), "filled_qty": _num(o["filled_qty"]),
            "filled_avg_price": _num(o["filled_avg_price"]),
            "order_class": "", "order_type": o["type"], "type": o["type"], "side": o["side"],
            "time_in_force": o["time_in_force"], "limit_price": None, "stop_price": None,
            "status": o["status"], "extended_hours": False, "legs": None, "trail_percent": None,
            "trail_price": None, "hwm": None, "position_intent": "buy_to_open" if o["side"] == "buy" else
            "sell_to_close",
        }

    # ------------------------------------------------------------------ account and positions
    def _account_json(self) -> dict[str, Any]:
        long_value = sum(p.qty * self.prices.get(t, 0.0) for t, p in self._positions.items() if p.qty > 0)
        short_value = sum(p.qty * self.prices.get(t, 0.0) for t, p in self._positions.items() if p.qty < 0)
        equity = self.cash + long_value + short_value
        bp = self._buying_power()
        return {
            "id": ACCOUNT_ID, "account_number": "PA0FAKE00001", "status": "ACTIVE", "crypto_status": "ACTIVE",
            "currency": "USD", "buying_power": _num(bp), "regt_buying_power": _num(bp),
            "non_marginable_buying_power": _num(bp), "cash": _num(self.cash), "accrued_fees": "0",
            "pending_transfer_in": "0", "portfolio_value": _num(equity), "pattern_day_trader": False,
            "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
            "created_at": "2024-01-02T14:30:00Z", "trade_suspended_by_user": False, "multiplier": "1",
            "shorting_enabled": False, "equity": _num(equity), "last_equity": _num(equity),
            "long_market_value": _num(long_value), "short_market_value": _num(short_value),
            "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
            "daytrade_count": 0, "options_buying_power": _num(bp), "options_approved_level": 0,
            "options_trading_level": 0,
        }

    def _position_json(self, ticker: str, p: _Position) -> dict[str, Any]:
        price = self.prices.get(ticker, 0.0)
        value = p.qty * price
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake:{ticker}")), "symbol": ticker,
            "exchange": "ARCA", "asset_class": "us_equity", "asset_marginable": True,
            "avg_entry_price": _num(p.cost / p.qty if p.qty else 0.0), "qty": _num(p.qty),
            "side": "long" if p.qty >= 0 else "short", "market_value": _num(value), "cost_basis": _num(p.cost),
            "unrealized_pl": _num(value - p.cost), "unrealized_plpc": "0", "unrealized_intraday_pl": "0",
            "unrealized_intraday_plpc": "0", "current_price": _num(price), "lastday_price": _num(price),
            "change_today": "0", "qty_available": _num(self._available_qty(ticker)),
        }

    # ------------------------------------------------------------------ clock and calendar
    def _sessions(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, str, str]]:
        out = []
        d = start
        while d <= end:
            if d.weekday() < 5 and d not in self.holidays:
                out.append((d, "09:30", self.early_closes.get(d, "16:00")))
            d += dt.timedelta(days=1)
        return out

    def _calendar_json(self, query: dict[str, str]) -> tuple[int, Any]:
        today = self._now().astimezone(NY).date()
        try:
            start = dt.date.fromisoformat(query["start"][:10]) if "start" in query else dt.date(today.year, 1, 1)
            end = dt.date.fromisoformat(query["end"][:10]) if "end" in query else dt.date(today.year, 12, 31)
        except ValueError:
            return 422, {"code": 42210000, "message": "invalid start or end"}
        sessions = self._sessions(start, end + dt.timedelta(days=10))
        rows = []
        for i, (d, o, c) in enumerate(sessions):
            if d > end:
                break
            settle = sessions[i + 1][0] if i + 1 < len(sessions) else d + dt.timedelta(days=1)
            rows.append({"date": d.isoformat(), "open": o, "close": c, "session_open": "0400",
                         "session_close": "2000" if c == "16:00" else "1700", "settlement_date": settle.isoformat()})
        return 200, rows

    def _clock_json(self) -> dict[str, Any]:
        now = self._now().astimezone(NY)

        def at(d: dt.date, hhmm: str) -> dt.datetime:
            h, m = map(int, hhmm.split(":"))
            return dt.datetime(d.year, d.month, d.day, h, m, tzinfo=NY)

        sessions = [(at(d, o), at(d, c)) for d, o, c in self._sessions(now.date(), now.date() + dt.timedelta(21))]
        is_open = any(o <= now < c for o, c in sessions)
        next_open = next(o for o, _ in sessions if o > now)
        next_close = next(c for _, c in sessions if c > now)
        return {"timestamp": now.isoformat(), "is_open": is_open, "next_open": next_open.isoformat(),
                "next_close": next_close.isoformat()}


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0, one request per connection (so a dropped connection never poisons a keep-alive pool)."""

    server_version = "FakeAlpaca/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; the fake keeps its own log
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        fake: FakeAlpacaServer = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")

        def log(status: int | None, fault: str | None = None) -> None:
            fake._record(LoggedRequest(method, path, query, body, status, fault))

        if path == "/oauth/authorize" and method == "GET":
            status, payload, location = fake._oauth_authorize(query)
            fake._record(LoggedRequest(method, path, query, None, status))
            if location:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(status, payload)
            return
        if path == "/oauth/token" and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            status, payload = fake._oauth_token(form)
            shown = {k: ("***" if k in ("client_secret", "code_verifier", "code") else v) for k, v in form.items()}
            fake._record(LoggedRequest(method, path, {}, shown, status))
            self._send(status, payload)
            return
        auth = self.headers.get("Authorization") or ""
        bearer = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else None
        if not fake._authorized(self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY"),
                                bearer):
            log(401)
            self._send(401, {"code": 40110000, "message": "request is not authorized"})
            return
        fault = None if fake.down else fake._take_fault(method, path)   # a down broker consumes no script
        kind = "503" if fake.down else (fault.kind if fault else None)
        if kind == "503":
            log(503, "down" if fake.down else kind)
            self._send(503, {"code": 50300000, "message": "service unavailable"})
            return
        if kind == "429":
            log(429, kind)
            self._send(429, {"code": 42910000, "message": "rate limit exceeded"})
            return
        if kind == "504_before":
            log(504, kind)
            self._send_gateway_timeout()
            return
        if kind == "stale_404":
            log(404, kind)
            self._send(404, {"code": 40410000, "message": "order not found"})
            return
        if kind == "drop_before":
            log(None, kind)
            self.close_connection = True
            return
        status, payload = fake.handle(method, path, query, body)
        if kind == "504_after":
            log(504, kind)
            self._send_gateway_timeout()
            return
        if kind == "drop_after":
            log(None, kind)
            self.close_connection = True
            return
        log(status, kind)  # logged before any delay: the request has been processed
        if kind == "slow_after":
            time.sleep(fault.delay_s)  # type: ignore[union-attr]
        try:
            self._send(status, payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
            pass

    def _send(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _send_gateway_timeout(self) -> None:
        data = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"
        self.send_response(504)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":  # manual use from a terminal, e.g. to try `oragami run-daily --broker alpaca`
    import argparse

    from warehouse.bundled import available_tickers, load_adjusted_closes

    ap = argparse.ArgumentParser(description="Fake Alpaca paper API on 127.0.0.1 (prices: bundled closes)")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--session", required=True, help="fill at the bundled adjusted closes of this session")
    ap.add_argument("--key", default="fake-key-id")
    ap.add_argument("--secret", default="fake-secret-key")
    ap.add_argument("--cash", type=float, default=1_000_000.0)
    a = ap.parse_args()
    row = load_adjusted_closes(sorted(available_tickers()), end=a.session).iloc[-1]
    fake = FakeAlpacaServer(api_key=a.key, secret_key=a.secret, cash=a.cash, port=a.port,
                            prices={t: float(v) for t, v in row.items() if v == v}).start()
    print(f"fake Alpaca paper API on {fake.url} (keys {a.key} / {a.secret}); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(5)
            print(f"  POST /v2/orders attempts {fake.post_order_attempts}, orders created "
                  f"{len(fake.orders_created)}, unique client ids {len(fake.unique_client_ids)}", flush=True)
    except KeyboardInterrupt:
        fake.stop()
