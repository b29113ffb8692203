"""Alert sensors: what went wrong in a run, and in the trading day it ran, delivered through :mod:`resources.alerts`.

* ``run_failure_alerts`` (a run-failure sensor over every job of the code location): one ``run_failed`` alert per
  failed run — job, partition, the failed step and a one-line reason (the :class:`warehouse.WarehouseLockedError`
  line when the DuckDB lock stopped it: kind ``warehouse_locked``) — plus the events below for that run.
* ``trading_alerts`` (a run-status sensor on successful runs; it acts on ``daily_trading`` only): the events below.

Events of a finished ``daily_trading`` run (:func:`alerts_for_run`):

* ``check_failed`` — a blocking asset check that failed with ERROR severity in the run (``daily_bars_complete``:
  the missing / non-positive / duplicated bars), read from the run's Dagster event log;
* ``symphony_liquidated`` — a symphony whose ``symphony_runs`` row of the session is ``failed``: its target is all
  cash and its holdings are sold (the reason from the row);
* ``kill_switch_tripped`` — an account whose loss since the last close passed ``daily_loss_kill_pct``: the audit
  trail's ``kill_switch_tripped`` row for the session, or buys of the session ``blocked`` by the kill switch;
* ``order_rejected`` — an order of the session the broker answered ``rejected`` (with the broker's reason).

Each event has a stable key (``symphony_liquidated:<session>:<symphony>``, ``run_failed:<run id>``, ...), and the
``notifications`` table makes delivery once per key and channel: a sensor evaluated twice, a re-run of the same
session, or both sensors seeing one event send it once. The sensors open the warehouse with a short lock wait
(:data:`ALERT_LOCK_WAIT_S`); when it stays locked the run alert is still delivered, unrecorded, and the session's
events are read at the next finished run. Both sensors start RUNNING with the daemon (an alert one has to remember
to switch on is no alert); with no channel configured they only record.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from resources.alerts import Alert, AlertsResource, Delivery
from resources.warehouse import WarehouseResource
from warehouse import Warehouse, WarehouseLockedError
from warehouse.repos import audit
from warehouse.scope import ALL_ACCOUNTS

#: The job whose sessions are read for trading events.
DAILY_JOB = "daily_trading"
#: Seconds a sensor waits for the DuckDB lock before it alerts without recording (a tick must stay short).
ALERT_LOCK_WAIT_S = 5.0
#: Optional base URL of the Dagster UI: alerts then link the run (``<url>/runs/<run id>``).
ENV_DAGSTER_URL = "ORAGAMI_DAGSTER_URL"
#: ``orders.reason`` prefix of a buy the kill switch blocked (:func:`engine.risk.gate`).
KILL_SWITCH_REASON = "kill switch"


# -- the run's own failure -----------------------------------------------------------------------------------------

def error_line(error: Any) -> tuple[str, bool]:
    """One line for a step's error (a ``SerializableErrorInfo`` chain) and whether the DuckDB lock caused it.

    The innermost user error is named (Dagster wraps it in ``DagsterExecutionStepExecutionError``); a
    :class:`warehouse.WarehouseLockedError` anywhere in the chain wins, as its line says who holds the file.
    """
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause or getattr(error, "context", None)
    for e in chain:
        if e.cls_name == "WarehouseLockedError":
            return e.message.strip().split("WarehouseLockedError: ", 1)[-1].splitlines()[0], True
    user = [e for e in chain if not (e.cls_name or "").startswith("Dagster")] or chain
    if not user:
        return "no error recorded", False
    first = (user[0].message or "").strip().splitlines()
    line = first[0] if first else user[0].cls_name or "error"
    return re.sub(r"^[A-Za-z_][\w.]*\.(\w+: )", r"\1", line), False   # 'pkg.mod.SomeError: x' -> 'SomeError: x'


def _run_link(run_id: str) -> str:
    base = os.environ.get(ENV_DAGSTER_URL, "").rstrip("/")
    return f"\n{base}/runs/{run_id}" if base else ""


def _session(run: Any) -> dt.date | None:
    tag = (run.tags or {}).get("dagster/partition")
    try:
        return dt.date.fromisoformat(tag) if tag else None
    except ValueError:
        return None


def run_failed_alert(run: Any, step_failures: Sequence[Any], failure_message: str | None) -> Alert:
    """The ``run_failed`` (or ``warehouse_locked``) alert of a failed run.

    Args:
        run: the ``DagsterRun``; step_failures: its ``STEP_FAILURE`` Dagster events;
        failure_message: the run failure event's message (used when no step failed, e.g. a launch failure).
    """
    partition = (run.tags or {}).get("dagster/partition")
    what = f"{run.job_name}" + (f" {partition}" if partition else "")
    lines, locked = [], False
    for event in step_failures:
        line, lock = error_line(event.step_failure_data.error if event.step_failure_data else None)
        locked |= lock
        lines.append(f"step {event.step_key}: {line}")
    if not lines:
        lines.append(" ".join((failure_message or "the run failed").split()))
    title = f"{what} failed" + (": the warehouse is locked" if locked else f" at {step_failures[0].step_key}"
                                 if step_failures else "")
    text = f"Run {run.run_id} of {what} failed.\n" + "\n".join(lines) + _run_link(run.run_id)
    return Alert(key=f"run_failed:{run.run_id}", kind="warehouse_locked" if locked else "run_failed", title=title,
                 text=text, session_date=_session(run), run_id=run.run_id)


def _text_metadata(metadata: dict) -> list[str]:
    out = []
    for k, v in sorted((metadata or {}).items()):
        value = getattr(v, "value", v)
        if value not in (None, "", "none", 0):
            out.append(f"{k}: {value}")
    return out


def check_failed_alerts(instance: dg.DagsterInstance, run: Any) -> list[Alert]:
    """One ``check_failed`` alert per blocking asset check that failed (ERROR severity) in ``run``."""
    out = []
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = entry.dagster_event.event_specific_data
        if ev.passed or ev.severity != dg.AssetCheckSeverity.ERROR or ev.blocking is False:
            continue
        asset = ev.asset_key.to_user_string()
        partition = (run.tags or {}).get("dagster/partition")
        detail = _text_metadata(ev.metadata)
        out.append(Alert(
            key=f"check_failed:{run.run_id}:{asset}:{ev.check_name}", kind="check_failed",
            title=f"{ev.check_name} failed on {asset}" + (f" {partition}" if partition else "")
                  + ": downstream steps stopped",
            text=f"The blocking check {ev.check_name} of {asset} failed in run {run.run_id} of {run.job_name}; "
                 f"nothing downstream of it ran (no allocation, no order).\n" + "\n".join(detail)
                 + _run_link(run.run_id),
            session_date=_session(run), run_id=run.run_id))
    return out


# -- the trading day's events (warehouse) --------------------------------------------------------------------------

def _names(wh: Warehouse) -> dict[str, str]:
    syms = wh.read("symphonies", columns=["symphony_id", "name"])
    return {r["symphony_id"]: r["name"] or r["symphony_id"] for r in syms.to_dict("records")}


def session_alerts(wh: Warehouse, session: dt.date, run_id: str | None = None) -> list[Alert]:
    """The ``symphony_liquidated``, ``kill_switch_tripped`` and ``order_rejected`` events of ``session``.

    Keys do not contain the run id: re-running a session does not alert again for the same symphony, account or
    order.
    """
    out: list[Alert] = []
    names = _names(wh)
    runs = wh.read("symphony_runs", where={"session_date": session, "status": "failed"},
                   order_by=["account_id", "symphony_id"])
    for r in runs.to_dict("records"):
        sid = r["symphony_id"]
        label = f"{names.get(sid, sid)} ({sid})" if names.get(sid, sid) != sid else sid
        out.append(Alert(
            key=f"symphony_liquidated:{session}:{sid}", kind="symphony_liquidated",
            title=f"{label} liquidated to cash on {session}",
            text=f"Symphony {label} of account {r['account_id']} could not be traded on {session}: its target is "
                 f"all cash and its holdings are sold.\nReason: {r['reason'] or 'not recorded'}",
            account_id=r["account_id"], symphony_id=sid, session_date=session, run_id=run_id))
    orders = wh.read("orders", where={"session_date": session}, order_by=["account_id", "client_order_id"])
    trips = audit.read(wh, ALL_ACCOUNTS, actions=["kill_switch_tripped"])
    trips = trips[trips["target"] == session.isoformat()] if len(trips) else trips
    detail = {r["account_id"]: r["detail"] for r in trips.sort_values("occurred_at").to_dict("records")}
    blocked = orders[(orders["status"] == "blocked")
                     & orders["reason"].fillna("").str.startswith(KILL_SWITCH_REASON)] if len(orders) else orders
    for account_id in sorted(set(detail) | set(blocked["account_id"] if len(blocked) else [])):
        mine = blocked[blocked["account_id"] == account_id] if len(blocked) else blocked
        buys = ", ".join(f"{r['ticker']} {_usd(r)}" for r in mine.to_dict("records")) or "none planned"
        why = detail.get(account_id) or (mine["reason"].iloc[0] if len(mine) else "")
        out.append(Alert(
            key=f"kill_switch_tripped:{session}:{account_id}", kind="kill_switch_tripped",
            title=f"Kill switch tripped for account {account_id} on {session}",
            text=f"Account {account_id}: {why}. New buys are blocked for the session; sells still go.\n"
                 f"Blocked buys: {buys}",
            account_id=account_id, session_date=session, run_id=run_id))
    rejected = orders[orders["status"] == "rejected"] if len(orders) else orders
    for r in rejected.to_dict("records"):
        out.append(Alert(
            key=f"order_rejected:{r['client_order_id']}", kind="order_rejected",
            title=f"Order rejected: {r['side']} {r['ticker']} for account {r['account_id']} on {session}",
            text=f"The broker rejected {r['side']} {r['ticker']} ({_usd(r)}) of account {r['account_id']} on "
                 f"{session}.\nReason: {r['reason'] or 'none given'}\nClient order id: {r['client_order_id']}",
            account_id=r["account_id"], session_date=session, run_id=run_id))
    return out


def _usd(row: dict) -> str:
    notional, qty = row.get("notional_usd"), row.get("qty")
    if notional is not None and not pd.isna(notional):
        return f"{float(notional):,.2f} USD"
    if qty is not None and not pd.isna(qty):
        return f"{float(qty):g} shares"
    return "size unknown"


def alerts_for_run(instance: dg.DagsterInstance, run: Any, wh: Warehouse | None, *, failed: bool,
                   step_failures: Sequence[Any] = (), failure_message: str | None = None) -> list[Alert]:
    """Every alert of a finished run: its failure (when ``failed``), its failed blocking checks, and for
    ``daily_trading`` the session's trading events (when ``wh`` is readable)."""
    out = [run_failed_alert(run, step_failures, failure_message)] if failed else []
    if run.job_name == DAILY_JOB:
        out += check_failed_alerts(instance, run)
        session = _session(run)
        if wh is not None and session is not None:
            out += session_alerts(wh, session, run.run_id)
    return out


