"""AlpacaPaperBroker driving the REAL alpaca-py TradingClient against the local fake (tests/fakes/alpaca_server.py).

No network: the fake listens on 127.0.0.1 with an ephemeral port. Fault scenarios print one line each
(``pytest -s``): ``<scenario>: POST attempts N, orders created M, unique client ids K``.
"""
from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
import requests

import resources.alpaca_broker as ab
from engine.broker import Broker, BrokerError, OrderRequest
from engine.orders import client_order_id
from resources.alpaca_broker import AlpacaBrokerError, AlpacaPaperBroker, RateLimiter, check_paper_url
from tests.fakes.alpaca_server import FakeAlpacaServer

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
KEY = "PKTESTKEYID7Q2M9X4ZL"
SECRET = "sEcReT-9f8e7d6c5b4a39281706fEdCbA"
PRICES = {"SPY": 500.0, "BND": 72.5, "QQQ": 400.0}
SESSION = dt.date(2024, 6, 21)
AT_1550 = dt.datetime(2024, 6, 21, 19, 50, tzinfo=UTC)  # 15:50 New York (EDT)


def cid(ticker: str, side: str = "buy", symphony: str = "sym-1") -> str:
    return client_order_id("acct-1", symphony, SESSION, ticker, side)


def buy(ticker: str = "SPY", usd: float = 1000.0, symphony: str = "sym-1") -> OrderRequest:
    return OrderRequest(cid(ticker, "buy", symphony), ticker, "buy", notional_usd=usd)


def report(scenario: str, server: FakeAlpacaServer, client_ids: list[str]) -> None:
    """The invariant of every fault scenario, and the line the lead quotes."""
    print(f"\n{scenario}: POST attempts {server.post_order_attempts}, orders created {len(server.orders_created)}, "
          f"unique client ids {len(server.unique_client_ids)}")
    assert len(server.orders_created) == len(set(client_ids))
    assert server.unique_client_ids == set(client_ids)


@pytest.fixture
def server():
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, cash=100_000.0, prices=PRICES,
                          positions={"BND": 10.0}, now=AT_1550) as s:
        yield s


def make_broker(server: FakeAlpacaServer, **kw) -> AlpacaPaperBroker:
    kw.setdefault("backoff", lambda n: 0.0)
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("timeout_s", 5.0)
    return AlpacaPaperBroker(KEY, SECRET, url_override=server.url, **kw)


@pytest.fixture
def broker(server):
    return make_broker(server)


# ---------------------------------------------------------------------------------------------- happy paths
def test_implements_the_broker_protocol(broker):
    b: Broker = broker  # static check; and the runtime methods exist
    assert all(callable(getattr(b, m)) for m in ("account", "get_order", "submit", "orders_for_session"))


def test_notional_buy_fills_at_the_table_price(server, broker):
    placed = broker.submit(buy("SPY", 1000.0))
    assert placed.status == "filled"
    assert placed.client_order_id == cid("SPY") and placed.ticker == "SPY" and placed.side == "buy"
    assert placed.notional_usd == 1000.0 and placed.qty is None
    assert placed.filled_qty == pytest.approx(2.0) and placed.filled_avg_price == pytest.approx(500.0)
    assert placed.submitted_at == AT_1550
    assert placed.broker_order_id == server.orders_created[0]["id"]
    body = server.requests[-1].body
    assert body["type"] == "market" and body["time_in_force"] == "day" and "qty" not in body
    acct = broker.account()
    assert acct.cash_usd == pytest.approx(99_000.0) and acct.buying_power_usd == pytest.approx(99_000.0)
    assert acct.positions == {"BND": 10.0, "SPY": pytest.approx(2.0)}


def test_qty_sell_fills(server, broker):
    placed = broker.submit(OrderRequest(cid("BND", "sell"), "BND", "sell", qty=4.0))
    assert placed.status == "filled" and placed.qty == 4.0 and placed.notional_usd is None
    assert placed.filled_qty == pytest.approx(4.0) and placed.filled_avg_price == pytest.approx(72.5)
    assert broker.account().positions == {"BND": pytest.approx(6.0)}


def test_get_order_unknown_is_none_and_known_is_found(broker):
    assert broker.get_order("oc-never-sent") is None
    placed = broker.submit(buy())
    assert broker.get_order(placed.client_order_id) == placed


