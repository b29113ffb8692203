"""Sub-strategy NAVs kept between evaluations (issue 12 item 3): keyed by the subtree's content and the price
prefix, shared between symphonies, extended by one session; results identical to a fresh full evaluation."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.evaluate import IndicatorCache, SubStrategyStore, content_hash, evaluate
from engine.model import (Asset, Comparison, Constant, Filter, If, IndicatorRef, Root, WeightEqual,
                          WeightInverseVol, tickers)
from engine.parsing import load_symphony
from warehouse.bundled import available_tickers, load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
#: Corpus symphonies with filters / inverse-vol over groups (sub-strategy NAVs), all tickers bundled.
WITH_SUBSTRATEGIES = ["tqqq_ftlt_kmlm_v2.clj", "nuclear_feaver_frontrunner_v5.clj", "beam_chain_algo.clj",
                      "what_have_i_done_v1a.clj"]


def _corpus(name: str) -> Path | None:
    for d in (ROOT / "symphonies", ROOT.parent / "shared" / "symphonies"):
        if (d / name).is_file():
            return d / name
    return None


def _load(name: str) -> Root:
    path = _corpus(name)
    if path is None:
        pytest.skip(f"{name} is not in the corpus here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = load_symphony(path)
    if not tickers(root) <= available_tickers():
        pytest.skip(f"{name}: tickers not bundled")
    return root


def _same(a, b, day) -> None:
    """Bit-identical weights, validity and trace on ``day``."""
    assert a.weights_on(day) == b.weights_on(day)
    assert bool(a.valid.loc[day]) == bool(b.valid.loc[day])
    assert a.trace(day) == b.trace(day)


@pytest.mark.parametrize("name", WITH_SUBSTRATEGIES)
def test_extended_by_one_session_equals_a_fresh_evaluation(name):
    """Day after day (as the daily job and a replay do), the stored NAVs are extended, never rebuilt, and every
    day's result equals a fresh full evaluation bit for bit; so do the stored NAVs."""
    root = _load(name)
    closes = load_adjusted_closes(sorted(tickers(root))).iloc[-600:]
    store = SubStrategyStore()
    for k in (4, 3, 2, 1, 0):
        frame = closes.iloc[:len(closes) - k]
        day = frame.index[-1]
        ev = evaluate(root, IndicatorCache(frame, substrategies=store), start=day)
        assert len(store) > 0 and {e.n for e in store._entries.values()} == {len(frame)}
        fresh = SubStrategyStore()
        full = evaluate(root, IndicatorCache(frame, substrategies=fresh))
        _same(ev, full, day)
        assert set(fresh._entries) == set(store._entries)
        for key, entry in fresh._entries.items():
            assert np.array_equal(store._entries[key].nav, entry.nav), key
    # a windowed evaluation over several sessions on a stored entry equals the full one too
    part = evaluate(root, IndicatorCache(closes, substrategies=store), start=closes.index[-20])
    full = evaluate(root, IndicatorCache(closes, substrategies=SubStrategyStore()))
    for day in closes.index[-20:]:
        _same(part, full, day)


def _prices(seed: int = 3, n: int = 260) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2023-01-02", periods=n)
    return pd.DataFrame({t: 50 * np.cumprod(1 + rng.normal(0.0004, 0.02, n)) for t in "ABCDE"}, index=idx)


def _group(path: str, window: int = 5) -> WeightEqual:
    """A two-branch group: A and B when RSI(A) < 60, else C."""
    cond = Comparison(lhs=IndicatorRef(fn="relative-strength-index", ticker="A", window=window), comparator="lt",
                      rhs=Constant(value=60))
    return WeightEqual(path=path, children=(
        If(path=f"{path}/0", condition=cond,
           then_children=(Asset(ticker="A", path=f"{path}/0/0"), Asset(ticker="B", path=f"{path}/0/1")),
           else_children=(Asset(ticker="C", path=f"{path}/0/2"),)),))


def _filter(path: str, window: int = 5) -> Filter:
    return Filter(path=path, sort_fn="cumulative-return", sort_window=10, select="top", select_n=1,
                  children=(_group(f"{path}/0", window), Asset(ticker="D", path=f"{path}/1")))