# -- delivery ------------------------------------------------------------------------------------------------------

def open_for_alerts(warehouse: WarehouseResource, log: Any = None) -> Warehouse | None:
    """The warehouse with a short lock wait, schema created; None when it stays locked (logged)."""
    wh = Warehouse.from_settings(url=warehouse.url, duckdb_path=warehouse.duckdb_path, lock_wait_s=ALERT_LOCK_WAIT_S)
    try:
        wh.create_schema()
    except WarehouseLockedError as exc:
        if log is not None:
            log.warning(f"alerts: warehouse locked, delivering without a record ({exc})")
        wh.dispose()
        return None
    return wh


def deliver(context: Any, alerts: AlertsResource, warehouse: WarehouseResource, *, failed: bool,
            step_failures: Sequence[Any] = (), failure_message: str | None = None) -> list[Delivery]:
    """Collect the run's alerts (:func:`alerts_for_run`) and deliver them once per channel."""
    run = context.dagster_run
    wh = open_for_alerts(warehouse, context.log)
    try:
        found = alerts_for_run(context.instance, run, wh, failed=failed, step_failures=step_failures,
                               failure_message=failure_message)
        done = alerts.notify(wh, found, log=context.log)
        if failed and wh is not None and any(d.key == found[0].key and d.recorded and d.status != "duplicate"
                                             for d in done):
            audit.record(wh, action="run_failed", actor="dagster", role="system", target=run.run_id,
                         origin="dagster", detail=found[0].title)
    finally:
        if wh is not None:
            wh.dispose()
    context.log.info(summary(done) or f"run {run.run_id}: nothing to alert")
    return done


