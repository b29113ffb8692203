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


# -- the per-session Python simulation loop: the oracle of the compiled kernel (engine/kernel.py) ---------------

def reference_simulate_detailed(prices: np.ndarray, targets: np.ndarray, trade_days, *, capital: float,
                                slippage: float, corridor: float | None = None, sessions=None,
                                apply_reg_fee: bool = False, apply_taf_fee: bool = False, fee_schedule=None,
                                apply_cat_fee: bool = False, costs=None):
    """The simulation as :func:`engine.backtest.simulate_detailed` computed it before the compiled kernel: one
    Python iteration per session with NumPy calls on (K,) rows, fees through
    :meth:`engine.costs.CostModel.session_fees`. Same arguments, same :class:`engine.backtest.Simulation`
    result; kept verbatim as the oracle the kernel must agree with (tests/engine/test_kernel.py)."""
    from engine.backtest import Simulation
    from engine.costs import CostModel
    from engine.fees import COMPOSER_FEE_SCHEDULE

    fee_schedule = COMPOSER_FEE_SCHEDULE if fee_schedule is None else fee_schedule
    T, K = prices.shape
    model = costs if costs is not None else CostModel(slippage * 10_000.0, apply_reg_fee, apply_taf_fee,
                                                      apply_cat_fee, fee_schedule)
    fees_on = model.any_fee
    if fees_on:
        if sessions is None:
            raise ValueError("sessions are required to look up the dated fee rates")
        if len(sessions) != T:
            raise ValueError(f"sessions has {len(sessions)} entries for {T} price rows")
        rates = model.session_rates(sessions)
    shares = np.zeros(K)
    cash = float(capital)
    nav = np.empty(T)
    slip = np.zeros(T)
    reg = np.zeros(T)
    taf = np.zeros(T)
    cat = np.zeros(T)
    reason = np.full(T, "", dtype=object)
    no_price = ~np.isfinite(prices)
    rows_with_gap = no_price.any(axis=1)
    missing = np.zeros((T, K), dtype=bool)
    turnover = np.zeros(T)
    traded = np.zeros(T, dtype=bool)
    held_shares = np.empty((T, K))
    vweights = np.empty((T, K))
    cash_end = np.empty(T)
    filled = pd.DataFrame(prices).ffill().fillna(0.0).to_numpy(dtype="float64")
    with np.errstate(divide="ignore"):
        inv_filled = np.where(filled > 0, 1.0 / np.where(filled > 0, filled, 1.0), 0.0)
    zeros_k = np.zeros(K)
    for t in range(T):
        px = filled[t]
        hold = shares * px
        value = cash + hold.sum()
        target = targets[t]
        why = ""
        if t == 0:
            do_trade, why = True, "initial"
        elif trade_days is not None:
            do_trade = bool(trade_days[t])
            why = "calendar" if do_trade else ""
        else:
            cur_w = hold / value if value > 0 else zeros_k
            do_trade = bool(np.any((target > 1e-12) != (shares > 1e-12)))
            why = "branch switch" if do_trade else ""
            if not do_trade and corridor is not None:
                do_trade = bool(np.any(np.abs(cur_w - target) > corridor + 1e-12))
                why = "corridor" if do_trade else ""
        if rows_with_gap[t]:
            held = shares > 1e-12
            if do_trade:
                held = held | (target > 1e-12)
            missing[t] = no_price[t] & held
        if do_trade:
            post = value
            for _ in range(50):
                new_post = value - slippage * np.abs(target * post - hold).sum()
                if abs(new_post - post) <= 1e-10 * max(1.0, abs(value)):
                    post = new_post
                    break
                post = new_post
            new_shares = target * (post * inv_filled[t])
            new_cash = post - (new_shares * px).sum()
            slip[t] = value - post
            if fees_on:
                delta = new_shares - shares
                reg[t], taf[t], cat[t] = model.session_fees(rates, t, delta, px)
                fee = reg[t] + taf[t] + cat[t]
                new_cash -= fee
                if fee > 0.0 and new_cash < 0.0:
                    buys = delta > 0
                    buy_cost = float((delta[buys] * px[buys]).sum()) * (1.0 + slippage)
                    if buy_cost > 0.0:
                        scale = max(0.0, 1.0 - (-new_cash) / buy_cost)
                        new_shares = np.where(buys, shares + scale * delta, new_shares)
                        new_cash += (1.0 - scale) * buy_cost
                        slip[t] -= (1.0 - scale) * float((delta[buys] * px[buys]).sum()) * slippage
            new_hold = new_shares * px
            new_value = new_cash + new_hold.sum() if reg[t] + taf[t] + cat[t] > 0.0 else post
            if value > 0 and new_value > 0:
                turnover[t] = 0.5 * (np.abs(new_hold / new_value - hold / value).sum()
                                     + abs(new_cash / new_value - cash / value))
            shares, cash, hold, value = new_shares, new_cash, new_hold, new_value
            traded[t] = True
            reason[t] = why
        nav[t] = value
        held_shares[t] = shares
        cash_end[t] = cash
        vweights[t] = hold / value if value > 0 else 0.0
    return Simulation(nav=nav, shares=held_shares, traded=traded, slippage=slip, reg_fee=reg, taf_fee=taf,
                      weights=vweights, cash=cash_end, turnover=turnover, cat_fee=cat, reason=reason,
                      missing=missing)
