"""A symphony as a Graphviz tree (DOT text for ``st.graphviz_chart``), with the path taken on one day highlighted.

Pure: :func:`day_path` evaluates the tree on a price frame (:func:`engine.evaluate.evaluate`) and
:func:`tree_dot` renders the model plus, optionally, that day's path. One box per node, conditions and weights
in words (:mod:`engine.describe`); on the chosen day the reached nodes are filled, the edges followed are
bold, and the ``if``/filter boxes show the indicator values that decided them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.describe import condition_label, sort_label
from engine.evaluate import evaluate
from engine.model import (
    Asset,
    Empty,
    Filter,
    Group,
    If,
    Root,
    WeightEqual,
    WeightInverseVol,
    WeightSpecified,
)

REACHED_FILL = "#FFE08A"
REACHED_EDGE = "#D9822B"
IDLE_FILL = "#F4F5F7"
IDLE_FONT = "#6B7280"
CASH = "$USD"


@dataclass(frozen=True)
class DayPath:
    """What a symphony did on one session.

    Attributes:
        session: the session evaluated.
        reached: node paths on the path taken that day (root included).
        trace: :meth:`engine.evaluate.Evaluation.trace` entries, by node path.
        weights: target weights that day, ``{ticker: fraction}``; cash (``$USD``) when part is unallocated.
        valid: False during the warm-up (some indicator not yet defined).
    """

    session: dt.date
    reached: frozenset[str]
    trace: dict[str, dict[str, Any]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    valid: bool = True


def _label_of(child) -> str:
    """The engine's child label (trace ``child`` entries): ticker, group name or ``step path``."""
    if isinstance(child, Asset):
        return child.ticker
    name = getattr(child, "name", None)
    return f"{name}" if name else f"{child.step} {child.path}"


def _children(node) -> tuple:
    if isinstance(node, If):
        return (*node.then_children, *node.else_children)
    return getattr(node, "children", ())


def _reached(node, trace: dict[str, dict], out: set[str]) -> None:
    out.add(node.path)
    entry = trace.get(node.path)
    if isinstance(node, If):
        if entry is None:
            return
        branch = node.then_children if entry["detail"]["branch"] == "then" else node.else_children
        for child in branch:
            _reached(child, trace, out)
    elif isinstance(node, Filter):
        if entry is None:
            return
        chosen = {item["child"] for item in entry["detail"]["ranked"] if item["selected"]}
        for child in node.children:
            if _label_of(child) in chosen:
                _reached(child, trace, out)
    elif isinstance(node, WeightInverseVol):
        if entry is None:
            return
        weights = {item["child"]: item["weight"] or 0.0 for item in entry["detail"]["children"]}
        for child in node.children:
            if weights.get(_label_of(child), 0.0) > 0:
                _reached(child, trace, out)
    elif isinstance(node, WeightSpecified):
        for w, child in zip(node.weights, node.children):
            if w > 0:
                _reached(child, trace, out)
    else:
        for child in _children(node):
            _reached(child, trace, out)


def day_path(root: Root, closes: pd.DataFrame, session: Any | None = None) -> DayPath:
    """Evaluate ``root`` on ``session`` (default: the last session of ``closes``) and follow the path taken.

    Args:
        root: the parsed symphony.
        closes: wide adjusted closes up to at least ``session`` (every ticker the symphony reads).
        session: a session of ``closes``; a date that is not one is moved back to the last session before it.

    Raises:
        engine.errors.DataError: a ticker without prices, or no session on or before ``session``.
    """
    index = closes.index
    if session is None:
        ts = index[-1]
    else:
        pos = index.searchsorted(pd.Timestamp(session), side="right") - 1
        if pos < 0:
            from engine.errors import DataError

            raise DataError(f"no price history on or before {pd.Timestamp(session).date()}")
        ts = index[pos]
    ev = evaluate(root, closes, start=ts)
    trace = {e["node_path"]: e for e in ev.trace(ts)}
    reached: set[str] = set()
    _reached(root, trace, reached)
    weights = ev.weights_on(ts)
    cash = float(ev.cash.loc[ts])
    if cash > 1e-9:
        weights[CASH] = cash
    return DayPath(session=ts.date(), reached=frozenset(reached), trace=trace, weights=weights,
                   valid=bool(ev.valid.loc[ts]))


# ----------------------------------------------------------------------------------------------------------------
# DOT
# ----------------------------------------------------------------------------------------------------------------

def _pct(weight: float) -> str:
    return f"{round(weight * 100, 1):g} %"


