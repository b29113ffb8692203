"""The compiled simulation kernel (engine/kernel.py) against the NumPy loop it replaced
(``reference_simulate_detailed`` in tests/engine/reference.py): every corpus symphony with bundled tickers, with
and without fees, threshold and calendar modes, a symphony that sells every day, gaps in prices; NumPy's
pairwise sum reproduced bit for bit; the on-disk cache written once and loaded by a later process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine.backtest as backtest
from engine import kernel
from engine.costs import MIN_FILL_NOTIONAL, CostModel
from engine.evaluate import IndicatorCache, evaluate
from engine.fees import _CENT_EPS
from engine.model import Asset, Comparison, If, Root, tickers
from engine.parsing import load_symphony
from tests.engine.reference import reference_simulate_detailed
from tests.engine.test_corpus import BACKTESTABLE, _load
from warehouse.bundled import load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("nav", "shares", "traded", "slippage", "reg_fee", "taf_fee", "cat_fee", "weights", "cash", "turnover",
          "reason", "missing")
WITH_FEES = CostModel()                            # 1 bp, SEC + TAF + CAT by trade date (Composer's defaults)
WITHOUT_FEES = CostModel(1.0, False, False, False)  # 1 bp slippage only


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| / max(|b|, 1) over finite entries (NaN must sit in the same places)."""
    assert np.array_equal(np.isnan(a), np.isnan(b))
    if a.size == 0:
        return 0.0
    ok = ~np.isnan(b)
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1.0), initial=0.0))


def assert_agree(sim, ref, rel: float = 1e-12) -> int:
    """Every field of two :class:`engine.backtest.Simulation` agrees (floats to ``rel``, the rest exactly);
    returns how many float fields are bit-identical."""
    identical = 0
    for name in FIELDS:
        a, b = getattr(sim, name), getattr(ref, name)
        assert a.shape == b.shape, name
        if a.dtype.kind in "fc":
            assert _max_rel(a, b) <= rel, (name, _max_rel(a, b))
            identical += int(np.array_equal(a, b, equal_nan=True))
        else:
            assert a.tolist() == b.tolist(), name
    return identical


def test_constants_are_the_engines():
    assert kernel._CENT_EPS == _CENT_EPS
    assert kernel._MIN_FILL_NOTIONAL == MIN_FILL_NOTIONAL


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 130, 255, 256, 257, 300, 1000, 1027,
                               4099])
def test_pairwise_sum_is_numpys_bit_for_bit(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)
        assert kernel._psum(a, n) == a.sum()
        assert kernel._psum(np.abs(a), n) == np.abs(a).sum()


