"""Evaluation goldens (worked by hand) and agreement of the vectorised engine with the per-day reference."""
from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import DataError
from engine.evaluate import evaluate
from engine.model import (Asset, Comparison, Constant, Empty, Filter, If, IndicatorRef, Root, WeightEqual,
                          WeightInverseVol, WeightSpecified, tickers)
from engine.parsing import load_symphony
from tests.engine.reference import ReferenceEvaluator
from warehouse.bundled import available_tickers, load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
DAYS = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]))
# A: 10, 11, 12, 11, 13   B: 20, 20, 21, 22, 21
PRICES = pd.DataFrame({"A": [10.0, 11, 12, 11, 13], "B": [20.0, 20, 21, 22, 21]}, index=DAYS)


def asset(t, path):
    return Asset(ticker=t, path=path)


def test_if_on_current_price_against_constant():
    # if current-price(A) > 11.5 then A else equal(A, B)
    cond = Comparison(lhs=IndicatorRef(fn="current-price", ticker="A"), comparator="gt", rhs=Constant(value=11.5))
    node = If(path="root/0/0", condition=cond, then_children=(asset("A", "root/0/0/0/0"),),
              else_children=(asset("A", "root/0/0/1/0"), asset("B", "root/0/0/1/1")))
    root = Root(name="t", children=(WeightEqual(path="root/0", children=(node,)),))
    ev = evaluate(root, PRICES)
    # days: 10 (else), 11 (else), 12 (then), 11 (else), 13 (then)
    assert ev.weights["A"].tolist() == [0.5, 0.5, 1.0, 0.5, 1.0]
    assert ev.weights["B"].tolist() == [0.5, 0.5, 0.0, 0.5, 0.0]
    assert ev.valid.all()
    tr = ev.trace("2024-01-04")
    assert len(tr) == 1 and tr[0]["detail"]["branch"] == "then"
    comp = tr[0]["detail"]["comparisons"][0]
    assert comp["lhs_value"] == 12.0 and comp["rhs_value"] == 11.5 and comp["result"] is True


def test_filter_top1_by_one_day_return_with_warmup():
    # cumulative-return(1): A: -, 10%, 9.09%, -8.33%, 18.18%; B: -, 0%, 5%, 4.76%, -4.55%
    f = Filter(path="root/0/0", sort_fn="cumulative-return", sort_window=1, select="top", select_n=1,
               children=(asset("A", "root/0/0/0"), asset("B", "root/0/0/1")))
    root = Root(name="t", children=(WeightEqual(path="root/0", children=(f,)),))
    ev = evaluate(root, PRICES)
    assert ev.valid.tolist() == [False, True, True, True, True]
    assert ev.first_valid_session == DAYS[1]
    assert ev.weights["A"].tolist()[1:] == [1.0, 1.0, 0.0, 1.0]
    assert ev.weights["B"].tolist()[1:] == [0.0, 0.0, 1.0, 0.0]
    ranked = ev.trace("2024-01-05")[0]["detail"]["ranked"]
    assert [r["child"] for r in ranked] == ["B", "A"]
    assert ranked[0]["value"] == pytest.approx(100 * (22 / 21 - 1))
    assert ranked[1]["value"] == pytest.approx(100 * (11 / 12 - 1))


def test_filter_bottom_n_larger_than_children_keeps_all_and_ties_prefer_earlier_child():
    same = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [2.0, 4.0, 6.0], "C": [3.0, 3.0, 3.0]}, index=DAYS[:3])
    # cumulative-return(1) on day 1: A 100%, B 100% (tie), C 0%
    f2 = Filter(path="root/0/0", sort_fn="cumulative-return", sort_window=1, select="top", select_n=1,
                children=(asset("B", "root/0/0/0"), asset("A", "root/0/0/1"), asset("C", "root/0/0/2")))
    ev = evaluate(Root(name="t", children=(WeightEqual(path="root/0", children=(f2,)),)), same)
    assert ev.weights_on("2024-01-03") == {"B": 1.0}  # B listed first wins the tie
    f5 = f2.model_copy(update={"select_n": 5, "select": "bottom"})
    ev5 = evaluate(Root(name="t", children=(WeightEqual(path="root/0", children=(f5,)),)), same)
    assert ev5.weights_on("2024-01-03") == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3})


