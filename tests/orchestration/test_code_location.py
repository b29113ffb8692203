"""The code location loads the way the code server loads it: every job, asset, check, schedule and sensor
resolved together (a name clash between an op and a job, for one, only shows up here, not in execute_in_process)."""
from __future__ import annotations

from orchestration.definitions import defs


def test_the_code_location_loads_every_definition() -> None:
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {"daily_trading", "backtest_all", "paper_replay", "research_backtests", "parameter_sweep_job",
            "walk_forward_job"} <= jobs
    assert "daily_trading_schedule" in {s.name for s in repo.schedule_defs}
    assert repo.sensor_defs, "the alert and research sensors are registered"