def _random_case(T: int, K: int, seed: int):
    rng = np.random.default_rng(seed)
    prices = np.cumprod(1 + 0.02 * rng.standard_normal((T, K)), axis=0) * rng.uniform(5, 500, K)
    prices[: T // 10, 1] = np.nan            # a late ticker (never targeted before its first close)
    prices[T // 2: T // 2 + 7, 2] = np.nan   # a gap while held: flagged in `missing`, last close carried
    targets = rng.random((T, K)) * (rng.random((T, K)) < 0.4)
    targets[: T // 10, 1] = 0.0
    targets[:, 2] = np.maximum(targets[:, 2], 0.05)  # always held (through its gap)
    targets /= np.maximum(targets.sum(axis=1, keepdims=True), 1e-9) * rng.choice([1.0, 1.25], size=(T, 1))
    sessions = pd.bdate_range("2023-06-01", periods=T)  # crosses the CAT fee's start and three SEC rates
    return prices, targets, sessions


@pytest.mark.parametrize("K", [3, 40, 300])
@pytest.mark.parametrize("costs", [WITH_FEES, WITHOUT_FEES, CostModel(50.0), CostModel.frictionless()],
                         ids=["fees", "no-fees", "50bp-fees", "frictionless"])
@pytest.mark.parametrize("mode", ["daily", "weekly", "corridor", "none"])
def test_kernel_is_bit_identical_to_the_numpy_loop_on_random_books(K, costs, mode):
    prices, targets, sessions = _random_case(700, K, seed=K)
    if mode in ("corridor", "none"):
        # hold the targets for stretches so that drift, not only branch switches, decides
        targets = np.repeat(targets[::20], 20, axis=0)[: len(targets)]
    trade_days = {"daily": np.ones(len(sessions), dtype=bool),
                  "weekly": backtest.rebalance_mask(sessions, "weekly")}.get(mode)
    corridor = 0.02 if mode == "corridor" else None
    kw = dict(capital=25_000.0, slippage=costs.slippage, corridor=corridor, sessions=sessions, costs=costs)
    sim = backtest.simulate_detailed(prices, targets, trade_days, **kw)
    ref = reference_simulate_detailed(prices, targets, trade_days, **kw)
    assert assert_agree(sim, ref, rel=0.0) == sum(getattr(ref, f).dtype.kind == "f" for f in FIELDS)
    assert sim.missing[:, 2].any() and sim.traded.sum() > 10
    if costs.any_fee:
        assert sim.reg_fee.sum() > 0 and sim.cat_fee.sum() > 0


def test_buys_scaled_down_when_fees_do_not_fit():
    """The target keeps no cash, so every fee forces the planned buys down (the scale branch) on every day."""
    T = 300
    sessions = pd.bdate_range("2024-10-01", periods=T)
    t = np.arange(T)
    prices = np.column_stack([100 + 10 * np.sin(t / 7), 40 + 3 * np.cos(t / 5)])
    targets = np.where((t % 2 == 0)[:, None], [1.0, 0.0], [0.0, 1.0])  # a full switch (sell all) every day
    kw = dict(capital=10_000.0, slippage=WITH_FEES.slippage, sessions=sessions, costs=WITH_FEES)
    sim = backtest.simulate_detailed(prices, targets, np.ones(T, dtype=bool), **kw)
    ref = reference_simulate_detailed(prices, targets, np.ones(T, dtype=bool), **kw)
    assert_agree(sim, ref, rel=0.0)
    assert (sim.taf_fee[1:] > 0).all() and (sim.cash >= -1e-9).all()
    assert sim.cash[-1] < 1e-6  # cash ends at zero on a scaled day


class _Spy:
    """Records what run_backtest hands to simulate_detailed, runs the real one."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.real(*args, **kwargs)


def _run_both(monkeypatch, root, cache, costs):
    spy = _Spy(backtest.simulate_detailed)
    monkeypatch.setattr(backtest, "simulate_detailed", spy)
    res = backtest.run_backtest(root, cache, costs=costs)
    monkeypatch.setattr(backtest, "simulate_detailed", spy.real)
    (args, kwargs), = spy.calls
    return res, spy.real(*args, **kwargs), reference_simulate_detailed(*args, **kwargs)


def _same_result(a, b) -> None:
    """Two BacktestResults are equal field by field (floats bit for bit, NaN in the same places)."""
    for name in ("nav", "daily_return", "rebalanced", "costs", "fees", "turnover", "rebalance_reasons"):
        pd.testing.assert_series_equal(getattr(a, name), getattr(b, name), check_exact=True)
    for name in ("weights", "target_weights", "fee_breakdown"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    if b.benchmark_nav is None:
        assert a.benchmark_nav is None
    else:
        pd.testing.assert_series_equal(a.benchmark_nav, b.benchmark_nav, check_exact=True)
    for name in ("holdings", "stats", "full_stats", "benchmark_stats", "costs_summary"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if y is not None:
            assert x.keys() == y.keys() and all(x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]) for k in y), name
    assert a.warnings == b.warnings and a.data_warnings == b.data_warnings


@pytest.mark.parametrize("path", BACKTESTABLE, ids=lambda p: p.name)
def test_kernel_agrees_with_the_numpy_loop_on_every_corpus_symphony(monkeypatch, path):
    root = _load(path)
    closes = load_adjusted_closes(sorted(tickers(root)))
    cache = IndicatorCache(closes)
    full = evaluate(root, cache)  # every session of the frame (indicators computed once for every run)
    for costs in (WITH_FEES, WITHOUT_FEES):
        res, sim, ref = _run_both(monkeypatch, root, cache, costs)
        assert_agree(sim, ref)
        assert np.array_equal(res.nav.to_numpy(), ref.nav)
        if costs is WITHOUT_FEES:
            assert ref.reg_fee.sum() == ref.taf_fee.sum() == ref.cat_fee.sum() == 0.0
        # run_backtest evaluates from the earliest possible session; the same as evaluating every session
        _same_result(res, backtest.run_backtest(root, cache, costs=costs, evaluation=full))
    for start in ("2015-01-02", "2026-07-01"):
        _same_result(backtest.run_backtest(root, cache, start=start, end="2026-07-24"),
                     backtest.run_backtest(root, cache, start=start, end="2026-07-24", evaluation=full))
    if "SPY" in closes:  # the benchmark from the price matrix is benchmark_nav of the column
        pd.testing.assert_series_equal(res.benchmark_nav, backtest.benchmark_nav(
            closes["SPY"], res.nav.index, capital=res.capital, slippage=WITHOUT_FEES.slippage), check_exact=True)


def test_a_symphony_that_sells_every_day(monkeypatch):
    """SPY / BIL switched on the parity of SPY's 2-day RSI crossing 50: whole-book sales most days, 2007→2026."""
    cond = {"lhs": {"fn": "relative-strength-index", "ticker": "SPY", "window": 2}, "comparator": "gt",
            "rhs": {"value": 50.0}}
    root = Root(name="flip", rebalance="daily", children=(If(
        path="root/0", condition=Comparison.model_validate(cond),
        then_children=(Asset(ticker="BIL", path="root/0/0"),),
        else_children=(Asset(ticker="SPY", path="root/0/1"),)),))
    closes = load_adjusted_closes(["SPY", "BIL"])
    closes = closes[closes.index >= "2007-06-01"]
    res, sim, ref = _run_both(monkeypatch, root, IndicatorCache(closes), WITH_FEES)
    assert_agree(sim, ref, rel=0.0)
    switches = int((np.abs(np.diff(ref.shares, axis=0)).sum(axis=1) > 0).sum())
    assert switches > 0.4 * len(ref.nav) and res.costs_summary["reg_fee"] > 0


def test_threshold_corpus_symphony_trades_on_its_corridor(monkeypatch):
    path = next(p for p in BACKTESTABLE if _load(p).rebalance == "none" and _load(p).corridor_width)
    root = _load(path)
    res, sim, ref = _run_both(monkeypatch, root, IndicatorCache(load_adjusted_closes(sorted(tickers(root)))),
                              WITH_FEES)
    assert_agree(sim, ref, rel=0.0)
    assert set(res.rebalance_reasons.unique()) >= {"initial", "branch switch"}


def test_spy_probe_is_unchanged_by_the_kernel():
    """Composer's SPY probe (monthly, 50 bps): the golden numbers of test_backtest, through the kernel."""
    root = load_symphony(ROOT / "symphonies" / "spy_buy_hold_monthly_probe.json")
    res = backtest.run_backtest(root, load_adjusted_closes(["SPY"]), end="2026-06-18", capital=10_000,
                                slippage_bps=50)
    assert res.nav.iloc[0] == pytest.approx(10_000 / 1.005, rel=1e-12)  # the fixed point stops at 1e-10·V
    assert res.nav.iloc[-1] == pytest.approx(308153.92, rel=1e-4)


def test_cache_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert kernel.cache_dir() == tmp_path / "mine"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "below"))      # not creatable: next candidate
    if kernel._writable(ROOT / "var" / "numba-cache"):
        assert kernel.cache_dir() == ROOT / "var" / "numba-cache"     # this checkout (editable install)
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(kernel, "__file__", str(tmp_path / "site-packages" / "engine" / "kernel.py"))
    assert kernel.cache_dir() == tmp_path / "xdg" / "oragami-composer" / "numba"  # an installed package


_PROBE = """
import json, sys
from engine import kernel
secs = kernel.warm_up()
st = kernel.simulate_arrays.stats
print(json.dumps({"dir": str(kernel.cache_dir()), "hits": sum(st.cache_hits.values()),
                  "misses": sum(st.cache_misses.values()), "secs": secs}))
"""


def test_the_compiled_kernel_is_cached_on_disk_and_loaded_by_the_next_process(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "nb")}

    def probe() -> dict:
        out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = probe(), probe()
    assert first["dir"] == str(tmp_path / "nb")
    assert first["misses"] >= 1 and first["hits"] == 0          # compiled and written
    assert any((tmp_path / "nb").rglob("*.nbi"))
    assert second["misses"] == 0 and second["hits"] >= 1         # loaded back, nothing compiled


