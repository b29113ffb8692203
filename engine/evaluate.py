"""Vectorised symphony evaluation: target weights for every session at once, with a decision trace.

The tree is walked once; every node returns its allocation over *all* sessions as a sparse mapping
``ticker -> float64 array of shape (T,)`` (the share of the node's capital in that ticker on each session).
Indicator series are computed once per ``(function, window, params)`` over the whole price frame
(:class:`IndicatorCache`) and shared between nodes and symphonies.

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

from dataclasses import dataclass, field
from typing import Any, Callable, assert_never

import numpy as np
import pandas as pd

from engine.errors import DataError
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
    tickers as symphony_tickers,
)

Alloc = dict[str, np.ndarray]
CASH = "$USD"


class IndicatorCache:
    """Indicator series over a shared wide price frame, computed once per ``(fn, window, params_key, ticker)``.

    The key includes the canonical params (:attr:`engine.model.IndicatorRef.params_key`), so two PPO / MACD /
    Bollinger settings on one ticker are two series.

    Args:
        closes: wide adjusted closes, index = sessions (ascending ``DatetimeIndex``), columns = tickers, float64,
            NaN before a ticker's first bar.
        compute: ``compute(fn, closes, window, params) -> DataFrame`` of the same shape; defaults to
            :func:`engine.indicators.compute_indicator`.
    """

    def __init__(self, closes: pd.DataFrame, compute: Callable[..., pd.DataFrame] | None = None) -> None:
        if not closes.index.is_monotonic_increasing:
            raise ValueError("closes must be sorted by session ascending")
        self.closes = closes.astype("float64")
        self._compute_fn = compute
        self._series: dict[tuple, np.ndarray] = {}
        self._returns: np.ndarray | None = None

    def _compute(self, fn: str, closes: pd.DataFrame, window, params) -> pd.DataFrame:
        if self._compute_fn is None:
            from engine.indicators import compute_indicator

            self._compute_fn = compute_indicator
        return self._compute_fn(fn, closes, window, params)

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.closes.index

    def series(self, ref: IndicatorRef) -> np.ndarray:
        """The indicator of ``ref.ticker`` on every session, shape (T,), NaN where not defined.

        Computed on that ticker's column alone and cached per ``(fn, window, params_key, ticker)``, so a cache
        shared by many symphonies holds only the series they read.
        """
        key = (ref.fn, ref.window, ref.params_key, ref.ticker)
        out = self._series.get(key)
        if out is None:
            if ref.ticker not in self.closes.columns:
                raise DataError(f"no price history for ticker {ref.ticker!r} (needed by {ref.label()})")
            frame = self._compute(ref.fn, self.closes[[ref.ticker]], ref.window, ref.params)
            out = frame[ref.ticker].to_numpy(dtype="float64")
            out.setflags(write=False)
            self._series[key] = out
        return out

    def of_series(self, fn: str, window: int | None, params: tuple, values: np.ndarray) -> np.ndarray:
        """Apply indicator ``fn`` to an arbitrary value series (a sub-strategy NAV), shape (T,)."""
        frame = pd.DataFrame({"_series": values}, index=self.closes.index)
        return self._compute(fn, frame, window, params)["_series"].to_numpy(dtype="float64")

    def price(self, ticker: str) -> np.ndarray:
        if ticker not in self.closes.columns:
            raise DataError(f"no price history for ticker {ticker!r}")
        return self.closes[ticker].to_numpy(dtype="float64")

    def daily_returns(self) -> np.ndarray:
        """Simple daily returns ``P_t/P_{t-1} - 1`` (fraction), shape (T, N); 0 where undefined."""
        if self._returns is None:
            p = self.closes.to_numpy(dtype="float64")
            r = np.zeros_like(p)
            with np.errstate(invalid="ignore", divide="ignore"):
                r[1:] = p[1:] / p[:-1] - 1.0
            self._returns = np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)
        return self._returns


@dataclass
class NodeRecord:
    """What one decision node saw on every session (arrays of shape (T,) or (T, n_children))."""

    node: Any
    reach: np.ndarray | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Result of :func:`evaluate` for one symphony over all sessions of the price frame.

    Attributes:
        weights: target weights, index = sessions, columns = tickers held on some session; each row sums to
            1 minus the cash share (``cash``). Fractions.
        cash: unallocated share per session (from ``empty`` nodes), fraction.
        valid: True on sessions where every price and indicator the tree reads is defined (warm-up done).
        records: per decision node (if / filter / inverse-vol), keyed by node path, what it saw.
    """

    root: Root
    sessions: pd.DatetimeIndex
    weights: pd.DataFrame
    cash: pd.Series
    valid: pd.Series
    records: dict[str, NodeRecord]

    @property
    def first_valid_session(self) -> pd.Timestamp | None:
        """First session on which the symphony can be evaluated (composer_format.md §4, warm-up)."""
        idx = np.flatnonzero(self.valid.to_numpy())
        return self.sessions[idx[0]] if len(idx) else None

    def weights_on(self, session) -> dict[str, float]:
        """Target weights on one session: ``{ticker: fraction}`` without zero entries."""
        i = self._index(session)
        row = self.weights.iloc[i]
        return {t: float(w) for t, w in row.items() if w > 1e-12}

    def _index(self, session) -> int:
        ts = pd.Timestamp(session)
        i = self.sessions.get_indexer([ts])[0]
        if i < 0:
            raise DataError(f"{ts.date()} is not a session of the price history "
                            f"({self.sessions[0].date()} .. {self.sessions[-1].date()})")
        return int(i)

    def trace(self, session) -> list[dict[str, Any]]:
        """The decisions taken on ``session``: one entry per reached if / filter / inverse-vol node, tree order.

        Each entry: ``node_path``, ``node_type``, ``summary`` (one line in words) and ``detail`` (a JSON-able
        dict: for an if, every comparison with both values and the branch taken; for a filter, each child's sort
        value ranked and the children selected; for inverse-vol, each child's σ and weight).
        """
        i = self._index(session)
        out = []
        for path, rec in self.records.items():
            if rec.reach is not None and not rec.reach[i]:
                continue
            out.append(_trace_entry(rec, i))
        return out


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _trace_entry(rec: NodeRecord, i: int) -> dict[str, Any]:
    node = rec.node
    match node:
        case If():
            comps = []
            for c in rec.data["comparisons"]:
                lhs_v, rhs_v, res = c["lhs"][i], c["rhs"][i], bool(c["result"][i])
                comps.append({"lhs": c["lhs_label"], "lhs_value": _num(lhs_v), "comparator": c["comparator"],
                              "rhs": c["rhs_label"], "rhs_value": _num(rhs_v), "result": res})
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
            ranked = list(np.argsort(rec.data["ranks"][i], kind="stable"))
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
    window. Sub-strategy series need the child's whole history, so such children are evaluated by a full-range
    evaluator (``lo = 0``) and sliced.
    """

    def __init__(self, root: Root, cache: IndicatorCache, lo: int = 0) -> None:
        self.root = root
        self.cache = cache
        self.lo = lo
        self.T = len(cache.sessions) - lo
        self.valid = np.ones(self.T, dtype=bool)
        self.records: dict[str, NodeRecord] = {}
        self._full_range: _Evaluator | None = None

    # -- allocation algebra on sparse {ticker: (T,)} maps ---------------------------------------------------
    def _zeros(self) -> np.ndarray:
        return np.zeros(self.T)

    @staticmethod
    def _add(acc: Alloc, alloc: Alloc, scale: np.ndarray | float) -> None:
        for t, w in alloc.items():
            contrib = w * scale
            if t in acc:
                acc[t] = acc[t] + contrib
            else:
                acc[t] = contrib

    def _equal(self, children) -> Alloc:
        acc: Alloc = {}
        k = len(children)
        for child in children:
            self._add(acc, self.node(child), 1.0 / k)
        return acc

    # -- nodes ---------------------------------------------------------------------------------------------
    def node(self, node) -> Alloc:
        match node:
            case Asset():
                price = self.cache.price(node.ticker)[self.lo:]
                self.valid &= np.isfinite(price)
                return {node.ticker: np.ones(self.T)}
            case Empty():
                return {}
            case WeightEqual() | Group():
                if not node.children:
                    return {}
                return self._equal(node.children)
            case WeightSpecified():
                acc: Alloc = {}
                for w, child in zip(node.weights, node.children):
                    if w > 0:
                        self._add(acc, self.node(child), float(w))
                return acc
            case If():
                return self._if(node)
            case Filter():
                return self._filter(node)
            case WeightInverseVol():
                return self._inverse_vol(node)
            case _:
                assert_never(node)

    def _value(self, operand, ticker: str | None = None) -> np.ndarray:
        if isinstance(operand, Constant):
            return np.full(self.T, operand.value)
        ref = operand if ticker is None or operand.ticker != "%" else operand.model_copy(update={"ticker": ticker})
        return self.cache.series(ref)[self.lo:]

    @staticmethod
    def _label(operand, ticker: str | None = None) -> str:
        if isinstance(operand, Constant):
            return f"{operand.value:g}"
        if ticker is not None and operand.ticker == "%":
            operand = operand.model_copy(update={"ticker": ticker})
        return operand.label()

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
        with np.errstate(invalid="ignore"):
            res = _COMPARE[comparator](lv, rv) & defined
        comps.append({"lhs": lv, "rhs": rv, "result": res, "comparator": comparator,
                      "lhs_label": self._label(lhs, ticker), "rhs_label": self._label(rhs, ticker),
                      "rhs_constant": isinstance(rhs, Constant)})
        return res

    def _if(self, node: If) -> Alloc:
        comps: list = []
        cond = self._condition(node.condition, comps)
        then_alloc = self._equal(node.then_children) if node.then_children else {}
        else_alloc = self._equal(node.else_children) if node.else_children else {}
        acc: Alloc = {}
        self._add(acc, then_alloc, cond.astype("float64"))
        self._add(acc, else_alloc, (~cond).astype("float64"))
        op = node.condition.operator if not isinstance(node.condition, Comparison) else None
        self.records[node.path] = NodeRecord(node, data={"cond": cond, "comparisons": comps, "operator": op})
        return acc

    def _child_label(self, child) -> str:
        if isinstance(child, Asset):
            return child.ticker
        name = getattr(child, "name", None)
        return f"{name}" if name else f"{child.step} {child.path}"

    def _sub_nav(self, alloc: Alloc) -> np.ndarray:
        """Daily-rebalanced NAV of a sub-allocation (composer_format.md §5.2), NAV = 1 on the first session."""
        returns = self.cache.daily_returns()
        cols = {t: i for i, t in enumerate(self.cache.closes.columns)}
        r = np.zeros(self.T)
        for t, w in alloc.items():
            prev_w = np.concatenate(([0.0], w[:-1]))
            r += prev_w * returns[:, cols[t]]
        return np.cumprod(1.0 + r)

    def _child_signals(self, children, fn: str, window, params) -> tuple[list[Alloc], np.ndarray]:
        allocs, values = [], []
        for child in children:
            if isinstance(child, Asset):
                allocs.append(self.node(child))
                ref = IndicatorRef(fn=fn, ticker=child.ticker, window=window, params=params)
                values.append(self.cache.series(ref)[self.lo:])
            elif self.lo == 0:
                alloc = self.node(child)
                allocs.append(alloc)
                values.append(self.cache.of_series(fn, window, params, self._sub_nav(alloc)))
            else:
                # the sub-strategy's NAV needs its whole history: evaluate it on the full range, then slice
                full = self._full()
                alloc = full.node(child)
                values.append(self.cache.of_series(fn, window, params, full._sub_nav(alloc))[self.lo:])
                allocs.append({t: w[self.lo:] for t, w in alloc.items()})
                self.valid &= full.valid[self.lo:]
                for n in iter_nodes(child):
                    rec = full.records.get(getattr(n, "path", ""))
                    if rec is not None and rec.node is n:
                        self.records[n.path] = _slice_record(rec, self.lo)
        return allocs, np.column_stack(values) if values else np.zeros((self.T, 0))

    def _full(self) -> "_Evaluator":
        if self._full_range is None:
            self._full_range = _Evaluator(self.root, self.cache, lo=0)
        return self._full_range

    def _filter(self, node: Filter) -> Alloc:
        allocs, vals = self._child_signals(node.children, node.sort_fn, node.sort_window, node.sort_params)
        n_child = vals.shape[1]
        finite = np.isfinite(vals)
        self.valid &= finite.all(axis=1)
        # rank: stable sort on the key keeps child order among ties (earlier child wins)
        key = np.where(finite, -vals if node.select == "top" else vals, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(n_child)[None, :].repeat(self.T, axis=0), axis=1)
        selected = (ranks < node.select_n) & finite
        n_sel = selected.sum(axis=1)
        share = np.where(n_sel > 0, 1.0 / np.maximum(n_sel, 1), 0.0)
        acc: Alloc = {}
        for j, alloc in enumerate(allocs):
            self._add(acc, alloc, selected[:, j] * share)
        self.records[node.path] = NodeRecord(node, data={
            "labels": [self._child_label(c) for c in node.children], "values": vals, "selected": selected,
            "ranks": ranks})
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
            "labels": [self._child_label(c) for c in node.children], "sigma": sig, "weights": weights})
        return acc

    # -- reach (which decision nodes were on the active path each session) -------------------------------------
    def assign_reach(self, node, reach: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> None:
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
    missing = sorted(t for t in symphony_tickers(root) if t not in cache.closes.columns)
    if missing:
        raise DataError(f"no price history for {', '.join(missing)} (symphony {root.name!r})")
    lo = 0 if start is None else int(cache.sessions.searchsorted(pd.Timestamp(start), side="left"))
    if lo >= len(cache.sessions):
        raise DataError(f"no session on or after {pd.Timestamp(start).date()} in the price history")
    ev = _Evaluator(root, cache, lo)
    alloc = ev._equal(root.children) if root.children else {}
    ev.assign_reach(root, np.ones(ev.T, dtype=bool))
    tree_order = {getattr(n, "path", ""): i for i, n in enumerate(iter_nodes(root))}
    records = dict(sorted(ev.records.items(), key=lambda kv: tree_order.get(kv[0], len(tree_order))))
    held = sorted(alloc)
    mat = np.column_stack([alloc[t] for t in held]) if held else np.zeros((ev.T, 0))
    mat = np.where(np.abs(mat) < 1e-15, 0.0, mat)
    sessions = cache.sessions[lo:]
    weights = pd.DataFrame(mat, index=sessions, columns=held)
    cash = pd.Series(np.clip(1.0 - mat.sum(axis=1), 0.0, 1.0), index=sessions, name=CASH)
    valid = pd.Series(ev.valid, index=sessions, name="valid")
    return Evaluation(root=root, sessions=sessions, weights=weights, cash=cash, valid=valid, records=records)
