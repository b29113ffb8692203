"""Alpaca PAPER broker adapter: :class:`engine.broker.Broker` over alpaca-py's ``TradingClient``.

The only module that imports alpaca-py for trading (style guide §5.4). Its rules:

* **Paper only.** ``TradingClient(..., paper=True)`` always; ``url_override`` may only be a loopback origin
  (``127.0.0.1``, ``localhost``, ``::1`` — local fakes) or exactly ``https://paper-api.alpaca.markets``. Anything
  else raises ``ValueError`` before a client exists, so no request can reach a live endpoint.
* **Credentials stay secret.** Keys or an OAuth token are passed in (the Dagster resource decrypts them from the
  warehouse, :mod:`resources.credentials`, or reads them from the environment), never logged,
  never put in an exception message, and hidden from ``repr``. Errors are raised outside the alpaca-py/requests
  exception context, so no traceback drags the prepared request (whose headers hold the keys) along.
* **No blind retries.** alpaca-py retries *every* method, POST included, on HTTP 429/504 (``_request`` with
  ``DEFAULT_RETRY_ATTEMPTS = 3``, ``DEFAULT_RETRY_EXCEPTION_CODES = [429, 504]``) — after a 504 that followed an
  accepted order, that is a duplicate order. ``TradingClient.__init__`` exposes no retry arguments, and
  ``RESTClient.__init__`` ignores ``retry_attempts=0`` (``if retry_attempts and retry_attempts > 0``) and an empty
  ``retry_exception_codes`` list, so the adapter sets the client's ``_retry = 0`` and ``_retry_codes = []`` after
  construction (checked: it fails loudly if alpaca-py renames them). One call = one HTTP request.
* **Exactly once.** :meth:`AlpacaPaperBroker.submit` sends ONE POST; :meth:`AlpacaPaperBroker.submit_exactly_once`
  looks the deterministic ``client_order_id`` up before every (re)submission and never changes it, and Alpaca
  refuses a second order with the same id (422 ``client_order_id must be unique``, answered by fetching the
  existing order).
* **Rate limit.** Every request takes a token from a :class:`RateLimiter` (200 requests/minute per account).
* **Timeouts.** alpaca-py passes no timeout to ``requests``; the adapter mounts a transport adapter with
  ``timeout_s`` on the client's session, and a timeout is a retryable error (the order may exist: look it up).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable, NamedTuple, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pydantic
import requests
from requests.adapters import HTTPAdapter

from engine.broker import AccountSnapshot, BrokerError, BrokerOrder, OrderRequest, OrderStatus

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
PAPER_URL = "https://paper-api.alpaca.markets"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: HTTP statuses after which a request may be tried again (the order may or may not exist for POST).
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: POST /v2/orders statuses that mean "the broker refused this order" (recorded, not raised).
REJECTION_STATUSES = frozenset({400, 403, 422})
DUPLICATE_CLIENT_ID = "client_order_id must be unique"
#: Orders per GET /v2/orders page (Alpaca's maximum).
ORDERS_PAGE_SIZE = 500

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Alpaca order statuses → engine.broker.OrderStatus. Open states that are not fills map to "accepted";
# "done_for_day" is not final for the order, so it keeps an open state too.
_STATUS_MAP: dict[str, OrderStatus] = {
    "new": "new", "pending_new": "accepted", "accepted": "accepted", "accepted_for_bidding": "accepted",
    "pending_review": "accepted", "held": "accepted", "calculated": "accepted", "stopped": "accepted",
    "suspended": "accepted", "pending_replace": "accepted", "pending_cancel": "accepted",
    "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled", "replaced": "canceled",
    "expired": "expired", "rejected": "rejected",
}


class MarketSession(NamedTuple):
    """One trading session: NY date, open and close as tz-aware America/New_York datetimes."""

    date: dt.date
    open: dt.datetime
    close: dt.datetime


class AlpacaBrokerError(BrokerError):
    """A failed Alpaca request.

    Attributes:
        retryable: the request may be tried again (429, 5xx, timeout, connection error). For an order POST this
            also means "the order may or may not exist": look its client id up before resubmitting.
        status_code: HTTP status, None when no response came back.
        code: Alpaca's error code from the JSON body, when there is one.
        api_message: Alpaca's ``message`` (or the start of the body).
    """

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None, code: int | None = None,
                 api_message: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.code = code
        self.api_message = api_message


class RateLimiter:
    """Token bucket that keeps every ``period_s`` window at ≤ ``max_requests`` requests (thread-safe).

    A plain bucket of capacity ``max_requests`` refilled at ``max_requests/period_s`` would allow twice the limit
    in one window (a full bucket plus a window's refill), so the bucket holds ``burst`` tokens and refills at
    ``(max_requests − burst)/period_s``: any window of ``period_s`` then sees at most ``burst + (max_requests −
    burst) = max_requests`` requests. Defaults: Alpaca's 200 requests per 60 s per account with a burst of half of
    it (100 requests at once — a daily run's usual volume — then 100/min). Share one limiter among brokers that
    trade the same account.

    Args:
        clock: monotonic seconds (injectable for tests); ``sleep``: how to wait (tests advance their clock).
    """

    def __init__(self, max_requests: int = 200, period_s: float = 60.0, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if max_requests < 2 or period_s <= 0:
            raise ValueError("max_requests must be ≥ 2 and period_s > 0")
        self.burst = burst if burst is not None else max_requests // 2
        if not 1 <= self.burst < max_requests:
            raise ValueError("burst must be ≥ 1 and < max_requests")
        self.max_requests = max_requests
        self.period_s = period_s
        self.rate = (max_requests - self.burst) / period_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting for it if needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0  # reserve: a negative balance queues later callers behind this one
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait


class _TimeoutAdapter(HTTPAdapter):
    """requests transport with a default timeout (alpaca-py sets none) and no transport-level retries."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(max_retries=0)
        self._timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout_s
        return super().send(request, **kwargs)


class _Secret:
    """A credential that never shows itself in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def check_paper_url(url_override: str | None) -> str:
    """The base URL to use, or ValueError when ``url_override`` is not a paper or loopback origin.

    Allowed: None or "" (→ Alpaca's paper URL), exactly ``https://paper-api.alpaca.markets`` (a trailing ``/`` is
    tolerated), or ``http(s)://<127.0.0.1|localhost|[::1]>[:port]`` with no path, query or credentials (alpaca-py
    appends ``/v2`` itself).
    """
    if url_override is None or not url_override.strip():
        return PAPER_URL
    url = url_override.strip()
    if url.rstrip("/") == PAPER_URL:
        return PAPER_URL
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        host, parts = None, None
    if (parts is None or parts.scheme not in ("http", "https") or host not in LOOPBACK_HOSTS
            or parts.username is not None or parts.password is not None or parts.path not in ("", "/")
            or parts.query or parts.fragment):
        raise ValueError(f"refusing Alpaca endpoint {_redact_url(url)!r}: only {PAPER_URL} or a loopback origin "
                         "(http://127.0.0.1:<port>, localhost, [::1]) without a path is allowed (paper trading only)")
    return url.rstrip("/")


def _redact_url(url: str) -> str:
    """The URL without any userinfo (``user:pass@``), for error messages."""
    try:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()
    except ValueError:
        return "<malformed URL>"
    return url


def _floor(x: float, places: int) -> float:
    q = Decimal(1).scaleb(-places)
    return float(Decimal(repr(x)).quantize(q, rounding=ROUND_DOWN))


def _to_float(x: Any) -> float | None:
    if x is None or x == "":
        return None
    return float(x)


def default_backoff(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt`` (1-based retries): 0.5, 1, 2, 4 … capped at 8."""
    return min(8.0, 0.5 * 2 ** max(0, attempt - 1))


class AlpacaPaperBroker:
    """:class:`engine.broker.Broker` for one Alpaca PAPER account.

    Args:
        api_key / secret_key: the account's paper keys (never logged or shown).
        oauth_token: instead of the keys, an OAuth 2.0 access token of the account (Alpaca Connect), sent as
            ``Authorization: Bearer`` (alpaca-py's ``TradingClient(oauth_token=..., paper=True)``).
        url_override: None for Alpaca's paper endpoint, or a loopback origin for a local fake (see
            :func:`check_paper_url`).
        rate_limiter: shared per account; default 200 requests/minute.
        timeout_s: per-request timeout (connect and read), seconds.
        backoff: seconds to wait before retry ``n`` (1-based) in :meth:`submit_exactly_once`; tests pass 0.
        sleep: how to wait (injectable for tests).
        label: a non-secret name for logs and ``repr`` (e.g. the account id in our config).

    Raises:
        ValueError: a non-paper endpoint, empty keys (and no token), or both keys and a token — before any
            request is made.
    """

    def __init__(self, api_key: str | None = None, secret_key: str | None = None, *,
                 oauth_token: str | None = None, url_override: str | None = None,
                 rate_limiter: RateLimiter | None = None, timeout_s: float = 20.0,
                 backoff: Callable[[int], float] = default_backoff, sleep: Callable[[float], None] = time.sleep,
                 label: str = "alpaca-paper") -> None:
        base_url = check_paper_url(url_override)
        if oauth_token and (api_key or secret_key):
            raise ValueError("give either Alpaca paper api_key + secret_key or an oauth_token, not both")
        if not oauth_token and (not api_key or not secret_key):
            raise ValueError("Alpaca paper api_key and secret_key (or an oauth_token) are required")
        from alpaca.trading.client import TradingClient  # the adapter is the only alpaca-py importer

        self._base_url = base_url
        self._label = label
        self._secrets = tuple(_Secret(v) for v in (api_key, secret_key, oauth_token) if v)
        self._limiter = rate_limiter or RateLimiter()
        self._backoff = backoff
        self._sleep = sleep
        url = None if base_url == PAPER_URL else base_url
        self._client = (TradingClient(oauth_token=oauth_token, paper=True, url_override=url) if oauth_token else
                        TradingClient(api_key, secret_key, paper=True, url_override=url))
        _disable_alpaca_retries(self._client)
        adapter = _TimeoutAdapter(timeout_s)
        self._client._session.mount("https://", adapter)
        self._client._session.mount("http://", adapter)
        logger.debug("Alpaca paper broker %s → %s", label, base_url)

    def __repr__(self) -> str:
        return f"AlpacaPaperBroker(label={self._label!r}, url={self._base_url!r}, paper=True)"

    __str__ = __repr__

    # ------------------------------------------------------------------ plumbing
    def _scrub(self, text: str) -> str:
        for s in self._secrets:
            if s.reveal():
                text = text.replace(s.reveal(), "***")
        return text

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """One rate-limited HTTP request through alpaca-py; every failure becomes an :class:`AlpacaBrokerError`.

        The error is raised after leaving the ``except`` block, so it carries no ``__context__`` pointing at the
        requests/alpaca-py exception (whose prepared request holds the key headers).
        """
        from alpaca.common.exceptions import APIError

        self._limiter.acquire()
        failure: AlpacaBrokerError | None = None
        try:
            result = fn(*args)
        except APIError as exc:
            failure = self._api_failure(what, exc)
        except requests.Timeout as exc:
            failure = AlpacaBrokerError(self._scrub(f"Alpaca {what}: timed out ({type(exc).__name__})"),
                                        retryable=True)
        except requests.RequestException as exc:
            failure = AlpacaBrokerError(
                self._scrub(f"Alpaca {what}: no response ({type(exc).__name__}: {_first_line(str(exc))})"),
                retryable=True)
        except pydantic.ValidationError as exc:  # a 2xx answer alpaca-py could not parse: not retried blindly
            failure = AlpacaBrokerError(f"Alpaca {what}: unexpected response shape ({exc.error_count()} validation "
                                        f"errors in {exc.title})", retryable=False)
        if failure is not None:
            logger.debug("%s failed: %s (retryable=%s)", what, failure, failure.retryable)
            raise failure
        logger.debug("%s ok", what)
        return result

    def _api_failure(self, what: str, exc: Any) -> AlpacaBrokerError:
        status = exc.status_code
        body = str(exc)
        code, message = None, None
        try:
            payload = json.loads(body)
            if isinstance(payload, dict):
                code, message = payload.get("code"), payload.get("message")
        except ValueError:
            pass
        if message is None:
            message = _first_line(body)[:200] or "(empty body)"
        message = self._scrub(str(message))
        retryable = status in RETRYABLE_STATUSES or (status is not None and status >= 500)
        text = f"Alpaca {what}: HTTP {status}: {message}" + (f" (code {code})" if code is not None else "")
        return AlpacaBrokerError(text, retryable=retryable, status_code=status,
                                 code=code if isinstance(code, int) else None, api_message=message)

    # ------------------------------------------------------------------ Broker protocol
    def account(self) -> AccountSnapshot:
        """Cash, buying power (USD) and positions (shares per ticker; shorts negative)."""
        acct = self._call("GET /account", self._client.get_account)
        positions = self._call("GET /positions", self._client.get_all_positions)
        return AccountSnapshot(
            cash_usd=float(acct.cash or 0.0),
            buying_power_usd=float(acct.buying_power or 0.0),
            positions={p.symbol: float(p.qty) for p in positions if float(p.qty) != 0.0},
        )

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id, or None when Alpaca answers 404 (it has never seen it)."""
        try:
            order = self._call("GET /orders:by_client_order_id", self._client.get_order_by_client_id,
                               client_order_id)
        except AlpacaBrokerError as err:
            if err.status_code == 404:
                return None
            raise
        return _to_broker_order(order)

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Send ``order`` ONCE as a market DAY order (notional or qty); no retry of any kind.

        Returns:
            The broker's order. A refusal (HTTP 400/403/422, e.g. 403 ``insufficient buying power``) is returned
            as a ``rejected`` order carrying the broker's reason (empty ``broker_order_id``), not raised. A 422
            ``client_order_id must be unique`` means the broker already has this order: it is fetched and returned.

        Raises:
            AlpacaBrokerError: ``retryable=True`` on 429/5xx/timeout/connection errors — the order may or may not
                exist, so look it up (:meth:`submit_exactly_once` does) before sending it again; ``retryable=False``
                on other errors (e.g. 401).
        """
        request = _to_alpaca_request(order)
        try:
            placed = self._call("POST /orders", self._client.submit_order, request)
        except AlpacaBrokerError as err:
            if err.status_code == 422 and DUPLICATE_CLIENT_ID in (err.api_message or "").lower():
                logger.info("order %s already exists at the broker; fetching it", order.client_order_id)
                existing = self.get_order(order.client_order_id)
                if existing is not None:
                    return existing
                raise AlpacaBrokerError(f"{order.client_order_id}: broker says the client id exists but the lookup "
                                        "found nothing", retryable=True, status_code=422) from None
            if err.status_code in REJECTION_STATUSES:
                logger.warning("order %s rejected: %s", order.client_order_id, err.api_message)
                return BrokerOrder(client_order_id=order.client_order_id, broker_order_id="", ticker=order.ticker,
                                   side=order.side, status="rejected", notional_usd=order.notional_usd,
                                   qty=order.qty, reason=err.api_message or str(err),
                                   submitted_at=dt.datetime.now(UTC))
            raise
        return _to_broker_order(placed)

    def submit_exactly_once(self, order: OrderRequest, max_attempts: int = 4,
                            backoff: Callable[[int], float] | None = None) -> BrokerOrder:
        """Place ``order`` at most once, retrying safely (:func:`engine.broker.send_exactly_once` with this
        adapter's back-off as the :class:`engine.broker.RetryPolicy`).

        Each attempt first looks ``order.client_order_id`` up: if the broker knows it, that order is returned and
        nothing is sent. Otherwise one POST is made (:meth:`submit`). After a retryable error the loop waits
        ``backoff(n)`` and starts again with the lookup, so an order accepted behind a 504, a dropped connection or
        a timeout is found instead of duplicated. The client id never changes between attempts, so even a
        lookup that lags behind the broker cannot produce a second order: Alpaca answers the resubmission with
        422 ``client_order_id must be unique``, which :meth:`submit` turns into the existing order.

        Raises:
            AlpacaBrokerError: a non-retryable error, or still no answer after ``max_attempts`` attempts and a
                final lookup (``retryable=True``: calling again later is safe for the same reason).
        """
        from engine.broker import RetryableBrokerError, RetryPolicy, send_exactly_once

        policy = RetryPolicy(attempts=max_attempts, sleep=self._sleep, backoff=backoff or self._backoff)
        try:
            return send_exactly_once(self, order, policy)
        except RetryableBrokerError as err:   # gave up: the same error type as every other failure here
            failure = AlpacaBrokerError(str(err), retryable=True, status_code=getattr(err, "status_code", None))
        raise failure

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        """Every order submitted on ``session`` (New York date), oldest first, with current status and fills."""
        from alpaca.common.enums import Sort
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        start = dt.datetime(session.year, session.month, session.day, tzinfo=NY)
        end = start + dt.timedelta(days=1)
        start, end = start.astimezone(UTC), end.astimezone(UTC)  # DST-safe: midnight NY to next midnight NY
        after = start - dt.timedelta(microseconds=1)               # Alpaca's `after` is exclusive
        seen: dict[str, Any] = {}
        page = ORDERS_PAGE_SIZE
        while True:
            batch = self._call("GET /orders", self._client.get_orders, GetOrdersRequest(
                status=QueryOrderStatus.ALL, after=after, until=end, direction=Sort.ASC, limit=page))
            new = [o for o in batch if str(o.id) not in seen]
            for o in new:
                seen[str(o.id)] = o
            if len(batch) < page or not new:
                break
            after = max(o.submitted_at for o in batch) - dt.timedelta(microseconds=1)
        out = [_to_broker_order(o) for o in seen.values()
               if o.submitted_at is not None and o.submitted_at.astimezone(NY).date() == session]
        return sorted(out, key=lambda o: (o.submitted_at, o.client_order_id))

    # ------------------------------------------------------------------ extras
    def cancel_open_orders(self) -> list[BrokerOrder]:
        """Cancel every open order of the account; returns those orders as they are afterwards."""
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        open_orders = self._call("GET /orders", self._client.get_orders,
                                 GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500))
        out = []
        for o in open_orders:
            try:
                self._call("DELETE /orders/{id}", self._client.cancel_order_by_id, o.id)
            except AlpacaBrokerError as err:
                if err.status_code not in (404, 422):  # 422: filled or closed meanwhile
                    raise
                logger.info("cancel %s: %s", o.client_order_id, err.api_message)
            after = self._call("GET /orders/{id}", self._client.get_order_by_id, o.id)
            out.append(_to_broker_order(after))
        return out

    def calendar(self, start: dt.date, end: dt.date) -> list[MarketSession]:
        """Trading sessions from ``start`` to ``end`` inclusive; Alpaca's naive ET open/close localised to NY."""
        from alpaca.trading.requests import GetCalendarRequest

        days = self._call("GET /calendar", self._client.get_calendar, GetCalendarRequest(start=start, end=end))
        return [MarketSession(d.date, _as_ny(d.open), _as_ny(d.close)) for d in days]

    def clock(self) -> tuple[dt.datetime, bool, dt.datetime, dt.datetime]:
        """``(timestamp, is_open, next_open, next_close)``, tz-aware America/New_York."""
        c = self._call("GET /clock", self._client.get_clock)
        return c.timestamp.astimezone(NY), bool(c.is_open), c.next_open.astimezone(NY), c.next_close.astimezone(NY)


