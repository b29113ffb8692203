"""In-sample / out-of-sample split of a backtest: hand-worked values."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from engine.oos import split_curves, split_stats


def _nav():
    idx = pd.bdate_range("2024-01-01", periods=5)  # Mon 1 .. Fri 5 Jan 2024
    nav = pd.Series([100.0, 110.0, 99.0, 108.9, 119.79], index=idx)
    bench = pd.Series([100.0, 101.0, 102.01, 103.0301, 104.060401], index=idx)  # +1 % a day
    return nav, bench


def _stats(frame, segment, series="strategy"):
    part = frame[(frame["segment"] == segment) & (frame["series"] == series)]
    return dict(zip(part["stat"], part["value"])), part


def test_split_stats_by_hand():
    nav, bench = _nav()
    frame = split_stats(nav, "2024-01-03", capital=100.0, benchmark_nav=bench)
    ins, part = _stats(frame, "in_sample")
    assert set(part["start_date"].astype(str)) == {"2024-01-01"} and set(part["end_date"].astype(str)) == {"2024-01-02"}
    assert ins["cumulative_return"] == pytest.approx(0.10)       # 110 / 100 - 1
    assert ins["size"] == 1.0                                     # one daily return (the first day is not one)
    oos, part = _stats(frame, "out_of_sample")
    assert set(part["start_date"].astype(str)) == {"2024-01-03"}
    # from the last in-sample value 110: returns -10 %, +10 %, +10 %
    assert oos["size"] == 3.0
    assert oos["cumulative_return"] == pytest.approx(119.79 / 110 - 1)
    assert oos["max_drawdown"] == pytest.approx(0.10)             # 99 / 110: measured from the OOS start
    r = [-0.1, 0.1, 0.1]
    mean = sum(r) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    assert oos["sharpe_ratio"] == pytest.approx(mean * 252 / (sd * math.sqrt(252)))
    assert oos["annualized_rate_of_return"] == pytest.approx((119.79 / 110) ** (252 / 4) - 1)
    full, _ = _stats(frame, "full")
    assert full["cumulative_return"] == pytest.approx(0.1979)
    assert full["max_drawdown"] == pytest.approx(0.10)
    b, _ = _stats(frame, "out_of_sample", "benchmark")
    assert b["cumulative_return"] == pytest.approx(1.01 ** 3 - 1) and b["size"] == 3.0
    assert "beta" in oos and "beta" not in b


def test_oos_start_outside_the_backtest():
    nav, _ = _nav()
    after = split_stats(nav, "2025-01-01", capital=100.0)
    assert set(after["segment"]) == {"in_sample", "full"}      # nothing out of sample yet
    before = split_stats(nav, "2023-06-01", capital=100.0)
    assert set(before["segment"]) == {"out_of_sample", "full"}
    o, _ = _stats(before, "out_of_sample")
    assert o["cumulative_return"] == pytest.approx(0.1979)      # from the capital: it is the whole backtest
    with pytest.raises(ValueError, match="not an ISO date"):
        split_stats(nav, "03/01/2024", capital=100.0)


def test_split_curves_rebased_with_own_drawdown():
    nav, bench = _nav()
    c = split_curves(nav, "2024-01-03", 100.0, bench)
    oos = c[(c["segment"] == "out_of_sample") & (c["series"] == "strategy")]
    assert oos["growth"].tolist() == pytest.approx([0.9, 0.99, 1.089])
    assert oos["drawdown"].tolist() == pytest.approx([-0.1, -0.01, 0.0])
    ib = c[(c["segment"] == "in_sample") & (c["series"] == "benchmark")]
    assert ib["growth"].tolist() == pytest.approx([1.0, 1.01])
    whole = c[(c["segment"] == "full") & (c["series"] == "strategy")]
    assert whole["growth"].tolist() == pytest.approx([1.0, 1.1, 0.99, 1.089, 1.1979])
    assert whole["drawdown"].tolist() == pytest.approx([0.0, 0.0, -0.1, -0.01, 0.0])
