"""The function registry (engine/functions.py): one spec per Composer function, read by every consumer."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine import describe
from engine.export import to_defsymphony_text, to_json_score, to_json_text
from engine.functions import ALIASES, FUNCTIONS, MAX_WINDOW
from engine.model import Asset, Comparison, Constant, Filter, If, IndicatorRef, Root, WeightEqual
from engine.parsing import parse_symphony

#: composer_format.md §4, in its order.
COMPOSER_FUNCTIONS = [
    "current-price", "cumulative-return", "moving-average-price", "exponential-moving-average-price",
    "moving-average-return", "relative-strength-index", "standard-deviation-price", "standard-deviation-return",
    "max-drawdown", "percentage-price-oscillator", "percentage-price-oscillator-signal",
    "moving-average-convergence-divergence", "moving-average-convergence-divergence-signal", "upper-bollinger",
    "lower-bollinger",
]

#: One valid parameter setting per function: (window, params).
SETTINGS: dict[str, tuple[int | None, tuple[tuple[str, int], ...]]] = {
    "current-price": (None, ()),
    "percentage-price-oscillator": (None, (("long-window", 26), ("short-window", 12))),
    "percentage-price-oscillator-signal": (None, (("long-window", 26), ("short-window", 12), ("smooth-window", 9))),
    "moving-average-convergence-divergence": (None, (("long-window", 26), ("short-window", 12))),
    "moving-average-convergence-divergence-signal": (None, (("long-window", 26), ("short-window", 12),
                                                             ("smooth-window", 9))),
    "upper-bollinger": (20, (("num-std", 3),)),
    "lower-bollinger": (20, ()),
}


def ref(fn: str, ticker: str = "SPY") -> IndicatorRef:
    window, params = SETTINGS.get(fn, (10, ()))
    return IndicatorRef(fn=fn, ticker=ticker, window=window, params=params)


def test_fifteen_functions_in_composer_order() -> None:
    assert list(FUNCTIONS) == COMPOSER_FUNCTIONS
    assert {a: s.name for a, s in ALIASES.items()} == {"rsi": "relative-strength-index",
                                                       "stdev-price": "standard-deviation-price",
                                                       "stdev-return": "standard-deviation-return"}


def test_units_and_percent_agree() -> None:
    percent = {fn for fn, s in FUNCTIONS.items() if s.percent}
    assert percent == {"cumulative-return", "moving-average-return", "standard-deviation-return", "max-drawdown",
                       "percentage-price-oscillator", "percentage-price-oscillator-signal"}
    assert all(s.percent == (s.unit == "percent") for s in FUNCTIONS.values())
    assert FUNCTIONS["relative-strength-index"].unit == "RSI points"
    assert FUNCTIONS["moving-average-convergence-divergence"].unit == "dollars"


def _one_function_symphony(fn: str) -> Root:
    """``if fn(SPY) > 1.5 then SPY else TLT`` beside a filter that ranks QQQ/IWM by ``fn``."""
    cond = Comparison(lhs=ref(fn), comparator="gt", rhs=Constant(value=1.5))
    window, params = SETTINGS.get(fn, (10, ()))
    return Root(name=f"rt {fn}", children=(WeightEqual(path="root/0", children=(
        If(path="root/0/0", condition=cond, then_children=(Asset(path="root/0/0/0/0", ticker="SPY"),),
           else_children=(Asset(path="root/0/0/1/0", ticker="TLT"),)),
        Filter(path="root/0/1", sort_fn=fn, sort_window=window, sort_params=params, select="top", select_n=1,
               children=(Asset(path="root/0/1/0", ticker="QQQ"), Asset(path="root/0/1/1", ticker="IWM"))),
    )),))


def _edn(value: Any) -> str:
    """The JSON score as internal EDN text (keys → keywords), as Composer's 2022 EDN scores are written."""
    if isinstance(value, dict):
        return "{" + " ".join(f":{k} {_edn(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    return json.dumps(value)


def _strip_ids(root: Root) -> dict:
    score = to_json_score(root)

    def drop(x):
        if isinstance(x, dict):
            return {k: drop(v) for k, v in x.items() if k != "id"}
        if isinstance(x, list):
            return [drop(v) for v in x]
        return x

    return drop(score)


@pytest.mark.parametrize("fn", COMPOSER_FUNCTIONS)
def test_every_function_round_trips_in_every_encoding(fn: str) -> None:
    root = _one_function_symphony(fn)
    want = _strip_ids(root)
    from_json = parse_symphony(to_json_text(root))
    from_edn = parse_symphony(_edn(to_json_score(root)))
    from_def = parse_symphony(to_defsymphony_text(root))
    for got in (from_json, from_edn, from_def):
        assert _strip_ids(got) == want
        cond = got.children[0].children[0].condition
        assert (cond.lhs.fn, cond.lhs.window, cond.lhs.params) == (fn, *SETTINGS.get(fn, (10, ())))
    spec = FUNCTIONS[fn]
    text = to_defsymphony_text(root)
    assert f"({spec.alias} " in text or f"({spec.alias})" in text


@pytest.mark.parametrize("fn,window,params,first_row", [
    ("current-price", None, (), 0),
    ("moving-average-price", 5, (), 4), ("exponential-moving-average-price", 5, (), 4),
    ("standard-deviation-price", 5, (), 4), ("max-drawdown", 5, (), 4), ("upper-bollinger", 5, (), 4),
    ("cumulative-return", 5, (), 5), ("moving-average-return", 5, (), 5), ("standard-deviation-return", 5, (), 5),
    ("relative-strength-index", 5, (), 5),
    # max(S, L) = 3 closes -> first value on row 2; signal + M - 1 = 3 + 2 - 1 = 4 closes -> row 3
    ("percentage-price-oscillator", None, (("long-window", 3), ("short-window", 2)), 2),
    ("moving-average-convergence-divergence-signal", None,
     (("long-window", 3), ("short-window", 2), ("smooth-window", 2)), 3),
])
def test_warm_up_matches_the_first_value(fn: str, window: int | None, params: tuple, first_row: int) -> None:
    spec = FUNCTIONS[fn]
    assert spec.warmup(window, params) == first_row + 1
    closes = pd.DataFrame({"x": [10, 11, 10.5, 12, 11.5, 12.5, 13, 12]},
                          index=pd.bdate_range("2024-01-01", periods=8))
    out = spec(closes, window, params)["x"].to_numpy()
    assert np.isnan(out[:first_row]).all() and not np.isnan(out[first_row:]).any()


def test_ppo_thresholds_are_described_in_percent() -> None:
    ppo = Comparison(lhs=ref("percentage-price-oscillator"), comparator="lt", rhs=Constant(value=-1.5))
    assert describe.condition_label(ppo) == "PPO(SPY, long 26, short 12) < -1.5 %"
    assert describe.condition_words(ppo) == "SPY's PPO (long 26, short 12) is below -1.5 %"
    signal = Comparison(lhs=ref("percentage-price-oscillator-signal"), comparator="gt", rhs=Constant(value=0.25))
    assert describe.condition_label(signal).endswith("> 0.25 %")
    macd = Comparison(lhs=ref("moving-average-convergence-divergence"), comparator="gt", rhs=Constant(value=2))
    assert describe.condition_label(macd) == "MACD(SPY, long 26, short 12) > 2"  # dollars: no %
    rsi = Comparison(lhs=ref("relative-strength-index"), comparator="gt", rhs=Constant(value=79))
    assert describe.condition_label(rsi) == "RSI(SPY, 10d) > 79"


@pytest.mark.parametrize("fn", COMPOSER_FUNCTIONS)
def test_percent_functions_get_a_percent_sign(fn: str) -> None:
    label = describe.condition_label(Comparison(lhs=ref(fn), comparator="gt", rhs=Constant(value=5)))
    assert label.endswith(" %") == FUNCTIONS[fn].percent
    assert label.startswith(FUNCTIONS[fn].label + "(")


def test_window_bound_is_the_registry_bound() -> None:
    assert MAX_WINDOW == 10_000
    ok = '(defsymphony "b" {} (weight-equal [(filter (rsi {:window 10000}) (select-top 1) [(asset "SPY")])]))'
    assert parse_symphony(ok).children[0].children[0].sort_window == 10_000
    from engine.errors import SymphonyParseError

    with pytest.raises(SymphonyParseError, match="window 10001 out of bounds: expected an integer from 2 to 10000"):
        parse_symphony(ok.replace("10000", "10001"))
    with pytest.raises(SymphonyParseError, match="num-std 21 out of bounds: expected an integer from 1 to 20"):
        parse_symphony('(defsymphony "b" {} (weight-equal [(filter (upper-bollinger {:window 20, :num-std 21}) '
                       '(select-top 1) [(asset "SPY")])]))')
    with pytest.raises(SymphonyParseError, match="select count 1001 out of bounds"):
        parse_symphony('(defsymphony "b" {} (weight-equal [(filter (rsi {:window 10}) (select-top 1001) '
                       '[(asset "SPY")])]))')
    with pytest.raises(SymphonyParseError, match="weight 1001.0 out of bounds"):
        parse_symphony('(defsymphony "b" {} (weight-specified 1001 (asset "SPY") 1 (asset "TLT")))')
    with pytest.raises(SymphonyParseError,
                       match=r"constant 2000000000.0 out of bounds: expected \|constant\| <= 1e\+09"):
        parse_symphony('(defsymphony "b" {} (weight-equal [(if (> (current-price "SPY") 2000000000) '
                       '[(asset "SPY")] [(asset "TLT")])]))')


def test_two_ppo_settings_are_two_cache_entries() -> None:
    from engine.evaluate import IndicatorCache

    closes = pd.DataFrame({"SPY": np.linspace(100, 130, 60)}, index=pd.bdate_range("2024-01-01", periods=60))
    cache = IndicatorCache(closes)
    a = IndicatorRef(fn="percentage-price-oscillator", ticker="SPY", params=(("long-window", 26), ("short-window", 12)))
    b = IndicatorRef(fn="percentage-price-oscillator", ticker="SPY", params=(("long-window", 35), ("short-window", 5)))
    assert a.key != b.key
    assert cache.series(a)[-1] != cache.series(b)[-1]
    assert len(cache._series) == 2