# -- the evaluator's and the indicators' fast paths against their general forms --------------------------------

def _general_selection(vals: np.ndarray, select: str, select_n: int) -> np.ndarray:
    """The filter's selection by a full stable sort and ranks (the form used for 1 < select_n < n)."""
    finite = np.isfinite(vals)
    key = np.where(finite, -vals if select == "top" else vals, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(vals))[:, None], order] = np.arange(vals.shape[1])
    return (ranks < select_n) & finite


@pytest.mark.parametrize("select", ["top", "bottom"])
@pytest.mark.parametrize("select_n", [1, 2, 4, 5])
def test_filter_fast_selections_equal_the_full_sort(select, select_n):
    """Four children, two with identical closes (ties on every session), one late (no value before its start);
    select 1 (argmin path), 2 (sort path), 4 and 5 (all kept) select as the full stable sort and ranks do, and
    the trace lists the children in the sort's order."""
    from engine.model import Filter

    rng = np.random.default_rng(3)
    days = pd.bdate_range("2020-01-01", periods=260)
    a = 100 * np.cumprod(1 + 0.01 * rng.standard_normal(260))
    b = 100 * np.cumprod(1 + 0.01 * rng.standard_normal(260))
    c = 100 * np.cumprod(1 + 0.01 * rng.standard_normal(260))
    c[:60] = np.nan
    closes = pd.DataFrame({"A": a, "B": b, "A2": a.copy(), "C": c}, index=days)
    kids = tuple(Asset(ticker=t, path=f"root/0/{j}") for j, t in enumerate(["A", "B", "A2", "C"]))
    root = Root(name="f", children=(Filter(path="root/0", sort_fn="cumulative-return", sort_window=5,
                                           select=select, select_n=select_n, children=kids),))
    ev = evaluate(root, closes)
    rec = ev.records["root/0"]
    vals = rec.data["values"]
    assert np.array_equal(rec.data["selected"], _general_selection(vals, select, select_n))
    assert np.isnan(vals[:61, 3]).all() and (vals[:, 0] == vals[:, 2])[5:].all()  # a late child, exact ties
    for i in (10, 61, 100, 259):
        finite = np.isfinite(vals[i])
        key = np.where(finite, -vals[i] if select == "top" else vals[i], np.inf)
        want = [["A", "B", "A2", "C"][j] for j in np.argsort(key, kind="stable")]
        assert [item["child"] for item in ev.trace(days[i])[0]["detail"]["ranked"]] == want
        if select_n == 1 and finite[:3].all():
            # ties: A and A2 always share a value; the earlier child (A) wins whenever they lead
            assert not ev.weights.iloc[i].get("A2", 0.0) > 0


