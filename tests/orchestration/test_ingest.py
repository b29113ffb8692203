"""Market-data ingestion: the real ``eodhd`` and alpaca-py clients against local fakes (127.0.0.1 only).

The fakes are seeded with bundled bars (``warehouse.bundled.load_bars``), so prices are real; retry waits are 0.
"""
from __future__ import annotations

import datetime as dt
import math
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bar_checks import check_bars
from engine.calendar import sessions_in_range
from resources.market_data import (AlpacaMarketData, EodhdMarketData, MarketDataError,
                                       TransientMarketDataError, mask_secrets, missing_sessions)
from tests.fakes.alpaca_data_server import FakeAlpacaDataServer
from tests.fakes.eodhd_server import FakeEodhdServer
from warehouse import Warehouse
from warehouse.bundled import load_bars

ROOT = Path(__file__).resolve().parents[2]
START, END = dt.date(2024, 2, 1), dt.date(2024, 3, 28)  # spans the 2024-03-10 DST switch
TICKERS = ["QQQ", "SPY", "TLT"]
STOP_AFTER = dt.date(2024, 3, 15)  # TLT's feed stops here
GAP = dt.date(2024, 3, 5)  # QQQ lacks this session
BAD = dt.date(2024, 3, 20)  # SPY has a negative bar here
JUMP = dt.date(2024, 3, 22)  # QQQ jumps 60 % here


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    bars = load_bars(TICKERS, start=START, end=END)
    assert set(bars["ticker"]) == set(TICKERS) and bars[["open", "close"]].notna().all().all()
    return bars