def test_amounts_are_floored_never_rounded_up(server, broker):
    broker.submit(OrderRequest(cid("BND", "sell"), "BND", "sell", qty=3.12345678919))
    assert server.requests[-1].body["qty"] == pytest.approx(3.123456789)
    broker.submit(OrderRequest(cid("QQQ"), "QQQ", "buy", notional_usd=10.019))
    assert server.requests[-1].body["notional"] == pytest.approx(10.01)


# ---------------------------------------------------------------------------------------------- fills and rejections
def test_partial_fill_is_recorded_with_filled_qty(server, broker):
    server.fill_mode, server.partial_fraction = "partial", 0.4
    placed = broker.submit_exactly_once(buy("SPY", 1000.0))
    assert placed.status == "partially_filled" and placed.filled_qty == pytest.approx(0.8)
    assert placed.filled_avg_price == pytest.approx(500.0)
    assert server.fill_pending() == 1
    later = broker.get_order(placed.client_order_id)
    assert later.status == "filled" and later.filled_qty == pytest.approx(2.0)


def test_accepted_then_filled_later(server, broker):
    server.fill_mode = "pending"
    placed = broker.submit(buy("QQQ", 800.0))
    assert placed.status == "accepted" and placed.filled_qty == 0.0 and placed.filled_avg_price is None
    assert broker.account().buying_power_usd == pytest.approx(99_200.0)  # reserved by the open buy
    server.fill_pending()
    assert broker.orders_for_session(SESSION)[0].status == "filled"


def test_insufficient_buying_power_is_a_recorded_rejection(server, broker):
    placed = broker.submit_exactly_once(buy("SPY", 250_000.0))
    assert placed.status == "rejected" and placed.reason == "insufficient buying power"
    assert placed.broker_order_id == "" and placed.notional_usd == 250_000.0
    assert server.requests[-1].status == 403
    assert server.post_order_attempts == 1  # a rejection is an answer: no retry
    report("403 insufficient buying power", server, [])


def test_selling_more_than_held_is_a_recorded_rejection(broker):
    placed = broker.submit(OrderRequest(cid("BND", "sell"), "BND", "sell", qty=11.0))
    assert placed.status == "rejected" and "insufficient qty available" in placed.reason


def test_order_rejected_after_acceptance_maps_to_rejected(server, broker):
    server.fill_modes["QQQ"] = "reject"
    placed = broker.submit(buy("QQQ", 100.0))
    assert placed.status == "rejected" and placed.broker_order_id == server.orders_created[0]["id"]


def test_cancel_open_orders(server, broker):
    broker.submit(buy("SPY", 500.0))                                   # filled at once
    server.fill_mode = "pending"
    broker.submit(buy("QQQ", 400.0))
    broker.submit(OrderRequest(cid("BND", "sell"), "BND", "sell", qty=2.0))
    canceled = broker.cancel_open_orders()
    assert sorted(o.ticker for o in canceled) == ["BND", "QQQ"]
    assert {o.status for o in canceled} == {"canceled"}
    assert broker.cancel_open_orders() == []
    assert broker.get_order(cid("SPY")).status == "filled"


# ---------------------------------------------------------------------------------------------- alpaca-py retries off
def test_alpaca_py_retries_are_disabled(server, broker):
    """One submit() = one POST, even on 429 and 504 (alpaca-py would retry both 3 times by default)."""
    server.inject("POST", "/v2/orders", "429")
    with pytest.raises(AlpacaBrokerError) as err:
        broker.submit(buy())
    assert err.value.retryable and err.value.status_code == 429
    assert server.post_order_attempts == 1 and server.orders_created == []
    server.inject("POST", "/v2/orders", "504_after")
    with pytest.raises(AlpacaBrokerError) as err:
        broker.submit(buy())
    assert err.value.retryable and err.value.status_code == 504
    assert server.post_order_attempts == 2 and len(server.orders_created) == 1
    assert broker._client._retry == 0 and broker._client._retry_codes == []


def test_the_trap_alpaca_py_defaults_duplicate_an_order_after_504(server, monkeypatch):
    """Why retries are off: the stock client re-POSTs after a 504 that followed an accepted order."""
    import alpaca.common.rest as rest
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    monkeypatch.setattr(rest.time, "sleep", lambda s: None)  # skip its 3 s wait
    stock = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
    server.inject("POST", "/v2/orders", "504_after")
    stock.submit_order(MarketOrderRequest(symbol="SPY", notional=100, side=OrderSide.BUY,
                                          time_in_force=TimeInForce.DAY))
    print(f"\nalpaca-py defaults, 504 after accept, no client id: POST attempts {server.post_order_attempts}, "
          f"orders created {len(server.orders_created)}, unique client ids {len(server.unique_client_ids)}")
    assert server.post_order_attempts == 2 and len(server.orders_created) == 2  # one intended order, two placed


