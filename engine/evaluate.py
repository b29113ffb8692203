"""Vectorised symphony evaluation: target weights for every session at once, with a decision trace.

The tree is walked once; every node returns its allocation over *all* sessions as a sparse mapping
``ticker -> float64 array of shape (T,)`` (the share of the node's capital in that ticker on each session).
The price frame is held once as a float64 matrix (:class:`IndicatorCache`); indicator series are computed once per
``(function, window, params, ticker)`` on 1-D columns (:func:`engine.indicators.compute_series`, bit-identical to
the frame functions) and shared between nodes and symphonies. What a parsed symphony needs independently of prices
(tickers, tree order, evaluated assets, sub-strategy content hashes) is computed once per :class:`Root` object and
kept beside it (not in the model: nothing is serialised or compared differently). Sub-strategy NAVs live in a
:class:`SubStrategyStore` keyed by the subtree's content and the price prefix: shared between symphonies and
extended by one session from one day's evaluation to the next (a one-session evaluation no longer rebuilds them
from the first session).

Semantics (composer_format.md §2.2 and §5.1):

* ``wt-cash-equal`` / ``group`` / an if-branch with several children: equal split among children.
* ``wt-cash-specified``: ``weights[i]`` of the parent's share to ``children[i]`` (the parser normalised them).
* ``if``: the condition on session t chooses the then- or else-children; a comparison with a missing value
  (before warm-up) is False and the session is marked invalid.
* ``filter``: every child gets a sort value (an asset: the function of its ticker; any other node: the
  function applied to that child's own simulated NAV, see below); the ``select_n`` highest (``top``) or lowest
  (``bottom``) are kept and share the filter's weight equally. Ties are broken by child order (the earlier child
  wins), children without a value are not eligible, and ``select_n`` larger than the eligible count keeps all.
* ``wt-inverse-vol``: child weight ∝ 1/σ, σ = standard deviation of the child's daily returns over ``window``
  sessions (an asset: ``standard-deviation-return`` of its ticker; otherwise of its simulated NAV). If some σ is
  0 those children split the weight equally. composer_format.md §2.2 [H-IV].
* ``empty``: an unallocated share (cash).

Sub-strategy series (composer_format.md §5.2, OPEN upstream): a non-asset child is simulated as its own
portfolio, rebalanced daily to its target weights at the close without costs:
``r_t = Σ_k w_{t-1,k} · R_{t,k}``, ``NAV_t = Π (1 + r_s)``, NAV = 1 on the first session.

Look-ahead convention: the weights of session t use closes up to and including t (Composer backtests decide
and trade at the day's close, composer_format.md §6).
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, assert_never

import numpy as np
import pandas as pd

from engine.errors import DataError
from engine.indicators import check_series, compute_series
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
    add_condition_tickers,
    children_of,
    tickers as symphony_tickers,
)

Alloc = dict[str, np.ndarray]
_ZERO1 = np.zeros(1)
_ZERO1.setflags(write=False)
CASH = "$USD"


class IndicatorCache:
    """A price frame held once as a float64 matrix, and the indicator series over it, each computed once.

    The frame is converted once to a column-major float64 matrix with a ticker → column map; each column is checked
    against the input contract of :mod:`engine.indicators` the first time it is read, and every indicator is
    computed on that 1-D column (:func:`engine.indicators.compute_series`) and kept per
    ``(fn, window, params, ticker)`` — ``params`` are canonical (sorted by key), so two PPO / MACD / Bollinger
    settings on one ticker are two series.

    Args:
        closes: wide adjusted closes, index = sessions (ascending, unique ``DatetimeIndex``), columns = tickers,
            float64, NaN before a ticker's first bar (and after its last).
        compute: ``compute(fn, closes, window, params) -> DataFrame`` of the same shape, to replace the indicator
            functions (tests); the frame path is then used and sub-strategy NAVs are not shared with other caches.
        substrategies: where sub-strategy NAVs are kept between evaluations (:class:`SubStrategyStore`); default
            the process-wide store (:func:`substrategy_store`).

    Attributes:
        closes: the frame as float64 (sessions × tickers).
    """

    def __init__(self, closes: pd.DataFrame, compute: Callable[..., pd.DataFrame] | None = None, *,
                 substrategies: "SubStrategyStore | None" = None) -> None:
        if not closes.index.is_monotonic_increasing:
            raise ValueError("closes must be sorted by session ascending")
        if not closes.index.is_unique:
            raise ValueError("closes must be indexed by unique sessions in ascending order")
        self.closes = closes.astype("float64")
        self._matrix = np.asfortranarray(self.closes.to_numpy(dtype="float64"))
        self._matrix.setflags(write=False)
        self._col = {t: j for j, t in enumerate(self.closes.columns)}
        self._checked: set[str] = set()
        self._compute_fn = compute
        self._series: dict[tuple, np.ndarray] = {}
        self._returns: np.ndarray | None = None
        self._finite: np.ndarray | None = None
        self._digests: dict[tuple, bytes] = {}
        if substrategies is None:
            substrategies = SubStrategyStore() if compute is not None else _STORE
        self.substrategies = substrategies

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.closes.index

    def __contains__(self, ticker: str) -> bool:
        return ticker in self._col

    def column(self, ticker: str) -> int:
        """Column of ``ticker`` in the matrix (:meth:`price`, :meth:`daily_returns`); DataError when absent."""
        j = self._col.get(ticker)
        if j is None:
            raise DataError(f"no price history for ticker {ticker!r}")
        return j

    def price(self, ticker: str) -> np.ndarray:
        """Adjusted closes of ``ticker``, shape (T,), dollars, NaN outside its bars (a read-only view)."""
        return self._matrix[:, self.column(ticker)]

    def finite(self, tickers: tuple[str, ...], lo: int = 0) -> np.ndarray:
        """True on sessions ``lo:`` where every one of ``tickers`` has a close, shape (T − lo,)."""
        if self._finite is None:
            self._finite = np.isfinite(self._matrix)
        return self._finite[lo:, [self.column(t) for t in tickers]].all(axis=1)

    def _checked_price(self, ticker: str, needed_by: tuple) -> np.ndarray:
        j = self._col.get(ticker)
        if j is None:
            label = IndicatorRef.format_label(*needed_by)
            raise DataError(f"no price history for ticker {ticker!r} (needed by {label})")
        x = self._matrix[:, j]
        if ticker not in self._checked:
            check_series(ticker, x, self.closes.index)
            self._checked.add(ticker)
        return x

    def indicator(self, fn: str, ticker: str, window: int | None, params: tuple = ()) -> np.ndarray:
        """Indicator ``fn`` of ``ticker`` on every session, shape (T,), read-only, NaN where not defined.

        Args:
            fn: JSON function name; window: trading days (None for windowless functions); params: canonical
                ``(key, value)`` pairs (:attr:`engine.model.IndicatorRef.params`).

        Raises:
            DataError: no column for ``ticker``. ValueError: invalid parameters, or a gap in the ticker's closes.
        """
        key = (fn, window, params, ticker)
        out = self._series.get(key)
        if out is None:
            x = self._checked_price(ticker, (fn, ticker, window, params))
            if self._compute_fn is None:
                out = compute_series(fn, x, window, params, checked=True, name=ticker)
            else:
                frame = self._compute_fn(fn, self.closes[[ticker]], window, params)
                out = frame[ticker].to_numpy(dtype="float64")
            out.setflags(write=False)
            self._series[key] = out
        return out

    def series(self, ref: IndicatorRef) -> np.ndarray:
        """The indicator of ``ref.ticker`` on every session, shape (T,), NaN where not defined (:meth:`indicator`)."""
        return self.indicator(ref.fn, ref.ticker, ref.window, ref.params)

    def of_series(self, fn: str, window: int | None, params: tuple, values: np.ndarray) -> np.ndarray:
        """Apply indicator ``fn`` to an arbitrary value series (a sub-strategy NAV), shape (T,)."""
        if self._compute_fn is None:
            return compute_series(fn, values, window, params, name="sub-strategy NAV")
        frame = pd.DataFrame({"_series": values}, index=self.closes.index)
        return self._compute_fn(fn, frame, window, params)["_series"].to_numpy(dtype="float64")

    def daily_returns(self) -> np.ndarray:
        """Simple daily returns ``P_t/P_{t-1} - 1`` (fraction), shape (T, N), column-major; 0 where undefined."""
        if self._returns is None:
            p = self._matrix
            r = np.zeros_like(p)
            with np.errstate(invalid="ignore", divide="ignore"):
                r[1:] = p[1:] / p[:-1] - 1.0
            self._returns = np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)
            self._returns.setflags(write=False)
        return self._returns

    def prefix_digest(self, tickers: tuple[str, ...], n: int) -> bytes:
        """Identity of the first ``n`` sessions and of ``tickers``' closes on them (16 bytes, BLAKE2b).

        Two caches give the same digest exactly when those sessions and closes are equal, byte for byte: what a
        sub-strategy computed on one can be reused on the other (:class:`SubStrategyStore`).
        """
        key = (tickers, n)
        out = self._digests.get(key)
        if out is None:
            h = hashlib.blake2b(digest_size=16)
            h.update(self._part_digest(None, n))
            for t in tickers:
                h.update(self._part_digest(t, n))
            out = h.digest()
            self._digests[key] = out
        return out

    def _part_digest(self, ticker: str | None, n: int) -> bytes:
        key = ("_part", ticker, n)
        out = self._digests.get(key)
        if out is None:
            if ticker is None:
                idx = self.closes.index[:n]
                data = idx.asi8 if isinstance(idx, pd.DatetimeIndex) else pd.util.hash_pandas_object(
                    idx, index=False).to_numpy()
                out = hashlib.blake2b(np.ascontiguousarray(data).tobytes(), digest_size=16).digest()
            else:
                j = self._col.get(ticker)
                col = b"" if j is None else np.ascontiguousarray(self._matrix[:n, j]).tobytes()
                out = hashlib.blake2b(ticker.encode() + b"\0" + col, digest_size=16).digest()
            self._digests[key] = out
        return out


@dataclass
class _SubEntry:
    """One sub-strategy over the first ``n`` sessions of a price frame (identified by ``digest``)."""

    n: int
    digest: bytes
    nav: np.ndarray                       # (n,), NAV = 1 on session 0
    last: dict[str, float]                # the sub-strategy's weights on session n − 1 (fractions)
    signals: dict[tuple, np.ndarray] = field(default_factory=dict)  # indicator of the NAV by (fn, window, params)

    @property
    def nbytes(self) -> int:
        return self.nav.nbytes + sum(v.nbytes for v in self.signals.values()) + 64 * (len(self.last) + 4)


class SubStrategyStore:
    """Sub-strategy NAVs kept between evaluations, keyed by the subtree's content (composer_format.md §5.2).

    A filter or inverse-vol node ranks a non-asset child on the NAV of that child simulated as its own portfolio
    from the first session. The NAV depends only on the subtree's content (its canonical hash, without paths or
    ids: :func:`content_hash`) and on the sessions and closes of the tickers it reads, so one entry serves every
    symphony that contains the same subtree, and an entry computed over the first ``n`` sessions of one frame is
    extended — one session per day in live trading — on any frame whose first ``n`` sessions and closes of those
    tickers are the same (:meth:`IndicatorCache.prefix_digest`). Whole symphonies are not memoised: the evaluation
    of the tree itself is done on every call.

    Args:
        max_bytes: memory bound; the least recently used entries are dropped beyond it.
    """

    def __init__(self, max_bytes: int = 128 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _SubEntry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Approximate memory held, bytes."""
        return self._bytes

    def get(self, key: str) -> _SubEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: _SubEntry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = entry
            self._bytes += entry.nbytes
            self._evict()

    def _evict(self) -> None:
        """Drop least recently used entries while over :attr:`max_bytes` (keeps the newest; lock held)."""
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes

    def signal(self, key: str, entry: _SubEntry, fn: str, window, params: tuple,
               compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Indicator ``(fn, window, params)`` of ``entry``'s NAV, computed once per entry by ``compute()``."""
        sk = (fn, window, params)
        out = entry.signals.get(sk)
        if out is None:
            out = compute()
            out.setflags(write=False)
            with self._lock:
                entry.signals[sk] = out
                if self._entries.get(key) is entry:
                    self._bytes += out.nbytes
                    self._evict()
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_STORE = SubStrategyStore()


def substrategy_store() -> SubStrategyStore:
    """The process-wide :class:`SubStrategyStore` that caches use by default."""
    return _STORE


def clear_substrategy_store() -> None:
    """Empty the process-wide sub-strategy store (benchmarks: time a cold first session)."""
    _STORE.clear()


# -- what a parsed symphony needs, computed once per Root object ---------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """Facts about one parsed symphony that do not depend on prices (kept with the :class:`Root` object)."""

    tickers: frozenset[str]
    tree_order: dict[str, int]
    assets: tuple[str, ...]                 # tickers of the asset nodes evaluated (not under a zero weight)
    decisions: frozenset[int]               # id(node) of nodes with an if / filter / inverse-vol in their subtree
    labels: dict[tuple, Any] = field(default_factory=dict)  # (id(node), "children") -> child labels, on use
    subtrees: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # filled by subtree()
    _memo: dict[int, str] = field(default_factory=dict)

    def subtree(self, node) -> tuple[str, tuple[str, ...]]:
        """``(content hash, sorted tickers it reads)`` of a sub-strategy subtree of this symphony (memoised)."""
        out = self.subtrees.get(id(node))
        if out is None:
            out = self.subtrees[id(node)] = (content_hash(node, self._memo),
                                              tuple(sorted(symphony_tickers(node))))
        return out


_PLANS: dict[int, tuple[Any, _Plan]] = {}
_PLANS_LOCK = threading.Lock()


def content_hash(node, memo: dict[int, str] | None = None) -> str:
    """Canonical hash of a subtree's content: what decides its allocation, without ``path`` / ``id`` / names.

    Each node contributes its kind and the fields the evaluator reads (a condition by its full ``repr``, which
    names every field; weights and windows exactly), its children by their hashes in order. Two subtrees with
    the same hash allocate the same way on the same prices, wherever they sit in whichever symphony; ``group``
    and ``wt-cash-equal`` evaluate alike and hash alike. Hex BLAKE2b, 32 characters.
    """
    memo = {} if memo is None else memo
    h = memo.get(id(node))
    if h is None:
        step = node.step
        if step == "asset":
            own: tuple = ("asset", node.ticker)
        elif step == "empty":
            own = ("empty",)
        elif step == "group" or step == "wt-cash-equal":
            own = ("equal",)
        elif step == "wt-cash-specified":
            own = ("specified", tuple(float(w) for w in node.weights))
        elif step == "wt-inverse-vol":
            own = ("inverse-vol", node.window)
        elif step == "if":
            own = ("if", _condition_key(node.condition), len(node.then_children))
        elif step == "filter":
            own = ("filter", node.sort_fn, node.sort_window, node.sort_params, node.select, node.select_n)
        elif step == "root":
            own = ("root",)
        else:
            raise AssertionError(f"unknown node step {step!r}")
        kids = tuple(content_hash(c, memo) for c in children_of(node))
        h = hashlib.blake2b(repr((own, kids)).encode(), digest_size=16).hexdigest()
        memo[id(node)] = h
    return h


def _operand_key(operand) -> tuple:
    """Every field of a comparison operand (:class:`Constant` or :class:`IndicatorRef`), as a tuple."""
    if isinstance(operand, Constant):
        return ("constant", operand.value)
    return ("indicator", operand.fn, operand.ticker, operand.window, operand.params)


def _condition_key(cond) -> tuple:
    """Every field of a condition, nested conditions included, as a tuple of plain values: two conditions have
    the same key exactly when they are equal (what :func:`content_hash` hashes; cheaper than the model's repr)."""
    kind = cond.kind
    if kind == "comparison":
        return ("comparison", _operand_key(cond.lhs), cond.comparator, _operand_key(cond.rhs))
    if kind == "multi-ticker":
        return ("multi-ticker", cond.operator, tuple(cond.tickers), _operand_key(cond.lhs), cond.comparator,
                _operand_key(cond.rhs))
    if kind == "compound":
        return ("compound", cond.operator, tuple(_condition_key(c) for c in cond.conditions))
    raise AssertionError(f"unknown condition kind {kind!r}")


def root_tickers(root: Root) -> frozenset[str]:
    """Every ticker ``root`` can hold or reads an indicator of (as :func:`engine.model.tickers`), from the plan
    kept with the parsed model: computed once per model object, not per call."""
    return _plan(root).tickers


def _plan(root: Root) -> _Plan:
    """The :class:`_Plan` of ``root``, built on first use and kept while the object lives (models are frozen).

    One walk of the tree: tree order, the tickers (as :func:`engine.model.tickers`), the asset nodes the
    evaluator visits and the subtrees holding decisions; a sub-strategy's content hash and tickers are added the
    first time it is evaluated (:meth:`_Plan.subtree`).
    """
    hit = _PLANS.get(id(root))
    if hit is not None and hit[0]() is root:
        return hit[1]
    order: dict[str, int] = {}
    every: set[str] = set()
    assets: set[str] = set()
    decisions: set[int] = set()
    position = itertools.count().__next__

    def walk(node, live: bool) -> bool:
        """Record ``node``'s subtree; True when it holds an if / filter / inverse-vol."""
        order[node.path] = position()  # pre-order, as iter_nodes (a repeated path keeps its last position)
        step = node.step
        if step == "asset":
            every.add(node.ticker)
            if live:
                assets.add(node.ticker)
            return False
        if step == "empty":
            return False
        decision = False
        if step == "if":
            decision = True
            add_condition_tickers(node.condition, every)
            for c in node.then_children:
                walk(c, live)
            for c in node.else_children:
                walk(c, live)
        elif step == "wt-cash-specified":
            for w, c in zip(node.weights, node.children):
                decision |= walk(c, live and w > 0)
        else:
            decision = step == "filter" or step == "wt-inverse-vol"
            for c in node.children:
                decision |= walk(c, live)
        if decision:
            decisions.add(id(node))
        return decision

    walk(root, True)
    plan = _Plan(tickers=frozenset(every), assets=tuple(sorted(assets)), tree_order=order,
                 decisions=frozenset(decisions))
    key = id(root)

    def _drop(_ref, key=key) -> None:
        with _PLANS_LOCK:
            cur = _PLANS.get(key)
            if cur is not None and cur[0]() is None:
                del _PLANS[key]

    with _PLANS_LOCK:
        _PLANS[key] = (weakref.ref(root, _drop), plan)
    return plan


_REACH_LOCK = threading.Lock()


@dataclass
class NodeRecord:
    """What one decision node saw on every session (arrays of shape (T,) or (T, n_children))."""

    node: Any
    reach: np.ndarray | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Evaluation:
    """Result of :func:`evaluate` for one symphony over the evaluated sessions of the price frame.

    The frames are built on first access from the arrays the evaluator produced (a one-session evaluation read
    through :meth:`weights_on` never builds them).

    Attributes:
        weights: target weights, index = sessions, columns = tickers held on some session; each row sums to
            1 minus the cash share (``cash``). Fractions.
        cash: unallocated share per session (from ``empty`` nodes), fraction.
        valid: True on sessions where every price and indicator the tree reads is defined (warm-up done).
        records: per decision node (if / filter / inverse-vol), keyed by node path, what it saw; each record's
            ``reach`` (the sessions on which the node was on the active path) is filled on the first
            :meth:`trace` or :meth:`mark_reach` (a one-session evaluation that is never traced skips that walk).
        held: the tickers of ``weights``' columns; weight_matrix: ``weights`` as an array (sessions × held);
            cash_share, valid_mask: ``cash`` and ``valid`` as arrays (sessions,).
    """

    root: Root
    sessions: pd.DatetimeIndex
    records: dict[str, NodeRecord]
    held: tuple[str, ...]
    weight_matrix: np.ndarray
    cash_share: np.ndarray
    valid_mask: np.ndarray
    _pending_reach: Any = field(default=None, repr=False)

    def mark_reach(self) -> None:
        """Fill every record's ``reach`` (done once; :meth:`trace` calls it)."""
        with _REACH_LOCK:  # two threads tracing one evaluation: the second waits for the marks
            pending, self._pending_reach = self._pending_reach, None
            if pending is not None:
                pending.assign_reach(self.root, np.ones(len(self.valid_mask), dtype=bool))

    @cached_property
    def weights(self) -> pd.DataFrame:
        return pd.DataFrame(self.weight_matrix, index=self.sessions, columns=list(self.held))

    @cached_property
    def cash(self) -> pd.Series:
        return pd.Series(self.cash_share, index=self.sessions, name=CASH)

    @cached_property
    def valid(self) -> pd.Series:
        return pd.Series(self.valid_mask, index=self.sessions, name="valid")

    @property
    def first_valid_session(self) -> pd.Timestamp | None:
        """First session on which the symphony can be evaluated (composer_format.md §4, warm-up)."""
        idx = np.flatnonzero(self.valid_mask)
        return self.sessions[idx[0]] if len(idx) else None

    def weights_on(self, session) -> dict[str, float]:
        """Target weights on one session: ``{ticker: fraction}`` without zero entries."""
        row = self.weight_matrix[self._index(session)]
        return {t: float(w) for t, w in zip(self.held, row) if w > 1e-12}

    def _index(self, session) -> int:
        ts = pd.Timestamp(session)
        i = int(self.sessions.searchsorted(ts))
        if i >= len(self.sessions) or self.sessions[i] != ts:
            raise DataError(f"{ts.date()} is not a session of the price history "
                            f"({self.sessions[0].date()} .. {self.sessions[-1].date()})")
        return i

    def trace(self, session) -> list[dict[str, Any]]:
        """The decisions taken on ``session``: one entry per reached if / filter / inverse-vol node, tree order.

        Each entry: ``node_path``, ``node_type``, ``summary`` (one line in words) and ``detail`` (a JSON-able
        dict: for an if, every comparison with both values and the branch taken; for a filter, each child's sort
        value ranked and the children selected; for inverse-vol, each child's σ and weight).
        """
        i = self._index(session)
        self.mark_reach()
        out = []
        for path, rec in self.records.items():
            if rec.reach is not None and not rec.reach[i]:
                continue
            out.append(_trace_entry(rec, i))
        return out


def _operand_label(operand, ticker: str | None = None) -> str:
    """A comparison operand in words: a constant as ``%g``, an indicator as :meth:`IndicatorRef.label` (``ticker``
    replacing the ``%`` placeholder of a multi-ticker comparison)."""
    if isinstance(operand, Constant):
        return f"{operand.value:g}"
    return operand.label(ticker if ticker is not None and operand.ticker == "%" else None)


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _trace_entry(rec: NodeRecord, i: int) -> dict[str, Any]:
    node = rec.node
    match node:
        case If():
            comps = []
            for c in rec.data["comparisons"]:
                lhs_v, rhs_v, res = c["lhs"][i], c["rhs"][i], bool(c["result"][i])
                lhs, rhs, ticker = c["operands"]
                comps.append({"lhs": _operand_label(lhs, ticker), "lhs_value": _num(lhs_v),
                              "comparator": c["comparator"], "rhs": _operand_label(rhs, ticker),
                              "rhs_value": _num(rhs_v), "result": res})
            taken = bool(rec.data["cond"][i])
            branch = "then" if taken else "else"
            first = comps[0] if comps else None
            summary = _comparison_words(first, rec.data["comparisons"][0]) if first else "condition"
            if len(comps) > 1:
                summary = f"{rec.data['operator']} of {len(comps)} comparisons"
            return {"node_path": node.path, "node_type": "if", "summary": f"{summary} -> {branch}",
                    "detail": {"comparisons": comps, "operator": rec.data.get("operator"), "branch": branch}}
        case Filter():
            labels = rec.data["labels"]
            vals = rec.data["values"][i]
            sel = rec.data["selected"][i]
            ranked = _filter_ranking(node, vals)
            items = [{"child": labels[j], "value": _num(vals[j]), "selected": bool(sel[j])} for j in ranked]
            chosen = [labels[j] for j in ranked if sel[j]]
            win = f", {node.sort_window}d" if node.sort_window else ""
            if node.sort_params:
                win += ", " + ", ".join(f"{k}={v}" for k, v in node.sort_params)
            return {"node_path": node.path, "node_type": "filter",
                    "summary": f"{node.select} {node.select_n} by {node.sort_fn}{win}: {', '.join(chosen)}",
                    "detail": {"sort_fn": node.sort_fn, "window": node.sort_window, "select": node.select,
                               "select_n": node.select_n, "ranked": items}}
        case WeightInverseVol():
            labels = rec.data["labels"]
            sig, w = rec.data["sigma"][i], rec.data["weights"][i]
            items = [{"child": labels[j], "sigma_pct": _num(sig[j]), "weight": _num(w[j])}
                     for j in range(len(labels))]
            return {"node_path": node.path, "node_type": "wt-inverse-vol",
                    "summary": "inverse-vol {}d: ".format(node.window)
                    + ", ".join(f"{it['child']} {_fmt(it['weight'], pct=True)}" for it in items),
                    "detail": {"window": node.window, "children": items}}
        case _:  # only if / filter / inverse-vol nodes keep records
            raise AssertionError(f"no trace for a {type(node).__name__} record")


def _filter_ranking(node: Filter, values: np.ndarray) -> list[int]:
    """Children of a filter in rank order on one session (``values`` (n_children,)): best first by ``node.select``,
    children without a value last, ties in child order — the stable sort :meth:`_Evaluator._filter` selects by."""
    key = np.where(np.isfinite(values), -values if node.select == "top" else values, np.inf)
    return [int(j) for j in np.argsort(key, kind="stable")]


_SYMBOL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=="}


def _comparison_words(c: dict[str, Any], raw: dict[str, Any]) -> str:
    """``relative-strength-index(TQQQ, 10d)=29.85 < 31`` — a constant right side is written once."""
    rhs = c["rhs"] if raw.get("rhs_constant") else f"{c['rhs']}={_fmt(c['rhs_value'])}"
    return f"{c['lhs']}={_fmt(c['lhs_value'])} {_SYMBOL[c['comparator']]} {rhs}"


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.4g}"