def by_ticker(bars: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return bars[bars["ticker"] == ticker].reset_index(drop=True)


def expected(bars: pd.DataFrame, tickers) -> pd.DataFrame:
    """What a source should return: every price on the adj_close basis (``close == adj_close``)."""
    out = bars[bars["ticker"].isin(tickers)].copy()
    f = out["adj_close"] / out["close"]
    for c in ("open", "high", "low"):
        out[c] = out[c] * f
    out["close"] = out["adj_close"]
    return out.sort_values(["ticker", "session_date"]).reset_index(drop=True)


def assert_same_bars(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == ["session_date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
    assert all(type(d) is dt.date for d in got["session_date"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False,
                                  rtol=1e-9)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def full_text(exc: BaseException) -> str:
    """Message, chained causes and traceback text of ``exc``: everything a log could show."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


# ----------------------------------------------------------------------------------------------------------------
# EODHD
# ----------------------------------------------------------------------------------------------------------------

@pytest.fixture
def eod_server(bundled):
    frames = {f"{t}.US": by_ticker(bundled, t) for t in TICKERS}
    frames["BRK-B.US"] = by_ticker(bundled, "SPY")
    with FakeEodhdServer(frames) as server:
        yield server


def eodhd(server: FakeEodhdServer, **kw) -> EodhdMarketData:
    return EodhdMarketData(api_key=server.api_token, base_url=server.url, retry_base_wait_s=0, max_attempts=3,
                           timeout_s=5, **kw)


def test_eodhd_bars_adjusted_and_provenance(eod_server, bundled):
    src = eodhd(eod_server)
    got = src.bars(["SPY", "QQQ"], START, END)
    assert_same_bars(got, expected(bundled, ["SPY", "QQQ"]))
    assert src.source_name() == "eodhd"
    assert src.provenance() == {"source": "eodhd", "adjustment": "all", "feed": "eod"}
    symbol, params = eod_server.requests[0]
    assert symbol == "SPY.US"
    assert params == {"api_token": "<ok>", "fmt": "json", "period": "d", "from": "2024-02-01",
                      "to": "2024-03-28", "order": "a"}


def test_eodhd_incremental_range(eod_server, bundled):
    start, end = missing_sessions(dt.date(2024, 3, 25), END)
    got = eodhd(eod_server).bars(["TLT"], start, end)
    assert list(got["session_date"]) == [dt.date(2024, 3, 26), dt.date(2024, 3, 27), dt.date(2024, 3, 28)]
    everything = eodhd(eod_server).bars(["TLT"], None, END)
    assert everything["session_date"].min() == START and len(everything) == 40


def test_eodhd_retries_500_and_429(eod_server, bundled, caplog):
    eod_server.fail_next("SPY.US", 500)
    eod_server.fail_next("SPY.US", 429)
    caplog.set_level("WARNING", logger="resources.market_data")
    got = eodhd(eod_server).bars(["SPY"], START, END)
    assert_same_bars(got, expected(bundled, ["SPY"]))
    assert [s for s, _ in eod_server.requests] == ["SPY.US"] * 3
    assert len(caplog.records) == 2 and "HTTP 500" in caplog.records[0].getMessage()
    assert all(eod_server.api_token not in r.getMessage() for r in caplog.records)


def test_eodhd_gives_up_after_bounded_attempts_without_leaking_the_key(eod_server, caplog):
    eod_server.fail_next("QQQ.US", 503, times=10)  # the fake's error body quotes the URL with the api_token
    with pytest.raises(TransientMarketDataError) as info:
        eodhd(eod_server).bars(["SPY", "QQQ"], START, END)
    exc = info.value
    assert "QQQ" in str(exc) and exc.tickers == ["QQQ"] and exc.status == 503
    assert "api_token=***" in str(exc)
    assert eod_server.api_token not in full_text(exc)
    assert all(eod_server.api_token not in r.getMessage() for r in caplog.records)
    assert [s for s, _ in eod_server.requests].count("QQQ.US") == 3


def test_eodhd_client_errors_are_not_retried(eod_server):
    with pytest.raises(MarketDataError) as info:
        eodhd(eod_server).bars(["ZZZZ"], START, END)
    assert not isinstance(info.value, TransientMarketDataError)
    assert info.value.status == 404 and "ZZZZ" in str(info.value) and "Ticker Not Found" in str(info.value)
    assert len(eod_server.requests) == 1

    wrong = EodhdMarketData(api_key="wrongTokenButLongEnough123", base_url=eod_server.url, retry_base_wait_s=0)
    with pytest.raises(MarketDataError) as info:
        wrong.bars(["SPY"], START, END)
    assert info.value.status == 401 and "wrongTokenButLongEnough123" not in full_text(info.value)


def test_eodhd_connection_error_is_retried_and_masked():
    src = EodhdMarketData(api_key="secretTokenValue12345678", base_url=f"http://127.0.0.1:{closed_port()}/api",
                          retry_base_wait_s=0, max_attempts=2, timeout_s=2)
    with pytest.raises(TransientMarketDataError) as info:
        src.bars(["SPY"], START, END)
    assert "SPY" in str(info.value) and "ConnectionError" in str(info.value)
    assert "secretTokenValue12345678" not in full_text(info.value)


def test_eodhd_malformed_body_fails_naming_the_ticker(eod_server):
    eod_server.fail_next("SPY.US", 200, body='{"message": "not a list"}')
    with pytest.raises(MarketDataError, match="SPY.*expected a list of bars"):
        eodhd(eod_server).bars(["SPY"], START, END)


def test_unguarded_eodhd_package_swallows_errors_and_prints_the_token(eod_server, capsys):
    """Why the resource replaces the package's transport: on a 500 ``BaseAPI._rest_get_method`` prints the URL
    (api_token included) and returns ``{}`` — an outage would read as 'no data'. If this starts failing, a new
    eodhd release changed that behaviour: revisit the guard in resources.market_data."""
    from resources.market_data import _import_eodhd_endpoint

    api = _import_eodhd_endpoint()()
    api._api_url = eod_server.url
    eod_server.fail_next("SPY.US", 500)
    assert api.get_eod_historical_stock_market_data(api_token=eod_server.api_token, symbol="SPY.US",
                                                    period="d") == {}
    assert eod_server.api_token in capsys.readouterr().out


def test_eodhd_import_does_not_leave_sys_tracebacklimit_set():
    code = ("import sys; import resources.market_data as m; m._guarded_eod_endpoint_class(); "
            "print(hasattr(sys, 'tracebacklimit')); import eodhd; print(getattr(sys, 'tracebacklimit', None))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # ours restores it; the package's own import (already cached, so a no-op here) had set it to 1 before
    assert out.stdout.split() == ["False", "None"]


def test_eodhd_ticker_mapping_round_trip(eod_server, bundled):
    got = eodhd(eod_server).bars(["BRK/B"], START, END)
    assert [s for s, _ in eod_server.requests] == ["BRK-B.US"]
    assert set(got["ticker"]) == {"BRK/B"}
    np.testing.assert_allclose(got["adj_close"], by_ticker(bundled, "SPY")["adj_close"])


# ----------------------------------------------------------------------------------------------------------------
# Alpaca
# ----------------------------------------------------------------------------------------------------------------

@pytest.fixture
def alpaca_server(bundled):
    frames = {t: by_ticker(bundled, t) for t in TICKERS}
    frames["BRK.B"] = by_ticker(bundled, "SPY")
    with FakeAlpacaDataServer(frames, page_size=7) as server:
        yield server


def alpaca(server: FakeAlpacaDataServer, **kw) -> AlpacaMarketData:
    return AlpacaMarketData(api_key=server.api_key, secret_key=server.secret_key, url_override=server.url,
                            retry_base_wait_s=0, max_attempts=3, timeout_s=5, **kw)


def bar_requests(server) -> list[dict]:
    return [q for p, q in server.requests if p == "/v2/stocks/bars"]


def test_alpaca_bars_paginated_adjusted_and_provenance(alpaca_server, bundled):
    src = alpaca(alpaca_server)
    got = src.bars(TICKERS, START, END)
    want = expected(bundled, TICKERS)
    assert_same_bars(got, want)  # session dates right on both sides of the DST switch (05:00Z and 04:00Z stamps)
    pages = bar_requests(alpaca_server)
    assert len(pages) == math.ceil(len(want) / 7) > 1
    assert "page_token" not in pages[0] and all("page_token" in q for q in pages[1:])
    first = pages[0]
    assert first["symbols"] == "QQQ,SPY,TLT" and first["timeframe"] == "1Day"
    assert first["adjustment"] == "all" and first["feed"] == "iex"
    assert dt.datetime.fromisoformat(first["start"]) == dt.datetime(2024, 2, 1, 5, tzinfo=dt.timezone.utc)
    assert dt.datetime.fromisoformat(first["end"]) == dt.datetime(2024, 3, 29, 3, 59, 59, tzinfo=dt.timezone.utc)
    assert src.source_name() == "alpaca"
    assert src.provenance() == {"source": "alpaca", "adjustment": "all", "feed": "iex"}


def test_alpaca_feed_is_configurable_and_checked(alpaca_server):
    src = alpaca(alpaca_server, feed="sip")
    src.bars(["SPY"], END, END)
    assert bar_requests(alpaca_server)[0]["feed"] == "sip" and src.provenance()["feed"] == "sip"
    with pytest.raises(ValueError, match="unknown Alpaca feed 'nasdaq'"):
        alpaca(alpaca_server, feed="nasdaq").bars(["SPY"], END, END)


def test_alpaca_retries_500_and_429_with_our_backoff_only(alpaca_server, bundled):
    alpaca_server.fail_next("/v2/stocks/bars", 500)
    alpaca_server.fail_next("/v2/stocks/bars", 429)
    began = time.perf_counter()
    got = alpaca(alpaca_server).bars(["SPY"], START, END)
    assert time.perf_counter() - began < 2.5  # alpaca-py's own retry would have slept 3 s on the 429
    assert_same_bars(got, expected(bundled, ["SPY"]))


def test_alpaca_persistent_failure_names_tickers_and_hides_keys(alpaca_server):
    alpaca_server.fail_next("/v2/stocks/bars", 503, times=10)  # the fake's error body quotes both keys
    with pytest.raises(TransientMarketDataError) as info:
        alpaca(alpaca_server).bars(["SPY", "BRK/B"], START, END)
    exc = info.value
    assert "SPY, BRK/B" in str(exc) and exc.status == 503
    text = full_text(exc)
    assert alpaca_server.api_key not in text and alpaca_server.secret_key not in text
    assert len(bar_requests(alpaca_server)) == 3


def test_alpaca_bad_credentials_fail_at_once(alpaca_server):
    src = AlpacaMarketData(api_key=alpaca_server.api_key, secret_key="not-the-secret", url_override=alpaca_server.url,
                           retry_base_wait_s=0)
    with pytest.raises(MarketDataError) as info:
        src.bars(["SPY"], START, END)
    assert info.value.status == 401 and not isinstance(info.value, TransientMarketDataError)
    assert "not-the-secret" not in full_text(info.value)
    assert len(alpaca_server.requests) == 1


def test_alpaca_unparseable_body_fails_naming_the_tickers(alpaca_server):
    alpaca_server.fail_next("/v2/stocks/bars", 200)  # a 200 whose body has no "bars"
    with pytest.raises(MarketDataError, match="SPY: unexpected response") as info:
        alpaca(alpaca_server).bars(["SPY"], START, END)
    assert not isinstance(info.value, TransientMarketDataError)


def test_alpaca_connection_error_is_retried_and_masked():
    src = AlpacaMarketData(api_key="key-id-123", secret_key="secret-456", url_override=f"http://127.0.0.1:"
                           f"{closed_port()}", retry_base_wait_s=0, max_attempts=2, timeout_s=2)
    with pytest.raises(TransientMarketDataError, match="SPY") as info:
        src.bars(["SPY"], START, END)
    assert "secret-456" not in full_text(info.value)


def test_alpaca_ticker_mapping_round_trip(alpaca_server, bundled):
    got = alpaca(alpaca_server).bars(["BRK/B", "SPY"], START, END)
    assert bar_requests(alpaca_server)[0]["symbols"] == "BRK.B,SPY"
    assert sorted(set(got["ticker"])) == ["BRK/B", "SPY"]
    np.testing.assert_allclose(by_ticker(got, "BRK/B")["adj_close"], by_ticker(got, "SPY")["adj_close"])


def test_alpaca_latest_prices_trade_then_quote_midpoint(alpaca_server):
    at = dt.datetime(2024, 3, 28, 19, 50, tzinfo=dt.timezone.utc)
    alpaca_server.set_latest_trade("SPY", 523.17, at)
    alpaca_server.set_latest_quote("BRK.B", 420.10, 420.30, at)  # no trade: quote midpoint
    got = alpaca(alpaca_server).latest_prices(["SPY", "BRK/B", "QQQ"])
    assert got == {"SPY": (523.17, at), "BRK/B": (pytest.approx(420.20), at)}
    assert all(ts.tzinfo is not None for _, ts in got.values())
    paths = [p for p, _ in alpaca_server.requests]
    assert paths == ["/v2/stocks/trades/latest", "/v2/stocks/quotes/latest"]
    assert alpaca_server.requests[1][1]["symbols"] == "BRK.B,QQQ"


# ----------------------------------------------------------------------------------------------------------------
# Data faults → bar checks (both sources)
# ----------------------------------------------------------------------------------------------------------------

def faulted(bundled: pd.DataFrame) -> pd.DataFrame:
    """The bundled bars with the faults: TLT stops, QQQ gap, SPY negative bar, QQQ +60 % jump."""
    b = bundled.copy()
    b = b[~((b["ticker"] == "TLT") & (b["session_date"] > STOP_AFTER))]
    b = b[~((b["ticker"] == "QQQ") & (b["session_date"] == GAP))]
    bad = (b["ticker"] == "SPY") & (b["session_date"] == BAD)
    b.loc[bad, ["close", "adj_close"]] = -1.0
    q = b[b["ticker"] == "QQQ"].set_index("session_date")
    prev = q.index[q.index.get_loc(JUMP) - 1]
    jump = (b["ticker"] == "QQQ") & (b["session_date"] == JUMP)
    b.loc[jump, "adj_close"] = q.at[prev, "adj_close"] * 1.6
    b.loc[jump, "close"] = q.at[prev, "close"] * 1.6
    return b


def eodhd_with_faults(bundled):
    frames = {f"{t}.US": by_ticker(bundled, t) for t in TICKERS}
    server = FakeEodhdServer(frames).start()
    server.stop_after("TLT.US", STOP_AFTER)
    server.drop_session("QQQ.US", GAP)
    server.set_bar("SPY.US", BAD, close=-1.0, adjusted_close=-1.0)
    f = faulted(bundled)
    row = f[(f["ticker"] == "QQQ") & (f["session_date"] == JUMP)].iloc[0]
    server.set_bar("QQQ.US", JUMP, close=float(row["close"]), adjusted_close=float(row["adj_close"]))
    return server, eodhd(server)


def alpaca_with_faults(bundled):
    f = faulted(bundled)
    server = FakeAlpacaDataServer({t: by_ticker(f, t) for t in TICKERS}, page_size=50).start()
    return server, alpaca(server)


@pytest.mark.parametrize("make", [eodhd_with_faults, alpaca_with_faults], ids=["eodhd", "alpaca"])
def test_data_faults_are_reported_by_the_bar_checks(make, bundled):
    server, src = make(bundled)
    try:
        got = src.bars(TICKERS, START, END)
    finally:
        server.stop()
    assert got.loc[got["ticker"] == "TLT", "session_date"].max() == STOP_AFTER
    assert GAP not in set(got.loc[got["ticker"] == "QQQ", "session_date"])

    sessions = sessions_in_range(START, END)
    res = check_bars(got, END, TICKERS, sessions=sessions)
    assert res.missing == ["TLT"] and res.blocking
    assert ("QQQ", GAP) in {(g.ticker, g.session_date) for g in res.gaps}
    assert {g.session_date for g in res.gaps if g.ticker == "TLT"} == {s for s in sessions if STOP_AFTER < s < END}
    assert [(i.ticker, i.session_date) for i in res.non_positive] == [("SPY", BAD)]
    jumps = {(j.ticker, j.session_date) for j in res.jumps}
    assert ("QQQ", JUMP) in jumps and all(t == "QQQ" for t, _ in jumps)  # the spike up, and back down after it
    (up,) = [j for j in res.jumps if j.session_date == JUMP]
    assert up.daily_return == pytest.approx(0.60, rel=1e-9)

    on_gap = check_bars(got, GAP, TICKERS)  # checking the gap session itself: QQQ is missing
    assert on_gap.missing == ["QQQ"]


# ----------------------------------------------------------------------------------------------------------------
# Helpers and storage
# ----------------------------------------------------------------------------------------------------------------

def test_missing_sessions():
    assert missing_sessions(None, END) == (None, END)
    assert missing_sessions(dt.date(2024, 3, 22), END) == (dt.date(2024, 3, 23), END)
    assert missing_sessions(END, END) == (END, END)
    assert missing_sessions(END + dt.timedelta(days=3), END) == (END, END)


def test_mask_secrets():
    msg = "GET /api/eod/SPY.US?api_token=abc123&fmt=json key=K1 secret=S/2"
    masked = mask_secrets(msg, ["K1", "S/2"])
    assert "abc123" not in masked and "K1" not in masked and "S/2" not in masked
    assert "api_token=***" in masked


def test_credentials_are_hidden_from_repr():
    src = AlpacaMarketData(api_key="key-id-123", secret_key="secret-456")
    eod = EodhdMarketData(api_key="tokenTokenToken123")
    assert "secret-456" not in repr(src) and "key-id-123" not in repr(src) and "tokenTokenToken123" not in repr(eod)


def test_bars_with_provenance_store_in_the_warehouse(eod_server, tmp_path):
    src = eodhd(eod_server)
    bars = src.bars(["SPY"], START, END)
    rows = bars.assign(**src.provenance(), ingested_at=dt.datetime.now(dt.timezone.utc))
    wh = Warehouse.from_settings(duckdb_path=tmp_path / "w.duckdb")
    wh.create_schema()
    assert wh.replace("daily_bars", rows, where={"ticker": ["SPY"], "session_date": list(bars["session_date"])}) \
        == len(bars)
    back = wh.read("daily_bars", columns=["source", "adjustment", "feed"]).drop_duplicates()
    assert back.to_dict("records") == [{"source": "eodhd", "adjustment": "all", "feed": "eod"}]
