"""Replay of the live path over many sessions in one process (pure): targets → netted orders → simulated fills →
ledgers → NAV, session after session, for every account and symphony given.

What one session does is what the daily graph (``assets/daily.py``) does for it, through the same engine
functions:

1. **targets** — :func:`engine.evaluate.evaluate` once over the whole range (indicators see all history; a
   session's decision reads closes up to that session only, so this equals the graph's one-session evaluation);
   a symphony whose stored row does not parse, that lacks a bar of one of its tickers on the session, or whose
   indicators are undefined (warm-up) fails alone: target all cash, ``symphony_runs`` row ``failed``.
2. **rebalance rule** — :func:`engine.ledger.needs_rebalance` (daily; first session of a week / month / quarter /
   year; corridor; a ledger that never traded always trades), then the symphony's **live control**, decided as the
   graph decides it (:mod:`engine.controls`): ``cash_until_rebalance`` sells to cash on its first session and
   holds cash until the rule's next scheduled rebalance, ``skip_next_rebalance`` keeps the holdings on the next
   session the rule would trade; the control's changes carry from session to session (``replay(controls=...)``).
3. **orders** — each account's intents netted per ticker (:mod:`engine.netting`): crosses inside the account at
   the reference price, one broker order per ticker for the net, sells first; risk gates of :mod:`engine.risk`.
4. **fills** — the simulated paper broker (``resources.brokers.SimulatedAccount``): every order fills in full at
   the session's close with the :class:`engine.costs.CostModel` (:func:`simulated_fill`, the same arithmetic).
5. **ledgers and NAV** — :func:`engine.ledger.settle`, NAV = cash + Σ shares·close (USD), daily return against the
   previous NAV (or the capital), and Composer's statistics of the NAV history to the session
   (:func:`history_stats`, the numbers of :func:`engine.metrics.composer_stats`).

Sizing (``sizing=``):

* ``"exact"`` (:data:`EXACT`, default) — the simulated broker's costs are known before the order is sent, so each
  symphony is sized the way the backtest sizes it (:func:`exact_trade`, the arithmetic of
  :func:`engine.backtest.simulate_detailed`): post-trade value ``V'`` from the slippage fixed point
  ``V' = V − s·Σ|w·V' − h|``, target shares ``w·V'/p``, the fees of each leg from the cost model and, when they
  take the cash below zero, every buy scaled by one factor so that cash ends at zero. Sales and buys are sent by
  quantity; legs under one cent of notional (:data:`engine.costs.MIN_FILL_NOTIONAL`, floating-point residue of
  re-targeting an unchanged weight) are not sent. A symphony alone in its account then has paper NAV = backtest
  NAV (``tests/orchestration/test_replay.py``: relative difference ≤ 1e-9 per session). Symphonies sharing an
  account cross opposite trades at the reference price without slippage or fees, so they do a little better
  than their backtests on the sessions they cross.
* ``"buffered"`` (:data:`BUFFERED`) — the daily graph's planner as it is (:func:`engine.netting.intents_for` and
  :func:`engine.netting.plan_account`): 10 bp of sale proceeds and 3 cents per sale held back from the buys,
  notional buys floored to the cent, nets under 1 USD not sent. What the graph itself would have traded.

Conventions: amounts in USD, quantities in shares (fractional), weights are fractions; sessions are
``datetime.date``; orders are submitted and filled at the session's trading time (close − 10 minutes,
:func:`engine.calendar.trading_time`) at the session's adjusted close.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.broker import OrderRequest
from engine.calendar import previous_session as calendar_previous_session, trading_time
from engine.controls import acting_control, apply_change, decide, plan_reason
from engine.costs import MIN_FILL_NOTIONAL, CostModel
from engine.evaluate import CASH, Evaluation, IndicatorCache, evaluate, root_tickers
from engine.ledger import Ledger, OrderOutcome, needs_rebalance, settle
from engine.metrics import PERIODS_PER_YEAR, annualized_return
from engine.model import Root
from engine.netting import NET, NettingPlan, SymphonyIntent, by_ticker, intents_for, plan_account, sells_first
from engine.risk import RiskLimits, account_loss, gate

EXACT = "exact"
BUFFERED = "buffered"
SIZINGS: tuple[str, ...] = (EXACT, BUFFERED)
#: Iterations and relative tolerance of the slippage fixed point (those of :func:`engine.backtest.simulate_detailed`).
FIXED_POINT_ITERATIONS = 50
FIXED_POINT_TOLERANCE = 1e-10
DEFAULT_CAPITAL_USD = 10_000.0


class ReplayError(ValueError):
    """A replay that cannot start: an unknown sizing, an empty session list, a session without any price."""


@dataclass(frozen=True)
class ReplaySymphony:
    """One traded symphony as it enters the first replayed session.

    Attributes:
        account_id, symphony_id: identity.
        root: the parsed model, or None when the stored row cannot be used (``error`` says why; it trades to cash).
        capital_usd: starting capital (USD) of a ledger that never traded; the base of the first daily return.
        ledger: the ledger carried into the first session (its starting capital in cash if it never traded).
        has_traded: whether the ledger traded before the first session.
        last_nav_usd: NAV (USD) at its last session before the range, None if none.
        nav_history: NAV (USD) of sessions before the range (index = dates), for the statistics.
        error: why ``root`` is None.
    """

    account_id: str
    symphony_id: str
    root: Root | None
    capital_usd: float = DEFAULT_CAPITAL_USD
    ledger: Ledger | None = None
    has_traded: bool = False
    last_nav_usd: float | None = None
    nav_history: pd.Series | None = None
    error: str | None = None

    def start_ledger(self) -> Ledger:
        """The ledger carried into the first session (fresh capital in cash when none was given)."""
        return self.ledger if self.ledger is not None else Ledger({}, float(self.capital_usd))


@dataclass
class ReplayResult:
    """Rows of every replayed session, shaped like the warehouse tables the daily graph writes (dicts, one per
    row; column names as in ``warehouse.schema``), and the ledgers after the last session.

    Attributes:
        sessions: the replayed sessions (ascending).
        target_allocations, decision_traces, symphony_runs, orders, order_intents, positions, daily_nav,
        performance_metrics: the rows of those tables.
        ledgers: ``{symphony_id: Ledger}`` after the last session.
        control_transitions: ``(control_id, change)`` of every live control the replay started or consumed, in
            session order (the changes of ``warehouse.repos.controls.apply_transitions``).
        control_decisions: one row per symphony and session a live control acted on: ``account_id, symphony_id,
            session_date, control_id, control, action`` (``liquidate|hold|rule``) and ``reason`` (the line the
            daily graph logs for the symphony).
    """

    sessions: list[dt.date]
    target_allocations: list[dict] = field(default_factory=list)
    decision_traces: list[dict] = field(default_factory=list)
    symphony_runs: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    order_intents: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)
    daily_nav: list[dict] = field(default_factory=list)
    performance_metrics: list[dict] = field(default_factory=list)
    ledgers: dict[str, Ledger] = field(default_factory=dict)
    control_transitions: list[tuple[str, dict]] = field(default_factory=list)
    control_decisions: list[dict] = field(default_factory=list)

    def nav_frame(self) -> pd.DataFrame:
        """``daily_nav`` rows as a frame: index = session (``datetime.date``), columns = symphony ids, NAV in USD."""
        if not self.daily_nav:
            return pd.DataFrame(index=pd.Index([], name="session_date"))
        df = pd.DataFrame(self.daily_nav)
        return df.pivot(index="session_date", columns="symphony_id", values="nav_usd").sort_index()


# -- fills ---------------------------------------------------------------------------------------------------------

def simulated_fill(costs: CostModel, order: OrderRequest, price: float, session: dt.date) -> tuple[float, float]:
    """``(filled shares, all-in price per share)`` of one market order at the simulated broker.

    The arithmetic of ``resources.brokers.SimulatedAccount.submit``: an order by quantity fills that quantity
    (:meth:`CostModel.fill`); a notional buy spends at most the notional all in (:meth:`CostModel.buy_for_notional`);
    a notional sale sells ``notional / fill price`` shares. The all-in price (:attr:`FillCost.net_price`) books the
    fees: ``shares · price`` is the cash received (sale) or paid (buy), USD.

    Args:
        price: the reference price (the session's close), USD per share; session: the trade date (fee rates).
    """
    if order.qty is not None:
        fill = costs.fill(order.side, float(order.qty), price, session)
    elif order.side == "buy":
        fill = costs.buy_for_notional(float(order.notional_usd), price, session)
    else:
        fp = costs.fill_price("sell", price)
        fill = costs.fill("sell", float(order.notional_usd) / fp if fp > 0 else 0.0, price, session)
    return float(fill.shares), float(fill.net_price)


# -- exact sizing (the backtest's) -----------------------------------------------------------------------------------

def exact_trade(holdings: Mapping[str, float], cash: float, prices: Mapping[str, float],
                targets: Mapping[str, float], costs: CostModel, session: dt.date) -> dict[str, float]:
    """The share changes that take a ledger to ``targets`` as the backtest trades a rebalance day.

    Formula (:func:`engine.backtest.simulate_detailed`): ``V = cash + Σ h_t·p_t``; ``V'`` solves
    ``V' = V − s·Σ_t |w_t·V' − h_t·p_t|`` (fixed-point iteration, at most :data:`FIXED_POINT_ITERATIONS`, relative
    tolerance :data:`FIXED_POINT_TOLERANCE`); target shares ``w_t·V'/p_t``; ``cash' = V' − Σ target shares·p``. The
    fees of every changed holding (one fill each: :meth:`CostModel.fill`, the simulated broker's) are taken from
    ``cash'``; when that leaves it below zero every buy is scaled by ``k = max(0, 1 − (−cash')/Σ buys·p·(1+s))``, so
    cash ends at zero. A ticker whose target is 0 sells exactly its holding.

    Args:
        holdings: shares per ticker; cash: USD; prices: USD per share (every held or targeted ticker);
        targets: weights, fractions (Σ ≤ 1); costs: slippage and fees; session: the trade date (fee rates).

    Returns:
        ``{ticker: signed shares}`` (+ buy, − sell), alphabetical, without zero entries.

    Raises:
        KeyError: naming a held or targeted ticker without price.
    """
    names = sorted({t for t, q in holdings.items() if q} | {t for t, w in targets.items() if w > 0})
    for t in names:
        if t not in prices:
            raise KeyError(f"no price for {t!r}")
    px = np.array([float(prices[t]) for t in names])
    shares = np.array([float(holdings.get(t, 0.0)) for t in names])
    target = np.array([float(targets.get(t, 0.0)) for t in names])
    s = costs.slippage
    hold = shares * px
    value = float(cash) + float(hold.sum())
    post = value
    for _ in range(FIXED_POINT_ITERATIONS):
        new_post = value - s * float(np.abs(target * post - hold).sum())
        if abs(new_post - post) <= FIXED_POINT_TOLERANCE * max(1.0, abs(value)):
            post = new_post
            break
        post = new_post
    new_shares = target * (post * (1.0 / px))
    new_cash = post - float((new_shares * px).sum())
    delta = new_shares - shares
    fee = 0.0
    for t, d, p in zip(names, delta, px):
        if d:
            fee += costs.fill("buy" if d > 0 else "sell", abs(float(d)), float(p), session).fees
    new_cash -= fee
    if fee > 0.0 and new_cash < 0.0:
        buys = delta > 0
        buy_cost = float((delta[buys] * px[buys]).sum()) * (1.0 + s)
        if buy_cost > 0.0:
            scale = max(0.0, 1.0 - (-new_cash) / buy_cost)
            delta = np.where(buys, scale * delta, delta)
    out = {}
    for t, d, q in zip(names, delta, shares):
        if targets.get(t, 0.0) <= 1e-12 and q > 0:
            d = -q                        # a full exit sells the ledger's exact quantity
        if d:
            out[t] = float(d)
    return out


def exact_intents(symphony_id: str, holdings: Mapping[str, float], cash: float, prices: Mapping[str, float],
                  targets: Mapping[str, float], costs: CostModel, session: dt.date) -> list[SymphonyIntent]:
    """:func:`exact_trade` as intents (sells first, then buys, each alphabetical), legs under one cent of notional
    (:data:`engine.costs.MIN_FILL_NOTIONAL`) left out. Raises KeyError as :func:`exact_trade`."""
    moves = exact_trade(holdings, cash, prices, targets, costs, session)
    out = [SymphonyIntent(symphony_id, t, d, float(prices[t]),
                          liquidate=d < 0 and targets.get(t, 0.0) <= 1e-12)
           for t, d in moves.items() if abs(d) * float(prices[t]) >= MIN_FILL_NOTIONAL]
    return sorted(out, key=lambda i: (i.delta_qty > 0, i.ticker))


def net_by_quantity(account_id: str, session: dt.date, intents: Iterable[SymphonyIntent]) -> NettingPlan:
    """One account's intents netted per ticker with every order by quantity (the exact sizing's orders).

    Per ticker (:func:`engine.netting.by_ticker`): the net ``N = Σ Δq``; ``|N|·p`` under
    :data:`engine.costs.MIN_FILL_NOTIONAL` with both sides present is an exact cross (no order), one side alone
    under it is skipped; otherwise one order of ``|N|`` shares, ``buy`` or ``sell``, with the deterministic client
    id of :func:`engine.orders.client_order_id` (:meth:`engine.netting.TickerNet.order`). Orders are sorted sells
    first, then by ticker.
    """
    plan = NettingPlan()
    for tn in by_ticker(intents):
        if tn.notional_usd < MIN_FILL_NOTIONAL:
            (plan.crossed if tn.two_sided else plan.skipped)[tn.ticker] = tn.intents
            continue
        plan.orders.append(tn.order(account_id, session, notional_buys=False))
    sells_first(plan.orders)
    return plan


# -- the session loop ------------------------------------------------------------------------------------------------

@dataclass
class _State:
    ledger: Ledger
    has_traded: bool
    last_nav: float | None
    navs: list[tuple[dt.date, float]]


def _session_index(closes: pd.DataFrame) -> dict[dt.date, int]:
    return {ts.date(): i for i, ts in enumerate(pd.DatetimeIndex(closes.index))}


def replay(symphonies: Sequence[ReplaySymphony], closes: pd.DataFrame, sessions: Sequence[dt.date],
           costs: CostModel, *, sizing: str = EXACT, present: pd.DataFrame | None = None,
           limits: Mapping[str, RiskLimits] | None = None, skipped: Sequence[tuple[str, str, str]] = (),
           traces: bool = True, metrics: bool = True, now: dt.datetime | None = None,
           previous_session: Callable[[dt.date], dt.date] = calendar_previous_session,
           progress: Callable[[int, int, dt.date], None] | None = None,
           controls: Mapping[str, Sequence[Mapping]] | None = None,
           targets_before: Mapping[str, Mapping[str, float]] | None = None) -> ReplayResult:
    """Run the live path over ``sessions`` for ``symphonies`` (module docstring: the five steps).

    Args:
        symphonies: the traded symphonies (any accounts), each with the ledger it carries into the first session.
        closes: wide adjusted closes (index = sessions ascending, columns = tickers, USD) from the start of history
            to the last session at least, every ticker the symphonies read (the price reader's frame: interior
            gaps carried forward). Held tickers are valued at their latest close on or before a session.
        sessions: the sessions to replay, ascending (NYSE sessions).
        costs: the simulated broker's cost model (the backtest's).
        sizing: :data:`EXACT` or :data:`BUFFERED` (module docstring).
        present: bool frame like ``closes``, True where the ticker has a bar of its own on that session (default
            ``closes.notna()``); a symphony missing a bar of one of its tickers on a session fails that session.
        limits: risk settings per account (default none).
        skipped: ``(account_id, symphony_id, reason)`` of active symphonies over their account's limit: one
            ``skipped`` run row per session, nothing else.
        traces: write the decision trace of every symphony and session; metrics: the statistics rows.
        now: the ``evaluated_at`` stamp of the run rows (default: the current UTC time).
        previous_session: the session before a date (default the NYSE calendar's).
        progress: called after each session with ``(i, n, session)`` (1-based).
        controls: the live-control rows (``symphony_controls`` columns) that can act within the range, by symphony
            id. On each session a symphony's acting row (:func:`engine.controls.acting_control`) is decided as the
            graph decides it, after its rule (:func:`engine.controls.decide`): ``liquidate`` trades it to cash,
            ``hold`` trades nothing, ``rule`` trades as the rule says; the rows' changes (``started_session``,
            ``consumed_session`` + status) carry to the next session in memory and are returned in
            ``control_transitions``. The given rows are not modified.
        targets_before: the targets (no cash) of the session before the first, by symphony id (what
            ``cash_until_rebalance`` under rule ``none`` compares with on the first session; later sessions use the
            replay's own).

    Returns:
        :class:`ReplayResult`.

    Raises:
        ReplayError: unknown ``sizing``, no session, a session after the last row of ``closes``, or two symphonies
            with the same id.
    """
    if sizing not in SIZINGS:
        raise ReplayError(f"unknown sizing {sizing!r}: use one of {', '.join(SIZINGS)}")
    sessions = sorted(sessions)
    if not sessions:
        raise ReplayError("no session to replay")
    ids = [s.symphony_id for s in symphonies]
    if len(set(ids)) != len(ids):
        raise ReplayError("a symphony id appears twice: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
    if len(closes.index) == 0 or pd.Timestamp(sessions[-1]) > pd.Timestamp(closes.index[-1]):
        last = closes.index[-1].date() if len(closes.index) else "none"
        raise ReplayError(f"no prices after {last}: cannot replay to {sessions[-1]}")
    limits = limits or {}
    now = now or dt.datetime.now(dt.timezone.utc)
    present = closes.notna() if present is None else present.reindex_like(closes).fillna(False).astype(bool)
    index = _session_index(closes)
    # held tickers are valued at their latest close on or before the session (the graph's SessionBook.prices)
    valued = closes.reindex(pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(closes.index))
                                                    | {pd.Timestamp(s) for s in sessions}))).ffill()
    value_index = _session_index(valued)
    cache = IndicatorCache(closes)
    control_rows = {sid: [dict(r) for r in rows] for sid, rows in (controls or {}).items()}
    last_targets: dict[str, dict[str, float]] = {sid: dict(w) for sid, w in (targets_before or {}).items()}
    first = pd.Timestamp(sessions[0])
    evaluations: dict[str, Evaluation | Exception] = {}
    for sym in symphonies:
        if sym.root is None:
            continue
        try:
            evaluations[sym.symphony_id] = evaluate(sym.root, cache, start=first)
        except Exception as exc:   # e.g. a ticker with no history at all: this symphony fails on every session
            evaluations[sym.symphony_id] = exc
    state = {s.symphony_id: _State(s.start_ledger(), s.has_traded, s.last_nav_usd,
                                   [] if s.nav_history is None else
                                   [(pd.Timestamp(d).date(), float(v)) for d, v in s.nav_history.dropna().items()])
             for s in symphonies}
    by_account: dict[str, list[ReplaySymphony]] = {}
    for s in sorted(symphonies, key=lambda s: (s.account_id, s.symphony_id)):
        by_account.setdefault(s.account_id, []).append(s)
    out = ReplayResult(sessions=list(sessions))
    tickers_of = {s.symphony_id: sorted(root_tickers(s.root)) for s in symphonies if s.root is not None}
    col = {t: i for i, t in enumerate(closes.columns)}
    present_arr = present.to_numpy()
    closes_cols = list(closes.columns)
    valued_arr = valued.to_numpy(dtype="float64")
    for n, session in enumerate(sessions, start=1):
        row_i = index.get(session)
        vrow = valued_arr[value_index[session]]
        price_of = {t: float(vrow[i]) for i, t in enumerate(closes_cols) if np.isfinite(vrow[i])}
        stamp = trading_time(session).tz_convert("UTC").to_pydatetime()
        prev = previous_session(session)
        for account_id, sid, why in skipped:
            out.symphony_runs.append(_run(account_id, sid, session, "skipped", why, now))
        for account_id, syms in by_account.items():
            weights, runs = {}, {}
            for sym in syms:
                w, status, reason, trace = _targets(sym, evaluations.get(sym.symphony_id), session, row_i,
                                                    present_arr, col, tickers_of, traces)
                weights[sym.symphony_id] = w
                runs[sym.symphony_id] = (status, reason)
                full = dict(w)
                cash_w = max(0.0, 1.0 - sum(full.values()))
                if cash_w > 1e-9:
                    full[CASH] = cash_w
                out.target_allocations += [{"account_id": account_id, "symphony_id": sym.symphony_id,
                                            "session_date": session, "ticker": t, "target_weight": float(x)}
                                           for t, x in sorted(full.items())]
                out.decision_traces += [{"account_id": account_id, "symphony_id": sym.symphony_id,
                                         "session_date": session, "seq": seq, "node_path": e["node_path"],
                                         "node_type": e["node_type"], "summary": e["summary"],
                                         "detail": e["detail"]} for seq, e in enumerate(trace)]
            intents: list[SymphonyIntent] = []
            for sym in syms:
                sid = sym.symphony_id
                st = state[sid]
                control = acting_control(control_rows.get(sid, ()), session)
                try:
                    mine, action, change, why = _symphony_intents(sym, st, weights[sid], price_of, session, prev,
                                                                  costs, sizing, control, last_targets.get(sid))
                except Exception as exc:   # planning one symphony fails alone
                    runs[sid] = ("failed", f"order planning: {type(exc).__name__}: {exc}")
                    continue
                intents.extend(mine)
                if control is not None:
                    out.control_decisions.append({"account_id": account_id, "symphony_id": sid,
                                                  "session_date": session, "control_id": control["control_id"],
                                                  "control": control["control"], "action": action, "reason": why})
                    if change:
                        apply_change(control, change)   # type: ignore[arg-type]  (our own copy of the row)
                        out.control_transitions.append((control["control_id"], dict(change)))
            last_targets.update(weights)
            cash = {s.symphony_id: state[s.symphony_id].ledger.cash for s in syms}
            plan = plan_account(account_id, session, intents, cash) if sizing == BUFFERED else \
                net_by_quantity(account_id, session, intents)
            outcomes = _fill_account(account_id, syms, state, plan, price_of, session, costs,
                                     limits.get(account_id, RiskLimits()), stamp, out)
            out.order_intents += [_intent_row(account_id, session, i, o.client_order_id, "order")
                                  for o in plan.orders for i in o.intents]
            out.order_intents += [_intent_row(account_id, session, i, None, disposition)
                                  for disposition, groups in (("crossed", plan.crossed), ("skipped", plan.skipped))
                                  for group in groups.values() for i in group]
            groups = [(o.client_order_id, o.intents) for o in plan.orders] + \
                     [(None, g) for g in plan.crossed.values()]
            settled = settle({s.symphony_id: state[s.symphony_id].ledger for s in syms}, groups, outcomes)
            for sym in syms:
                st = state[sym.symphony_id]
                st.ledger = settled[sym.symphony_id]
                st.has_traded = True   # as the graph: a stored positions snapshot means "has traded" next session
                status, reason = runs[sym.symphony_id]
                out.symphony_runs.append(_run(account_id, sym.symphony_id, session, status, reason, now))
                _book(out, account_id, sym, st, session, price_of, metrics)
        if progress is not None:
            progress(n, len(sessions), session)
    out.ledgers = {sid: st.ledger for sid, st in state.items()}
    return out


def _targets(sym: ReplaySymphony, ev, session: dt.date, row_i: int | None, present: np.ndarray,
             col: Mapping[str, int], tickers_of: Mapping[str, list[str]], traces: bool):
    """``(weights, status, reason, trace)`` of one symphony on one session (the graph's ``_evaluate_one``)."""
    try:
        if sym.root is None:
            raise ValueError(sym.error or "the stored symphony cannot be parsed")
        if isinstance(ev, Exception):
            raise ev
        if row_i is None:
            raise ValueError(f"no prices for session {session}")
        missing = [t for t in tickers_of[sym.symphony_id] if t not in col or not present[row_i, col[t]]]
        if missing:
            raise ValueError(f"no price on {session} for ticker(s) {', '.join(missing)} (unknown or not traded)")
        i = int(ev.sessions.searchsorted(pd.Timestamp(session)))
        if i >= len(ev.sessions) or ev.sessions[i] != pd.Timestamp(session):
            raise ValueError(f"no prices for session {session}")
        if not bool(ev.valid_mask[i]):
            raise ValueError("some indicator or price is undefined on this session (warm-up or missing bar)")
        return ev.weights_on(session), "ok", None, (ev.trace(session) if traces else [])
    except Exception as exc:
        reason = str(exc) if sym.root is None else f"{type(exc).__name__}: {exc}"
        return {}, "failed", reason, []


def _symphony_intents(sym: ReplaySymphony, st: _State, weights: Mapping[str, float], price_of: Mapping[str, float],
                      session: dt.date, prev: dt.date, costs: CostModel, sizing: str, control: Mapping | None = None,
                      previous_targets: Mapping[str, float] | None = None
                      ) -> tuple[list[SymphonyIntent], str, dict | None, str]:
    """One symphony's intents for the session, sized by ``sizing``, and its control's decision: ``(intents,
    action, change, reason)`` — the graph's ``warehouse.repos.controls.plan_symphony``: the rule first, then the
    live control (``liquidate``: to an all-cash target; ``hold``: nothing; ``rule``: the rule's trade)."""
    led = st.ledger
    names = sorted(set(led.holdings) | set(weights))
    prices = {t: price_of[t] for t in names if t in price_of}
    rule, corridor = (sym.root.rebalance, sym.root.corridor_width) if sym.root is not None else ("daily", None)
    trade, why = needs_rebalance(rule=rule, corridor=corridor, session=session, previous_session=prev,
                                 holdings=led.holdings, cash=led.cash, prices=prices, targets=weights,
                                 has_traded=st.has_traded)
    action, change, cwhy = "rule", None, None
    if control is not None:
        action, change, cwhy = decide(control, rule, session, prev, trade, dict(weights),
                                      None if previous_targets is None else dict(previous_targets))
    reason = plan_reason(action, trade, why, cwhy)
    if not (action == "liquidate" or (action == "rule" and trade)):
        return [], action, change, reason
    goal = {} if action == "liquidate" else weights
    if sizing == BUFFERED:
        return intents_for(sym.symphony_id, led.holdings, led.cash, prices, goal), action, change, reason
    return exact_intents(sym.symphony_id, led.holdings, led.cash, prices, goal, costs, session), action, change, \
        reason


def _fill_account(account_id: str, syms: list[ReplaySymphony], state: Mapping[str, _State], plan: NettingPlan,
                  price_of: Mapping[str, float], session: dt.date, costs: CostModel, limits: RiskLimits,
                  stamp: dt.datetime, out: ReplayResult) -> dict[str, OrderOutcome]:
    """Gate (:func:`engine.risk.gate`) and fill one account's orders at the simulated broker; order rows to ``out``."""
    loss = None
    if limits.daily_loss_kill_pct is not None:
        navs = []
        for s in syms:
            st = state[s.symphony_id]
            last = st.last_nav if st.has_traded else None
            navs.append((last, st.ledger.nav(price_of) if last is not None else 0.0))
        loss = account_loss(navs)
    outcomes: dict[str, OrderOutcome] = {}
    for o in plan.orders:
        row = {"client_order_id": o.client_order_id, "account_id": account_id, "symphony_id": NET,
               "session_date": session, "ticker": o.ticker, "side": o.side, "notional_usd": o.notional_usd,
               "qty": o.qty, "status": "planned", "broker_order_id": None,
               "reason": f"net of {len(o.intents)} symphony intent(s)", "submitted_at": None, "filled_qty": None,
               "filled_avg_price": None, "ref_price": o.price}
        value = o.notional_usd if o.notional_usd is not None else o.qty * o.price
        held = gate(limits, o.side, value, loss)
        if held is not None:
            row.update(status=held[0], reason=held[1])
        else:
            qty, price = simulated_fill(costs, OrderRequest(o.client_order_id, o.ticker, o.side, o.notional_usd,
                                                            o.qty), o.price, session)
            row.update(status="filled", broker_order_id=f"sim-{o.client_order_id}", submitted_at=stamp,
                       filled_qty=qty, filled_avg_price=price)
            if qty > 0:
                outcomes[o.client_order_id] = OrderOutcome(qty, price)
        out.orders.append(row)
    return outcomes


def _book(out: ReplayResult, account_id: str, sym: ReplaySymphony, st: _State, session: dt.date,
          price_of: Mapping[str, float], metrics: bool) -> None:
    """Positions, NAV and statistics rows of one symphony after the session."""
    led = st.ledger
    sid = sym.symphony_id
    nav = float(led.cash)
    for t, q in sorted(led.holdings.items()):
        p = price_of[t]
        out.positions.append({"account_id": account_id, "symphony_id": sid, "session_date": session, "ticker": t,
                              "qty": q, "price": p, "market_value_usd": q * p})
        nav += q * p
    out.positions.append({"account_id": account_id, "symphony_id": sid, "session_date": session, "ticker": CASH,
                          "qty": led.cash, "price": 1.0, "market_value_usd": led.cash})
    base = st.last_nav if st.last_nav is not None else float(sym.capital_usd or DEFAULT_CAPITAL_USD)
    out.daily_nav.append({"account_id": account_id, "symphony_id": sid, "session_date": session, "nav_usd": nav,
                          "cash_usd": float(led.cash), "daily_return": nav / base - 1.0 if base else None})
    st.last_nav = nav
    st.navs.append((session, nav))
    if metrics:
        hist = np.fromiter((v for _, v in st.navs), dtype="float64", count=len(st.navs))
        for metric, value in history_stats(hist, float(sym.capital_usd or DEFAULT_CAPITAL_USD)).items():
            out.performance_metrics.append({"account_id": account_id, "symphony_id": sid, "as_of_date": session,
                                            "metric": metric,
                                            "value": float(value) if np.isfinite(value) else None})


def history_stats(nav: np.ndarray, capital: float) -> dict[str, float]:
    """:func:`engine.metrics.composer_stats` of a NAV history, on a plain array (the replay computes it after every
    session of every symphony, where the pandas version costs ~9 ms a call; same formulas, same keys and order).

    Args:
        nav: daily NAVs in USD, oldest first, no NaN (shape (T,), T ≥ 1); capital: the starting capital, USD.

    Returns:
        ``start_value, end_value`` (USD), ``cumulative_return, annualized_return, standard_deviation,
        sharpe_ratio, max_drawdown, calmar_ratio`` (fractions / ratios, NaN where undefined) and ``n_days``.
    """
    nan = float("nan")
    n = len(nav) - 1
    end = float(nav[-1])
    cum = end / capital - 1.0
    ann = annualized_return(cum, n)
    rets = nav[1:] / nav[:-1] - 1.0
    sd = float(rets.std(ddof=1)) * np.sqrt(PERIODS_PER_YEAR) if n > 1 else nan
    mean = float(rets.mean()) if n > 0 else nan
    sharpe = mean * PERIODS_PER_YEAR / sd if n > 1 and sd > 0 else nan
    mdd = float(-(nav / np.maximum.accumulate(nav) - 1.0).min())
    calmar = ann / mdd if mdd and mdd > 0 and np.isfinite(ann) else nan
    return {"start_value": float(capital), "end_value": end, "cumulative_return": cum, "annualized_return": ann,
            "standard_deviation": sd, "sharpe_ratio": sharpe, "max_drawdown": mdd, "calmar_ratio": calmar,
            "n_days": float(n)}


def _run(account_id: str, symphony_id: str, session: dt.date, status: str, reason: str | None,
         now: dt.datetime) -> dict:
    return {"account_id": account_id, "symphony_id": symphony_id, "session_date": session, "status": status,
            "reason": reason, "evaluated_at": now}


def _intent_row(account_id: str, session: dt.date, i: SymphonyIntent, cid: str | None, disposition: str) -> dict:
    return {"account_id": account_id, "symphony_id": i.symphony_id, "session_date": session, "ticker": i.ticker,
            "delta_qty": i.delta_qty, "ref_price": i.price, "liquidate": bool(i.liquidate),
            "client_order_id": cid, "disposition": disposition}


__all__ = ["EXACT", "BUFFERED", "SIZINGS", "ReplayError", "ReplaySymphony", "ReplayResult", "replay",
           "simulated_fill", "exact_trade", "exact_intents", "net_by_quantity", "history_stats"]
