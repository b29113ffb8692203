"""The typed symphony model: one tree, whatever encoding it was read from.

Every encoding (JSON score, internal EDN score, defsymphony text; composer_format.md §1) is parsed into the
pydantic classes below. The model keeps only what has meaning for evaluation (UI metadata such as ``collapsed?``
is dropped, composer_format.md §2.1) and normalises spellings: windows are ``int`` trading days, comparators are
``gt/gte/lt/lte/eq``, tickers are upper-case Composer tickers (``BRK/B``), specified weights are fractions.

Node classes (``step`` is the discriminator, as in the JSON score, composer_format.md §2.2):

* :class:`Root` — ``rebalance`` and ``corridor_width`` (fraction, only with ``rebalance == "none"``), one child.
* :class:`WeightEqual` (``wt-cash-equal``) — children share equally.
* :class:`WeightSpecified` (``wt-cash-specified``) — ``weights[i]`` (fraction) for ``children[i]``.
* :class:`WeightInverseVol` (``wt-inverse-vol``) — children ∝ 1/σ of daily returns over ``window`` days.
* :class:`Group` — a named, transparent container.
* :class:`If` — ``condition`` chooses ``then_children`` or ``else_children`` (each list shares equally).
* :class:`Filter` — ranks ``children`` by ``sort`` and keeps ``select_n`` with the ``top``/``bottom`` values.
* :class:`Asset` — a leaf ticker.
* :class:`Empty` — an unallocated (cash) share.

Conditions: :class:`Comparison` (one comparator between an :class:`IndicatorRef` and an :class:`IndicatorRef` or
:class:`Constant`), :class:`CompoundCondition` (``any``/``all`` over conditions, nestable) and
:class:`MultiTickerComparison` (the ``binary-compound`` form: one comparison applied to several tickers, ``%`` as
placeholder).

Every node has ``path``: its location in the tree as a list of child indices joined by ``/`` from the root
(``"root/0/2/1"``) — the node path used in validation errors and decision traces.
"""
from __future__ import annotations

import json
from typing import Annotated, Literal, Union, assert_never

from pydantic import BaseModel, ConfigDict, Field

Comparator = Literal["gt", "gte", "lt", "lte", "eq"]
Rebalance = Literal["none", "daily", "weekly", "monthly", "quarterly", "yearly"]

#: Facts about each indicator function (names, aliases, parameters, units, warm-up) live in one place,
#: :data:`engine.functions.FUNCTIONS`; the model keeps only the canonical form of a reference.


def params_key(params: tuple[tuple[str, int], ...]) -> str:
    """Canonical text identity of non-window params: compact JSON sorted by key, ``""`` when there are none.

    ``(("long-window", 26), ("short-window", 12))`` → ``{"long-window":26,"short-window":12}``. Used in indicator
    cache keys and as the ``params`` column (part of the primary key) of the warehouse's ``indicator_values``.
    """
    if not params:
        return ""
    return json.dumps(dict(sorted(params)), sort_keys=True, separators=(",", ":"))


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="root", description="location in the tree: child indices from the root")
    id: str | None = Field(default=None, description="Composer node id when the source had one")