@pytest.mark.parametrize("n", [1, 2, 3, 10, 63, 300])
def test_rolling_fast_path_is_pandas_rolling_bit_for_bit(n):
    from engine import indicators

    assert indicators._WINDOW_KERNELS is not None  # this pandas' kernels are used (checked at import)
    rng = np.random.default_rng(n)
    x = 100 * np.cumprod(1 + 0.02 * rng.standard_normal(2_000))
    x[:37] = np.nan
    x[1500] = x[1501] = x[1502]   # a flat stretch: the variance's rounding residue
    x[-5:] = np.nan
    for v in (x, np.where(np.arange(x.size) == 900, np.inf, x), x[:0], x[:n - 1] if n > 1 else x[:0]):
        s = pd.Series(v).rolling(n, min_periods=n)
        assert np.array_equal(indicators._rolling_mean_1d(v, n), s.mean().to_numpy(), equal_nan=True)
        assert np.array_equal(indicators._rolling_std_1d(v, n), s.std(ddof=1).to_numpy(), equal_nan=True)


def test_floor_kernel_reproduces_the_zero_cost_nav():
    """scripts/floor_kernel.py (Sector Surfing by hand in NumPy / TA-Lib) and the engine at zero cost agree."""
    from scripts.floor_kernel import REFERENCE, TICKERS, floor_nav

    frame = load_adjusted_closes(list(TICKERS))[list(TICKERS)]
    lo = int(frame.index.searchsorted(pd.Timestamp("2007-01-03")))
    first, nav = floor_nav(frame.to_numpy(dtype="float64"), lo)
    res = backtest.run_backtest(load_symphony(REFERENCE), frame, start="2007-01-03", costs=CostModel.frictionless())
    assert frame.index[first] == res.first_day and len(nav) == len(res.nav) > 4_700
    assert np.max(np.abs(nav - res.nav.to_numpy()) / res.nav.to_numpy()) < 1e-12


def test_the_engine_imports_talib_without_polars_and_polars_still_imports():
    code = ("import sys, engine.indicators as ind, numpy as np; assert 'polars' not in sys.modules; "
            "import polars; assert polars.Series([1.0]).len() == 1; "
            "print(float(ind.talib.RSI(np.arange(30.0) % 7, timeperiod=5)[-1]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 0.0 <= float(out.stdout) <= 100.0
