"""Jobs and schedules.

* ``daily_trading`` — the partitioned daily graph (bars → indicators → allocations → orders → positions → NAV,
  with the blocking bars check), one run per session.
* ``backtest_all`` — backtests of every active symphony.
* Sessions are path-dependent (each session's ledgers start from the previous one's): ``daily_trading`` runs carry
  the tag ``oragami/serial=daily_trading``, which the run queue limits to one run at a time, in submission order,
  so a backfill runs its sessions strictly in date order; and ``order_plan`` refuses a session whose previous
  session is not complete (:func:`warehouse.repos.controls.previous_session_gaps`) or whose earlier sessions are
  still queued or running.
* ``daily_nav_freshness`` (+ ``daily_nav_freshness_schedule``, 16:30 New York on sessions, default STOPPED) — the
  calendar-aware freshness check of ``daily_nav`` (:func:`assets.daily.daily_nav_fresh`).
* ``daily_trading_schedule`` — ticks at 12:50 and 15:50 America/New_York on weekdays and launches the run at the
  tick that is ten minutes before that session's close (12:50 on early-close days, 15:50 otherwise); holidays,
  weekends and the other tick are skipped with a reason. Default STOPPED: an operator turns it on.

Executor: both jobs run in-process (``dg.in_process_executor``): the run worker imports the stack once and runs the
steps one after the other. The default multiprocess executor starts a process per step, each importing the whole
stack again (about 11 steps for ``daily_trading``), which is what made a UI run last minutes instead of seconds;
the steps form a chain and write one DuckDB file one at a time, so parallel steps buy nothing
(``scripts/bench_scheduled.py`` measures both).
"""
from __future__ import annotations

import dagster as dg
import pandas as pd

from engine.calendar import NEW_YORK, is_session, trading_time
from assets.daily import daily_nav_fresh

#: Run tag of the path-dependent daily job. The instance's run queue (dagster.yaml, deploy/dagster.yaml:
#: ``concurrency.runs.tag_concurrency_limits``) lets one run with ``oragami/serial=daily_trading`` run at a time and
#: dequeues in submission order, and a backfill submits its sessions in date order: sessions run one after the other.
SERIAL_TAG = "oragami/serial"

daily_trading = dg.define_asset_job(
    "daily_trading",
    # the calendar freshness check has its own job: inside a backfill of old sessions the NAV is not stale
    selection=dg.AssetSelection.groups("market_data", "strategy", "trading", "performance")
    - dg.AssetSelection.checks(daily_nav_fresh),
    description="Evaluate every active symphony on the session and trade its paper ledger at the close.",
    tags={"dagster/max_retries": "0", SERIAL_TAG: "daily_trading"},
    executor_def=dg.in_process_executor,  # one process per run, not per step: fits the 10-minute window
)

backtest_all = dg.define_asset_job(
    "backtest_all", selection=dg.AssetSelection.groups("backtest"),
    description="Backtest every active symphony from its warm-up to the last bar.",
    executor_def=dg.in_process_executor,
)


daily_nav_freshness = dg.define_asset_job(
    "daily_nav_freshness", selection=dg.AssetSelection.checks(daily_nav_fresh),
    description="Check that the last session's paper NAV is in the warehouse (NYSE calendar).",
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=daily_nav_freshness, cron_schedule="30 16 * * 1-5", execution_timezone=NEW_YORK,
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="16:30 New York on weekdays: the last session's NAV is stored; skips non-sessions.")
def daily_nav_freshness_schedule(context: dg.ScheduleEvaluationContext):
    """Run the check on sessions only (a weekday holiday is skipped with a reason)."""
    day = pd.Timestamp(context.scheduled_execution_time).tz_convert(NEW_YORK).date()
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an NYSE session (weekend or holiday)")
    return dg.RunRequest(run_key=f"daily_nav_freshness-{day.isoformat()}")


def decide(scheduled: pd.Timestamp) -> dg.RunRequest | dg.SkipReason:
    """What the schedule does at ``scheduled`` (tz-aware): a run for that session, or a reason to skip."""
    local = scheduled.tz_convert(NEW_YORK)
    day = local.date()
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an NYSE session (weekend or holiday)")
    when = trading_time(day)
    if (local.hour, local.minute) != (when.hour, when.minute):
        return dg.SkipReason(f"{day} trades at {when:%H:%M} New York (close {when + pd.Timedelta(minutes=10):%H:%M}), "
                             f"not at {local:%H:%M}")
    key = day.isoformat()
    return dg.RunRequest(run_key=f"daily_trading-{key}", partition_key=key)


@dg.schedule(
    job=daily_trading,
    cron_schedule=["50 12 * * 1-5", "50 15 * * 1-5"],
    execution_timezone=NEW_YORK,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Ten minutes before the close: 15:50 New York, 12:50 on early-close days; skips non-sessions.",
)
def daily_trading_schedule(context: dg.ScheduleEvaluationContext):
    return decide(pd.Timestamp(context.scheduled_execution_time))
