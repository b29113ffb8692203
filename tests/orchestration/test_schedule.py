"""The 15:50 schedule: sessions, holidays, early closes, DST — evaluated through Dagster's schedule context."""
from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from engine.calendar import is_early_close, is_session, trading_time
from orchestration.definitions import defs
from pipelines.jobs import daily_trading_schedule


def run_at(local: str):
    when = pd.Timestamp(local, tz="America/New_York").to_pydatetime()
    ctx = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    result = daily_trading_schedule.evaluate_tick(ctx)
    return list(result.run_requests or []), result.skip_message


def test_normal_session_runs_at_1550_for_that_partition():
    reqs, _ = run_at("2024-06-21 15:50")
    assert [r.partition_key for r in reqs] == ["2024-06-21"]
    reqs, skip = run_at("2024-06-21 12:50")
    assert reqs == [] and "15:50" in skip


def test_holiday_is_skipped_with_a_reason():
    reqs, skip = run_at("2024-12-25 15:50")
    assert reqs == [] and "not an NYSE session" in skip
    assert not is_session(dt.date(2024, 7, 4))


@pytest.mark.parametrize("day", ["2024-11-29", "2024-07-03", "2024-12-24"])
def test_early_close_runs_at_1250(day):
    assert is_early_close(day)
    assert trading_time(day).strftime("%H:%M") == "12:50"
    reqs, _ = run_at(f"{day} 12:50")
    assert [r.partition_key for r in reqs] == [day]
    reqs, skip = run_at(f"{day} 15:50")
    assert reqs == [] and "12:50" in skip


def test_dst_switch_week_keeps_new_york_wall_clock():
    # DST began 2024-03-10: 15:50 New York is 20:50 UTC before, 19:50 UTC after
    before, after = trading_time("2024-03-08"), trading_time("2024-03-11")
    assert before.tz_convert("UTC").hour == 20 and after.tz_convert("UTC").hour == 19
    reqs, _ = run_at("2024-03-11 15:50")
    assert [r.partition_key for r in reqs] == ["2024-03-11"]


def test_schedule_definition():
    assert daily_trading_schedule.execution_timezone == "America/New_York"
    assert daily_trading_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert daily_trading_schedule.job_name == "daily_trading"
