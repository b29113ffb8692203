"""Per-account risk gates applied to each netted order before it is sent (pure).

An account row carries three settings (``accounts`` table):

* ``dry_run`` — orders are planned and recorded as ``dry_run``, never sent;
* ``max_order_notional_usd`` — an order whose value (notional, or ``qty · ref_price``) exceeds it is ``blocked``;
* ``daily_loss_kill_pct`` — a fraction (0.02 = 2 %): once the account's ledgers have lost more than that since the
  last close (:func:`account_loss`), new buys are ``blocked``; sells still go.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class RiskLimits:
    """One account's settings: ``max_order_notional_usd`` (USD) and ``daily_loss_kill_pct`` (fraction) or None."""

    dry_run: bool = False
    max_order_notional_usd: float | None = None
    daily_loss_kill_pct: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> "RiskLimits":
        """From an ``accounts`` row (NULL/NaN settings are off; a missing row has no limits)."""
        row = row or {}
        return cls(bool(row.get("dry_run") or False), _number(row.get("max_order_notional_usd")),
                   _number(row.get("daily_loss_kill_pct")))


def account_loss(navs: Iterable[tuple[float | None, float]]) -> float | None:
    """The account's loss since the last close, a fraction (> 0 = loss).

    Args:
        navs: per symphony ``(NAV at the last close or None if it never traded, NAV now)``, USD.

    Returns:
        ``1 − Σ now / Σ last`` over the symphonies with a last NAV; None when there is none.
    """
    prev = now = 0.0
    for last, current in navs:
        if last is None:
            continue
        prev += last
        now += current
    return None if prev <= 0 else 1.0 - now / prev


def gate(limits: RiskLimits, side: str, value_usd: float, loss: float | None) -> tuple[str, str] | None:
    """``(status, reason)`` when the order must not be sent, else None.

    Args:
        side: ``buy`` or ``sell``; value_usd: the order's value, USD; loss: :func:`account_loss` (fraction).
    """
    if limits.dry_run:
        return "dry_run", "dry-run account: planned, not sent"
    cap = limits.max_order_notional_usd
    if cap is not None and value_usd > cap:
        return "blocked", f"order value {value_usd:,.2f} USD above the limit {cap:,.2f} USD"
    kill = limits.daily_loss_kill_pct
    if side == "buy" and kill is not None and loss is not None and loss > kill:
        return "blocked", f"kill switch: account lost {loss:.2%} since the last close"
    return None
