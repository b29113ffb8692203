"""What a live control does on a session (pure): shared by the daily graph (``warehouse.repos.controls``) and the
replay (:func:`engine.replay.replay`).

The two controls (``warehouse.schema.symphony_controls``; the semantics in ``warehouse/repos/controls.py``):

* ``cash_until_rebalance`` — sold to cash on its first session, then cash until the next **scheduled** rebalance
  of the symphony's rule (:func:`scheduled_rebalance`), where it trades to its targets and is consumed.
* ``skip_next_rebalance`` — the next session on which the rule would trade keeps the holdings; consumed there.

A control row is a mapping with at least ``control_id, control, status, effective_session, set_by, set_at,
started_session, consumed_session``. Decisions read only the row and the session, so a session decided again from
the row its first decision left (``started_session`` / ``consumed_session`` set) repeats the same decision.

* :func:`acting_control` — which of a symphony's rows acts on a session (the selection of
  ``warehouse.repos.controls.acting_on``).
* :func:`decide` — the rule's decision and the control's, combined: ``(action, change, reason)``.
* :func:`control_action`, :func:`scheduled_rebalance` — its two parts.
* :func:`plan_reason` — the one-line reason the graph logs for the symphony.
* :func:`apply_change` — a row after its change (what the warehouse stores), for a caller that decides session
  after session in memory.

Sessions are ``datetime.date``; weights are fractions.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from engine.ledger import needs_rebalance

#: The statuses of a row that can still act on some session (a ``cleared`` control never acts).
ACTING_STATUSES: tuple[str, ...] = ("open", "consumed")


def _date_or_none(v: Any) -> dt.date | None:
    return None if v is None or (not isinstance(v, dt.date) and pd.isna(v)) else v


def scheduled_rebalance(rule: str, session: dt.date, previous: dt.date | None, targets: dict[str, float],
                        previous_targets: dict[str, float] | None) -> bool:
    """Whether ``session`` is a scheduled rebalance of ``rule`` (module docstring): calendar rules by period;
    ``none`` when the set of target tickers differs from ``previous_targets`` (False when those are unknown).

    Raises:
        ValueError: an unknown rule.
    """
    if rule == "none":
        if previous_targets is None:
            return False
        return {t for t, w in targets.items() if w > 1e-12} != {t for t, w in previous_targets.items() if w > 1e-12}
    trade, _ = needs_rebalance(rule=rule, corridor=None, session=session, previous_session=previous, holdings={},
                               cash=0.0, prices={}, targets={}, has_traded=True)
    return trade


def control_action(control: Mapping[str, Any], session: dt.date, scheduled: bool) -> tuple[str, dict | None, str]:
    """What ``control`` does on ``session``: ``(action, change to store or None, reason)``.

    ``action``: ``'liquidate'`` (sell everything), ``'hold'`` (trade nothing) or ``'rule'`` (trade as the rule
    says). ``scheduled``: for ``cash_until_rebalance`` :func:`scheduled_rebalance`; for ``skip_next_rebalance``
    whether the rule would trade today.
    """
    who = f"{control['control']} set by {control['set_by']}"
    consumed = _date_or_none(control.get("consumed_session"))
    if control["control"] == "cash_until_rebalance":
        started = _date_or_none(control.get("started_session"))
        if consumed == session:
            return "rule", None, f"{who} ended: scheduled rebalance on {session}"
        if started is None or session <= started:
            return "liquidate", (None if started == session else {"started_session": session}), \
                f"{who}: to cash until the next scheduled rebalance"
        if scheduled:
            return "rule", {"consumed_session": session, "status": "consumed"}, \
                f"{who} ended: scheduled rebalance on {session}"
        return "hold", None, f"{who}: holding cash until the next scheduled rebalance"
    if control["control"] == "skip_next_rebalance":
        if consumed == session:
            return "hold", None, f"{who}: this rebalance skipped, holdings kept"
        if scheduled:
            return "hold", {"consumed_session": session, "status": "consumed"}, \
                f"{who}: this rebalance skipped, holdings kept"
        return "rule", None, f"{who}: waiting for the next rebalance"
    raise ValueError(f"unknown control {control['control']!r}")


def decide(control: Mapping[str, Any], rule: str, session: dt.date, previous: dt.date | None, trade: bool,
           targets: dict[str, float], previous_targets: dict[str, float] | None) -> tuple[str, dict | None, str]:
    """:func:`control_action` of ``control`` on ``session`` after the rule's decision ``trade``
    (:func:`engine.ledger.needs_rebalance`): ``skip_next_rebalance`` acts on the rule's decision,
    ``cash_until_rebalance`` on :func:`scheduled_rebalance` (``previous_targets``: the previous session's targets
    without cash, None when unknown; read for rule ``none`` only)."""
    scheduled = trade if control["control"] == "skip_next_rebalance" else \
        scheduled_rebalance(rule, session, previous, targets, previous_targets)
    return control_action(control, session, scheduled)


def plan_reason(action: str, trade: bool, why: str, control_why: str | None) -> str:
    """The symphony's one-line reason for the session: the rule's (``why`` of
    :func:`engine.ledger.needs_rebalance`) and, when a control acts, the control's (``control_why``)."""
    if control_why is None:
        return f"{'trade' if trade else 'hold'} — {why}"
    if action == "liquidate":
        return f"to cash — {control_why}"
    if action == "hold":
        return f"hold — {control_why}"
    return f"{'trade' if trade else 'hold'} — {why} ({control_why})"


def acting_control(rows: Iterable[Mapping[str, Any]], session: dt.date) -> Mapping[str, Any] | None:
    """The one of a symphony's control rows acting on ``session``: status open, or consumed on/after ``session``
    (a re-run repeats its decision), with ``effective_session <= session``; of several, the last set (``set_at``).
    None when none acts."""
    out = None
    for r in sorted(rows, key=lambda r: pd.Timestamp(r["set_at"])):
        if r.get("status") not in ACTING_STATUSES or r["effective_session"] > session:
            continue
        consumed = _date_or_none(r.get("consumed_session"))
        if r["status"] == "consumed" and (consumed is None or consumed < session):
            continue
        out = r
    return out


def apply_change(row: dict, change: Mapping[str, Any] | None) -> dict:
    """``row`` with ``change`` (a :func:`control_action` change) applied, in place; returned."""
    if change:
        row.update(change)
    return row


__all__ = ["ACTING_STATUSES", "scheduled_rebalance", "control_action", "decide", "plan_reason", "acting_control",
           "apply_change"]