class IndicatorRef(BaseModel):
    """One indicator value: ``fn`` applied to ``ticker`` with ``window`` trading days.

    ``window`` is ``None`` for ``current-price`` and the multi-window functions (PPO, MACD and their signals).
    ``params`` keeps their parameters sorted by key, so that equal references compare and hash equal (e.g.
    ``(("long-window", 26), ("short-window", 12))`` for PPO 12/26), the optional Bollinger width
    (``(("num-std", 2),)``), and is empty for the nine core functions.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fn: str
    ticker: str
    window: int | None = None
    params: tuple[tuple[str, int], ...] = ()

    @property
    def params_key(self) -> str:
        """Canonical JSON of :attr:`params` (``""`` when none): see :func:`params_key`."""
        return params_key(self.params)

    @property
    def key(self) -> tuple[str, str, int | None, str]:
        """Hashable identity ``(fn, ticker, window, params_key)`` used to share indicator series between nodes and
        symphonies; two PPO settings on one ticker have different keys."""
        return (self.fn, self.ticker, self.window, self.params_key)

    def label(self, ticker: str | None = None) -> str:
        """Human-readable form, e.g. ``relative-strength-index(SPY, 10d)``; ``ticker`` replaces the own one (the
        ``%`` placeholder of a multi-ticker comparison)."""
        return self.format_label(self.fn, self.ticker if ticker is None else ticker, self.window, self.params)

    @staticmethod
    def format_label(fn: str, ticker: str, window: int | None, params: tuple[tuple[str, int], ...] = ()) -> str:
        """:meth:`label` of the reference ``(fn, ticker, window, params)`` without building it."""
        if window is None and not params:
            return f"{fn}({ticker})"
        extra = ", ".join(f"{k}={v}" for k, v in params)
        win = f"{window}d" if window is not None else ""
        return f"{fn}({ticker}, {', '.join(p for p in (win, extra) if p)})"


class Constant(BaseModel):
    """A fixed right-hand side, in the display units of the left function (percent for return-type functions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float


class Comparison(BaseModel):
    """``lhs comparator rhs`` — the legacy single comparison and the ``binary`` condition block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["comparison"] = "comparison"
    lhs: IndicatorRef
    comparator: Comparator
    rhs: IndicatorRef | Constant


class MultiTickerComparison(BaseModel):
    """``binary-compound``: the comparison with ticker ``%`` substituted by each of ``tickers``, joined by ``operator``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["multi-ticker"] = "multi-ticker"
    operator: Literal["any", "all"]
    tickers: tuple[str, ...]
    lhs: IndicatorRef
    comparator: Comparator
    rhs: IndicatorRef | Constant


class CompoundCondition(BaseModel):
    """``compound``: ``any`` (OR) / ``all`` (AND) over nested conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["compound"] = "compound"
    operator: Literal["any", "all"]
    conditions: tuple["Condition", ...]


Condition = Annotated[
    Union[Comparison, MultiTickerComparison, CompoundCondition], Field(discriminator="kind")
]
CompoundCondition.model_rebuild()


class Asset(_Node):
    step: Literal["asset"] = "asset"
    ticker: str
    name: str | None = None


class Empty(_Node):
    step: Literal["empty"] = "empty"


class Group(_Node):
    step: Literal["group"] = "group"
    name: str | None = None
    children: tuple["Node", ...]


class WeightEqual(_Node):
    step: Literal["wt-cash-equal"] = "wt-cash-equal"
    children: tuple["Node", ...]


class WeightSpecified(_Node):
    step: Literal["wt-cash-specified"] = "wt-cash-specified"
    children: tuple["Node", ...]
    weights: tuple[float, ...] = Field(description="fraction per child, same order as children")


class WeightInverseVol(_Node):
    step: Literal["wt-inverse-vol"] = "wt-inverse-vol"
    window: int = Field(description="trading days of daily returns in the volatility estimate")
    children: tuple["Node", ...]


class If(_Node):
    step: Literal["if"] = "if"
    condition: Condition
    then_children: tuple["Node", ...]
    else_children: tuple["Node", ...]


class Filter(_Node):
    step: Literal["filter"] = "filter"
    sort_fn: str
    sort_window: int | None = None
    sort_params: tuple[tuple[str, int], ...] = ()
    select: Literal["top", "bottom"]
    select_n: int
    children: tuple["Node", ...]


Node = Annotated[
    Union[Asset, Empty, Group, WeightEqual, WeightSpecified, WeightInverseVol, If, Filter],
    Field(discriminator="step"),
]


class Root(_Node):
    """The symphony: a name, a rebalance rule and one weight node."""

    step: Literal["root"] = "root"
    name: str
    description: str | None = None
    rebalance: Rebalance = "daily"
    corridor_width: float | None = Field(
        default=None, description="threshold band, fraction (0.1 = 10 percentage points), only with rebalance='none'"
    )
    children: tuple[Node, ...]


for _cls in (Group, WeightEqual, WeightSpecified, WeightInverseVol, If, Filter, Root):
    _cls.model_rebuild()


#: Node ``step`` values whose children are ``node.children`` (root, group, weights, filter).
_PARENT_STEPS = frozenset({"root", "group", "wt-cash-equal", "wt-cash-specified", "wt-inverse-vol", "filter"})


def children_of(node: "Root | Node") -> tuple:
    """The child nodes of ``node`` in path order (an ``if``: then-children, then else-children).

    Dispatches on the node's ``step`` literal (cheaper than class patterns; the evaluator's plan walk and content
    hash call it per node). Raises AssertionError for a step no node class has.
    """
    step = node.step
    if step == "if":
        return (*node.then_children, *node.else_children)
    if step == "asset" or step == "empty":
        return ()
    if step in _PARENT_STEPS:
        return node.children
    raise AssertionError(f"unknown node step {step!r}")


def iter_nodes(node: "Root | Node"):
    """Yield ``node`` and every descendant, depth first, in child order (iterative: any depth)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children_of(current)))


