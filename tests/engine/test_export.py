"""Export tests: every symphony file round-trips through the JSON score (and defsymphony text where expressible).

Round trip: ``parse_json_score(to_json_score(root)) == assign_ids(root)`` — exactly, ids, paths and float weights
included. ``assign_ids`` fills the ids the source did not have (defsymphony has none) with the ids the exporter
writes; for sources whose every node has an id (the JSON/EDN exports) it is the identity, so those round-trip to
``root`` itself. Bundled copies in ``symphonies/`` are always tested; ``../shared/symphonies`` when present.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from engine.errors import SymphonyError, SymphonyWarning
from engine.export import (
    SymphonyExportError,
    assign_ids,
    export_symphony,
    node_uuid,
    to_defsymphony_text,
    to_json_score,
    to_json_text,
    weight_json,
)
from engine.model import (
    Asset,
    Comparison,
    CompoundCondition,
    Constant,
    Empty,
    Filter,
    Group,
    If,
    IndicatorRef,
    MultiTickerComparison,
    Root,
    WeightEqual,
    WeightInverseVol,
    WeightSpecified,
    iter_nodes,
)
from engine.parse_common import finalize_weights, function_params
from engine.parsing import load_symphony, parse_defsymphony, parse_json_score, parse_symphony

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "symphonies"
SHARED = REPO.parent / "shared" / "symphonies"

#: Not symphonies (the same list as tests/engine/test_parsers.py).
NOT_SYMPHONIES = {
    "SOURCES.md",
    "eu_raekon_frankenbot.backtest_response.edn",
    "eu_raekon_frankenbot.backtest_response.json",
    "spy_avgo_qqq_nvda_inverse_vol.allocations.csv",
    "fomo_nomo_leveraged.simulated_holdings.txt",
}
SYMPHONY_PATTERNS = ("*.json", "*.edn", "*.clj", "*.edn.txt")

#: Files whose model defsymphony cannot express (compound / multi-ticker condition): exporting raises.
NO_DEFSYMPHONY = {"zoop_2026_frontrunner.json"}


def symphony_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = {p for pattern in SYMPHONY_PATTERNS for p in folder.glob(pattern)}
    return sorted(p for p in found if p.name not in NOT_SYMPHONIES)


BUNDLED_FILES = symphony_files(BUNDLED)
SHARED_FILES = symphony_files(SHARED)


def load_quiet(path: Path) -> Root:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SymphonyWarning)
        return load_symphony(path)


def without(value, keys=("id",)):
    """model_dump without the given keys (defsymphony has no ids and no description)."""
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, (list, tuple)):
        return [without(v, keys) for v in value]
    return value


def reparse_json(root: Root) -> Root:
    """Export, serialise, decode and parse again; re-reading must not need any repair (no warning)."""
    text = to_json_text(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymphonyWarning)
        return parse_json_score(json.loads(text))


def check_round_trip(path: Path) -> None:
    root = load_quiet(path)
    back = reparse_json(root)
    expected = assign_ids(root)
    assert back.model_dump() == expected.model_dump(), path.name
    assert back == expected
    if all(n.id is not None for n in iter_nodes(root)):
        assert back == root, f"{path.name}: every node had an id, the round trip must be the identity"
    # idempotent: exporting the re-read model gives the same text
    assert to_json_text(back) == to_json_text(root)
    # defsymphony text, where the format can express the model
    if path.name in NO_DEFSYMPHONY:
        with pytest.raises(SymphonyExportError, match="condition"):
            to_defsymphony_text(root)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymphonyWarning)
        from_text = parse_defsymphony(to_defsymphony_text(root))
    assert without(from_text.model_dump(), ("id", "description")) == without(root.model_dump(), ("id", "description"))


# ------------------------------------------------------------------------------------------------------------------
# round trip over every file


def test_bundled_corpus_is_there():
    assert len(BUNDLED_FILES) == 25, [p.name for p in BUNDLED_FILES]


@pytest.mark.parametrize("path", BUNDLED_FILES, ids=lambda p: p.name)
def test_bundled_round_trip(path):
    check_round_trip(path)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpus {SHARED} absent (fresh clone)")
@pytest.mark.parametrize("path", SHARED_FILES or [None], ids=lambda p: getattr(p, "name", "none"))
def test_shared_round_trip(path):
    assert path is not None, f"no symphony files in {SHARED}"
    check_round_trip(path)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpus {SHARED} absent (fresh clone)")
def test_shared_corpus_size():
    assert len(SHARED_FILES) == 48


# ------------------------------------------------------------------------------------------------------------------
# golden output

SECTOR_ASSETS = [
    ("SPY", "SSgA Active Trust - SPDR S&P 500 ETF Trust"),
    ("VEA", "Vanguard Group, Inc. - Vanguard FTSE Developed Markets ETF"),
    ("EEM", "BlackRock Institutional Trust Company N.A. - iShares MSCI Emerging Markets ETF"),
    ("TLT", "BlackRock Institutional Trust Company N.A. - iShares 20+ Year Treasury Bond ETF"),
    ("GLD", "SPDR Gold Trust - SPDR Gold Shares ETF"),
    ("VNQ", "Vanguard Group, Inc. - Vanguard Real Estate Index Fund ETF"),
]
SECTOR_ASSET_IDS = [
    "5a879ffa-8068-5756-a205-dfd613fd9d3d",
    "3d0831b8-b53d-5cef-8d7a-85b77d6cc699",
    "c8cdfda0-b177-53c4-a6ee-bfe5578b36b4",
    "3cf76b29-6479-530e-bfa5-9a0b2355f418",
    "1c9e389c-925f-50f2-86f0-1aff684464e7",
    "584f4aa4-4910-5f2a-a650-92c4d565281d",
]
SECTOR_SURFING_SCORE = {
    "id": "new",
    "step": "root",
    "name": "Sector Surfing",
    "description": "",
    "rebalance": "daily",
    "asset_class": "EQUITIES",
    "children": [{
        "id": "922a3de3-bc92-5c2c-9175-7f31a93d3f15",
        "step": "wt-cash-equal",
        "children": [{
            "id": "9ba5847b-8a13-59e4-b545-6b20e9c1785a",
            "step": "filter",
            "sort-by-fn": "relative-strength-index",
            "sort-by-fn-params": {"window": 14},
            "select-fn": "bottom",
            "select-n": "2",
            "children": [{"id": i, "step": "asset", "ticker": t, "name": n}
                         for i, (t, n) in zip(SECTOR_ASSET_IDS, SECTOR_ASSETS)],
        }],
    }],
}


def test_golden_sector_surfing_json():
    root = load_symphony(BUNDLED / "sector_surfing_rsi_bottom2.clj")
    score = to_json_score(root)
    assert score == SECTOR_SURFING_SCORE
    assert list(score) == ["id", "step", "name", "description", "rebalance", "asset_class", "children"]
    assert score["children"][0]["children"][0]["children"][0]["id"] == node_uuid("root/0/0/0")
    text = to_json_text(root)
    assert text == json.dumps(SECTOR_SURFING_SCORE, indent=2, ensure_ascii=False) + "\n"
    assert text == to_json_text(load_symphony(BUNDLED / "sector_surfing_rsi_bottom2.clj"))  # stable across runs


def test_golden_sector_surfing_defsymphony():
    root = load_symphony(BUNDLED / "sector_surfing_rsi_bottom2.clj")
    assert to_defsymphony_text(root) == (
        '(defsymphony\n'
        ' "Sector Surfing"\n'
        ' {:asset-class "EQUITIES", :rebalance-frequency :daily}\n'
        ' (weight-equal\n'
        '  [(filter\n'
        '    (rsi {:window 14})\n'
        '    (select-bottom 2)\n'
        + "".join(f'    {"[" if i == 0 else " "}(asset "{t}" "{n}"){"])]))" if i == 5 else ""}\n'
                  for i, (t, n) in enumerate(SECTOR_ASSETS)))


def test_golden_editor_fixed_value_compare_keeps_ids():
    """A real editor export: every node id kept; the if-children (no id in the model) get path UUIDs."""
    root = load_symphony(BUNDLED / "editor_fixed_value_compare.json")
    assert to_json_score(root) == {
        "id": "new", "step": "root", "name": "New Symphony", "description": "", "rebalance": "daily",
        "asset_class": "EQUITIES",
        "children": [{
            "id": "c7a2a9d2-a662-4104-9b35-e0b336907856", "step": "wt-cash-equal",
            "children": [{
                "id": "6b3dfda5-4e47-4076-910e-ff0ebced51c0", "step": "if",
                "children": [
                    {"id": node_uuid("root/0/0/0"), "step": "if-child", "is-else-condition?": False,
                     "lhs-fn": "relative-strength-index", "lhs-fn-params": {"window": 10}, "lhs-val": "SPY",
                     "comparator": "gt", "rhs-fixed-value?": True, "rhs-val": "80",
                     "children": [{"id": "54d49467-24a9-44f6-a880-cd89b12d4aa6", "step": "asset", "ticker": "BIL",
                                   "name": "SPDR Bloomberg 1-3 Month T-Bill ETF"}]},
                    {"id": node_uuid("root/0/0/1"), "step": "if-child", "is-else-condition?": True,
                     "children": [{"id": "cbc1ebbb-b011-4283-8194-bb4eb543b640", "step": "asset", "ticker": "SPY",
                                   "name": "SPDR S&P 500 ETF Trust"}]},
                ]}]}]}


def test_editor_rhs_function_legacy_fields():
    root = load_symphony(BUNDLED / "editor_moving_average_of_price.json")
    then_child = to_json_score(root)["children"][0]["children"][0]["children"][0]
    assert {k: v for k, v in then_child.items() if k not in ("id", "children")} == {
        "step": "if-child", "is-else-condition?": False,
        "lhs-fn": "moving-average-price", "lhs-fn-params": {"window": 10}, "lhs-val": "SPY", "comparator": "gt",
        "rhs-fixed-value?": False, "rhs-fn": "moving-average-price", "rhs-fn-params": {"window": 20},
        "rhs-val": "SPY"}


def test_current_price_has_empty_params():
    root = load_symphony(BUNDLED / "tqqq_long_term_original.json")
    first_if = next(n for n in iter_nodes(root) if isinstance(n, If))
    assert first_if.condition.lhs.fn == "current-price"
    score = to_json_score(root)

    def find(node, node_id):
        if node.get("id") == node_id:
            return node
        for c in node.get("children", []):
            hit = find(c, node_id)
            if hit:
                return hit
    then_child = find(score, first_if.id)["children"][0]
    assert then_child["lhs-fn"] == "current-price" and then_child["lhs-fn-params"] == {}
    assert then_child["rhs-fn"] == "moving-average-price" and then_child["rhs-fn-params"] == {"window": 200}


# ------------------------------------------------------------------------------------------------------------------
# weights


@pytest.mark.parametrize("name", ["testaroo_specified_filter.json", "testaroo_specified_filter.edn"])
def test_testaroo_exports_normalised_weights(name):
    root = load_quiet(BUNDLED / name)
    spec_json = to_json_score(root)["children"][0]["children"][0]["children"][0]
    assert spec_json["step"] == "wt-cash-specified"
    weights = [c["weight"] for c in spec_json["children"]]
    assert all(w["den"] == 100 for w in weights)
    assert [w["num"] for w in weights] == pytest.approx([50 / 0.68, 12 / 0.68, 6 / 0.68])
    assert math.fsum(w["num"] for w in weights) == pytest.approx(100, abs=1e-9)
    # stale weights (on the group under wt-cash-equal) are not written
    assert "weight" not in to_json_score(root)["children"][0]["children"][0]
    # read back without the normalisation warning, bit-identical weights
    back = reparse_json(root)
    assert back.children[0].children[0].children[0].weights == root.children[0].children[0].children[0].weights


def test_whole_percent_weights_are_ints():
    root = load_symphony(BUNDLED / "tecl_ftlt_v7.clj")
    score_text = to_json_text(root)
    assert '"weight": {\n' in score_text
    nums = [c["weight"]["num"] for n in _walk(to_json_score(root)) if n["step"] == "wt-cash-specified"
            for c in n["children"]]
    assert nums == [25, 75, 25, 75, 15, 85] and all(isinstance(x, int) for x in nums)


def _walk(node):
    yield node
    for c in node.get("children", []):
        yield from _walk(c)


def test_nan_weight_exports_as_zero():
    root = load_quiet(BUNDLED / "spy_qqq_cumret_nan_weight.clj")
    spec = to_json_score(root)["children"][0]
    assert [c["weight"] for c in spec["children"]] == [
        {"num": 60, "den": 100}, {"num": 25, "den": 100}, {"num": 0, "den": 100}, {"num": 15, "den": 100}]


def test_weight_representation_is_exact():
    """Any fraction: num/den gives it back bit for bit; normalised vectors re-read unchanged (no renormalisation)."""
    import random

    rng = random.Random(7)
    for _ in range(3000):
        k = rng.randint(1, 9)
        raw = [rng.choice([rng.random(), rng.randint(0, 100) / 100, rng.randint(1, 7)]) for _ in range(k)]
        if sum(raw) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SymphonyWarning)
            ws = finalize_weights(raw, path="x", source=None, child_paths=["x"] * k)
        encoded = [weight_json(w) for w in ws]
        assert all(e["num"] / e["den"] == w for e, w in zip(encoded, ws))
        with warnings.catch_warnings():
            warnings.simplefilter("error", SymphonyWarning)
            again = finalize_weights([e["num"] / e["den"] for e in encoded], path="x", source=None,
                                     child_paths=["x"] * k)
        assert again == ws


# ------------------------------------------------------------------------------------------------------------------
# hand-built models: what the corpus lacks


#: Parameter tuples in the parsers' canonical order (whatever it is), so that hand-built models equal parsed ones.
PPO_12_26 = function_params("percentage-price-oscillator", {"short-window": 12, "long-window": 26}, "x", "x")[1]
BOLL_K2 = function_params("upper-bollinger", {"window": 20, "num-std": 2}, "x", "x")[1]


def _ind(fn, ticker, window=None, params=()):
    return IndicatorRef(fn=fn, ticker=ticker, window=window, params=params)


def _asset(path, ticker, name=None):
    return Asset(path=path, ticker=ticker, name=name)


def test_empty_node_exports_as_step_empty():
    root = Root(name="cash", children=(
        WeightSpecified(path="root/0", weights=(0.5, 0.5), children=(
            _asset("root/0/0", "SPY", "SPDR"), Empty(path="root/0/1"))),))
    score = to_json_score(root)
    empty = score["children"][0]["children"][1]
    assert empty == {"id": node_uuid("root/0/1"), "step": "empty", "weight": {"num": 50, "den": 100}}
    plain = to_json_score(Root(name="e", children=(WeightEqual(path="root/0", children=(
        Empty(path="root/0/0"),)),)))["children"][0]["children"][0]
    assert {k: v for k, v in plain.items() if k != "id"} == {"step": "empty"}
    assert reparse_json(root) == assign_ids(root)
    with pytest.raises(SymphonyExportError, match="empty"):
        to_defsymphony_text(root)


def _synthetic() -> Root:
    ppo = _ind("percentage-price-oscillator", "QQQ", None, PPO_12_26)
    boll = _ind("upper-bollinger", "SPY", 20, BOLL_K2)
    rsi = _ind("relative-strength-index", "SPY", 10)
    compound = CompoundCondition(operator="all", conditions=(
        Comparison(lhs=rsi, comparator="lte", rhs=Constant(value=-0.33)),
        CompoundCondition(operator="any", conditions=(
            Comparison(lhs=_ind("current-price", "SPY"), comparator="gt", rhs=boll),
            MultiTickerComparison(operator="all", tickers=("XLK", "XLF"), lhs=_ind("cumulative-return", "%", 5),
                                  comparator="gte", rhs=_ind("cumulative-return", "SPY", 5)),
        )),
    ))
    multi = MultiTickerComparison(operator="any", tickers=("TQQQ", "SOXL"),
                                  lhs=_ind("relative-strength-index", "%", 10), comparator="gt",
                                  rhs=Constant(value=79.5))
    return Root(id="abc", name='Quote " and \\ back', description="desc", rebalance="none", corridor_width=0.07,
                children=(WeightInverseVol(path="root/0", window=21, children=(
                    Group(path="root/0/0", name=None, children=(WeightEqual(path="root/0/0/0", children=(
                        If(path="root/0/0/0/0", condition=compound,
                           then_children=(_asset("root/0/0/0/0/0/0", "BRK/B"),),
                           else_children=(_asset("root/0/0/0/0/1/0", "CRYPTO::BTC//USD", ""),
                                          _asset("root/0/0/0/0/1/1", "BIL", "T-bills"))),
                        If(path="root/0/0/0/1", condition=multi,
                           then_children=(_asset("root/0/0/0/1/0/0", "UVXY"),),
                           else_children=(Filter(path="root/0/0/0/1/1/0", sort_fn="percentage-price-oscillator",
                                                 sort_params=ppo.params, select="top", select_n=1, children=(
                                                     _asset("root/0/0/0/1/1/0/0", "TQQQ"),
                                                     _asset("root/0/0/0/1/1/0/1", "SOXL"))),)),
                    )),)),
                    Filter(path="root/0/1", sort_fn="current-price", select="bottom", select_n=3, children=(
                        _asset("root/0/1/0", "SPY"), _asset("root/0/1/1", "QQQ"))),
                    If(id="keep-me", path="root/0/2", condition=Comparison(lhs=ppo, comparator="eq",
                                                                       rhs=Constant(value=1e-05)),
                       then_children=(_asset("root/0/2/0/0", "GLD"),),
                       else_children=(_asset("root/0/2/1/0", "TLT"),)),
                )),))


def test_synthetic_round_trip_every_feature():
    root = _synthetic()
    back = reparse_json(root)
    assert back == assign_ids(root)
    assert back.id == "abc" and back.children[0].children[2].id == "keep-me"
    assert back.children[0].id == node_uuid("root/0")


def test_synthetic_condition_blocks_and_legacy_mirror():
    score = to_json_score(_synthetic())
    assert score["rebalance"] == "none" and score["rebalance-corridor-width"] == 0.07
    assert score["asset_class"] == "EQUITIES"
    inv = score["children"][0]
    assert inv["step"] == "wt-inverse-vol" and inv["window-days"] == "21"
    group = inv["children"][0]
    assert group["step"] == "group" and "name" not in group
    compound_if, multi_if = group["children"][0]["children"]
    then_child = compound_if["children"][0]
    cond = then_child["condition"]
    assert cond["condition-type"] == "compound" and cond["operator"] == "all"
    assert cond["conditions"][0] == {
        "condition-type": "binary", "lhs": {"fn": "relative-strength-index", "ticker": "SPY",
                                            "params": {"window": 10}},
        "comparator": "lte", "rhs": {"constant": -0.33}}
    inner = cond["conditions"][1]
    assert inner["operator"] == "any"
    assert inner["conditions"][0]["rhs"] == {"fn": "upper-bollinger", "ticker": "SPY",
                                             "params": {"window": 20, "num-std": 2}}
    assert inner["conditions"][0]["lhs"]["params"] == {}
    assert inner["conditions"][1] == {
        "condition-type": "binary-compound", "operator": "all", "tickers": ["XLK", "XLF"],
        "lhs": {"fn": "cumulative-return", "ticker": "%", "params": {"window": 5}}, "comparator": "gte",
        "rhs": {"fn": "cumulative-return", "ticker": "SPY", "params": {"window": 5}}}
    # legacy fields mirror the last leaf (the multi-ticker test, placeholder replaced by its last ticker)
    assert {k: then_child[k] for k in ("lhs-fn", "lhs-fn-params", "lhs-val", "comparator", "rhs-fixed-value?",
                                       "rhs-fn", "rhs-fn-params", "rhs-val")} == {
        "lhs-fn": "cumulative-return", "lhs-fn-params": {"window": 5}, "lhs-val": "XLF", "comparator": "gte",
        "rhs-fixed-value?": False, "rhs-fn": "cumulative-return", "rhs-fn-params": {"window": 5}, "rhs-val": "SPY"}
    # a top-level multi-ticker comparison is a binary-compound block of its own
    multi_child = multi_if["children"][0]
    assert multi_child["condition"]["condition-type"] == "binary-compound"
    assert (multi_child["lhs-val"], multi_child["rhs-val"], multi_child["rhs-fixed-value?"]) == ("SOXL", "79.5", True)
    flt = multi_if["children"][1]["children"][0]
    assert flt["sort-by-fn-params"] == {"short-window": 12, "long-window": 26}
    ppo_if = inv["children"][2]["children"][0]
    assert "condition" not in ppo_if
    assert ppo_if["lhs-fn-params"] == {"short-window": 12, "long-window": 26}
    assert (ppo_if["comparator"], ppo_if["rhs-val"]) == ("eq", "1e-05")
    assert inv["children"][1]["sort-by-fn-params"] == {}


def test_synthetic_defsymphony():
    root = _synthetic()
    with pytest.raises(SymphonyExportError, match=r"node root/0/0/0/0: field 'condition'"):
        to_defsymphony_text(root)
    ppo = _ind("percentage-price-oscillator", "QQQ", None, PPO_12_26)
    simple = Root(name=root.name, rebalance="none", corridor_width=0.07, children=(
        WeightInverseVol(path="root/0", window=21, children=(
            Filter(path="root/0/0", sort_fn="current-price", select="bottom", select_n=3, children=(
                _asset("root/0/0/0", "SPY"), _asset("root/0/0/1", "QQQ"))),
            If(path="root/0/1", condition=Comparison(lhs=ppo, comparator="eq", rhs=Constant(value=1e-05)),
               then_children=(_asset("root/0/1/0/0", "GLD"),), else_children=(_asset("root/0/1/1/0", "TLT"),)),
            Group(path="root/0/2", name=None, children=(WeightSpecified(path="root/0/2/0", weights=(0.3, 0.7),
                                                                        children=(
                _asset("root/0/2/0/0", "BRK/B", "Berkshire"),
                Filter(path="root/0/2/0/1", sort_fn="upper-bollinger", sort_window=20,
                       sort_params=BOLL_K2, select="top", select_n=1, children=(
                           _asset("root/0/2/0/1/0", "XLK"), _asset("root/0/2/0/1/1", "XLF"))))),)),
        )),))
    text = to_defsymphony_text(simple)
    assert text.startswith('(defsymphony\n "Quote \\" and \\\\ back"\n {:asset-class "EQUITIES", '
                           ':rebalance-threshold 0.07}\n')
    assert "(= (percentage-price-oscillator \"QQQ\" {:short-window 12, :long-window 26}) 1e-05)" in text
    assert "[(filter\n    (current-price)\n    (select-bottom 3)\n    [(asset \"SPY\" nil)" in text
    assert "(upper-bollinger {:window 20, :num-std 2})" in text and "(group\n    nil\n" in text
    back = parse_defsymphony(text)
    assert without(back.model_dump(), ("id", "description")) == without(simple.model_dump(), ("id", "description"))


def test_rebalance_none_without_corridor_and_crypto_class():
    root = Root(name="c", rebalance="none", children=(WeightEqual(path="root/0", children=(
        _asset("root/0/0", "CRYPTO::BTC//USD"), _asset("root/0/1", "CRYPTO::ETH//USD"))),))
    score = to_json_score(root)
    assert score["rebalance"] == "none" and "rebalance-corridor-width" not in score
    assert score["asset_class"] == "CRYPTO"
    assert reparse_json(root) == assign_ids(root)
    text = to_defsymphony_text(root)
    assert ':rebalance-frequency :none}' in text and '(asset "CRYPTO::BTC//USD" nil)' in text
    assert without(parse_defsymphony(text).model_dump()) == without(root.model_dump())


# ------------------------------------------------------------------------------------------------------------------
# ids and the CLI entry point


def test_assign_ids_keeps_existing_and_is_deterministic():
    root = load_symphony(BUNDLED / "gold_currency_hedge.clj")
    assert all(n.id is None for n in iter_nodes(root))
    filled = assign_ids(root)
    assert filled.id == "new"
    assert [n.id for n in iter_nodes(filled)][1:] == [node_uuid(n.path) for n in iter_nodes(root)][1:]
    assert assign_ids(filled) == filled
    js = load_symphony(BUNDLED / "tqqq_long_term_original.json")
    assert assign_ids(js) == js
    ids = [n.id for n in iter_nodes(filled)]
    assert len(set(ids)) == len(ids)


def test_export_symphony_json_and_defsymphony():
    path = BUNDLED / "sector_surfing_rsi_bottom2.clj"
    text = export_symphony(path)
    assert json.loads(text) == SECTOR_SURFING_SCORE
    assert export_symphony(str(path), fmt="json") == text
    assert parse_symphony(text) == assign_ids(load_symphony(path))
    assert export_symphony(path, fmt="defsymphony") == to_defsymphony_text(load_symphony(path))
    with pytest.raises(ValueError, match="unknown export format"):
        export_symphony(path, fmt="yaml")


def test_export_symphony_errors_name_the_file():
    path = BUNDLED / "zoop_2026_frontrunner.json"
    with pytest.raises(SymphonyExportError) as info:
        export_symphony(path, fmt="defsymphony")
    assert str(path) in str(info.value) and "root/0/0/0/0/1/0/0/1/0/0/1/0/0" in str(info.value)
    assert isinstance(info.value, SymphonyError)


def test_export_symphony_warns_on_repair():
    with pytest.warns(SymphonyWarning, match="sum to 0.68"):
        text = export_symphony(BUNDLED / "testaroo_specified_filter.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymphonyWarning)
        assert parse_symphony(text) == load_quiet(BUNDLED / "testaroo_specified_filter.json")