def summary(deliveries: Iterable[Delivery]) -> str:
    """``"3 sent, 1 failed, 2 duplicate"``-style counts of deliveries ('' when none)."""
    counts: dict[str, int] = {}
    for d in deliveries:
        counts[d.status] = counts.get(d.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


@dg.run_failure_sensor(
    name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Alert (webhook, e-mail) when any run of this code location fails: the failed step and why; for "
                "daily_trading also the failed blocking checks, liquidated symphonies, kill switches and "
                "rejected orders of its session.")
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertsResource, warehouse: WarehouseResource):
    """See the module docstring."""
    deliver(context, alerts, warehouse, failed=True, step_failures=context.get_step_failure_events(),
            failure_message=context.failure_event.message)


@dg.run_status_sensor(
    name="trading_alerts", run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="After a successful daily_trading run: alert (webhook, e-mail) liquidated symphonies, kill "
                "switches and rejected orders of its session.")
def trading_alerts(context: dg.RunStatusSensorContext, alerts: AlertsResource, warehouse: WarehouseResource):
    """See the module docstring (other jobs' successes are ignored)."""
    if context.dagster_run.job_name != DAILY_JOB:
        return dg.SkipReason(f"{context.dagster_run.job_name}: not {DAILY_JOB}")
    deliver(context, alerts, warehouse, failed=False)
    return None


ALERT_SENSORS = [run_failure_alerts, trading_alerts]

__all__ = ["ALERT_SENSORS", "ALERT_LOCK_WAIT_S", "DAILY_JOB", "alerts_for_run", "check_failed_alerts", "deliver",
           "error_line", "open_for_alerts", "run_failed_alert", "run_failure_alerts", "session_alerts", "summary",
           "trading_alerts"]