def iter_conditions(cond: "Condition") -> list[Comparison | MultiTickerComparison]:
    """Flatten a condition into its leaf comparisons (compound blocks are walked recursively); exhaustive."""
    match cond:
        case CompoundCondition():
            out: list = []
            for c in cond.conditions:
                out.extend(iter_conditions(c))
            return out
        case Comparison() | MultiTickerComparison():
            return [cond]
        case _:
            assert_never(cond)


def indicator_refs(root: Root) -> set[IndicatorRef]:
    """Every indicator a symphony needs: if-conditions, filter sort keys over assets, inverse-vol over assets.

    Filter and inverse-vol children that are not assets (groups, weights) are ranked on their own simulated
    series instead and need no ticker indicator of their own.
    """
    refs: set[IndicatorRef] = set()
    for node in iter_nodes(root):
        match node:
            case If():
                for leaf in iter_conditions(node.condition):
                    tickers = leaf.tickers if isinstance(leaf, MultiTickerComparison) else (leaf.lhs.ticker,)
                    for t in tickers:
                        refs.add(leaf.lhs.model_copy(update={"ticker": t}) if leaf.lhs.ticker == "%" else leaf.lhs)
                        if isinstance(leaf.rhs, IndicatorRef):
                            rhs = leaf.rhs
                            refs.add(rhs.model_copy(update={"ticker": t}) if rhs.ticker == "%" else rhs)
            case Filter():
                for child in node.children:
                    if isinstance(child, Asset):
                        refs.add(IndicatorRef(fn=node.sort_fn, ticker=child.ticker, window=node.sort_window,
                                              params=node.sort_params))
            case WeightInverseVol():
                for child in node.children:
                    if isinstance(child, Asset):
                        refs.add(IndicatorRef(fn="standard-deviation-return", ticker=child.ticker,
                                              window=node.window))
            case Root() | Asset() | Empty() | Group() | WeightEqual() | WeightSpecified():
                pass
            case _:
                assert_never(node)
    return refs


def add_condition_tickers(cond: "Condition", out: set[str]) -> None:
    """Add the tickers ``cond`` reads to ``out`` (``%`` replaced by each ticker of a multi-ticker comparison;
    compound conditions walked recursively)."""
    kind = cond.kind
    if kind == "compound":
        for c in cond.conditions:
            add_condition_tickers(c, out)
        return
    lhs, rhs = cond.lhs, cond.rhs
    rhs_ticker = rhs.ticker if isinstance(rhs, IndicatorRef) else None
    if kind == "comparison":
        out.add(lhs.ticker)
        if rhs_ticker is not None:
            out.add(lhs.ticker if rhs_ticker == "%" else rhs_ticker)
        return
    for t in cond.tickers:
        out.add(t if lhs.ticker == "%" else lhs.ticker)
        if rhs_ticker is not None:
            out.add(t if rhs_ticker == "%" else rhs_ticker)


def tickers(root: "Root | Node") -> set[str]:
    """Every ticker the symphony (or subtree) can hold or reads an indicator of: its assets and the tickers of its
    if-conditions (the tickers of :func:`indicator_refs`; filter and inverse-vol keys read only asset children)."""
    out: set[str] = set()
    for n in iter_nodes(root):
        if n.step == "asset":
            out.add(n.ticker)
        elif n.step == "if":
            add_condition_tickers(n.condition, out)
    return out
