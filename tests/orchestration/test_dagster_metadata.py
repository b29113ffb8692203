"""Dagster metadata of the table assets (issue 10 item 8): ``dagster/row_count`` equal to the rows stored, the
NAV tables, lineage from the backtests to the bars and the freshness policy of daily_nav."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.backtests import symphony_backtests
from assets.daily import DAILY_ASSETS
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_definitions, build_resources, defs
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj",
         ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"]
S = "2024-06-21"
#: asset → (table, the session's filter column)
TABLES = {"daily_bars": ("daily_bars", None), "indicator_values": ("indicator_values", "session_date"),
          "target_allocations": ("target_allocations", "session_date"), "order_plan": ("orders", "session_date"),
          "submitted_orders": ("orders", "session_date"), "positions": ("positions", "session_date"),
          "daily_nav": ("daily_nav", "session_date"), "performance_metrics": ("performance_metrics", "as_of_date")}


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    w.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(w, FILES, "acct-1")
    yield w
    w.dispose()


def _metadata(result, name: str) -> dict:
    [mat] = [m for m in result.asset_materializations_for_node(name)]
    return mat.metadata


@pytest.mark.slow
def test_every_table_asset_reports_its_row_count_and_daily_nav_its_navs(wh):
    url = str(wh.engine.url)
    result = dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=url), partition_key=S,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    session = dt.date.fromisoformat(S)
    for asset, (table, column) in TABLES.items():
        meta = _metadata(result, asset)
        assert isinstance(meta["dagster/row_count"], dg.IntMetadataValue), asset
        if column is not None:   # the session's rows
            assert meta["dagster/row_count"].value == len(wh.read(table, where={column: session})), asset
    # daily_bars counts the rows it wrote: every needed ticker's history up to the session (first run)
    assert _metadata(result, "daily_bars")["dagster/row_count"].value == len(wh.read("daily_bars"))
    nav = wh.read("daily_nav", where={"session_date": session}).sort_values("symphony_id")
    md = _metadata(result, "daily_nav")["nav"]
    assert isinstance(md, dg.MarkdownMetadataValue)
    lines = md.value.splitlines()
    assert lines[0] == "| account | symphony | NAV (USD) | cash (USD) | daily return |"
    assert lines[2:] == [f"| acct-1 | {r['symphony_id']} | {r['nav_usd']:,.2f} | {r['cash_usd']:,.2f} | "
                         f"{r['daily_return']:+.2%} |" for r in nav.to_dict("records")]


@pytest.mark.slow
def test_backtests_report_rows_and_a_stats_table(wh):
    url = str(wh.engine.url)
    result = dg.materialize([symphony_backtests], resources=build_resources(warehouse_url=url),
                            instance=dg.DagsterInstance.ephemeral(),
                            run_config={"ops": {"symphony_backtests": {"config": {"start": "2024-01-02",
                                                                                   "end": "2024-06-21"}}}})
    assert result.success
    meta = _metadata(result, "symphony_backtests")
    assert meta["dagster/row_count"].value == len(wh.read("backtest_daily")) > 0
    runs = wh.read("backtest_runs").sort_values("symphony_id")
    table = meta["nav"].value.splitlines()
    assert table[0] == "| symphony | window | final NAV (USD) | CAGR | Sharpe | max DD |"
    assert [row.split(" | ")[0].lstrip("| ") for row in table[2:]] == list(runs["symphony_id"])
    for row, r in zip(table[2:], runs.to_dict("records")):
        assert f"| {r['cagr']:.2%} | {r['sharpe']:.2f} | {r['max_drawdown']:.2%} |" in row


def test_lineage_and_freshness_in_the_definitions():
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("daily_bars") in graph.get(dg.AssetKey("symphony_backtests")).parent_keys
    policy = graph.get(dg.AssetKey("daily_nav")).freshness_policy
    assert policy.deadline_cron == "15 16 * * 1-5" and policy.timezone == "America/New_York"
    assert policy.lower_bound_delta == dt.timedelta(hours=3, minutes=30)
    job = defs.resolve_job_def("daily_trading")
    assert job.tags["oragami/serial"] == "daily_trading"


def test_expected_nav_session_follows_the_nyse_calendar():
    from assets.daily import expected_nav_session

    ny = "America/New_York"
    at = lambda text: pd.Timestamp(text, tz=ny).to_pydatetime()   # noqa: E731
    assert expected_nav_session(at("2024-06-21 16:30")) == dt.date(2024, 6, 21)
    assert expected_nav_session(at("2024-06-21 16:10")) == dt.date(2024, 6, 20)   # 15:50 + 25 min not yet passed
    assert expected_nav_session(at("2024-06-22 12:00")) == dt.date(2024, 6, 21)   # Saturday
    assert expected_nav_session(at("2024-06-19 17:00")) == dt.date(2024, 6, 18)   # Juneteenth: no session
    assert expected_nav_session(at("2024-07-03 13:20")) == dt.date(2024, 7, 3)    # early close: 12:50 + 25 min


@pytest.mark.slow
def test_nav_freshness_check_by_its_own_job(wh, monkeypatch):
    import assets.daily as daily
    from pipelines.jobs import daily_nav_freshness, daily_trading

    url = str(wh.engine.url)
    graph = defs.resolve_asset_graph()
    check = dg.AssetCheckKey(dg.AssetKey("daily_nav"), "daily_nav_fresh")
    assert check not in daily_trading.selection.resolve_checks(graph)   # not inside the trading runs
    assert {"daily_bars_complete", "previous_session_complete", "orders_answered", "ledgers_hold"} <= {
        k.name for k in daily_trading.selection.resolve_checks(graph)}   # the trading checks stay
    assert daily_nav_freshness.selection.resolve_checks(graph) == {check}
    assert dg.materialize([*DAILY_ASSETS], resources=build_resources(warehouse_url=url), partition_key=S,
                          instance=dg.DagsterInstance.ephemeral()).success
    with wh.begin() as conn:   # registered long before the sessions checked
        conn.exec_driver_sql("UPDATE symphonies SET created_at = TIMESTAMPTZ '2024-01-02 00:00:00+00'")
    job = build_definitions(warehouse_url=url).resolve_job_def("daily_nav_freshness")

    def evaluate_at(text: str):
        monkeypatch.setattr(daily, "_now", lambda: pd.Timestamp(text, tz="America/New_York").to_pydatetime())
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
        [evaluation] = result.get_asset_check_evaluations()
        return evaluation

    fresh = evaluate_at("2024-06-21 16:30")
    assert fresh.passed and fresh.metadata["expected_session"].value == "2024-06-21"
    weekend = evaluate_at("2024-06-23 10:00")   # Sunday: Friday's NAV is what is expected
    assert weekend.passed and weekend.metadata["expected_session"].value == "2024-06-21"
    stale = evaluate_at("2024-06-24 16:30")
    assert not stale.passed
    assert stale.metadata["missing"].value == "sector-surfing-rsi-bottom2, spy-avgo-qqq-nvda-inverse-vol"
    assert stale.metadata["latest_nav_session"].value == "2024-06-21"


def test_nav_freshness_schedule_runs_on_sessions_only():
    from pipelines.jobs import daily_nav_freshness_schedule as schedule

    def tick(local: str):
        when = pd.Timestamp(local, tz="America/New_York").to_pydatetime()
        ctx = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
        result = schedule.evaluate_tick(ctx)
        return [r.run_key for r in result.run_requests or []], result.skip_message

    assert tick("2024-06-21 16:30") == (["daily_nav_freshness-2024-06-21"], None)
    assert tick("2024-06-19 16:30") == ([], "2024-06-19 is not an NYSE session (weekend or holiday)")
    assert schedule.cron_schedule == "30 16 * * 1-5" and schedule.execution_timezone == "America/New_York"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