# ---------------------------------------------------------------------------------------------- exactly once
@pytest.mark.parametrize("fault, posts", [
    ("429", 2),            # rate limited, not created → looked up (absent) → resubmitted once
    ("504_before", 2),     # gateway timeout, not created → resubmitted once
    ("504_after", 1),      # created, answered 504 → lookup finds it → NOT resubmitted
    ("drop_before", 2),    # connection closed, not created → resubmitted once
    ("drop_after", 1),     # created, connection closed → lookup finds it → NOT resubmitted
])
def test_submit_exactly_once_under_fault(server, broker, fault, posts):
    server.inject("POST", "/v2/orders", fault)
    order = buy("SPY", 1000.0)
    placed = broker.submit_exactly_once(order)
    created = server.orders_created
    assert len(created) == 1
    assert placed.broker_order_id == created[0]["id"]       # the accepted order, not a second one
    assert placed.status == "filled" and placed.filled_qty == pytest.approx(2.0)
    assert server.post_order_attempts == posts
    report(f"{fault}", server, [order.client_order_id])


def test_429_then_success_creates_exactly_one_order(server, broker):
    server.inject("POST", "/v2/orders", "429", times=2)
    order = buy("QQQ", 400.0)
    placed = broker.submit_exactly_once(order)
    assert placed.status == "filled" and server.post_order_attempts == 3
    assert [r.status for r in server.requests if r.method == "POST"] == [429, 429, 200]
    report("429 x2 then success", server, [order.client_order_id])


def test_504_after_accept_returns_the_accepted_order_without_duplicate(server, broker):
    server.fill_mode = "pending"
    server.inject("POST", "/v2/orders", "504_after")
    order = buy("SPY", 1000.0)
    placed = broker.submit_exactly_once(order)
    assert placed.status == "accepted" and placed.broker_order_id == server.orders_created[0]["id"]
    paths = [(r.method, r.path, r.status) for r in server.requests]
    assert paths == [("GET", "/v2/orders:by_client_order_id", 404), ("POST", "/v2/orders", 504),
                     ("GET", "/v2/orders:by_client_order_id", 200)]
    report("504 after accept", server, [order.client_order_id])


def test_read_timeout_after_accept_no_duplicate(server):
    broker = make_broker(server, timeout_s=0.3)
    server.inject("POST", "/v2/orders", "slow_after", delay_s=0.8)
    order = buy("SPY", 1000.0)
    placed = broker.submit_exactly_once(order)
    assert placed.broker_order_id == server.orders_created[0]["id"] and server.post_order_attempts == 1
    report("read timeout after accept", server, [order.client_order_id])


def test_lagging_lookup_is_caught_by_the_unique_client_id(server, broker):
    """504 after accept, then a stale 404 on the lookup: the resubmission gets 422 and the existing order wins."""
    server.inject("POST", "/v2/orders", "504_after")
    server.inject("GET", "/v2/orders:by_client_order_id", "stale_404", times=2)  # first lookup + the stale one
    order = buy("SPY", 1000.0)
    placed = broker.submit_exactly_once(order)
    assert [r.status for r in server.requests if r.method == "POST"] == [504, 422]
    assert placed.broker_order_id == server.orders_created[0]["id"] and placed.status == "filled"
    report("504 after accept + stale lookup (422 dup)", server, [order.client_order_id])


def test_failed_lookup_never_submits_blind(server, broker):
    server.inject("GET", "/v2/orders:by_client_order_id", "504_before")
    server.inject("POST", "/v2/orders", "504_after")
    order = buy("SPY", 1000.0)
    placed = broker.submit_exactly_once(order)
    seq = [(r.method, r.status) for r in server.requests]
    assert seq == [("GET", 504), ("GET", 404), ("POST", 504), ("GET", 200)]
    assert placed.broker_order_id == server.orders_created[0]["id"]
    report("lookup 504 + POST 504 after accept", server, [order.client_order_id])


def test_gives_up_after_max_attempts_without_any_order(server, broker):
    server.inject("POST", "/v2/orders", "429", times=10)
    order = buy("SPY", 1000.0)
    with pytest.raises(AlpacaBrokerError) as err:
        broker.submit_exactly_once(order, max_attempts=3)
    assert err.value.retryable and "safe" in str(err.value)
    assert server.post_order_attempts == 3
    report("429 x10, max_attempts 3 (gave up)", server, [])


