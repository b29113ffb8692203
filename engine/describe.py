"""Symphonies in words: short labels for the tree (:mod:`dashboards.present.tree`) and a plain-language description.

Pure (no Streamlit, no warehouse): functions of the parsed :class:`engine.model.Root` (moved here from
``dashboards/describe.py``). Labels, nouns and units come from the function registry
(:data:`engine.functions.FUNCTIONS`): a constant compared with a function whose unit is percent
(``cumulative-return``, ``moving-average-return``, ``standard-deviation-return``, ``max-drawdown``, PPO and its
signal) is written with ``%`` (composer_format.md §4, display units).

* :func:`indicator_label` — ``RSI(TQQQ, 10d)``; :func:`condition_label` — ``RSI(TQQQ, 10d) > 79``.
* :func:`describe` — Markdown: "Rebalances daily. Holds the 2 assets with the lowest 14-day RSI among …". Nested
  ``if`` nodes become nested bullet lists.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import assert_never

from engine.functions import FUNCTIONS
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

#: Short label per JSON name, for the tree boxes (a read-only view of the registry's ``label``).
SHORT_NAMES = MappingProxyType({name: spec.label for name, spec in FUNCTIONS.items()})

#: Noun per JSON name, for sentences ("SPY's 200-day moving average"; a view of the registry's ``noun``).
NOUNS = MappingProxyType({name: spec.noun for name, spec in FUNCTIONS.items()})


def short_label(fn: str) -> str:
    """The registry's short label of function ``fn`` (``RSI``); unknown names are returned as they are."""
    spec = FUNCTIONS.get(fn)
    return spec.label if spec is not None else fn


def noun(fn: str) -> str:
    """The registry's noun of function ``fn`` (``moving average``); unknown names are returned as they are."""
    spec = FUNCTIONS.get(fn)
    return spec.noun if spec is not None else fn


def is_percent(fn: str) -> bool:
    """True when thresholds compared with ``fn`` are in percent (registry ``percent``)."""
    spec = FUNCTIONS.get(fn)
    return bool(spec is not None and spec.percent)


SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}
VERBS = {"gt": "is above", "gte": "is at or above", "lt": "is below", "lte": "is at or below", "eq": "equals"}


def _number(value: float) -> str:
    return f"{value:g}"


