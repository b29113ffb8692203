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

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Comparator = Literal["gt", "gte", "lt", "lte", "eq"]
Rebalance = Literal["none", "daily", "weekly", "monthly", "quarterly", "yearly"]

#: The fifteen indicator functions of composer_format.md §4 (JSON names).
FUNCTIONS: tuple[str, ...] = (
    "current-price",
    "cumulative-return",
    "moving-average-price",
    "exponential-moving-average-price",
    "moving-average-return",
    "relative-strength-index",
    "standard-deviation-price",
    "standard-deviation-return",
    "max-drawdown",
    "percentage-price-oscillator",
    "percentage-price-oscillator-signal",
    "moving-average-convergence-divergence",
    "moving-average-convergence-divergence-signal",
    "upper-bollinger",
    "lower-bollinger",
)

#: Functions this release evaluates: all fifteen of composer_format.md §4 (engine.indicators.INDICATOR_FUNCTIONS).
SUPPORTED_FUNCTIONS: tuple[str, ...] = FUNCTIONS

#: Multi-window functions and the parameter keys each one requires, alphabetically (composer_format.md §3–§4:
#: PPO's keys are seen in real defsymphony exports; MACD's are INFERRED from PPO). They take no ``window``: their
#: parameters live in :attr:`IndicatorRef.params` / :attr:`Filter.sort_params`, and there are no defaults.
MULTI_WINDOW_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "percentage-price-oscillator": ("long-window", "short-window"),
    "percentage-price-oscillator-signal": ("long-window", "short-window", "smooth-window"),
    "moving-average-convergence-divergence": ("long-window", "short-window"),
    "moving-average-convergence-divergence-signal": ("long-window", "short-window", "smooth-window"),
}

#: Bollinger bands: ``window`` N (required, in :attr:`IndicatorRef.window`) and an optional band width k, the number
#: of standard deviations, in ``params``. Composer's key for k is OPEN (composer_format.md §4, §8 item 11): these
#: spellings are accepted as synonyms; the parsers store the first one.
BOLLINGER_FUNCTIONS: tuple[str, ...] = ("upper-bollinger", "lower-bollinger")
BOLLINGER_WIDTH_KEYS: tuple[str, ...] = ("num-std", "std-dev")
#: Band width k when the symphony gives none (the standard Bollinger band, SMA ± 2σ).
BOLLINGER_DEFAULT_WIDTH: int = 2

#: defsymphony spellings that differ from the JSON names (composer_format.md §3).
DEFSYMPHONY_FUNCTION_ALIASES: dict[str, str] = {
    "rsi": "relative-strength-index",
    "stdev-return": "standard-deviation-return",
    "stdev-price": "standard-deviation-price",
}


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
    def key(self) -> tuple[str, str, int | None, tuple[tuple[str, int], ...]]:
        """Hashable identity used to share indicator series between nodes and symphonies."""
        return (self.fn, self.ticker, self.window, self.params)

    def label(self) -> str:
        """Human-readable form, e.g. ``relative-strength-index(SPY, 10d)``."""
        if self.window is None and not self.params:
            return f"{self.fn}({self.ticker})"
        extra = ", ".join(f"{k}={v}" for k, v in self.params)
        win = f"{self.window}d" if self.window is not None else ""
        return f"{self.fn}({self.ticker}, {', '.join(p for p in (win, extra) if p)})"


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


def iter_nodes(node: Root | _Node):
    """Yield ``node`` and every descendant, depth first, in child order."""
    yield node
    if isinstance(node, If):
        for child in (*node.then_children, *node.else_children):
            yield from iter_nodes(child)
    else:
        for child in getattr(node, "children", ()):
            yield from iter_nodes(child)


def iter_conditions(cond) -> list[Comparison | MultiTickerComparison]:
    """Flatten a condition into its leaf comparisons (compound blocks are walked recursively)."""
    if isinstance(cond, CompoundCondition):
        out: list = []
        for c in cond.conditions:
            out.extend(iter_conditions(c))
        return out
    return [cond]


def indicator_refs(root: Root) -> set[IndicatorRef]:
    """Every indicator a symphony needs: if-conditions, filter sort keys over assets, inverse-vol over assets.

    Filter and inverse-vol children that are not assets (groups, weights) are ranked on their own simulated
    series instead and need no ticker indicator of their own.
    """
    refs: set[IndicatorRef] = set()
    for node in iter_nodes(root):
        if isinstance(node, If):
            for leaf in iter_conditions(node.condition):
                tickers = leaf.tickers if isinstance(leaf, MultiTickerComparison) else (leaf.lhs.ticker,)
                for t in tickers:
                    refs.add(leaf.lhs.model_copy(update={"ticker": t}) if leaf.lhs.ticker == "%" else leaf.lhs)
                    if isinstance(leaf.rhs, IndicatorRef):
                        rhs = leaf.rhs
                        refs.add(rhs.model_copy(update={"ticker": t}) if rhs.ticker == "%" else rhs)
        elif isinstance(node, Filter):
            for child in node.children:
                if isinstance(child, Asset):
                    refs.add(IndicatorRef(fn=node.sort_fn, ticker=child.ticker, window=node.sort_window,
                                          params=node.sort_params))
        elif isinstance(node, WeightInverseVol):
            for child in node.children:
                if isinstance(child, Asset):
                    refs.add(IndicatorRef(fn="standard-deviation-return", ticker=child.ticker, window=node.window))
    return refs


def tickers(root: Root) -> set[str]:
    """Every ticker the symphony can hold or reads an indicator of."""
    out = {n.ticker for n in iter_nodes(root) if isinstance(n, Asset)}
    out |= {r.ticker for r in indicator_refs(root)}
    return out