def test_backoff_is_used_between_attempts(server):
    waits: list[float] = []
    broker = make_broker(server, sleep=waits.append, backoff=lambda n: 0.25 * n)
    server.inject("POST", "/v2/orders", "504_before", times=2)
    broker.submit_exactly_once(buy())
    assert waits == [0.25, 0.5]


def test_a_whole_plan_with_mixed_faults_and_a_rerun(server, broker):
    plan = [OrderRequest(cid("BND", "sell"), "BND", "sell", qty=10.0), buy("SPY", 1000.0), buy("QQQ", 400.0)]
    server.inject("POST", "/v2/orders", "504_after")
    server.inject("POST", "/v2/orders", "429")
    server.inject("POST", "/v2/orders", "drop_after")
    first = [broker.submit_exactly_once(o) for o in plan]
    posts_first = server.post_order_attempts
    again = [broker.submit_exactly_once(o) for o in plan]                   # the asset re-executed
    assert [o.broker_order_id for o in again] == [o.broker_order_id for o in first]
    assert server.post_order_attempts == posts_first                        # the re-run sent nothing
    assert {o.status for o in first} == {"filled"}
    report("plan of 3, POST faults 504_after/429/drop_after in turn, then re-run", server, [o.client_order_id for o in plan])


def test_duplicate_client_id_422_returns_the_existing_order(server, broker):
    order = buy("SPY", 1000.0)
    first = broker.submit(order)
    second = broker.submit(order)                       # a blind second POST (e.g. another process)
    assert server.requests[-2].status == 422 and server.requests[-2].method == "POST"
    assert second == first
    report("duplicate client id 422", server, [order.client_order_id])


# ---------------------------------------------------------------------------------------------- sessions, calendar
def test_orders_for_session_uses_the_new_york_date(server, broker):
    times = {"A": dt.datetime(2024, 6, 21, 13, 31, tzinfo=UTC),    # 09:31 ET 6/21
             "B": dt.datetime(2024, 6, 22, 1, 0, tzinfo=UTC),      # 21:00 ET 6/21 (UTC says 6/22)
             "C": dt.datetime(2024, 6, 21, 3, 0, tzinfo=UTC),      # 23:00 ET 6/20 (UTC says 6/21)
             "D": dt.datetime(2024, 6, 24, 19, 50, tzinfo=UTC)}
    for name, when in times.items():
        server.now = when
        broker.submit(buy("SPY", 10.0, symphony=name))
    got = broker.orders_for_session(SESSION)
    assert [o.client_order_id for o in got] == [cid("SPY", "buy", "A"), cid("SPY", "buy", "B")]
    assert [o.client_order_id for o in broker.orders_for_session(dt.date(2024, 6, 20))] == [cid("SPY", "buy", "C")]
    q = next(r.query for r in server.requests if r.method == "GET" and r.path == "/v2/orders")
    assert q["status"] == "all" and q["direction"] == "asc"
    assert dt.datetime.fromisoformat(q["until"]) == dt.datetime(2024, 6, 22, tzinfo=NY)


def test_orders_for_session_pages_through_results(server, broker, monkeypatch):
    monkeypatch.setattr(ab, "ORDERS_PAGE_SIZE", 2)
    for i in range(5):
        server.now = AT_1550 + dt.timedelta(seconds=i)
        broker.submit(buy("SPY", 10.0, symphony=f"s{i}"))
    got = broker.orders_for_session(SESSION)
    assert [o.client_order_id for o in got] == [cid("SPY", "buy", f"s{i}") for i in range(5)]
    assert server.count("GET", "/v2/orders") >= 3


def test_calendar_is_tz_aware_new_york_with_early_close(broker):
    days = broker.calendar(dt.date(2024, 11, 25), dt.date(2024, 12, 2))
    assert [d.date.isoformat() for d in days] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29",
                                                  "2024-12-02"]
    black_friday = days[3]
    assert black_friday.open == dt.datetime(2024, 11, 29, 9, 30, tzinfo=NY)
    assert black_friday.close == dt.datetime(2024, 11, 29, 13, 0, tzinfo=NY)
    assert black_friday.close.utcoffset() == dt.timedelta(hours=-5)
    assert black_friday.close.astimezone(UTC) == dt.datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert days[0].close.astimezone(UTC).hour == 21
    july3 = broker.calendar(dt.date(2024, 7, 3), dt.date(2024, 7, 3))[0]
    assert july3.close.astimezone(UTC) == dt.datetime(2024, 7, 3, 17, 0, tzinfo=UTC)  # 13:00 EDT


