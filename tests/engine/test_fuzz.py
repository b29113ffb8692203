"""Hostile input: the parsers raise only the project's own error (issue 8).

Bounded and deterministic: a fixed seed, 2,400 generated inputs (mutations of real corpus files — truncation, byte
flips, deep nesting, swapped types, huge numbers — and random JSON / EDN / defsymphony structures), a budget of
60 s on the 2-core CI machine (about 10 s measured). Every input must either parse or raise
:class:`engine.errors.SymphonyParseError` whose message is not the last-resort wrapper
(:data:`engine.parsing.UNEXPECTED`), i.e. every failure was anticipated and named. Named regression tests follow.
"""
from __future__ import annotations

import json
import random
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from engine.errors import SymphonyLimitError, SymphonyParseError
from engine.parse_common import MAX_INPUT_BYTES, MAX_NESTING, MAX_NODES
from engine.parsing import UNEXPECTED, load_symphony, parse_json_score, parse_symphony

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted(p for d in (ROOT.parent / "shared" / "symphonies", ROOT / "symphonies") if d.is_dir()
                for p in d.iterdir() if p.suffix in (".json", ".clj", ".edn") and p.stat().st_size < 30_000)
SEED = 20261201
N_INPUTS = 2_400


def _outcome(call) -> str:
    """``"ok"`` or ``"error"``; anything else (another exception class, the last-resort wrapper) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except SymphonyParseError as exc:
            assert UNEXPECTED not in str(exc), str(exc)
            return "error"
    return "ok"


# ----------------------------------------------------------------------------------------------------------------
# generators
# ----------------------------------------------------------------------------------------------------------------

_ODD_VALUES: list[Any] = [None, True, False, 0, -1, 2 ** 31, 2 ** 63, 10 ** 400, 1e308, float("nan"), float("inf"),
                          -float("inf"), "", "x", "NaN", "1e400", "9" * 400, [], [1, [2]], {}, {"a": {"b": []}},
                          {"step": "root"}, ["gt"], {"num": 1, "den": 0}]


def _swap_types(obj: Any, rng: random.Random, rate: float) -> Any:
    if isinstance(obj, dict):
        return {k: (rng.choice(_ODD_VALUES) if rng.random() < rate else _swap_types(v, rng, rate))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [rng.choice(_ODD_VALUES) if rng.random() < rate else _swap_types(v, rng, rate) for v in obj]
    return obj


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 6 or kind < 0.3:
        return rng.choice(_ODD_VALUES[:16] + ["root", "if", "asset", "wt-cash-equal", "filter", "SPY", "gt"])
    if kind < 0.6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["step", "children", "ticker", "weight", "lhs-fn", "comparator", "rhs-val", "window-days", "select-n",
            "sort-by-fn", "condition", "is-else-condition?", "num", "den", "raw_value", "symphony"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


_EDN_ATOMS = ["nil", "true", "1", "-2.5", "1/3", "1e999", "99999999999999999999999", "##NaN", "##Inf", ":step",
              ":root", ":if", ":asset", '"SPY"', "sym", "#inst \"2020-01-01\"", "\\a", "1M", "#{1 2}", ":children"]


def _random_edn(rng: random.Random, depth: int = 0) -> str:
    kind = rng.random()
    if depth > 6 or kind < 0.35:
        return rng.choice(_EDN_ATOMS)
    items = " ".join(_random_edn(rng, depth + 1) for _ in range(rng.randint(0, 5)))
    if kind < 0.55:
        return f"[{items}]"
    if kind < 0.8:
        return "{" + items + "}"  # odd counts and vectors as keys included
    return f"({items})"


_DEF_HEADS = ["weight-equal", "weight-specified", "weight-inverse-volatility", "group", "asset", "if", "filter",
              "rsi", ">", "<", "select-top", "current-price", "percentage-price-oscillator", "max-drawdown"]


def _random_defsymphony(rng: random.Random, depth: int = 0) -> str:
    if depth > 5 or rng.random() < 0.3:
        return rng.choice(_EDN_ATOMS + ['"TLT"', "{:window 10}", "{:window 2147483648}", "{:short-window 12}"])
    args = " ".join(_random_defsymphony(rng, depth + 1) for _ in range(rng.randint(0, 4)))
    form = f"({rng.choice(_DEF_HEADS)} {args})"
    return f"[{form}]" if rng.random() < 0.3 else form


def _mutations(rng: random.Random, texts: list[tuple[str, str]]):
    """Yield ``(label, callable)`` pairs, :data:`N_INPUTS` in all."""
    json_objs = []
    for name, text in texts:
        if name.endswith(".json"):
            try:
                json_objs.append(json.loads(text))
            except ValueError:
                pass
    for i in range(N_INPUTS):
        name, text = rng.choice(texts)
        kind = i % 8
        if kind == 0:  # truncation
            cut = rng.randint(0, len(text))
            yield f"truncate {name}@{cut}", (lambda t=text[:cut]: parse_symphony(t))
        elif kind == 1:  # byte flips, read back as bytes (non-UTF-8 included) through a file
            data = bytearray(text.encode("utf-8"))
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            yield f"flip {name}", ("bytes", bytes(data))
        elif kind == 2:  # deep nesting around or inside a real file
            k = rng.choice([10, 150, MAX_NESTING - 5, MAX_NESTING + 1, 1_000, 3_000])
            opener, closer = rng.choice([("[", "]"), ("{", "}"), ("(", ")")])
            pos = rng.randint(0, len(text))
            t = text[:pos] + opener * k + closer * k + text[pos:]
            yield f"nest {name}x{k}", (lambda t=t: parse_symphony(t))
        elif kind == 3 and json_objs:  # swapped types in a real JSON score
            obj = _swap_types(rng.choice(json_objs), rng, rng.choice([0.01, 0.05, 0.2]))
            if rng.random() < 0.5:
                yield "swap-types obj", (lambda o=obj: parse_json_score(o))
            else:
                t = json.dumps(obj, allow_nan=True)
                yield "swap-types text", (lambda t=t: parse_symphony(t))
        elif kind == 4:  # huge numbers in place of real ones
            digits = [j for j, ch in enumerate(text) if ch.isdigit()]
            t = text
            for j in sorted(rng.sample(digits, min(len(digits), rng.randint(1, 3))), reverse=True):
                t = t[:j] + rng.choice(["9" * 400, "1e400", "2147483648", "-0", "NaN", "5000"]) + t[j + 1:]
            yield f"huge-number {name}", (lambda t=t: parse_symphony(t))
        elif kind == 5:
            t = json.dumps(_random_json(rng), allow_nan=True)
            yield "random json", (lambda t=t: parse_symphony(t, fmt=rng.choice([None, "json"])))
        elif kind == 6:
            t = _random_edn(rng)
            yield "random edn", (lambda t=t: parse_symphony(t, fmt=rng.choice([None, "edn"])))
        else:
            t = f'(defsymphony "fuzz" {{:rebalance-frequency :daily}} {_random_defsymphony(rng)})'
            yield "random defsymphony", (lambda t=t: parse_symphony(t, fmt=rng.choice([None, "defsymphony"])))


def test_fuzz_only_the_projects_own_error(tmp_path: Path) -> None:
    assert len(CORPUS) >= 20, "the corpus moved"
    texts = [(p.name, p.read_text(encoding="utf-8-sig")) for p in CORPUS]
    rng = random.Random(SEED)
    counts = {"ok": 0, "error": 0}
    started = time.perf_counter()
    target = tmp_path / "input"
    n = 0
    for label, call in _mutations(rng, texts):
        n += 1
        if isinstance(call, tuple):
            target.write_bytes(call[1])
            call = (lambda: load_symphony(target))
        try:
            counts[_outcome(call)] += 1
        except AssertionError as exc:
            raise AssertionError(f"input {n} ({label}): {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - the point of the test
            raise AssertionError(f"input {n} ({label}) raised {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - started
    assert n == N_INPUTS
    assert counts["error"] > N_INPUTS // 2  # most mutations are refused, with our error
    assert elapsed < 60, f"{elapsed:.1f} s"


# ----------------------------------------------------------------------------------------------------------------
# named regressions
# ----------------------------------------------------------------------------------------------------------------

def test_json_nested_1000_deep() -> None:
    text = '{"step": "root", "children": ' + "[" * 1000 + "]" * 1000 + "}"
    # '{' (column 1) is level 1; the 29-character prefix ends at column 29, so the 200th '[' (level 201) is column
    # 29 + 200 = 229.
    with pytest.raises(SymphonyLimitError, match=r"nested too deeply: 1001 levels of brackets \(limit 200\); "
                                                 r"the limit is crossed at line 1, column 229"):
        parse_symphony(text, source="deep.json")


def test_edn_nested_1000_deep() -> None:
    text = "{:step :root :children " + "[" * 1000 + "]" * 1000 + "}"
    with pytest.raises(SymphonyLimitError, match=r"deep.edn: nested too deeply: 1001 levels"):
        parse_symphony(text, source="deep.edn")


def test_unhashable_edn_map_key() -> None:
    for text in ("{:step :root [1 2] 3}", "{:step :root {:a 1} 3}"):
        with pytest.raises(SymphonyParseError, match="a map key must be a keyword, string or number"):
            parse_symphony(text, source="k.edn")


IF_NODE = ('{:step :if :children [{:step :if-child :is-else-condition? false :lhs-fn :relative-strength-index '
           ':lhs-fn-params {:window 10} :lhs-val "SPY" :comparator COMPARATOR :rhs-fixed-value? true :rhs-val "50" '
           ':children [{:step :asset :ticker "SPY"}]} {:step :if-child :is-else-condition? true '
           ':children [{:step :asset :ticker "TLT"}]}]}')


@pytest.mark.parametrize("comparator", ["[:gt]", "{:a 1}", "#{:gt}"])
def test_unhashable_comparator(comparator: str) -> None:
    text = "{:step :root :children [{:step :wt-cash-equal :children [" + IF_NODE.replace("COMPARATOR", comparator) \
        + "]}]}"
    with pytest.raises(SymphonyParseError) as info:
        parse_symphony(text, source="c.edn")
    assert info.value.node_path == "root/0/0/0" and info.value.field == "comparator"
    assert "bad comparator" in info.value.message


@pytest.mark.parametrize("text,field", [
    ('(defsymphony "w" {} (weight-equal [(if (> (rsi "SPY" {:window 2147483648}) 50) [(asset "SPY")] '
     '[(asset "TLT")])]))', "lhs.window"),
    ('{"step": "root", "children": [{"step": "wt-cash-equal", "children": [{"step": "filter", '
     '"sort-by-fn": "moving-average-price", "sort-by-fn-params": {"window": 2147483648}, "select-fn": "top", '
     '"select-n": "1", "children": [{"step": "asset", "ticker": "SPY"}]}]}]}', "sort-by-fn-params"),
    ('(defsymphony "w" {} (weight-inverse-volatility 2147483648 [(asset "SPY")]))', "window-days"),
])
def test_window_of_2_to_the_31_is_refused(text: str, field: str) -> None:
    with pytest.raises(SymphonyParseError, match=r"2147483648 out of bounds: expected an integer from \d to 10000") \
            as info:
        parse_symphony(text, source="w")
    assert info.value.field == field and info.value.source == "w"


def test_window_of_2_to_the_31_exits_2_in_validate(tmp_path: Path, capsys) -> None:
    from orchestration.cli import main

    path = tmp_path / "w.clj"
    path.write_text('(defsymphony "w" {} (weight-equal [(if (> (rsi "SPY" {:window 2147483648}) 50) '
                    '[(asset "SPY")] [(asset "TLT")])]))')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: node root/0/0: field 'lhs.window': window 2147483648 out of bounds" in err
    assert "Traceback" not in err


def test_50_mb_input_is_refused_fast(tmp_path: Path) -> None:
    text = '{"step": "root", "name": "' + "x" * (50 * 1024 * 1024) + '"}'
    started = time.perf_counter()
    with pytest.raises(SymphonyLimitError, match=r"input too large: .* \(limit 5,242,880 bytes\)"):
        parse_symphony(text)
    assert time.perf_counter() - started < 0.2
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NUL bytes, written instantly
    started = time.perf_counter()
    with pytest.raises(SymphonyLimitError, match=rf"{path}: input too large: 52,428,800 bytes"):
        load_symphony(path)
    assert time.perf_counter() - started < 0.2


def test_limits_are_the_documented_ones() -> None:
    assert (MAX_INPUT_BYTES, MAX_NESTING, MAX_NODES) == (5 * 1024 * 1024, 200, 20_000)


def test_too_many_nodes() -> None:
    assets = ", ".join('{"step": "asset", "ticker": "SPY"}' for _ in range(MAX_NODES + 1))
    text = '{"step": "root", "children": [{"step": "wt-cash-equal", "children": [' + assets + "]}]}"
    with pytest.raises(SymphonyLimitError, match=r"too many nodes: 20,00\d \(limit 20,000\)"):
        parse_symphony(text)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "9" * 400, "9" * 5000])
def test_nan_infinity_and_huge_numbers(number: str) -> None:
    text = ('{"step": "root", "children": [{"step": "wt-cash-specified", "children": [{"step": "asset", '
            f'"ticker": "SPY", "weight": {{"num": {number}, "den": 100}}}}, {{"step": "asset", "ticker": "TLT", '
            '"weight": {"num": 50, "den": 100}}]}]}')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            root = parse_symphony(text)
        except SymphonyParseError as exc:
            assert UNEXPECTED not in str(exc)
            assert exc.field == "weight" or "JSON" in exc.message
            return
    assert number == "NaN" and root.children[0].weights == (0.0, 1.0)  # documented repair: NaN weight -> 0


def test_non_utf8_and_empty_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"step": "root", "name": "\xff\xfe"}')
    with pytest.raises(SymphonyParseError, match=r"bad.json: not UTF-8 text \(invalid start byte at byte 26\)"):
        load_symphony(bad)
    empty = tmp_path / "empty.clj"
    empty.write_bytes(b"")
    with pytest.raises(SymphonyParseError, match=r"empty.clj: empty input: no symphony text"):
        load_symphony(empty)


def test_validate_a_directory_is_a_message_not_a_traceback(tmp_path: Path, capsys) -> None:
    from orchestration.cli import main

    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"{tmp_path}: is a directory, not a symphony file"


def test_an_object_that_contains_itself() -> None:
    score: dict = {"step": "root", "children": []}
    score["children"].append(score)
    with pytest.raises(SymphonyLimitError, match=r"too many nodes: 20,001 \(limit 20,000\)"):
        parse_json_score(score)
    loop: list = []
    loop.append(loop)
    with pytest.raises(SymphonyLimitError, match="or an object that contains itself"):
        parse_json_score({"step": "root", "children": loop})