def _value(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _short(engine_label: str) -> str:
    """``relative-strength-index(TQQQ, 10d)`` -> ``RSI(TQQQ, 10d)`` (engine trace labels to tree labels)."""
    from engine.describe import SHORT_NAMES

    fn, sep, rest = engine_label.partition("(")
    return f"{SHORT_NAMES.get(fn, fn)}{sep}{rest}" if sep else engine_label


def node_text(node) -> str:
    """The words in a node's box (no day-specific values)."""
    if isinstance(node, Root):
        text = f"{node.name}\nrebalance {node.rebalance}"
        if node.corridor_width:
            text += f" (corridor {_pct(node.corridor_width)})"
        return text
    if isinstance(node, If):
        return f"if {condition_label(node.condition)}"
    if isinstance(node, Filter):
        return f"{node.select} {node.select_n} by {sort_label(node)}"
    if isinstance(node, WeightEqual):
        return "equal weight"
    if isinstance(node, WeightSpecified):
        return " / ".join(_pct(w) for w in node.weights)
    if isinstance(node, WeightInverseVol):
        return f"inverse volatility {node.window}d"
    if isinstance(node, Group):
        return f"group: {node.name}" if node.name else "group"
    if isinstance(node, Asset):
        return node.ticker
    if isinstance(node, Empty):
        return "cash"
    return str(getattr(node, "step", node))


def decision_text(entry: dict[str, Any]) -> str:
    """The values that decided an ``if`` / filter / inverse-vol node on the day (one line per value)."""
    detail = entry.get("detail", {})
    kind = entry.get("node_type")
    if kind == "if":
        lines = []
        for c in detail.get("comparisons", []):
            lhs = f"{_short(c['lhs'])} = {_value(c['lhs_value'])}"
            rhs = c["rhs"]
            rhs = f"{_short(rhs)} = {_value(c['rhs_value'])}" if "(" in str(rhs) else str(rhs)
            symbol = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}[c["comparator"]]
            lines.append(f"{lhs} {symbol} {rhs}: {'true' if c['result'] else 'false'}")
        lines.append(f"→ {detail.get('branch')}")
        return "\n".join(lines)
    if kind == "filter":
        return "\n".join(f"{'✓' if it['selected'] else '·'} {it['child']} {_value(it['value'])}"
                         for it in detail.get("ranked", []))
    if kind == "wt-inverse-vol":
        return "\n".join(f"{it['child']} σ {_value(it['sigma_pct'])} → {_pct(it['weight'] or 0.0)}"
                         for it in detail.get("children", []))
    return ""


def _node_id(path: str) -> str:
    return "n_" + path.replace("/", "_")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _edges(node) -> list[tuple[Any, str]]:
    if isinstance(node, If):
        return [(c, "then") for c in node.then_children] + [(c, "else") for c in node.else_children]
    if isinstance(node, WeightSpecified):
        return [(c, _pct(w)) for w, c in zip(node.weights, node.children)]
    return [(c, "") for c in _children(node)]


def tree_dot(root: Root, day: DayPath | None = None) -> str:
    """The DOT text of the tree (top to bottom), ``day``'s path highlighted when given.

    Every node is a box named ``n_<path>`` (``n_root_0_1``); reached nodes are filled :data:`REACHED_FILL` and
    the edges into them drawn bold in :data:`REACHED_EDGE`; decision nodes show the day's values; assets held show
    their weight.
    """
    lines = ["digraph symphony {", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
             f'fillcolor="{IDLE_FILL}"];',
             '  edge [fontname="Helvetica", fontsize=9, color="#9CA3AF"];']
    reached = day.reached if day else frozenset()

    def visit(node) -> None:
        text = node_text(node)
        on_path = node.path in reached
        attrs = []
        if day is not None:
            entry = day.trace.get(node.path)
            if entry is not None and on_path:
                text += "\n" + decision_text(entry)
            if isinstance(node, Asset) and on_path and node.ticker in day.weights:
                text += f"\n{_pct(day.weights[node.ticker])}"
            if on_path:
                attrs += [f'fillcolor="{REACHED_FILL}"', "penwidth=2", f'color="{REACHED_EDGE}"']
            else:
                attrs += [f'fontcolor="{IDLE_FONT}"']
        attrs.insert(0, f"label={_quote(text)}")
        lines.append(f"  {_node_id(node.path)} [{', '.join(attrs)}];")
        for child, label in _edges(node):
            edge = [f"label={_quote(label)}"] if label else []
            if child.path in reached and on_path:
                edge += ["penwidth=2.5", f'color="{REACHED_EDGE}"']
            lines.append(f"  {_node_id(node.path)} -> {_node_id(child.path)}"
                         + (f" [{', '.join(edge)}]" if edge else "") + ";")
            visit(child)

    visit(root)
    lines.append("}")
    return "\n".join(lines)


__all__ = ["DayPath", "day_path", "tree_dot", "node_text", "decision_text", "REACHED_FILL", "REACHED_EDGE"]