def _params(params: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{k.replace('-window', '')} {v}" for k, v in params)


def indicator_label(ref: IndicatorRef) -> str:
    """``RSI(TQQQ, 10d)``, ``price(SPY)``, ``PPO(SPY, long 26, short 12)``."""
    parts = [ref.ticker]
    if ref.window is not None:
        parts.append(f"{ref.window}d")
    if ref.params:
        parts.append(_params(ref.params))
    return f"{short_label(ref.fn)}({', '.join(parts)})"


def _operand_label(operand: IndicatorRef | Constant, lhs: IndicatorRef) -> str:
    if isinstance(operand, Constant):
        return _number(operand.value) + (" %" if is_percent(lhs.fn) else "")
    return indicator_label(operand)


def condition_label(cond) -> str:
    """A condition in symbols: ``RSI(TQQQ, 10d) > 79``; compound blocks joined by ``and`` / ``or``."""
    match cond:
        case Comparison():
            return f"{indicator_label(cond.lhs)} {SYMBOLS[cond.comparator]} {_operand_label(cond.rhs, cond.lhs)}"
        case MultiTickerComparison():
            inner = f"{indicator_label(cond.lhs)} {SYMBOLS[cond.comparator]} {_operand_label(cond.rhs, cond.lhs)}"
            return f"{cond.operator} of {', '.join(cond.tickers)}: {inner}"
        case CompoundCondition():
            joiner = " and " if cond.operator == "all" else " or "
            return joiner.join(f"({condition_label(c)})" for c in cond.conditions)
        case _:
            assert_never(cond)


def sort_label(node: Filter) -> str:
    """``cumulative return 10d`` — what a filter ranks by."""
    text = short_label(node.sort_fn)
    if node.sort_window:
        text += f" {node.sort_window}d"
    if node.sort_params:
        text += f" ({_params(node.sort_params)})"
    return text


# ----------------------------------------------------------------------------------------------------------------
# Sentences
# ----------------------------------------------------------------------------------------------------------------

def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(weight: float) -> str:
    return f"{round(weight * 100, 1):g} %"


def _noun(ref: IndicatorRef) -> str:
    text = noun(ref.fn)
    if ref.window is not None:
        text = f"{ref.window}-day {text}"
    if ref.params:
        text += f" ({_params(ref.params)})"
    return text


def _subject(ref: IndicatorRef) -> str:
    return f"{ref.ticker}'s {_noun(ref)}"


def _object(ref: IndicatorRef | Constant, lhs: IndicatorRef) -> str:
    if isinstance(ref, Constant):
        return _operand_label(ref, lhs)
    if ref.ticker == lhs.ticker:
        return f"its {_noun(ref)}"
    return _subject(ref)


def condition_words(cond) -> str:
    """A condition as a clause: ``SPY's price is above its 200-day moving average``."""
    match cond:
        case Comparison():
            return f"{_subject(cond.lhs)} {VERBS[cond.comparator]} {_object(cond.rhs, cond.lhs)}"
        case MultiTickerComparison():
            inner = f"the {_noun(cond.lhs)} {VERBS[cond.comparator]} {_object(cond.rhs, cond.lhs)}"
            return f"for {cond.operator} of {_join(list(cond.tickers))}, {inner}"
        case CompoundCondition():
            joiner = " and " if cond.operator == "all" else " or "
            parts = [condition_words(c) for c in cond.conditions]
            return ("both " if cond.operator == "all" and len(parts) == 2 else "") + joiner.join(parts)
        case _:
            assert_never(cond)


def _has_if(node) -> bool:
    return any(isinstance(n, If) for n in iter_nodes(node))


def _children(node) -> tuple:
    return getattr(node, "children", ())


def _name(node) -> str:
    """A short name of a child for lists: the ticker, the group name, or its phrase."""
    if isinstance(node, Asset):
        return node.ticker
    if isinstance(node, Group) and node.name:
        return f"“{node.name}”"
    return inline(node)


def inline(node) -> str:
    """What an ``if``-free subtree holds, as a noun phrase (``SPY and TLT in equal weight``)."""
    match node:
        case Asset():
            return node.ticker
        case Empty():
            return "cash"
        case WeightEqual() | Group() | Root():
            kids = _children(node)
            if len(kids) == 1:
                return inline(kids[0])
            return f"{_join([_name(c) for c in kids])} in equal weight"
        case WeightSpecified():
            return _join([f"{_pct(w)} {_name(c)}" for w, c in zip(node.weights, node.children)])
        case WeightInverseVol():
            return f"{_join([_name(c) for c in node.children])} weighted by inverse {node.window}-day volatility"
        case Filter():
            what = "asset" if all(isinstance(c, Asset) for c in node.children) else "branch"
            count = f"the {node.select_n} {what}s" if node.select_n > 1 else f"the {what}"
            extreme = "highest" if node.select == "top" else "lowest"
            ref = IndicatorRef(fn=node.sort_fn, ticker="x", window=node.sort_window, params=node.sort_params)
            text = f"{count} with the {extreme} {_noun(ref)} among {_join([_name(c) for c in node.children])}"
            return text + (", in equal weight" if node.select_n > 1 else "")
        case If():  # callers avoid this; kept total
            return f"(if {condition_words(node.condition)})"
        case _:
            assert_never(node)


def _branch(children: tuple) -> Group:
    return Group(children=children) if len(children) != 1 else children[0]


def _block(node, indent: str) -> list[str]:
    """Markdown bullet lines for a subtree that contains an ``if``."""
    if not _has_if(node):
        return [f"{indent}- Holds {inline(node)}."]
    if isinstance(node, If):
        then, other = _branch(node.then_children), _branch(node.else_children)
        cond = condition_words(node.condition)
        if not _has_if(then) and not _has_if(other):
            return [f"{indent}- If {cond}, holds {inline(then)}; otherwise, holds {inline(other)}."]
        lines = []
        if _has_if(then):
            lines += [f"{indent}- If {cond}:"] + _block(then, indent + "  ")
        else:
            lines += [f"{indent}- If {cond}, holds {inline(then)}."]
        if _has_if(other):
            lines += [f"{indent}- Otherwise:"] + _block(other, indent + "  ")
        else:
            lines += [f"{indent}- Otherwise, holds {inline(other)}."]
        return lines
    kids = _children(node)
    if len(kids) == 1:
        return _block(kids[0], indent)
    match node:
        case WeightSpecified():
            head, shares = "Splits", [f"{_pct(w)} in" for w in node.weights]
        case WeightInverseVol():
            head, shares = f"Weights by inverse {node.window}-day volatility", ["" for _ in kids]
        case Filter():
            extreme = "highest" if node.select == "top" else "lowest"
            head, shares = f"Keeps the {node.select_n} with the {extreme} {sort_label(node)} of", ["" for _ in kids]
        case Root() | Group() | WeightEqual():
            head, shares = "Splits equally between", ["" for _ in kids]
        case Asset() | Empty() | If():  # leaves hold no if, and an if returned above
            raise AssertionError(f"unreachable: {node.step}")
        case _:
            assert_never(node)
    lines = [f"{indent}- {head}:"]
    for share, child in zip(shares, kids):
        sub = _block(child, indent + "  ")
        if share:
            sub[0] = sub[0].replace("- ", f"- {share}: ", 1)
        lines += sub
    return lines


def rebalance_sentence(root: Root) -> str:
    if root.rebalance == "none":
        if root.corridor_width:
            return (f"Rebalances when a holding drifts more than {_pct(root.corridor_width)} points from its "
                    "target.")
        return "Does not rebalance on a schedule."
    return f"Rebalances {root.rebalance}."


def describe(root: Root) -> str:
    """A plain-language description of the strategy (Markdown; one paragraph when there is no ``if``)."""
    head = rebalance_sentence(root)
    body = _branch(root.children) if root.children else Empty()
    if not _has_if(body):
        return f"{head} Holds {inline(body)}."
    lines = _block(body, "")
    if len(lines) == 1:
        return f"{head} {lines[0][2:]}"
    return head + "\n\n" + "\n".join(lines)


__all__ = ["SHORT_NAMES", "NOUNS", "short_label", "noun", "is_percent", "indicator_label", "condition_label",
           "condition_words", "sort_label", "inline",
           "describe", "rebalance_sentence"]