def _disable_alpaca_retries(client: Any) -> None:
    """Make alpaca-py send each request once (see the module docstring for why arguments cannot do it)."""
    if not hasattr(client, "_retry") or not hasattr(client, "_retry_codes") or not hasattr(client, "_session"):
        raise RuntimeError("alpaca-py internals changed (_retry/_retry_codes/_session): cannot disable its POST "
                           "retries safely; pin alpaca-py or update resources/alpaca_broker.py")
    client._retry = 0
    client._retry_codes = []


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _as_ny(naive: dt.datetime) -> dt.datetime:
    """Alpaca's calendar times are naive New York wall-clock times (never UTC)."""
    return naive.replace(tzinfo=NY) if naive.tzinfo is None else naive.astimezone(NY)


def _to_alpaca_request(order: OrderRequest) -> Any:
    """A market DAY order: notional floored to cents, qty floored to 9 decimals (never more than asked)."""
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    kwargs: dict[str, Any] = {"symbol": order.ticker, "side": OrderSide(order.side),
                              "time_in_force": TimeInForce.DAY, "client_order_id": order.client_order_id}
    if order.notional_usd is not None:
        amount = _floor(order.notional_usd, 2)
        kwargs["notional"] = amount
    else:
        amount = _floor(float(order.qty), 9)  # type: ignore[arg-type]
        kwargs["qty"] = amount
    if not amount > 0 or not math.isfinite(amount):
        raise ValueError(f"{order.client_order_id}: amount rounds to {amount}")
    return MarketOrderRequest(**kwargs)


def _to_broker_order(o: Any) -> BrokerOrder:
    raw_status = getattr(o.status, "value", o.status)
    status = _STATUS_MAP.get(str(raw_status))
    if status is None:
        logger.warning("unknown Alpaca order status %r for %s; treating it as accepted", raw_status,
                       o.client_order_id)
        status = "accepted"
    if raw_status == "done_for_day" and (_to_float(o.filled_qty) or 0.0) > 0:
        status = "partially_filled"
    avg = _to_float(o.filled_avg_price)
    submitted = o.submitted_at
    if submitted is not None and submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=UTC)
    return BrokerOrder(
        client_order_id=o.client_order_id,
        broker_order_id=str(o.id),
        ticker=o.symbol or "",
        side=getattr(o.side, "value", o.side),
        status=status,
        notional_usd=_to_float(o.notional),
        qty=_to_float(o.qty),
        filled_qty=_to_float(o.filled_qty) or 0.0,
        filled_avg_price=avg if avg else None,
        submitted_at=submitted.astimezone(UTC) if submitted is not None else None,
    )
