"""A plain per-session reference evaluator: the oracle the vectorised engine must agree with.

It walks the tree once per session with scalar values and dictionaries — no arrays over time, no reach masks.
Indicator values come from the same indicator functions (this oracle checks the tree semantics, not the
indicator formulas, which have their own golden tests). Sub-strategy series (filters / inverse-vol over
non-asset children) are rebuilt here day by day from the child's own per-session weights.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from engine.indicators import compute_indicator
from engine.model import (Asset, Comparison, CompoundCondition, Constant, Empty, Filter, Group, If, IndicatorRef,
                          MultiTickerComparison, WeightEqual, WeightInverseVol, WeightSpecified)


class ReferenceEvaluator:
    def __init__(self, root, closes: pd.DataFrame):
        self.root = root
        self.closes = closes
        self._ind: dict = {}
        self._memo: dict = {}
        self._px = None

    def indicator(self, fn, ticker, window, params, t: int) -> float:
        key = (fn, window, params)
        if key not in self._ind:
            frame = compute_indicator(fn, self.closes, window, params)
            self._ind[key] = (frame.to_numpy(dtype="float64"), {c: i for i, c in enumerate(frame.columns)})
        values, cols = self._ind[key]
        return float(values[t, cols[ticker]])

    def weights(self, t: int) -> dict[str, float]:
        """Target weights on session index ``t`` (None-valued conditions count as False)."""
        out: dict[str, float] = {}
        for child in self.root.children:
            for k, v in self.node(child, t).items():
                out[k] = out.get(k, 0.0) + v / len(self.root.children)
        return {k: v for k, v in out.items() if v > 1e-12}

    def node(self, node, t: int) -> dict[str, float]:
        key = (id(node), t)
        if key in self._memo:
            return self._memo[key]
        res = self._node(node, t)
        self._memo[key] = res
        return res

    def _equal(self, children, t):
        out: dict[str, float] = {}
        for c in children:
            for k, v in self.node(c, t).items():
                out[k] = out.get(k, 0.0) + v / len(children)
        return out

    def _node(self, node, t):
        if isinstance(node, Asset):
            return {node.ticker: 1.0}
        if isinstance(node, Empty):
            return {}
        if isinstance(node, (WeightEqual, Group)):
            return self._equal(node.children, t) if node.children else {}
        if isinstance(node, WeightSpecified):
            out: dict[str, float] = {}
            for w, c in zip(node.weights, node.children):
                if w > 0:
                    for k, v in self.node(c, t).items():
                        out[k] = out.get(k, 0.0) + w * v
            return out
        if isinstance(node, If):
            branch = node.then_children if self.cond(node.condition, t) else node.else_children
            return self._equal(branch, t) if branch else {}
        if isinstance(node, Filter):
            vals = [self.child_value(c, node.sort_fn, node.sort_window, node.sort_params, t) for c in node.children]
            eligible = [j for j, v in enumerate(vals) if not math.isnan(v)]
            sign = -1.0 if node.select == "top" else 1.0
            eligible.sort(key=lambda j: (sign * vals[j], j))
            chosen = eligible[: node.select_n]
            out = {}
            for j in chosen:
                for k, v in self.node(node.children[j], t).items():
                    out[k] = out.get(k, 0.0) + v / len(chosen)
            return out
        if isinstance(node, WeightInverseVol):
            sig = [self.child_value(c, "standard-deviation-return", node.window, (), t) for c in node.children]
            if any(s == 0 for s in sig):
                inv = [1.0 if s == 0 else 0.0 for s in sig]
            else:
                inv = [0.0 if math.isnan(s) else 1.0 / s for s in sig]
            total = sum(inv)
            out = {}
            for s_inv, c in zip(inv, node.children):
                if total > 0 and s_inv > 0:
                    for k, v in self.node(c, t).items():
                        out[k] = out.get(k, 0.0) + v * s_inv / total
            return out
        raise TypeError(node)

    def child_value(self, child, fn, window, params, t) -> float:
        if isinstance(child, Asset):
            return self.indicator(fn, child.ticker, window, params, t)
        # the child's own daily-rebalanced NAV, built day by day
        if self._px is None:
            self._px = (self.closes.to_numpy(dtype="float64"), {c: i for i, c in enumerate(self.closes.columns)})
        px, cols = self._px
        nav = [1.0]
        for s in range(1, t + 1):
            w = self.node(child, s - 1)
            r = 0.0
            for k, v in w.items():
                p0, p1 = px[s - 1, cols[k]], px[s, cols[k]]
                if np.isfinite(p0) and np.isfinite(p1):
                    r += v * (p1 / p0 - 1.0)
            nav.append(nav[-1] * (1.0 + r))
        frame = pd.DataFrame({"_s": nav}, index=self.closes.index[: t + 1])
        return float(compute_indicator(fn, frame, window, params)["_s"].iloc[-1])

    def value(self, operand, t, ticker=None) -> float:
        if isinstance(operand, Constant):
            return operand.value
        tk = ticker if operand.ticker == "%" else operand.ticker
        return self.indicator(operand.fn, tk, operand.window, operand.params, t)

    def cond(self, cond, t) -> bool:
        if isinstance(cond, Comparison):
            return self.compare(cond, t, None)
        if isinstance(cond, MultiTickerComparison):
            parts = [self.compare(cond, t, tk) for tk in cond.tickers]
            return any(parts) if cond.operator == "any" else all(parts)
        if isinstance(cond, CompoundCondition):
            parts = [self.cond(c, t) for c in cond.conditions]
            return any(parts) if cond.operator == "any" else all(parts)
        raise TypeError(cond)

    def compare(self, cond, t, ticker) -> bool:
        a, b = self.value(cond.lhs, t, ticker), self.value(cond.rhs, t, ticker)
        if math.isnan(a) or math.isnan(b):
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b, "eq": a == b}[cond.comparator]
