"""Order identity: the deterministic client order id of every account order (pure).

The same account, symphony (``net`` for netted account orders), session, ticker, side and attempt always give the
same id (≤ 48 characters, Alpaca's limit), so a re-run can look an order up before resubmitting and the broker
refuses a second order with the same id. Planning lives in :mod:`engine.netting`, the book in :mod:`engine.ledger`.
"""
from __future__ import annotations

import datetime as dt
import hashlib

MAX_CLIENT_ORDER_ID = 48


def client_order_id(account_id: str, symphony_id: str, session_date: dt.date, ticker: str, side: str,
                    attempt: int = 0) -> str:
    """Deterministic client order id, e.g. ``oc-20240621-3f9a0c1b2d4e-SPY-b-0`` (≤ 48 characters).

    The hash covers account, symphony, session, ticker and side; ticker is kept readable (truncated to 12 chars).
    """
    digest = hashlib.sha256(f"{account_id}|{symphony_id}|{session_date.isoformat()}|{ticker}|{side}"
                            .encode()).hexdigest()[:12]
    safe_ticker = "".join(ch if ch.isalnum() else "." for ch in ticker)[:12]
    cid = f"oc-{session_date:%Y%m%d}-{digest}-{safe_ticker}-{side[0]}-{attempt}"
    assert len(cid) <= MAX_CLIENT_ORDER_ID
    return cid