def test_clock_is_tz_aware(server, broker):
    server.now = dt.datetime(2024, 11, 29, 17, 30, tzinfo=UTC)              # 12:30 ET, early-close day
    ts, is_open, next_open, next_close = broker.clock()
    assert is_open and ts.tzinfo is not None
    assert next_close == dt.datetime(2024, 11, 29, 13, 0, tzinfo=NY)
    server.now = dt.datetime(2024, 11, 27, 21, 30, tzinfo=UTC)              # 16:30 ET before Thanksgiving
    _, is_open, next_open, _ = broker.clock()
    assert not is_open and next_open == dt.datetime(2024, 11, 29, 9, 30, tzinfo=NY)


# ---------------------------------------------------------------------------------------------- safety
def test_wrong_keys_401_is_a_broker_error_without_key_text(server):
    bad = AlpacaPaperBroker(KEY, "wrong-secret-Zq81", url_override=server.url, backoff=lambda n: 0,
                            sleep=lambda s: None)
    with pytest.raises(BrokerError) as err:
        bad.account()
    e = err.value
    assert isinstance(e, AlpacaBrokerError) and e.status_code == 401 and not e.retryable
    assert "401" in str(e)
    for secret in (KEY, "wrong-secret-Zq81", SECRET):
        assert secret not in str(e) and secret not in repr(e)
    assert e.__context__ is None and e.__cause__ is None     # no requests exception (with key headers) attached
    with pytest.raises(AlpacaBrokerError):
        bad.submit_exactly_once(buy())
    assert server.post_order_attempts == 0                     # the 401 lookup stopped it before any POST
    assert {r.status for r in server.requests} == {401}