def test_inverse_volatility_weights_by_hand():
    # window 2 returns on the last day: A: 11/12-1, 13/11-1 ; B: 22/21-1, 21/22-1
    iv = WeightInverseVol(path="root/0", window=2, children=(asset("A", "root/0/0"), asset("B", "root/0/1")))
    ev = evaluate(Root(name="t", children=(iv,)), PRICES)
    ra = [11 / 12 - 1, 13 / 11 - 1]
    rb = [22 / 21 - 1, 21 / 22 - 1]
    sa, sb = np.std(ra), np.std(rb)  # ddof cancels in the ratio
    wa = (1 / sa) / (1 / sa + 1 / sb)
    got = ev.weights_on("2024-01-08")
    assert got["A"] == pytest.approx(wa, rel=1e-9)
    assert got["B"] == pytest.approx(1 - wa, rel=1e-9)
    assert not ev.valid.iloc[1] and ev.valid.iloc[2]


def test_specified_weights_and_empty_cash():
    node = WeightSpecified(path="root/0", weights=(0.6, 0.4), children=(asset("A", "root/0/0"), Empty(path="root/0/1")))
    ev = evaluate(Root(name="t", children=(node,)), PRICES)
    assert ev.weights_on("2024-01-02") == {"A": 0.6}
    assert ev.cash.iloc[0] == pytest.approx(0.4)


def test_missing_ticker_is_a_clear_data_error():
    root = Root(name="needs-x", children=(WeightEqual(path="root/0", children=(asset("XYZ", "root/0/0"),)),))
    with pytest.raises(DataError, match="XYZ"):
        evaluate(root, PRICES)


def _bundled_symphony_files():
    files = sorted((ROOT / "symphonies").glob("*"))
    shared = ROOT.parent / "shared" / "symphonies"
    if shared.is_dir():
        bundled = {f.name for f in files}
        files += sorted(p for p in shared.glob("*.clj") if p.name not in bundled)
    out = []
    have = available_tickers()
    for f in files:
        if f.suffix not in {".clj", ".json", ".edn"} or f.name.endswith("backtest_response.json"):
            continue
        try:
            with _quiet():
                root = load_symphony(f)
        except Exception:
            continue
        if tickers(root) <= have:
            out.append(f)
    return out


@contextlib.contextmanager
def _quiet():
    """Silence parser warnings (normalised weights) while loading corpus files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("path", _bundled_symphony_files(), ids=lambda p: p.name)
def test_vectorised_engine_agrees_with_per_day_reference(path):
    with _quiet():
        root = load_symphony(path)
    closes = load_adjusted_closes(sorted(tickers(root)))
    closes = closes.iloc[-700:]  # both evaluators see the same window (sub-strategy NAVs start here)
    ev = evaluate(root, closes)
    ref = ReferenceEvaluator(root, closes)
    valid_idx = np.flatnonzero(ev.valid.to_numpy())
    assert len(valid_idx) > 0, f"{path.name} never becomes valid in the last 700 sessions"
    rng = np.random.default_rng(7)
    sample = sorted(set(rng.choice(valid_idx, size=min(25, len(valid_idx)), replace=False).tolist()) | {int(valid_idx[-1])})
    for t in sample:
        want = ref.weights(t)
        got = {k: v for k, v in ev.weights.iloc[t].items() if v > 1e-12}
        assert set(got) == set(want), f"{path.name} {closes.index[t].date()}: {got} vs {want}"
        for k in want:
            assert got[k] == pytest.approx(want[k], abs=1e-12), f"{path.name} {closes.index[t].date()} {k}"
        assert math.isclose(sum(got.values()) + ev.cash.iloc[t], 1.0, abs_tol=1e-9)


@pytest.mark.parametrize("path", _bundled_symphony_files(), ids=lambda p: p.name)
def test_windowed_evaluation_equals_full_evaluation(path):
    """Evaluating only the last sessions (as live trading does) gives the full run's weights, validity and trace."""
    with _quiet():
        root = load_symphony(path)
    closes = load_adjusted_closes(sorted(tickers(root)))
    closes = closes.iloc[-700:]
    full = evaluate(root, closes)
    part = evaluate(root, closes, start=closes.index[-30])
    assert list(part.sessions) == list(closes.index[-30:])
    pd.testing.assert_frame_equal(part.weights, full.weights.iloc[-30:][part.weights.columns], check_exact=False,
                                  atol=1e-12, rtol=0)
    assert (full.weights.iloc[-30:].drop(columns=part.weights.columns).abs() < 1e-12).all().all()
    assert part.valid.tolist() == full.valid.iloc[-30:].tolist()
    for day in (closes.index[-1], closes.index[-17]):
        assert part.trace(day) == full.trace(day)
