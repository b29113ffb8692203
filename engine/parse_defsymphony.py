"""defsymphony text (Composer "copy symphony as code") → :class:`engine.model.Root` (composer_format.md §3).

The text is EDN-compatible Clojure data and is read with ``edn_format``. Grammar::

    (defsymphony "Name" META BODY)
    META  := {:asset-class "EQUITIES", :rebalance-frequency :daily}   ; :none :daily :weekly :monthly :quarterly :yearly
           | {:asset-class "EQUITIES", :rebalance-threshold 0.05}      ; == rebalance "none" + corridor 0.05
    BODY  := (weight-equal [NODE ...]) | (weight-specified W1 NODE1 W2 NODE2 ...) | (weight-inverse-volatility N [NODE ...])
    NODE  := BODY | (group "name" [BODY]) | (asset "T" "Name") | (asset "T" nil) | (asset "T")
           | (if COND [NODE ...] [NODE ...]) | (filter (FN {:window N}) (select-top K)|(select-bottom K) [NODE ...])
    COND  := (> A B) | (< A B) | (>= A B) | (<= A B)                   ; also (= A B) → eq
    A, B  := (FN "TICKER" {:window N}) | (current-price "TICKER") | number
           | (percentage-price-oscillator "TICKER" {:short-window 12, :long-window 26})   ; also MACD
           | (percentage-price-oscillator-signal "TICKER" {:short-window 12, :long-window 26, :smooth-window 9})
           | (upper-bollinger "TICKER" {:window 20}) | (lower-bollinger "TICKER" {:window 20, :num-std 2})

Function aliases (``rsi``/``stdev-return``/``stdev-price``) come from the registry
:data:`engine.functions.ALIASES`. The parameter maps of the
multi-parameter functions follow :func:`engine.parse_common.function_params` (the same rules as the JSON score).
A comparison written with the number first (``(< 30 (rsi "SPY" {:window 10}))``) is turned round (``rsi > 30``).

``##NaN`` (and ``##Inf``/``##-Inf``) are replaced, outside strings and comments, by private symbols before reading,
so that every edn_format version reads them; a NaN weight in ``weight-specified`` follows the rule of
:func:`engine.parse_common.finalize_weights` (weight 0, with a warning).

Node paths are those of the JSON score: the defsymphony body is ``root/0``; an ``if``'s then-nodes are
``<if>/0/<i>`` and its else-nodes ``<if>/1/<i>``.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import edn_format
from edn_format import ImmutableDict, ImmutableList, Keyword, Symbol

from engine.errors import SymphonyError
from engine.model import (
    Asset,
    Comparison,
    Constant,
    Filter,
    Group,
    If,
    IndicatorRef,
    Root,
    WeightEqual,
    WeightInverseVol,
    WeightSpecified,
)
from engine.parse_common import (
    INVERSE_VOL_MIN_WINDOW,
    MAX_NODES,
    MAX_SELECT_N,
    check_function,
    check_node_count,
    describe,
    fail,
    finalize_weights,
    function_params,
    normalise_ticker,
    to_bounded_number,
    to_positive_int,
)

_SPECIAL_FLOATS = {"##NaN": "__oragami_NaN__", "##Inf": "__oragami_Inf__", "##-Inf": "__oragami_NegInf__"}
_SPECIAL_SYMBOLS = {"__oragami_NaN__": math.nan, "__oragami_Inf__": math.inf, "__oragami_NegInf__": -math.inf}
_COMPARATORS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq"}
_FLIPPED = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq"}
_WEIGHT_FORMS = ("weight-equal", "weight-specified", "weight-inverse-volatility")
_REBALANCE = ("none", "daily", "weekly", "monthly", "quarterly", "yearly")


#: One scan over the text: a string literal (with backslash escapes), a ``;`` comment, a character literal, or a
#: special float token not followed by a symbol character.
_PREPASS_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|;[^\n]*|\\.|##(?:NaN|Inf|-Inf)(?![\w\-?!*.])', re.S)


def replace_special_floats(text: str) -> str:
    """Replace ``##NaN``/``##Inf``/``##-Inf`` outside strings, comments and character literals by plain symbols.

    One regular-expression pass (O(n); a few milliseconds for the largest corpus file, 327 KB), and none at all when
    the text contains no ``##``.
    """
    if "##" not in text:
        return text
    return _PREPASS_RE.sub(lambda m: _SPECIAL_FLOATS.get(m.group(), m.group()), text)


def read_defsymphony_form(text: str) -> tuple:
    """Read the text with edn_format and return the single ``(defsymphony …)`` list form."""
    prepared = replace_special_floats(text.lstrip("\ufeff"))
    try:
        forms = edn_format.loads_all(prepared)
    except Exception as exc:  # EDNDecodeError, and lexer errors on odd input
        fail(f"malformed defsymphony text: {exc}")
    if len(forms) != 1:
        fail(f"malformed defsymphony text: expected one (defsymphony ...) form, found {len(forms)} top-level forms")
    form = forms[0]
    check_node_count(_count_nodes(form))
    if not (_is_list(form) and form and _head(form) == "defsymphony"):
        fail(f"malformed defsymphony text: expected (defsymphony \"Name\" {{...}} BODY), got {_short(form)}")
    return form


_NODE_HEADS = frozenset({"weight-equal", "weight-specified", "weight-inverse-volatility", "group", "asset", "if",
                         "filter"})


def _count_nodes(form: Any) -> int:
    """Number of node forms (``(asset …)``, ``(if …)``, …) in the read text; iterative, stops past the limit."""
    count, stack = 0, [form]
    while stack:
        item = stack.pop()
        if _is_list(item):
            if item and isinstance(item[0], Symbol) and item[0].name in _NODE_HEADS:
                count += 1
                if count > MAX_NODES:
                    break
            stack.extend(item)
        elif _is_vector(item):
            stack.extend(item)
        elif _is_map(item):
            stack.extend(item.values())
    return count


def _is_list(x: Any) -> bool:
    return isinstance(x, tuple)


def _is_vector(x: Any) -> bool:
    return isinstance(x, (ImmutableList, list))


def _is_map(x: Any) -> bool:
    return isinstance(x, (ImmutableDict, dict))


def _head(form: tuple) -> str | None:
    return form[0].name if form and isinstance(form[0], Symbol) else None


def _short(x: Any) -> str:
    if _is_list(x):
        return f"({_head(x) or '...'} ...)" if x else "()"
    if _is_vector(x):
        return "[...]"
    if _is_map(x):
        return "{...}"
    if isinstance(x, (Symbol, Keyword)):
        return str(x)
    return describe(x)


def _number(x: Any) -> float | None:
    """A numeric literal (or a special-float symbol) as float, else None; ±inf for a literal too large for a float."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float, Decimal, Fraction)):
        try:
            return float(x)
        except (OverflowError, ValueError):
            return math.inf if x > 0 else -math.inf
    if isinstance(x, Symbol) and x.name in _SPECIAL_SYMBOLS:
        return _SPECIAL_SYMBOLS[x.name]
    return None


