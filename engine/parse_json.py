"""JSON score and internal EDN score → :class:`engine.model.Root` (composer_format.md §1, §2).

The JSON score (``raw_value``) and the 2022 internal EDN score are the same tree (keyword ↔ string), so the EDN text is
read with ``edn_format``, turned into plain Python data (keywords → strings, BigDecimal/ratio → float) and handed to
the same score parser.

Rules implemented here (composer_format.md §2):

* dispatch on ``step``; UI metadata (§2.1: ``collapsed?``, ``suppress-incomplete-warnings?``, ``children-count``,
  asset ``price``/``exchange``, filter ``select?``/``sort-by?``, …) is ignored;
* ``weight {num, den}`` (numbers or numeric strings) is read **only** on direct children of ``wt-cash-specified``;
  stale weights elsewhere are ignored; weights are normalised to sum 1 (see :func:`finalize_weights`);
* windows come from ``*-fn-params.window``, else the older ``*-window-days`` string;
* legacy if-child comparison: ``rhs-fixed-value?`` true → constant ``rhs-val`` (leftover ``rhs-fn`` ignored);
  otherwise ``rhs-fn`` of ticker ``rhs-val``; a ``condition`` block, when present, is authoritative;
* an ``if`` has exactly two ``if-child`` nodes, one with ``is-else-condition?`` true, in any order; in the model the
  then-branch is path ``<if>/0`` and the else-branch ``<if>/1`` whatever the source order;
* root: ``rebalance`` (default ``daily``), ``rebalance-corridor-width`` (EDN spelling ``rebalance-threshold``) only with
  ``rebalance == "none"``, exactly one weight-node child.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import edn_format
from pydantic import ValidationError

from engine.errors import SymphonyError, SymphonyLimitError, SymphonyParseError
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
)
from engine.parse_common import (
    COMPARATORS,
    INVERSE_VOL_MIN_WINDOW,
    MAX_SELECT_N,
    check_function,
    check_node_count,
    check_text_limits,
    describe,
    fail,
    finalize_weights,
    function_params,
    normalise_ticker,
    to_bounded_number,
    to_number,
    to_positive_int,
)

REBALANCE_VALUES = ("none", "daily", "weekly", "monthly", "quarterly", "yearly")
WEIGHT_STEPS = ("wt-cash-equal", "wt-cash-specified", "wt-inverse-vol")
NODE_STEPS = (*WEIGHT_STEPS, "group", "if", "filter", "asset", "empty")


# --------------------------------------------------------------------------------------------------------------------
# unwrapping


def unwrap_score(obj: Any) -> dict:
    """Find the score tree in the shapes Composer ships it in.

    Accepted: the bare score (``{"step": "root", …}``), ``{"symphony": {"raw_value": score}}`` (backtest request body),
    ``{"raw_value": score}``, ``{"symphony": score}`` (EDN backtest request ``{:symphony {…}}``) and the captured
    request+response wrapper ``{"_request_body": {"symphony": {"raw_value": score}}, …}``. A ``raw_value`` given as a
    JSON string is decoded.
    """
    for _ in range(6):
        if isinstance(obj, str):
            check_text_limits(obj)
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as exc:
                fail(f"'raw_value' is a string but not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                     None, "raw_value")
            except (ValueError, RecursionError) as exc:  # e.g. an integer literal over Python's digit limit
                fail(f"'raw_value' is a string but not a readable JSON score: {exc}", None, "raw_value")
            continue
        if not isinstance(obj, dict):
            fail(f"expected a symphony score object, got {type(obj).__name__}")
        if "step" in obj:
            return obj
        for key in ("_request_body", "symphony", "raw_value"):
            if key in obj:
                obj = obj[key]
                break
        else:
            keys = ", ".join(sorted(map(str, obj))[:8])
            fail(f"not a symphony score: no 'step', 'symphony' or 'raw_value' key (keys: {keys})", None, "step")
    fail("not a symphony score: wrapped too deeply")


# --------------------------------------------------------------------------------------------------------------------
# EDN → plain data


_EDN_KEY_TYPES = (str, int, float, bool, type(None))


def edn_to_python(value: Any) -> Any:
    """EDN data → JSON-like Python: keywords/symbols → their name, maps → dict, vectors/lists → list, numbers → float.

    Raises:
        SymphonyParseError: a map key that is not a keyword, symbol, string or number (e.g. a vector or a map used
            as a key), or a number too large for a float.
    """
    if isinstance(value, (edn_format.Keyword, edn_format.Symbol)):
        return value.name
    if isinstance(value, (dict, edn_format.ImmutableDict)):
        out = {}
        for k, v in value.items():
            key = edn_to_python(k)
            if not isinstance(key, _EDN_KEY_TYPES):
                fail(f"malformed EDN score: a map key must be a keyword, string or number, got {describe(k)}",
                     None, "key")
            out[key] = edn_to_python(v)
        return out
    if isinstance(value, (list, tuple, edn_format.ImmutableList)):
        return [edn_to_python(v) for v in value]
    if isinstance(value, (Decimal, Fraction)):
        try:
            return float(value)
        except (OverflowError, ValueError):
            fail(f"number out of range in EDN: {describe(value)}")
    if isinstance(value, edn_format.TaggedElement):
        return str(value)
    return value


def count_score_nodes(data: Any) -> int:
    """Number of tree nodes (objects with a ``step``) in decoded score data; iterative, stops past the limit."""
    from engine.parse_common import MAX_BRACKETS, MAX_NODES

    count, stack, containers = 0, [data], 0
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            containers += 1
            if containers > MAX_BRACKETS:  # also ends a cycle (an object that contains itself)
                raise SymphonyLimitError(f"too many nested objects (more than {MAX_BRACKETS:,}), or an object "
                                         "that contains itself")
        if isinstance(item, dict):
            if "step" in item:
                count += 1
                if count > MAX_NODES:
                    break
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_edn_score_text(text: str) -> dict:
    """Read the internal EDN score, or the ``*.backtest_request.edn.txt`` form (a JSON string holding EDN)."""
    stripped = text.lstrip("\ufeff").strip()
    check_text_limits(stripped)
    if stripped.startswith('"'):
        try:
            inner = json.loads(stripped)
        except json.JSONDecodeError as exc:
            fail(f"malformed JSON string around the EDN request: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        if not isinstance(inner, str):
            fail("malformed EDN wrapper: expected a JSON string containing EDN")
        stripped = inner.strip()
        check_text_limits(stripped)
    try:
        forms = edn_format.loads_all(stripped)
    except Exception as exc:  # edn_format raises EDNDecodeError and, on some input, lexer errors
        fail(f"malformed EDN: {exc}")
    if len(forms) != 1:
        fail(f"malformed EDN: expected one map, found {len(forms)} top-level forms")
    data = edn_to_python(forms[0])
    check_node_count(count_score_nodes(data))
    if not isinstance(data, dict):
        fail(f"malformed EDN score: expected a map, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------------------------------------------------
# score parser


def window_params(node: dict, params_key: str, days_key: str, path: str) -> tuple[dict, str]:
    """The parameter map of a function: ``<params_key>`` (current exports, ``{"window": N}``), its ``window`` taken
    from the older ``<days_key>`` string when the map has none. Returns the map and the field to blame."""
    params = node.get(params_key)
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        fail(f"bad parameters {describe(params)}: expected an object", path, params_key)
    if "window" in params or node.get(days_key) is None:
        return params, params_key
    return {**params, "window": node[days_key]}, days_key


class ScoreParser:
    """Parses one score dict (JSON or converted EDN). ``source`` only labels warnings."""

    def __init__(self, source: str | None = None) -> None:
        self.source = source

    # -- root ---------------------------------------------------------------------------------------------------------
    def root(self, obj: Any) -> Root:
        score = unwrap_score(obj)
        path = "root"
        step = score.get("step")
        if step != "root":
            fail(f"expected step 'root' at the top of the score, got {describe(step)}", path, "step")
        name = score.get("name", "")
        if name is None:
            name = ""
        if not isinstance(name, str):
            fail(f"bad name {describe(name)}", path, "name")
        description = score.get("description")
        if description is not None and not isinstance(description, str):
            fail(f"bad description {describe(description)}", path, "description")
        rebalance, corridor = self.rebalance(score, path)
        children = self.children_list(score, path)
        if len(children) != 1:
            fail(f"root must have exactly one child (a weight node), found {len(children)}", path, "children")
        child_step = children[0].get("step") if isinstance(children[0], dict) else None
        if child_step not in WEIGHT_STEPS:
            fail(f"root child must be a weight node ({', '.join(WEIGHT_STEPS)}), got {describe(child_step)}",
                 f"{path}/0", "step")
        child = self.node(children[0], f"{path}/0")
        return self.build(Root, path, id=self.node_id(score, path), name=name, description=description or None,
                          rebalance=rebalance, corridor_width=corridor, children=(child,))

    def rebalance(self, score: dict, path: str) -> tuple[str, float | None]:
        raw = score.get("rebalance")
        corridor_raw = score.get("rebalance-corridor-width", score.get("rebalance-threshold"))
        field = "rebalance-corridor-width" if "rebalance-corridor-width" in score else "rebalance-threshold"
        if raw is None:
            rebalance = "none" if corridor_raw is not None else "daily"
        elif isinstance(raw, str) and raw in REBALANCE_VALUES:
            rebalance = raw
        else:
            fail(f"bad rebalance {describe(raw)} (expected one of {', '.join(REBALANCE_VALUES)})", path, "rebalance")
        corridor = None
        if corridor_raw is not None:
            if rebalance != "none":
                fail(f"a corridor width is only allowed with rebalance 'none', not '{rebalance}'", path, field)
            corridor = to_number(corridor_raw, path, field)
            if not (math.isfinite(corridor) and 0 < corridor <= 1):
                fail(f"bad corridor width {describe(corridor_raw)}: expected a fraction in (0, 1]", path, field)
        return rebalance, corridor

    # -- helpers ------------------------------------------------------------------------------------------------------
    @staticmethod
    def build(cls, path: str, **fields):
        try:
            return cls(path=path, **fields)
        except ValidationError as exc:  # should not happen: every field is validated first
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise SymphonyParseError(f"invalid {cls.__name__}: {first.get('msg')}", node_path=path,
                                     field=loc or None) from exc

    @staticmethod
    def node_id(node: dict, path: str) -> str | None:
        value = node.get("id")
        if value is None:
            return None
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        fail(f"bad id {describe(value)}", path, "id")

    @staticmethod
    def children_list(node: dict, path: str, *, allow_empty: bool = False) -> list:
        children = node.get("children")
        if children is None:
            fail("missing children", path, "children")
        if not isinstance(children, list):
            fail(f"children must be a list, got {type(children).__name__}", path, "children")
        if not children and not allow_empty:
            fail(f"'{node.get('step')}' node has no children", path, "children")
        return children

    def nodes(self, children: list, prefix: str) -> tuple:
        return tuple(self.node(child, f"{prefix}/{i}") for i, child in enumerate(children))

    # -- nodes --------------------------------------------------------------------------------------------------------
    def node(self, node: Any, path: str):
        if not isinstance(node, dict):
            fail(f"expected a node object, got {type(node).__name__}", path)
        step = node.get("step")
        if step is None:
            fail("missing step", path, "step")
        if step == "if-child":
            fail("'if-child' outside an 'if' node", path, "step")
        if step == "root":
            fail("nested 'root' node", path, "step")
        handler = {
            "wt-cash-equal": self.weight_equal,
            "wt-cash-specified": self.weight_specified,
            "wt-inverse-vol": self.weight_inverse_vol,
            "group": self.group,
            "if": self.if_node,
            "filter": self.filter,
            "asset": self.asset,
            "empty": self.empty,
        }.get(step) if isinstance(step, str) else None
        if handler is None:
            fail(f"unknown step {describe(step)} (expected one of: {', '.join(NODE_STEPS)})", path, "step")
        return handler(node, path)

    def weight_equal(self, node: dict, path: str) -> WeightEqual:
        children = self.nodes(self.children_list(node, path), path)
        return self.build(WeightEqual, path, id=self.node_id(node, path), children=children)

    def weight_specified(self, node: dict, path: str) -> WeightSpecified:
        raw_children = self.children_list(node, path)
        raw_weights = []
        for i, child in enumerate(raw_children):
            child_path = f"{path}/{i}"
            if not isinstance(child, dict):
                fail(f"expected a node object, got {type(child).__name__}", child_path)
            raw_weights.append(self.weight(child.get("weight"), child_path))
        children = self.nodes(raw_children, path)
        weights = finalize_weights(raw_weights, path=path, source=self.source,
                                   child_paths=[f"{path}/{i}" for i in range(len(raw_children))])
        return self.build(WeightSpecified, path, id=self.node_id(node, path), children=children, weights=weights)

    @staticmethod
    def weight(value: Any, path: str) -> float:
        if value is None:
            fail("child of 'wt-cash-specified' has no weight", path, "weight")
        if not isinstance(value, dict) or "num" not in value:
            fail(f"bad weight {describe(value)}: expected {{num, den}}", path, "weight")
        num = to_number(value["num"], path, "weight")
        den = to_number(value.get("den", 100), path, "weight")
        if not math.isfinite(den) or den <= 0:
            fail(f"bad weight denominator {describe(value.get('den'))}", path, "weight")
        return num / den

    def weight_inverse_vol(self, node: dict, path: str) -> WeightInverseVol:
        if "window-days" not in node:
            fail("missing window-days", path, "window-days")
        window = to_positive_int(node["window-days"], path, "window-days", minimum=INVERSE_VOL_MIN_WINDOW)
        children = self.nodes(self.children_list(node, path), path)
        return self.build(WeightInverseVol, path, id=self.node_id(node, path), window=window, children=children)

    def group(self, node: dict, path: str) -> Group:
        name = node.get("name")
        if name is not None and not isinstance(name, str):
            fail(f"bad group name {describe(name)}", path, "name")
        raw_children = self.children_list(node, path)
        if len(raw_children) != 1:
            fail(f"a group must have exactly one child (a weight node), found {len(raw_children)}", path, "children")
        child_step = raw_children[0].get("step") if isinstance(raw_children[0], dict) else None
        if child_step not in WEIGHT_STEPS:
            fail(f"a group's child must be a weight node ({', '.join(WEIGHT_STEPS)}), got {describe(child_step)}",
                 f"{path}/0", "step")
        children = self.nodes(raw_children, path)
        return self.build(Group, path, id=self.node_id(node, path), name=name, children=children)

    def asset(self, node: dict, path: str) -> Asset:
        if "ticker" not in node:
            fail("asset without ticker", path, "ticker")
        ticker = normalise_ticker(node["ticker"], path, "ticker")
        if node.get("children"):
            fail("an asset cannot have children", path, "children")
        name = node.get("name")
        if name is not None and not isinstance(name, str):
            fail(f"bad asset name {describe(name)}", path, "name")
        return self.build(Asset, path, id=self.node_id(node, path), ticker=ticker, name=name)

    def empty(self, node: dict, path: str) -> Empty:
        return self.build(Empty, path, id=self.node_id(node, path))

    def filter(self, node: dict, path: str) -> Filter:
        fn = check_function(node.get("sort-by-fn"), path, "sort-by-fn")
        params, field = window_params(node, "sort-by-fn-params", "sort-by-window-days", path)
        window, extra = function_params(fn, params, path, field)
        select = node.get("select-fn")
        if select not in ("top", "bottom"):
            fail(f"bad select-fn {describe(select)} (expected 'top' or 'bottom')", path, "select-fn")
        if "select-n" not in node:
            fail("missing select-n", path, "select-n")
        select_n = to_positive_int(node["select-n"], path, "select-n", what="select-n", maximum=MAX_SELECT_N)
        children = self.nodes(self.children_list(node, path), path)
        return self.build(Filter, path, id=self.node_id(node, path), sort_fn=fn, sort_window=window,
                          sort_params=extra, select=select, select_n=select_n, children=children)

    def if_node(self, node: dict, path: str) -> If:
        branches = self.children_list(node, path, allow_empty=True)
        if len(branches) != 2:
            fail(f"an 'if' needs exactly two 'if-child' nodes (then and else), found {len(branches)}",
                 path, "children")
        for i, branch in enumerate(branches):
            if not isinstance(branch, dict) or branch.get("step") != "if-child":
                got = branch.get("step") if isinstance(branch, dict) else type(branch).__name__
                fail(f"children of an 'if' must be 'if-child' nodes, got {describe(got)}", path, "children")
            flag = branch.get("is-else-condition?", False)
            if not isinstance(flag, bool):
                fail(f"bad is-else-condition? {describe(flag)}: expected true/false", f"{path}/{i}",
                     "is-else-condition?")
        else_flags = [b.get("is-else-condition?", False) for b in branches]
        if sum(else_flags) != 1:
            what = "has no else branch" if not any(else_flags) else "has two else branches"
            fail(f"'if' {what}: exactly one 'if-child' must have is-else-condition? true", path,
                 "is-else-condition?")
        then_raw = branches[else_flags.index(False)]
        else_raw = branches[else_flags.index(True)]
        then_path, else_path = f"{path}/0", f"{path}/1"
        condition = self.condition(then_raw, then_path)
        then_children = self.nodes(self.children_list(then_raw, then_path), then_path)
        else_children = self.nodes(self.children_list(else_raw, else_path), else_path)
        return self.build(If, path, id=self.node_id(node, path), condition=condition,
                          then_children=then_children, else_children=else_children)

    # -- conditions ---------------------------------------------------------------------------------------------------
    def condition(self, branch: dict, path: str):
        block = branch.get("condition")
        if block is not None:
            return self.condition_block(block, path, "condition")
        return self.legacy_comparison(branch, path)

    def legacy_comparison(self, branch: dict, path: str) -> Comparison:
        fn = check_function(branch.get("lhs-fn"), path, "lhs-fn")
        if "lhs-val" not in branch:
            fail("missing lhs-val (the ticker)", path, "lhs-val")
        lhs = self.legacy_indicator(branch, "lhs", fn, path)
        comparator = self.comparator(branch.get("comparator"), path, "comparator")
        fixed = branch.get("rhs-fixed-value?")
        if fixed is not None and not isinstance(fixed, bool):
            fail(f"bad rhs-fixed-value? {describe(fixed)}: expected true/false", path, "rhs-fixed-value?")
        if "rhs-val" not in branch:
            fail("missing rhs-val", path, "rhs-val")
        if fixed:
            rhs = self.constant(branch["rhs-val"], path, "rhs-val")
        elif branch.get("rhs-fn") is not None:
            rhs_fn = check_function(branch["rhs-fn"], path, "rhs-fn")
            rhs = self.legacy_indicator(branch, "rhs", rhs_fn, path)
        else:
            fail("right side is neither a fixed value (rhs-fixed-value? true) nor a function (rhs-fn)",
                 path, "rhs-fn")
        return Comparison(lhs=lhs, comparator=comparator, rhs=rhs)

    @staticmethod
    def legacy_indicator(branch: dict, side: str, fn: str, path: str) -> IndicatorRef:
        ticker = normalise_ticker(branch.get(f"{side}-val"), path, f"{side}-val")
        params, field = window_params(branch, f"{side}-fn-params", f"{side}-window-days", path)
        window, extra = function_params(fn, params, path, field)
        return IndicatorRef(fn=fn, ticker=ticker, window=window, params=extra)

    @staticmethod
    def comparator(value: Any, path: str, field: str) -> str:
        if value is None:
            fail("missing comparator", path, field)
        if not isinstance(value, str) or value not in COMPARATORS:
            fail(f"bad comparator {describe(value)} (expected one of gt, gte, lt, lte, eq)", path, field)
        return value

    @staticmethod
    def constant(value: Any, path: str, field: str) -> Constant:
        return Constant(value=to_bounded_number(value, path, field))

    def condition_block(self, block: Any, path: str, field: str):
        if not isinstance(block, dict):
            fail(f"bad condition {describe(block)}: expected an object", path, field)
        kind = block.get("condition-type")
        if kind == "binary":
            lhs = self.block_indicator(block.get("lhs"), path, f"{field}.lhs")
            comparator = self.comparator(block.get("comparator"), path, f"{field}.comparator")
            rhs = self.block_rhs(block.get("rhs"), path, f"{field}.rhs")
            return Comparison(lhs=lhs, comparator=comparator, rhs=rhs)
        if kind == "binary-compound":
            operator = self.operator(block.get("operator"), path, f"{field}.operator")
            tickers = block.get("tickers")
            if not isinstance(tickers, list) or not tickers:
                fail(f"bad tickers {describe(tickers)}: expected a non-empty list", path, f"{field}.tickers")
            tickers_n = tuple(normalise_ticker(t, path, f"{field}.tickers[{i}]") for i, t in enumerate(tickers))
            lhs = self.block_indicator(block.get("lhs"), path, f"{field}.lhs", placeholder=True)
            comparator = self.comparator(block.get("comparator"), path, f"{field}.comparator")
            rhs = self.block_rhs(block.get("rhs"), path, f"{field}.rhs", placeholder=True)
            return MultiTickerComparison(operator=operator, tickers=tickers_n, lhs=lhs, comparator=comparator,
                                         rhs=rhs)
        if kind == "compound":
            operator = self.operator(block.get("operator"), path, f"{field}.operator")
            conditions = block.get("conditions")
            if not isinstance(conditions, list) or not conditions:
                fail(f"bad conditions {describe(conditions)}: expected a non-empty list", path,
                     f"{field}.conditions")
            inner = tuple(self.condition_block(c, path, f"{field}.conditions[{i}]") for i, c in enumerate(conditions))
            return CompoundCondition(operator=operator, conditions=inner)
        fail(f"unknown condition-type {describe(kind)} (expected binary, binary-compound or compound)",
             path, f"{field}.condition-type")

    @staticmethod
    def operator(value: Any, path: str, field: str) -> str:
        if value not in ("any", "all"):
            fail(f"bad operator {describe(value)} (expected 'any' or 'all')", path, field)
        return value

    def block_indicator(self, value: Any, path: str, field: str, *, placeholder: bool = False) -> IndicatorRef:
        if not isinstance(value, dict):
            fail(f"bad indicator {describe(value)}: expected {{fn, ticker, params}}", path, field)
        fn = check_function(value.get("fn"), path, f"{field}.fn")
        ticker = normalise_ticker(value.get("ticker"), path, f"{field}.ticker")
        if ticker == "%" and not placeholder:
            fail("ticker placeholder '%' outside a binary-compound condition", path, f"{field}.ticker")
        params = value.get("params") or {}
        if not isinstance(params, dict):
            fail(f"bad parameters {describe(params)}: expected an object", path, f"{field}.params")
        window, extra = function_params(fn, params, path, f"{field}.params")
        return IndicatorRef(fn=fn, ticker=ticker, window=window, params=extra)

    def block_rhs(self, value: Any, path: str, field: str, *, placeholder: bool = False):
        if isinstance(value, dict) and "constant" in value:
            return self.constant(value["constant"], path, f"{field}.constant")
        return self.block_indicator(value, path, field, placeholder=placeholder)


def parse_score_object(obj: Any, source: str | None = None) -> Root:
    """Parse a decoded JSON (or converted EDN) score; errors are raised without ``source`` (the facade adds it).

    Raises:
        SymphonyParseError: anything malformed; :class:`~engine.errors.SymphonyLimitError` for more than
            :data:`engine.parse_common.MAX_NODES` nodes.
    """
    check_node_count(count_score_nodes(obj))
    try:
        return ScoreParser(source).root(obj)
    except SymphonyError:
        raise
    except RecursionError:
        fail("symphony nested too deeply")