def test_keys_never_in_repr_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    broker = make_broker(server, label="acct-1")
    broker.account()
    server.inject("POST", "/v2/orders", "504_after")
    broker.submit_exactly_once(buy())
    broker.submit(buy("SPY", 1e9, symphony="too-big"))
    broker.get_order("unknown")
    bad = AlpacaPaperBroker(KEY, "another-wrong-secret-77", url_override=server.url)
    with pytest.raises(BrokerError) as err:
        bad.get_order("x")
    texts = [caplog.text, repr(broker), str(broker), repr(vars(broker)), repr(bad), str(err.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records, "expected debug logging"
    for text in texts:
        for secret in (KEY, SECRET, "another-wrong-secret-77"):
            assert secret not in text
    assert repr(broker) == f"AlpacaPaperBroker(label='acct-1', url='{server.url}', paper=True)"


@pytest.mark.parametrize("url", [
    "https://api.alpaca.markets",                    # live
    "https://api.alpaca.markets/",
    "http://paper-api.alpaca.markets",               # not https
    "https://paper-api.alpaca.markets/v2",           # alpaca-py appends /v2 itself
    "https://paper-api.alpaca.markets.evil.example",
    "https://broker-api.sandbox.alpaca.markets",
    "http://10.0.0.5:8080",
    "http://127.0.0.1.nip.io:8080",
    "http://localhost.evil.example",
    "http://127.0.0.1:8080/v2",
    "http://user:hunter2@127.0.0.1:8080",
    "ftp://127.0.0.1:21",
    "http://127.0.0.1:notaport",
    "127.0.0.1:8080",
])
def test_non_paper_endpoints_are_refused_before_any_request(url, monkeypatch):
    def no_requests(*a, **k):
        raise AssertionError("a request was attempted")

    monkeypatch.setattr(requests.Session, "request", no_requests)
    with pytest.raises(ValueError) as err:
        AlpacaPaperBroker(KEY, SECRET, url_override=url)
    assert "hunter2" not in str(err.value) and KEY not in str(err.value)


@pytest.mark.parametrize("url, expected", [
    (None, "https://paper-api.alpaca.markets"),
    ("", "https://paper-api.alpaca.markets"),                  # an unset optional setting
    ("https://paper-api.alpaca.markets", "https://paper-api.alpaca.markets"),
    ("https://paper-api.alpaca.markets/", "https://paper-api.alpaca.markets"),
    ("http://127.0.0.1:8089", "http://127.0.0.1:8089"),
    ("http://localhost:8089/", "http://localhost:8089"),
    ("http://[::1]:8089", "http://[::1]:8089"),
])
def test_paper_and_loopback_endpoints_are_accepted_without_requests(url, expected, monkeypatch):
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: pytest.fail("request at construction"))
    assert check_paper_url(url) == expected
    broker = AlpacaPaperBroker(KEY, SECRET, url_override=url)
    assert broker._client._base_url == expected and broker._client._sandbox is True


def test_empty_keys_are_refused():
    with pytest.raises(ValueError):
        AlpacaPaperBroker("", SECRET)
    with pytest.raises(ValueError):
        AlpacaPaperBroker(KEY, "")


# ---------------------------------------------------------------------------------------------- rate limit
class SimClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_rate_limiter_keeps_every_60s_window_at_most_200():
    clock = SimClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(1000):
        limiter.acquire()
        stamps.append(clock.t)
    worst, j = 0, 0
    for i, t in enumerate(stamps):           # closed windows [t − 60, t] ending at each request
        while stamps[j] < t - 60.0 - 1e-9:
            j += 1
        worst = max(worst, i - j + 1)
    print(f"\nrate limiter: 1000 requests in {stamps[-1]:.1f} s simulated, max {worst} in any 60 s window")
    assert worst <= 200
    assert stamps[limiter.burst - 1] == 0.0                          # the burst goes at once
    assert stamps[-1] <= (1000 - limiter.burst) / limiter.rate + 1e-6  # and no slower than the steady rate
    assert worst >= 195                                               # the limit is actually used


def test_rate_limiter_refills_after_idle_time():
    clock = SimClock()
    limiter = RateLimiter(max_requests=20, period_s=60.0, burst=5, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    assert limiter.acquire() == pytest.approx(60.0 / 15)
    clock.t += 3600
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5


def test_every_request_goes_through_the_rate_limiter(server):
    class Counting(RateLimiter):
        n = 0

        def acquire(self) -> float:
            self.n += 1
            return super().acquire()

    limiter = Counting()
    broker = make_broker(server, rate_limiter=limiter)
    server.inject("POST", "/v2/orders", "504_after")
    broker.account()
    broker.submit_exactly_once(buy())
    broker.orders_for_session(SESSION)
    broker.calendar(dt.date(2024, 6, 17), dt.date(2024, 6, 21))
    broker.clock()
    broker.cancel_open_orders()
    assert limiter.n == len(server.requests) > 0


# ---------------------------------------------------------------------------------------------- the fake itself
def test_fake_validates_orders_and_auth(server):
    url = server.url + "/v2/orders"
    auth = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}

    def post(body, headers=auth):
        r = requests.post(url, json=body, headers=headers, timeout=5)
        return r.status_code, r.json() if r.content else None

    base = {"symbol": "SPY", "side": "buy", "type": "market", "time_in_force": "day"}
    assert post({**base, "notional": 10}, headers={})[0] == 401
    assert post({**base, "notional": 10}, headers={"APCA-API-KEY-ID": KEY})[0] == 401
    assert post({**base, "type": "limit", "qty": 1, "limit_price": 1})[0] == 422
    assert post({**base, "time_in_force": "gtc", "notional": 10}) == (
        422, {"code": 42210000, "message": "fractional orders must be DAY orders"})
    assert post({**base, "time_in_force": "gtc", "qty": 0.5})[0] == 422
    assert post({**base, "qty": 1, "notional": 10})[0] == 422
    assert post(base)[0] == 422
    assert post({**base, "symbol": "NOPE", "qty": 1})[0] == 422
    assert post({**base, "notional": 10 ** 7}) == (403, {"code": 40310000, "message": "insufficient buying power"})
    assert post({**base, "time_in_force": "gtc", "qty": 1, "client_order_id": "x1"})[0] == 200
    assert post({**base, "qty": 1, "client_order_id": "x1"}) == (
        422, {"code": 40010001, "message": "client_order_id must be unique"})
    assert requests.get(server.url + "/v2/nothing", headers=auth, timeout=5).status_code == 404
    assert len(server.orders_created) == 1 and server.unique_client_ids == {"x1"}


def test_unparseable_answer_is_a_non_retryable_broker_error(broker, monkeypatch):
    from alpaca.trading.models import TradeAccount

    monkeypatch.setattr(broker._client, "get_account", lambda: TradeAccount(id="not-a-uuid"))
    with pytest.raises(AlpacaBrokerError) as err:
        broker.account()
    assert not err.value.retryable and "unexpected response shape" in str(err.value)