def _map_keys(m: Any, path: str, field: str) -> dict[str, Any]:
    if not _is_map(m):
        fail(f"expected a map like {{:window 10}}, got {_short(m)}", path, field)
    out: dict[str, Any] = {}
    for k, v in m.items():
        if not isinstance(k, Keyword):
            fail(f"expected keyword keys in {{...}}, got {describe(k)}", path, field)
        out[k.name] = v
    return out


class DefsymphonyParser:
    def __init__(self, source: str | None = None) -> None:
        self.source = source

    # -- root ---------------------------------------------------------------------------------------------------------
    def root(self, text: str) -> Root:
        form = read_defsymphony_form(text)
        path = "root"
        if len(form) != 4:
            fail(f"expected (defsymphony \"Name\" {{meta}} BODY), got {len(form) - 1} argument(s)", path)
        _, name, meta, body = form
        if not isinstance(name, str):
            fail(f"symphony name must be a string, got {_short(name)}", path, "name")
        rebalance, corridor = self.meta(meta, path)
        if not (_is_list(body) and _head(body) in _WEIGHT_FORMS):
            fail("the body of defsymphony must be one weight node (weight-equal, weight-specified or "
                 f"weight-inverse-volatility), got {_short(body)}", f"{path}/0")
        child = self.node(body, f"{path}/0")
        return Root(path=path, name=name, rebalance=rebalance, corridor_width=corridor, children=(child,))

    def meta(self, meta: Any, path: str) -> tuple[str, float | None]:
        m = _map_keys(meta, path, "meta")
        freq = m.get("rebalance-frequency")
        threshold = m.get("rebalance-threshold")
        if freq is None:
            rebalance = "none" if threshold is not None else "daily"
        else:
            name = freq.name if isinstance(freq, Keyword) else freq
            if name not in _REBALANCE:
                fail(f"bad rebalance frequency {_short(freq)} (expected one of {', '.join(_REBALANCE)})",
                     path, "rebalance-frequency")
            rebalance = name
        corridor = None
        if threshold is not None:
            if rebalance != "none":
                fail(f"a rebalance threshold is only allowed without a rebalance frequency (got '{rebalance}')",
                     path, "rebalance-threshold")
            corridor = _number(threshold)
            if corridor is None or not (math.isfinite(corridor) and 0 < corridor <= 1):
                fail(f"bad rebalance threshold {_short(threshold)}: expected a fraction in (0, 1]",
                     path, "rebalance-threshold")
        return rebalance, corridor

    # -- nodes --------------------------------------------------------------------------------------------------------
    def node(self, form: Any, path: str):
        if not _is_list(form) or _head(form) is None:
            fail(f"expected a node form such as (asset ...), got {_short(form)}", path)
        head = _head(form)
        handler = {
            "weight-equal": self.weight_equal,
            "weight-specified": self.weight_specified,
            "weight-inverse-volatility": self.weight_inverse_vol,
            "group": self.group,
            "asset": self.asset,
            "if": self.if_node,
            "filter": self.filter,
        }.get(head)
        if handler is None:
            fail(f"unknown node '{head}' (expected weight-equal, weight-specified, weight-inverse-volatility, "
                 "group, asset, if or filter)", path, "step")
        return handler(form, path)

    def vector(self, x: Any, path: str, field: str, *, what: str = "nodes") -> list:
        if not _is_vector(x):
            fail(f"expected a vector [...] of {what}, got {_short(x)}", path, field)
        if len(x) == 0:
            fail(f"empty vector of {what}", path, field)
        return list(x)

    def nodes(self, items: list, prefix: str) -> tuple:
        return tuple(self.node(item, f"{prefix}/{i}") for i, item in enumerate(items))

    def weight_equal(self, form: tuple, path: str) -> WeightEqual:
        if len(form) != 2:
            fail("expected (weight-equal [NODE ...])", path, "children")
        children = self.nodes(self.vector(form[1], path, "children"), path)
        return WeightEqual(path=path, children=children)

    def weight_specified(self, form: tuple, path: str) -> WeightSpecified:
        args = list(form[1:])
        if not args or len(args) % 2:
            fail("expected (weight-specified W1 NODE1 W2 NODE2 ...): weights and nodes in pairs", path, "weight")
        raw_weights, child_forms = args[0::2], args[1::2]
        weights = []
        for i, w in enumerate(raw_weights):
            value = _number(w)
            if value is None:
                fail(f"bad weight {_short(w)}: expected a number", f"{path}/{i}", "weight")
            weights.append(value)
        children = self.nodes(child_forms, path)
        fractions = finalize_weights(weights, path=path, source=self.source,
                                     child_paths=[f"{path}/{i}" for i in range(len(children))])
        return WeightSpecified(path=path, children=children, weights=fractions)

    def weight_inverse_vol(self, form: tuple, path: str) -> WeightInverseVol:
        if len(form) != 3:
            fail("expected (weight-inverse-volatility N [NODE ...])", path, "window-days")
        window = to_positive_int(form[1], path, "window-days", minimum=INVERSE_VOL_MIN_WINDOW)
        children = self.nodes(self.vector(form[2], path, "children"), path)
        return WeightInverseVol(path=path, window=window, children=children)

    def group(self, form: tuple, path: str) -> Group:
        if len(form) != 3:
            fail("expected (group \"name\" [NODE])", path, "children")
        name = form[1]
        if name is not None and not isinstance(name, str):
            fail(f"group name must be a string, got {_short(name)}", path, "name")
        items = self.vector(form[2], path, "children")
        if len(items) != 1:
            fail(f"a group must hold exactly one weight node, found {len(items)} nodes", path, "children")
        if not (_is_list(items[0]) and _head(items[0]) in _WEIGHT_FORMS):
            fail(f"a group's node must be a weight node ({', '.join(_WEIGHT_FORMS)}), got {_short(items[0])}",
                 f"{path}/0", "step")
        children = self.nodes(items, path)
        return Group(path=path, name=name, children=children)

    def asset(self, form: tuple, path: str) -> Asset:
        if len(form) not in (2, 3):
            fail("expected (asset \"TICKER\" \"Name\")", path, "ticker")
        ticker = normalise_ticker(form[1], path, "ticker")
        name = form[2] if len(form) == 3 else None
        if name is not None and not isinstance(name, str):
            fail(f"asset name must be a string or nil, got {_short(name)}", path, "name")
        return Asset(path=path, ticker=ticker, name=name)

    def if_node(self, form: tuple, path: str) -> If:
        if len(form) != 4:
            if len(form) == 3:
                fail("'if' has no else branch: expected (if COND [then ...] [else ...])", path, "else")
            fail(f"expected (if COND [then ...] [else ...]), got {len(form) - 1} argument(s)", path, "children")
        condition = self.condition(form[1], path)
        then_children = self.nodes(self.vector(form[2], f"{path}/0", "then"), f"{path}/0")
        else_children = self.nodes(self.vector(form[3], f"{path}/1", "else"), f"{path}/1")
        return If(path=path, condition=condition, then_children=then_children, else_children=else_children)

    def filter(self, form: tuple, path: str) -> Filter:
        if len(form) != 4:
            fail("expected (filter (FN {:window N}) (select-top K) [NODE ...])", path, "children")
        sort = form[1]
        if not (_is_list(sort) and _head(sort)):
            fail(f"expected a sort function such as (rsi {{:window 10}}), got {_short(sort)}", path, "sort-by-fn")
        fn = check_function(_head(sort), path, "sort-by-fn", aliases=True)
        if len(sort) > 2:
            fail(f"expected ({_head(sort)} {{:window N}})", path, "sort-by-fn")
        params = _map_keys(sort[1], path, "sort-by-fn-params") if len(sort) == 2 else {}
        window, extra = function_params(fn, params, path, "window")
        select = form[2]
        if not (_is_list(select) and _head(select) in ("select-top", "select-bottom") and len(select) == 2):
            fail(f"expected (select-top K) or (select-bottom K), got {_short(select)}", path, "select-fn")
        select_n = to_positive_int(select[1], path, "select-n", what="select count", maximum=MAX_SELECT_N)
        children = self.nodes(self.vector(form[3], path, "children"), path)
        return Filter(path=path, sort_fn=fn, sort_window=window, sort_params=extra,
                      select="top" if _head(select) == "select-top" else "bottom", select_n=select_n,
                      children=children)

    # -- conditions ---------------------------------------------------------------------------------------------------
    def condition(self, form: Any, path: str) -> Comparison:
        if not (_is_list(form) and _head(form)):
            fail(f"expected a comparison such as (> A B), got {_short(form)}", path, "condition")
        op = _head(form)
        if op not in _COMPARATORS:
            fail(f"bad comparator '{op}' (expected >, >=, <, <= or =; compound conditions have no known "
                 "defsymphony syntax)", path, "comparator")
        if len(form) != 3:
            fail(f"expected ({op} A B), got {len(form) - 1} operand(s)", path, "condition")
        comparator = _COMPARATORS[op]
        a, b = form[1], form[2]
        if _number(a) is not None:
            if _number(b) is not None:
                fail("a comparison needs at least one indicator, got two numbers", path, "condition")
            a, b, comparator = b, a, _FLIPPED[comparator]
        lhs = self.indicator(a, path, "lhs")
        rhs_value = _number(b)
        if rhs_value is not None:
            if not math.isfinite(rhs_value):
                fail(f"bad constant {_short(b)}", path, "rhs")
            rhs: IndicatorRef | Constant = Constant(value=to_bounded_number(rhs_value, path, "rhs"))
        else:
            rhs = self.indicator(b, path, "rhs")
        return Comparison(lhs=lhs, comparator=comparator, rhs=rhs)

    def indicator(self, form: Any, path: str, field: str) -> IndicatorRef:
        if not (_is_list(form) and _head(form)):
            fail(f"expected an indicator such as (rsi \"SPY\" {{:window 10}}), got {_short(form)}", path, field)
        fn = check_function(_head(form), path, f"{field}.fn", aliases=True)
        if len(form) not in (2, 3):
            fail(f"expected ({_head(form)} \"TICKER\" {{:window N}})", path, field)
        ticker = normalise_ticker(form[1], path, f"{field}.ticker")
        params = _map_keys(form[2], path, f"{field}.params") if len(form) == 3 else {}
        window, extra = function_params(fn, params, path, f"{field}.window")
        return IndicatorRef(fn=fn, ticker=ticker, window=window, params=extra)


def parse_defsymphony_text(text: str, source: str | None = None) -> Root:
    """Parse defsymphony text; errors are raised without ``source`` (the facade adds it)."""
    try:
        return DefsymphonyParser(source).root(text)
    except SymphonyError:
        raise
    except RecursionError:
        fail("symphony nested too deeply")