def _slice_record(rec: NodeRecord, lo: int) -> NodeRecord:
    """A node record restricted to sessions ``lo:`` (arrays over time are sliced, labels kept)."""
    data = {}
    for k, v in rec.data.items():
        if isinstance(v, np.ndarray):
            data[k] = v[lo:]
        elif k == "comparisons":
            data[k] = [{ck: (cv[lo:] if isinstance(cv, np.ndarray) else cv) for ck, cv in c.items()} for c in v]
        else:
            data[k] = v
    return NodeRecord(rec.node, data=data)


_COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal, "eq": np.equal,
}


class _Evaluator:
    """Evaluates nodes on the sessions ``cache.sessions[lo:]`` (arrays of length ``T = len(sessions) - lo``).

    Indicator series always come from the full history in the cache; only the tree arithmetic is restricted to the
    window. A sub-strategy's NAV needs its whole history: it comes from the cache's :class:`SubStrategyStore` when
    an entry for the same subtree and price prefix exists (extended to the last session by evaluating the subtree
    on the missing sessions only), else from a full-range evaluation of the subtree (``lo = 0``), then stored.
    """

    def __init__(self, root: Root, cache: IndicatorCache, lo: int = 0, plan: _Plan | None = None) -> None:
        self.root = root
        self.cache = cache
        self.lo = lo
        self.T = len(cache.sessions) - lo
        self.valid = np.ones(self.T, dtype=bool)
        self.records: dict[str, NodeRecord] = {}
        self.plan = plan if plan is not None else _plan(root)
        self._ones = np.ones(self.T)
        self._ones.setflags(write=False)

    # -- allocation algebra on sparse {ticker: (T,)} maps ---------------------------------------------------
    def _zeros(self) -> np.ndarray:
        return np.zeros(self.T)

    @staticmethod
    def _add(acc: Alloc, alloc: Alloc, scale: np.ndarray | float) -> None:
        one = isinstance(scale, float) and scale == 1.0  # w * 1.0 is w: share the (never mutated) array
        for t, w in alloc.items():
            contrib = w if one else w * scale
            if t in acc:
                acc[t] = acc[t] + contrib
            else:
                acc[t] = contrib

    def _equal(self, children) -> Alloc:
        if len(children) == 1:  # scale 1: the child's allocation itself (allocations are never mutated)
            return self.node(children[0])
        acc: Alloc = {}
        k = len(children)
        for child in children:
            self._add(acc, self.node(child), 1.0 / k)
        return acc

    # -- nodes ---------------------------------------------------------------------------------------------
    def node(self, node) -> Alloc:
        """The allocation of ``node`` on this evaluator's sessions (dispatch on the node's ``step``)."""
        try:
            visit = _VISIT[node.step]
        except (KeyError, AttributeError):
            raise AssertionError(f"unknown node {type(node).__name__}") from None
        return visit(self, node)

    def _asset(self, node: Asset) -> Alloc:
        return {node.ticker: self._ones}  # its price's validity is applied once for all assets (_Plan.assets)

    def _empty(self, node: Empty) -> Alloc:
        return {}

    def _group(self, node) -> Alloc:
        return self._equal(node.children) if node.children else {}

    def _specified(self, node: WeightSpecified) -> Alloc:
        acc: Alloc = {}
        for w, child in zip(node.weights, node.children):
            if w > 0:
                self._add(acc, self.node(child), float(w))
        return acc

    def _value(self, operand, ticker: str | None = None) -> np.ndarray:
        if isinstance(operand, Constant):
            return np.full(self.T, operand.value)
        tk = ticker if ticker is not None and operand.ticker == "%" else operand.ticker
        return self.cache.indicator(operand.fn, tk, operand.window, operand.params)[self.lo:]

    def _condition(self, cond, comps: list) -> np.ndarray:
        match cond:
            case Comparison():
                return self._compare(cond.lhs, cond.comparator, cond.rhs, None, comps)
            case MultiTickerComparison():
                parts = [self._compare(cond.lhs, cond.comparator, cond.rhs, t, comps) for t in cond.tickers]
                return np.logical_or.reduce(parts) if cond.operator == "any" else np.logical_and.reduce(parts)
            case CompoundCondition():
                parts = [self._condition(c, comps) for c in cond.conditions]
                return np.logical_or.reduce(parts) if cond.operator == "any" else np.logical_and.reduce(parts)
            case _:
                assert_never(cond)

    def _compare(self, lhs, comparator, rhs, ticker, comps: list) -> np.ndarray:
        lv = self._value(lhs, ticker)
        rv = self._value(rhs, ticker)
        defined = np.isfinite(lv) & np.isfinite(rv)
        self.valid &= defined
        res = _COMPARE[comparator](lv, rv) & defined  # evaluate() ignores invalid-value warnings
        comps.append({"lhs": lv, "rhs": rv, "result": res, "comparator": comparator,
                      "operands": (lhs, rhs, ticker), "rhs_constant": isinstance(rhs, Constant)})
        return res

    def _if(self, node: If) -> Alloc:
        comps: list = []
        cond = self._condition(node.condition, comps)
        then_alloc = self._equal(node.then_children) if node.then_children else {}
        else_alloc = self._equal(node.else_children) if node.else_children else {}
        acc: Alloc = {}
        if self.T == 1:  # one session: the branch taken, exactly what the products below give (w·1 = w, w·0 = 0)
            # (weights are finite and >= 0; the key order is the one _add gives: then-keys first)
            if cond[0]:
                acc.update(then_alloc)
                for t in else_alloc:
                    if t not in acc:
                        acc[t] = _ZERO1
            else:
                for t in then_alloc:
                    acc[t] = _ZERO1
                acc.update(else_alloc)
        else:
            self._add(acc, then_alloc, cond.astype("float64"))
            self._add(acc, else_alloc, (~cond).astype("float64"))
        op = node.condition.operator if not isinstance(node.condition, Comparison) else None
        self.records[node.path] = NodeRecord(node, data={"cond": cond, "comparisons": comps, "operator": op})
        return acc

    def _child_labels(self, node) -> list[str]:
        key = (id(node), "children")
        out = self.plan.labels.get(key)
        if out is None:
            out = self.plan.labels[key] = [self._child_label(c) for c in node.children]
        return list(out)

    def _child_label(self, child) -> str:
        if isinstance(child, Asset):
            return child.ticker
        name = getattr(child, "name", None)
        return f"{name}" if name else f"{child.step} {child.path}"

    def _sub_nav(self, alloc: Alloc) -> np.ndarray:
        """Daily-rebalanced NAV of a full-range sub-allocation (composer_format.md §5.2), NAV = 1 on session 0."""
        returns = self.cache.daily_returns()
        r = np.zeros(self.T)
        for t, w in alloc.items():
            prev_w = np.concatenate(([0.0], w[:-1]))
            r += prev_w * returns[:, self.cache.column(t)]
        return np.cumprod(1.0 + r)

    def _child_signals(self, children, fn: str, window, params) -> tuple[list[Alloc], np.ndarray]:
        allocs, values = [], []
        for child in children:
            if isinstance(child, Asset):
                allocs.append(self.node(child))
                values.append(self.cache.indicator(fn, child.ticker, window, params)[self.lo:])
            else:
                alloc, value = self._substrategy(child, fn, window, params)
                allocs.append(alloc)
                values.append(value)
        return allocs, np.column_stack(values) if values else np.zeros((self.T, 0))

    def _substrategy(self, child, fn: str, window, params) -> tuple[Alloc, np.ndarray]:
        """``(allocation on this evaluator's sessions, fn of the child's NAV on them)`` for a non-asset child.

        The NAV covers every session of the cache: taken from the store (and extended to the last session) when
        an entry for this subtree and this price prefix exists, else built from a full-range evaluation. Either
        way the stored entry then ends on the last session.
        """
        cache, store = self.cache, self.cache.substrategies
        key, toks = self.plan.subtree(child)
        n_all = len(cache.sessions)
        entry = store.get(key)
        if entry is not None and not (entry.n <= n_all and entry.digest == cache.prefix_digest(toks, entry.n)):
            entry = None
        if self.lo == 0:
            alloc = self.node(child)
            if entry is None or entry.n != n_all:
                entry = self._store(key, toks, self._sub_nav(alloc), alloc, -1)
        else:
            base = 0 if entry is None else min(self.lo, entry.n)
            sub = _Evaluator(self.root, cache, lo=base, plan=self.plan)
            alloc = sub.node(child)
            if entry is None:
                entry = self._store(key, toks, sub._sub_nav(alloc), alloc, -1)
            elif entry.n < n_all:
                entry = self._extend(key, toks, entry, alloc, base)
            k = self.lo - base
            alloc = {t: w[k:] for t, w in alloc.items()} if k else alloc
            self.valid &= sub.valid[k:]
            for path, rec in sub.records.items():
                self.records[path] = _slice_record(rec, k) if k else rec
        value = store.signal(key, entry, fn, window, params, lambda: cache.of_series(fn, window, params, entry.nav))
        return alloc, value[self.lo:]

    def _store(self, key: str, toks: tuple[str, ...], nav: np.ndarray, alloc: Alloc, at: int) -> _SubEntry:
        n_all = len(self.cache.sessions)
        nav.setflags(write=False)
        entry = _SubEntry(n=n_all, digest=self.cache.prefix_digest(toks, n_all), nav=nav,
                          last={t: float(w[at]) for t, w in alloc.items()})
        self.cache.substrategies.put(key, entry)
        return entry

    def _extend(self, key: str, toks: tuple[str, ...], entry: _SubEntry, alloc: Alloc, base: int) -> _SubEntry:
        """``entry`` (sessions ``0..n-1``) extended to the last session with ``alloc`` (sessions ``base..``,
        ``base <= n``), operation for operation as :meth:`_sub_nav` would compute it over the whole range."""
        returns = self.cache.daily_returns()
        n, n_all = entry.n, len(self.cache.sessions)
        r = np.zeros(n_all - n)
        for t, w in alloc.items():
            prev_w = np.concatenate(([entry.last.get(t, 0.0)], w[n - base:n_all - 1 - base]))
            r += prev_w * returns[n:, self.cache.column(t)]
        tail = np.cumprod(np.concatenate(([entry.nav[-1]], 1.0 + r)))[1:]
        return self._store(key, toks, np.concatenate((entry.nav, tail)), alloc, -1)

    def _filter(self, node: Filter) -> Alloc:
        allocs, vals = self._child_signals(node.children, node.sort_fn, node.sort_window, node.sort_params)
        n_child = vals.shape[1]
        finite = np.isfinite(vals)
        self.valid &= finite.all(axis=1)
        # rank: stable sort on the key keeps child order among ties (earlier child wins)
        if n_child and node.select_n >= n_child:
            selected = finite  # every child with a value is kept
        elif n_child and node.select_n == 1:
            # the first minimum of the key is the first child of the stable sort (argmin: first occurrence)
            key = np.where(finite, -vals if node.select == "top" else vals, np.inf)
            selected = np.zeros(vals.shape, dtype=bool)
            selected[np.arange(self.T), np.argmin(key, axis=1)] = True
            selected &= finite
        else:
            key = np.where(finite, -vals if node.select == "top" else vals, np.inf)
            order = np.argsort(key, axis=1, kind="stable")
            ranks = np.empty_like(order)  # the inverse permutation: rank of each child
            ranks[np.arange(self.T)[:, None], order] = np.arange(n_child)
            selected = (ranks < node.select_n) & finite
        n_sel = selected.sum(axis=1)
        share = np.where(n_sel > 0, 1.0 / np.maximum(n_sel, 1), 0.0)
        acc: Alloc = {}
        for j, alloc in enumerate(allocs):
            self._add(acc, alloc, selected[:, j] * share)
        # the ranking itself is rebuilt from the values for a trace (_filter_ranking), not kept for every session
        self.records[node.path] = NodeRecord(node, data={
            "labels": self._child_labels(node), "values": vals, "selected": selected})
        return acc

    def _inverse_vol(self, node: WeightInverseVol) -> Alloc:
        allocs, sig = self._child_signals(node.children, "standard-deviation-return", node.window, ())
        finite = np.isfinite(sig) & (sig >= 0)
        self.valid &= finite.all(axis=1)
        zero = finite & (sig == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(finite & ~zero, 1.0 / sig, 0.0)
        any_zero = zero.any(axis=1)
        inv = np.where(any_zero[:, None], zero.astype("float64"), inv)
        total = inv.sum(axis=1)
        weights = np.where(total[:, None] > 0, inv / np.where(total > 0, total, 1.0)[:, None], 0.0)
        acc: Alloc = {}
        for j, alloc in enumerate(allocs):
            self._add(acc, alloc, weights[:, j])
        self.records[node.path] = NodeRecord(node, data={
            "labels": self._child_labels(node), "sigma": sig, "weights": weights})
        return acc

    # -- reach (which decision nodes were on the active path each session) -------------------------------------
    def assign_reach(self, node, reach: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> None:
        if id(node) not in self.plan.decisions:
            return  # no if / filter / inverse-vol below: nothing to mark
        rec = self.records.get(getattr(node, "path", ""))
        if rec is not None and rec.node is node:
            rec.reach = reach.copy()
        elif isinstance(node, (If, Filter, WeightInverseVol)):
            return  # never evaluated (e.g. under a zero specified weight): nothing below it is reached
        match node:
            case If():
                cond = rec.data["cond"]
                for c in node.then_children:
                    self.assign_reach(c, reach & cond)
                for c in node.else_children:
                    self.assign_reach(c, reach & ~cond)
            case Filter():
                sel = rec.data["selected"]
                for j, c in enumerate(node.children):
                    self.assign_reach(c, reach & sel[:, j])
            case WeightInverseVol():
                w = rec.data["weights"]
                for j, c in enumerate(node.children):
                    self.assign_reach(c, reach & (w[:, j] > 0))
            case WeightSpecified():
                for wt, c in zip(node.weights, node.children):
                    if wt > 0:
                        self.assign_reach(c, reach)
            case Root() | Group() | WeightEqual():
                for c in node.children:
                    self.assign_reach(c, reach)
            case Asset() | Empty():
                pass
            case _:
                assert_never(node)


_VISIT: dict[str, Callable[[_Evaluator, Any], Alloc]] = {
    "asset": _Evaluator._asset, "empty": _Evaluator._empty, "group": _Evaluator._group,
    "wt-cash-equal": _Evaluator._group, "wt-cash-specified": _Evaluator._specified, "if": _Evaluator._if,
    "filter": _Evaluator._filter, "wt-inverse-vol": _Evaluator._inverse_vol,
}


class _Reach:
    """What :meth:`_Evaluator.assign_reach` reads (the plan and the records), kept by an :class:`Evaluation` until
    its first trace — not the evaluator itself, which holds the indicator cache."""

    assign_reach = _Evaluator.assign_reach

    def __init__(self, plan: _Plan, records: dict[str, NodeRecord]) -> None:
        self.plan = plan
        self.records = records


def earliest_valid_index(root: Root, cache: IndicatorCache) -> int:
    """A lower bound of the first session (row of ``cache``) on which ``root`` can be valid.

    :func:`evaluate` marks a session invalid when an asset it evaluates has no close there, so no session before
    the latest first close of those assets is valid: ``max_t first_close(t)`` over the plan's evaluated assets (0
    without any; ``len(cache.sessions)`` when one never has a close). A backtest evaluates from here (or its
    start) instead of the first session of the frame — the weights of every later session are the same.

    Raises:
        DataError: an evaluated asset has no column in ``cache``.
    """
    plan = _plan(root)
    if not plan.assets:
        return 0
    if cache._finite is None:
        cache._finite = np.isfinite(cache._matrix)
    ok = cache._finite[:, [cache.column(t) for t in plan.assets]]
    if len(ok) == 0:
        return 0
    has = ok.any(axis=0)
    if not has.all():
        return len(ok)
    return int(ok.argmax(axis=0).max())


def evaluate(root: Root, closes: pd.DataFrame | IndicatorCache, *, start=None) -> Evaluation:
    """Evaluate a symphony on every session of a price frame.

    Args:
        root: the parsed symphony.
        closes: wide adjusted closes (index = sessions ascending, columns = tickers; must contain every ticker the
            symphony reads) or an :class:`IndicatorCache` over such a frame (share one cache between symphonies).
        start: evaluate only sessions from ``start`` on (indicators still use the full history). Live trading
            evaluates a single session this way; ``None`` = every session.

    Returns:
        :class:`Evaluation` with target weights (sessions × tickers, fractions), cash share, warm-up validity and
        the per-node records behind :meth:`Evaluation.trace`.

    Raises:
        DataError: a ticker the symphony needs has no column in ``closes``.
    """
    cache = closes if isinstance(closes, IndicatorCache) else IndicatorCache(closes)
    plan = _plan(root)
    missing = sorted(t for t in plan.tickers if t not in cache)
    if missing:
        raise DataError(f"no price history for {', '.join(missing)} (symphony {root.name!r})")
    lo = 0 if start is None else int(cache.sessions.searchsorted(pd.Timestamp(start), side="left"))
    if lo >= len(cache.sessions):
        raise DataError(f"no session on or after {pd.Timestamp(start).date()} in the price history")
    ev = _Evaluator(root, cache, lo, plan)
    with np.errstate(invalid="ignore"):
        alloc = ev._equal(root.children) if root.children else {}
    if plan.assets:  # every asset node evaluated needs its price on the session
        ev.valid &= cache.finite(plan.assets, lo)
    tree_order = plan.tree_order
    records = dict(sorted(ev.records.items(), key=lambda kv: tree_order.get(kv[0], len(tree_order))))
    held = sorted(alloc)
    mat = np.column_stack([alloc[t] for t in held]) if held else np.zeros((ev.T, 0))
    mat = np.where(np.abs(mat) < 1e-15, 0.0, mat)
    sessions = cache.sessions[lo:]
    return Evaluation(root=root, sessions=sessions, records=records, held=tuple(held), weight_matrix=mat,
                      cash_share=np.clip(1.0 - mat.sum(axis=1), 0.0, 1.0), valid_mask=ev.valid,
                      _pending_reach=_Reach(plan, ev.records))