def test_symphonies_sharing_a_group_share_its_nav():
    one = Root(name="one", children=(_filter("root/0"),))
    two = Root(name="two", children=(WeightInverseVol(path="root/0", window=20, children=(
        _filter("root/0/0"), Asset(ticker="E", path="root/0/1"))),))
    assert content_hash(_group("root/0/0")) == content_hash(_group("root/0/0/0/0"))  # paths do not count
    assert content_hash(_group("root/0/0", 5)) != content_hash(_group("root/0/0", 6))
    closes = _prices()
    store = SubStrategyStore()
    cache = IndicatorCache(closes, substrategies=store)
    day = closes.index[-1]
    ev_one = evaluate(one, cache, start=day)
    assert len(store) == 1  # the group under the filter
    ev_two = evaluate(two, cache, start=day)
    assert len(store) == 2  # the same group, shared, and the filter under the inverse-vol
    for root, ev in ((one, ev_one), (two, ev_two)):
        _same(ev, evaluate(root, IndicatorCache(closes, substrategies=SubStrategyStore())), day)


def test_changed_prices_are_not_reused():
    root = Root(name="one", children=(_filter("root/0"),))
    closes = _prices()
    store = SubStrategyStore()
    evaluate(root, IndicatorCache(closes.iloc[:-1], substrategies=store), start=closes.index[-2])
    revised = closes.copy()
    revised.iloc[100, revised.columns.get_loc("B")] *= 1.5  # a revised close inside the stored prefix
    day = closes.index[-1]
    ev = evaluate(root, IndicatorCache(revised, substrategies=store), start=day)
    fresh = SubStrategyStore()
    _same(ev, evaluate(root, IndicatorCache(revised, substrategies=fresh)), day)
    (key, entry), = fresh._entries.items()
    assert np.array_equal(store._entries[key].nav, entry.nav)


def test_store_is_bounded_and_results_stay_exact():
    roots = [Root(name=f"r{w}", children=(_filter("root/0", w),)) for w in range(3, 9)]
    closes = _prices()
    store = SubStrategyStore(max_bytes=3 * closes.shape[0] * 8 * 2)
    cache = IndicatorCache(closes, substrategies=store)
    day = closes.index[-1]
    for root in roots:
        ev = evaluate(root, cache, start=day)
        _same(ev, evaluate(root, IndicatorCache(closes, substrategies=SubStrategyStore())), day)
    assert len(store) < len(roots) and store.nbytes <= store.max_bytes


def test_evaluation_leaves_the_model_unchanged():
    root = Root(name="two", children=(WeightEqual(path="root/0", children=(_filter("root/0/0"),)),))
    before = root.model_dump_json()
    evaluate(root, _prices(), start=_prices().index[-1])
    assert root.model_dump_json() == before
    assert root == Root.model_validate_json(before)


def test_bench_variants_are_distinct_and_deterministic():
    from scripts.bench import symphony_variants

    roots = [_load(n) for n in ("tqqq_ftlt_kmlm_v2.clj", "nuclear_feaver_frontrunner_v5.clj")]
    first = symphony_variants(roots, 60)
    keys = [v.model_dump_json(exclude={"path", "id"}) for v in first]
    assert len(set(keys)) == 60
    assert not set(keys) & {r.model_dump_json(exclude={"path", "id"}) for r in roots}
    assert keys == [v.model_dump_json(exclude={"path", "id"}) for v in symphony_variants(roots, 60)]


def test_price_columns_are_checked_once_and_only_where_read():
    closes = _prices()
    closes.iloc[50, closes.columns.get_loc("E")] = np.nan  # an interior gap in E
    cache = IndicatorCache(closes, substrategies=SubStrategyStore())
    day = closes.index[-1]
    root = Root(name="one", children=(_filter("root/0"),))  # reads A, B, C, D only
    assert evaluate(root, cache, start=day).weights_on(day)
    reads_e = Root(name="e", children=(If(path="root/0", condition=Comparison(
        lhs=IndicatorRef(fn="moving-average-price", ticker="E", window=5), comparator="gt", rhs=Constant(value=1)),
        then_children=(Asset(ticker="A", path="root/0/0"),), else_children=()),))
    with pytest.raises(ValueError, match=r"closes of 'E' have a gap at .*2023-03-1"):
        evaluate(reads_e, cache, start=day)
    assert cache.price("A").flags.writeable is False
