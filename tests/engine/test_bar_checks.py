"""engine.bar_checks on small hand-made frames."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.bar_checks import BarCheckResult, check_bars, split_like

D1, D2, D3, D4 = dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5)


def frame(rows):
    """rows: (date, ticker, adj_close[, close])."""
    out = []
    for r in rows:
        d, t, adj = r[:3]
        close = r[3] if len(r) > 3 else adj
        out.append({"session_date": d, "ticker": t, "open": close, "high": close, "low": close, "close": close,
                    "adj_close": adj, "volume": 1000.0})
    return pd.DataFrame(out)


def test_clean_bars_pass():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 101.0), (D1, "TLT", 90.0), (D2, "TLT", 89.5)])
    res = check_bars(bars, D2, ["SPY", "TLT"], sessions=[D1, D2])
    assert res == BarCheckResult(session=D2)
    assert not res.blocking and not res.warnings
    assert res.metadata()["missing"] == "none"


def test_missing_ticker_blocks_and_is_named():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 101.0), (D1, "TLT", 90.0)])  # TLT stops after D1
    res = check_bars(bars, D2, ["SPY", "TLT", "QQQ"])
    assert res.missing == ["QQQ", "TLT"]
    assert res.blocking
    assert res.metadata()["missing"] == "QQQ, TLT"


def test_rows_after_the_session_are_ignored():
    bars = frame([(D1, "SPY", 100.0), (D3, "SPY", -1.0)])
    res = check_bars(bars, D2, ["SPY"])
    assert res.missing == ["SPY"] and res.non_positive == []


@pytest.mark.parametrize("adj, close", [(0.0, 10.0), (-5.0, 10.0), (np.nan, 10.0), (10.0, -1.0), (np.inf, 1.0)])
def test_non_positive_or_non_finite_prices_block(adj, close):
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", adj, close)])
    res = check_bars(bars, D2, ["SPY"])
    assert [(i.ticker, i.session_date) for i in res.non_positive] == [("SPY", D2)]
    assert res.missing == []  # the bar is there, it is bad
    assert res.blocking
    assert res.jumps == []  # a bad bar is not also reported as a jump


def test_nan_ohlc_is_allowed_when_adj_close_is_good():
    bars = frame([(D1, "SPY", 100.0)])
    bars[["open", "high", "low", "close"]] = np.nan
    assert not check_bars(bars, D1, ["SPY"]).blocking


def test_duplicates_block_and_are_counted_once():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 101.0), (D2, "SPY", 101.0), (D2, "SPY", 102.0)])
    res = check_bars(bars, D2, ["SPY"])
    assert [(i.ticker, i.session_date, i.detail) for i in res.duplicates] == [("SPY", D2, "3 rows")]
    assert res.blocking


def test_jump_is_flagged_but_does_not_block():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 160.0), (D3, "SPY", 101.0), (D1, "TLT", 90.0),
                  (D2, "TLT", 90.0 * 1.34), (D3, "TLT", 90.0 * 1.34)])
    res = check_bars(bars, D3, ["SPY", "TLT"])
    assert not res.blocking and res.warnings
    assert [(j.ticker, j.session_date, j.previous_date) for j in res.jumps] == [("SPY", D2, D1), ("SPY", D3, D2)]
    assert res.jumps[0].daily_return == pytest.approx(0.60)
    assert res.jumps[1].daily_return == pytest.approx(101 / 160 - 1)
    assert res.jumps[0].split_like is None
    assert "SPY@2024-01-03 +60.0%" in res.metadata()["jumps"]


def test_jump_threshold_is_configurable():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 112.0)])
    assert check_bars(bars, D2, ["SPY"]).jumps == []
    assert len(check_bars(bars, D2, ["SPY"], jump_threshold=0.10).jumps) == 1


def test_jump_looking_like_an_unapplied_split_is_labelled():
    bars = frame([(D1, "NVDA", 1200.0), (D2, "NVDA", 120.5)])  # 10-for-1 not applied to the history
    (jump,) = check_bars(bars, D2, ["NVDA"]).jumps
    assert jump.split_like == "1:10"
    assert split_like(2.0) == "2:1" and split_like(0.5) == "1:2" and split_like(1.6) is None


def test_gaps_need_the_session_list_and_only_warn():
    bars = frame([(D1, "SPY", 100.0), (D3, "SPY", 101.0), (D4, "SPY", 101.0),  # SPY lacks D2
                  (D2, "NEW", 10.0), (D3, "NEW", 10.0), (D4, "NEW", 10.0)])  # NEW lists on D2: no gap on D1
    assert check_bars(bars, D4, ["SPY", "NEW"]).gaps == []
    res = check_bars(bars, D4, ["SPY", "NEW"], sessions=[D1, D2, D3, D4])
    assert [(g.ticker, g.session_date) for g in res.gaps] == [("SPY", D2)]
    assert not res.blocking and res.warnings


def test_a_stopped_ticker_is_missing_and_gapped():
    bars = frame([(D1, "SPY", 100.0), (D2, "SPY", 100.0), (D3, "SPY", 100.0), (D1, "XYZ", 5.0)])
    res = check_bars(bars, D3, ["SPY", "XYZ"], sessions=[D1, D2, D3])
    assert res.missing == ["XYZ"]
    assert [(g.ticker, g.session_date) for g in res.gaps] == [("XYZ", D2)]


def test_empty_frame_reports_every_needed_ticker_missing():
    res = check_bars(pd.DataFrame(columns=["session_date", "ticker", "adj_close"]), D1, ["SPY", "AGG"])
    assert res.missing == ["AGG", "SPY"] and res.blocking


def test_timestamps_and_strings_are_accepted_as_dates():
    bars = frame([("2024-01-02", "SPY", 100.0), (pd.Timestamp(D2), "SPY", 100.0)])
    assert not check_bars(bars, "2024-01-03", ["SPY"]).blocking
