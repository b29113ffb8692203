"""The session's account orders and fills as stored: the plan, and each broker answer recorded as it arrives.

An order row is written ``planned`` (with its deterministic client id) before anything is sent, and updated as
soon as the broker answers that one order (:func:`record`) — never only after the whole loop — so a crash or a
failing account leaves every answered order recorded. Re-planning a session (:func:`replace_plan`) keeps every
row the broker already answered. All amounts: USD, shares.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from warehouse import schema
from warehouse.store import Warehouse

NET = "net"   # symphony id of netted account orders (engine.netting.NET)
#: statuses written by us, not by a broker: the row has no broker answer (yet).
UNANSWERED = frozenset({"planned", "failed"})


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and x != x) else float(x)


def _text(x: Any) -> str | None:
    return x if isinstance(x, str) and x else None


def session_orders(wh: Warehouse, session: dt.date) -> pd.DataFrame:
    """Every account order of ``session`` (the ``orders`` columns)."""
    return wh.read("orders", where={"session_date": session})


def answered(row: dict) -> bool:
    """True when the broker has answered this order (it has a broker status, not planned/failed/gated)."""
    return _text(row.get("status")) not in UNANSWERED | {None, "dry_run", "blocked"}


def replace_plan(wh: Warehouse, session: dt.date, planned: list[dict]) -> int:
    """Write the session's planned orders, keeping every row a broker already answered.

    A planned row whose client id was already answered keeps the answer (status, broker id, fills; its
    ``reason`` is the plan's unless the broker gave one). Answered rows no longer in the plan are kept too: they
    exist at the broker. A row claimed for sending keeps its ``first_attempt_at`` (:func:`claim_first_attempts`),
    answered or not. Returns the number of rows written.
    """
    stored = session_orders(wh, session).to_dict("records")
    attempted = {r["client_order_id"]: r["first_attempt_at"] for r in stored if not pd.isna(r["first_attempt_at"])}
    old = {r["client_order_id"]: r for r in stored if answered(r)}
    rows = []
    for r in planned:
        if r["client_order_id"] in attempted:   # a claim survives re-planning: a broker may hold the order
            r = {**r, "first_attempt_at": attempted[r["client_order_id"]]}
        prev = old.pop(r["client_order_id"], None)
        if prev is not None:
            r = {**r, **{k: prev[k] for k in ("status", "broker_order_id", "submitted_at", "filled_qty",
                                              "filled_avg_price")},
                 "reason": _text(prev.get("reason")) or r.get("reason")}
        rows.append(r)
    rows.extend(old.values())
    return wh.replace("orders", pd.DataFrame(rows), where={"session_date": session})


def claim_first_attempts(wh: Warehouse, session: dt.date, account_id: str, client_order_ids: Iterable[str],
                         at: dt.datetime | None = None) -> set[str]:
    """Mark the given orders as being sent, in one committed transaction, before any of them is sent.

    Only rows never claimed before (``first_attempt_at`` NULL) are claimed, atomically (``UPDATE ... WHERE
    first_attempt_at IS NULL``), so two runs can never both claim one order. Returns the client ids claimed now:
    no earlier attempt of these exists anywhere, so their first submission needs no broker look-up
    (:func:`engine.broker.send_exactly_once` with ``first_attempt=True``); every other order is looked up first.
    """
    ids = sorted(set(client_order_ids))
    if not ids:
        return set()
    o = schema.orders
    claimed: set[str] = set()
    with wh.begin() as conn:
        for start in range(0, len(ids), 1_000):
            stmt = (sa.update(o).where(o.c.session_date == session, o.c.account_id == account_id,
                                       o.c.client_order_id.in_(ids[start:start + 1_000]),
                                       o.c.first_attempt_at.is_(None))
                    .values(first_attempt_at=at or dt.datetime.now(dt.timezone.utc))
                    .returning(o.c.client_order_id))
            claimed.update(r[0] for r in conn.execute(stmt))
    return claimed


def record(wh: Warehouse, row: dict, *, status: str, reason: str | None = None, broker_order_id: str | None = None,
           submitted_at: dt.datetime | None = None, filled_qty: float | None = None,
           filled_avg_price: float | None = None) -> dict:
    """Update ONE order row at once with the broker's answer (or our own status), its filled quantity and
    average price included.

    ``reason`` replaces the stored one only when given (a broker's silence never clears the plan's reason).
    One ``UPDATE`` in its own transaction (the row is inserted when it is missing). The ``fills`` rows are
    derived from the order rows (:func:`fill_rows`) and rewritten in one batch by :func:`replace_fills` at the
    end of the submission and reconciliation steps: the order row alone carries everything a re-run needs.
    Returns the row as written.
    """
    new = {**row, "status": status, "reason": _text(reason) or _text(row.get("reason"))}
    if broker_order_id is not None or status not in UNANSWERED:
        new.update(broker_order_id=broker_order_id, submitted_at=submitted_at, filled_qty=filled_qty,
                   filled_avg_price=filled_avg_price)
    values = [_py(new.get(k)) for k in _ANSWER_COLUMNS]
    o = schema.orders
    with wh.begin() as conn:
        if wh.backend == "duckdb":   # the driver directly: SQLAlchemy's per-call compile was a third of the cost
            changed = len(conn.connection.driver_connection.execute(
                _DUCKDB_UPDATE, [*values, new["client_order_id"]]).fetchall())
        else:
            changed = conn.execute(sa.update(o).where(o.c.client_order_id == new["client_order_id"]).values(
                dict(zip(_ANSWER_COLUMNS, values)))).rowcount
        if not changed:
            conn.execute(sa.insert(o).values(**{c.name: _py(new.get(c.name)) for c in o.columns}))
    return new


_ANSWER_COLUMNS = ("status", "reason", "broker_order_id", "submitted_at", "filled_qty", "filled_avg_price")
_DUCKDB_UPDATE = ("UPDATE orders SET " + ", ".join(f"{c} = ?" for c in _ANSWER_COLUMNS)
                  + " WHERE client_order_id = ? RETURNING 1")


def _py(value: Any) -> Any:
    """A plain Python value for SQL (NaN/NaT → None, pandas/numpy scalars unwrapped)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def fill_rows(order_rows: Iterable[dict], session: dt.date, filled_at: dt.datetime | None = None) -> list[dict]:
    """One ``fills`` row per order with a positive filled quantity (the broker's aggregate fill).

    ``filled_at`` defaults to the order's submission time (market orders fill at once), else now.
    """
    out = []
    for r in order_rows:
        qty = _num(r.get("filled_qty"))
        if qty is None or qty <= 0:
            continue
        price = _num(r.get("filled_avg_price")) or 0.0
        when = filled_at or (r.get("submitted_at") if not pd.isna(r.get("submitted_at")) else None) \
            or dt.datetime.now(dt.timezone.utc)
        out.append({"fill_id": f"{r['client_order_id']}-fill", "client_order_id": r["client_order_id"],
                    "account_id": r["account_id"], "symphony_id": NET, "session_date": session,
                    "ticker": r["ticker"], "side": r["side"], "qty": qty, "price": price,
                    "notional_usd": qty * price, "filled_at": when})
    return out


def replace_fills(wh: Warehouse, session: dt.date, order_rows: Iterable[dict],
                  filled_at: dt.datetime | None = None) -> int:
    """Rewrite the session's fills from its order rows (after a late-fill refresh)."""
    return wh.replace("fills", pd.DataFrame(fill_rows(order_rows, session, filled_at)),
                      where={"session_date": session})
