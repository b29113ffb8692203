"""Live vs backtest attribution (engine.attribution) and the rolling/calendar metrics and tracking error
(engine.metrics), on hand-made series whose answers can be checked with a pencil."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from engine import attribution as at
from engine import metrics

S = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11)]
PAPER_R = [0.01, 0.01, 0.01, 0.01, 0.01]
BT_R = [0.01, 0.01, 0.005, 0.0102, 0.01005]


def _nav(start: float, rets: list[float]) -> pd.Series:
    return pd.Series(start * np.cumprod([1.0] + [1 + r for r in rets]), index=pd.to_datetime(S))


def _targets(rows: list[tuple[int, str, float]], col: str) -> pd.DataFrame:
    return pd.DataFrame([(S[i], t, w) for i, t, w in rows], columns=["session_date", "ticker", col])


def _case():
    aligned = at.align_live_backtest(_nav(100.0, PAPER_R), _nav(200.0, BT_R))
    split = [("SPY", 0.6), ("TLT", 0.4)]
    paper = _targets([(i, t, w) for i in range(6) for t, w in ([("SPY", 1.0)] if i == 1 else split)]
                     + [(0, at.CASH_TICKER, 0.0)], "target_weight")
    bt = {0: split, 1: [("TLT", 1.0)], 2: split, 3: [("SPY", 0.59), ("TLT", 0.41)], 4: split,
          5: [("SPY", 0.597), ("TLT", 0.403)]}
    bt = _targets([(i, t, w) for i, rows in bt.items() for t, w in rows], "weight")
    outcomes = pd.DataFrame([(S[2], "TLT", -2.0, "order", "o1", "rejected", "insufficient qty", 2.0, 0.0),
                             (S[4], "SPY", 1.0, "order", "o2", "filled", None, 1.0, 1.0)],
                            columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id",
                                     "status", "reason", "qty", "filled_qty"])
    return aligned, paper, bt, outcomes


def test_align_rebases_the_backtest_to_the_paper_start():
    aligned, *_ = _case()
    assert list(aligned.columns) == list(at.ALIGNED_COLUMNS)
    assert aligned["backtest_usd"].iloc[0] == pytest.approx(100.0)
    assert aligned["paper_usd"].iloc[0] == pytest.approx(100.0)
    assert aligned["backtest_usd"].iloc[1] == pytest.approx(101.0)  # 200 → 202 scaled by 100 / 200
    assert aligned["backtest_return"].iloc[1:].tolist() == pytest.approx(BT_R)
    assert math.isnan(aligned["return_diff"].iloc[0])


def test_align_without_common_sessions_is_empty():
    paper = pd.Series([1.0, 2.0], index=pd.to_datetime(S[:2]))
    out = at.align_live_backtest(paper, pd.Series([5.0], index=pd.to_datetime([S[4]])))
    assert out.empty and list(out.columns) == list(at.ALIGNED_COLUMNS)


def test_tracking_error_is_the_annualised_stdev_of_return_differences():
    aligned, *_ = _case()
    diffs = np.array(PAPER_R) - np.array(BT_R)
    te = metrics.tracking_error(aligned["paper_return"], aligned["backtest_return"])
    assert te == pytest.approx(float(np.std(diffs, ddof=1) * math.sqrt(252)), rel=1e-9)
    two = aligned.iloc[:2]  # one difference only
    assert math.isnan(metrics.tracking_error(two["paper_return"], two["backtest_return"]))


def test_classify_days_on_a_hand_made_case():
    days = at.classify_days(*_case())
    assert list(days.columns) == list(at.DIVERGENCE_COLUMNS)
    assert days["session_date"].tolist() == S[1:5]
    assert days["cause"].tolist() == ["different branch", "missed fill", "price difference", "costs"]
    assert days["detail"].iloc[0] == "only live: SPY; only backtest: TLT"
    assert days["detail"].iloc[1] == "TLT rejected (insufficient qty)"
    assert days["max_weight_gap"].iloc[2] == pytest.approx(0.01)
    assert days["return_diff_bp"].iloc[3] == pytest.approx(-2.0)
    assert days["paper_weights"].iloc[0] == {"SPY": 1.0} and days["backtest_weights"].iloc[0] == {"TLT": 1.0}
    # S[5]: weight gap 0.3 pp and return gap 0.5 bp are within the tolerances: not listed


def test_partial_fill_counts_as_missed():
    aligned, paper, bt, _ = _case()
    partial = pd.DataFrame([(S[4], "SPY", 1.0, "order", "o2", "filled", None, 1.0, 0.4)],
                           columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id",
                                    "status", "reason", "qty", "filled_qty"])
    days = at.classify_days(aligned, paper, bt, partial)
    assert dict(zip(days["session_date"], days["cause"]))[S[4]] == "missed fill"
    assert at.missed_orders(partial) == {S[4]: ["SPY filled"]}


def test_weights_by_day_leaves_out_cash_and_zero_weights():
    frame = pd.DataFrame({"session_date": [S[0]] * 3, "ticker": ["SPY", at.CASH_TICKER, "TLT"],
                          "weight": [0.7, 0.3, 0.0]})
    assert at.weights_by_day(frame, "weight") == {S[0]: {"SPY": 0.7}}
    assert at.weights_by_day(None, "weight") == {}


def test_monthly_returns_table_values():
    nav = pd.Series([100.0, 110.0, 99.0, 121.0, 121.0, 133.1],
                    index=pd.to_datetime(["2024-01-02", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-28",
                                          "2025-01-02"]))
    table = metrics.monthly_returns(nav)
    assert table.index.tolist() == [2024, 2025]
    assert list(table.columns) == list(metrics.MONTHS) + ["Year"]
    assert table.loc[2024, ["Jan", "Feb", "Mar"]].tolist() == pytest.approx([10.0, 10.0, 0.0])
    assert table.loc[2024, "Year"] == pytest.approx(21.0)
    assert table.loc[2025, "Jan"] == pytest.approx(10.0) and table.loc[2025, "Year"] == pytest.approx(10.0)
    assert table.loc[2024, "Apr":"Dec"].isna().all()
    assert metrics.monthly_returns(nav.iloc[:1]).empty


def test_rolling_sharpe_window():
    idx = pd.bdate_range("2024-01-01", periods=70)
    nav = pd.Series(100 * np.cumprod(1 + np.tile([0.01, -0.005], 35)), index=idx)
    rs = metrics.rolling_sharpe(nav, 63)
    assert rs.iloc[:62].isna().all() and rs.notna().sum() == 69 - 62
    window = nav.pct_change().iloc[-63:]
    assert rs.iloc[-1] == pytest.approx(window.mean() * 252 / (window.std(ddof=1) * math.sqrt(252)))
    flat = metrics.rolling_sharpe(pd.Series(100.0, index=idx), 5)
    assert flat.isna().all()  # zero volatility: no Sharpe
