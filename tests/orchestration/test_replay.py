"""The replay of the live path (issue 12 item 4), through its doors: ``oragami replay`` (``main([...])``) and the
``paper_replay`` job as a launch runs it.

* paper = backtest: every corpus symphony whose tickers are bundled, alone in its own account, replayed over 252
  sessions with the simulated broker's cost model (the backtest's: 1 bp, SEC + TAF + CAT by trade date) has paper
  NAV = backtest NAV on every session, relative difference ≤ 1e-9 (:data:`TOLERANCE`);
* the buffered sizing replays what the daily graph trades (same orders, ledgers and NAV), and the graph continues
  from a replayed history as from its own;
* writes are idempotent and replace only the replayed accounts' sessions.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from engine.backtest import run_backtest
from engine.calendar import sessions_in_range
from engine.costs import CostModel
from engine.model import tickers
from orchestration.cli import main, seed_symphonies
from warehouse import Warehouse
from warehouse.bundled import last_session, load_adjusted_closes
from warehouse.scope import ALL_ACCOUNTS
from tests.engine.test_corpus import BACKTESTABLE, _load

ROOT = Path(__file__).resolve().parents[2]
#: Largest relative difference allowed between paper NAV and backtest NAV on any session.
TOLERANCE = 1e-9
SESSIONS = 252
DEMO = [ROOT / "symphonies" / n for n in ("sector_surfing_rsi_bottom2.clj", "spy_avgo_qqq_nvda_inverse_vol.clj")]


@pytest.fixture(autouse=True)
def _restore_warehouse_env(monkeypatch):
    """``--warehouse`` sets ORAGAMI_WAREHOUSE_URL for the process (orchestration.cli._warehouse): undo it."""
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)


def _quiet_seed(wh, files, account):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return seed_symphonies(wh, files, account, account)


def _window(end: dt.date, n: int = SESSIONS) -> list[dt.date]:
    return sessions_in_range(end - dt.timedelta(days=2 * n), end)[-n:]


@functools.lru_cache(maxsize=None)
def _last_bar_of(path: Path) -> dt.date:
    """The last session on which every ticker of the symphony in ``path`` has a bar."""
    closes = load_adjusted_closes(sorted(tickers(_load(path))))
    return min(closes[t].last_valid_index() for t in closes.columns).date()


def _accounts_args(accounts) -> list[str]:
    return [a for acct in accounts for a in ("--account", acct)]


@pytest.fixture(scope="module")
def corpus_replay(tmp_path_factory):
    """Every backtestable corpus symphony in its own account, replayed over the last 252 sessions of its data."""
    tmp = tmp_path_factory.mktemp("replay")
    url = f"duckdb:///{tmp / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    by_end: dict[dt.date, list[str]] = {}
    cases = {}
    for i, path in enumerate(BACKTESTABLE):
        root = _load(path)
        account = f"c{i:02d}"
        copy = tmp / f"c{i:02d}_{path.name}"   # one id per file: x.edn and x.json would share the slug "x"
        copy.write_bytes(path.read_bytes())
        [sid] = _quiet_seed(wh, [copy], account)
        end = min(_last_bar_of(path), last_session())
        by_end.setdefault(end, []).append(account)
        cases[path.name] = (account, sid, root, end)
    saved = os.environ.get("ORAGAMI_WAREHOUSE_URL")
    try:
        for end, accounts in sorted(by_end.items()):
            days = _window(end)
            assert main(["replay", "--from", days[0].isoformat(), "--to", end.isoformat(), "--warehouse", url,
                         "--no-traces", "--progress-every", "1000", *_accounts_args(accounts)]) == 0
    finally:
        if saved is None:
            os.environ.pop("ORAGAMI_WAREHOUSE_URL", None)
        else:
            os.environ["ORAGAMI_WAREHOUSE_URL"] = saved
    nav = wh.read("daily_nav")
    runs = wh.read("symphony_runs")
    wh.dispose()
    return cases, nav, runs


@pytest.mark.slow
@pytest.mark.parametrize("path", BACKTESTABLE, ids=lambda p: p.name)
def test_paper_nav_equals_the_backtest_nav_on_every_session(corpus_replay, path):
    cases, nav, runs = corpus_replay
    account, sid, root, end = cases[path.name]
    mine = nav[nav["symphony_id"] == sid].sort_values("session_date")
    days = _window(end)
    assert list(mine["session_date"]) == days and len(days) >= SESSIONS
    assert set(runs.loc[runs["symphony_id"] == sid, "status"]) == {"ok"}
    closes = load_adjusted_closes(sorted(tickers(root) | {"SPY"}))
    bt = run_backtest(root, closes, start=days[0], end=end, capital=10_000.0, costs=CostModel())
    assert [d.date() for d in bt.nav.index] == days
    paper = mine["nav_usd"].to_numpy()
    rel = np.abs(paper / bt.nav.to_numpy() - 1.0)
    worst = int(rel.argmax())
    assert rel[worst] <= TOLERANCE, (f"{path.name}: paper {paper[worst]:.6f} vs backtest {bt.nav.iloc[worst]:.6f} "
                                     f"on {days[worst]} (relative {rel[worst]:.2e})")
    # the first session invests the capital at the close: 10,000 less slippage and the first fills' fees
    assert 9_990.0 < paper[0] < 10_000.0


def test_the_corpus_case_covers_every_bundled_symphony_and_a_year():
    assert len(BACKTESTABLE) == 46
    early = {p.name: _last_bar_of(p) for p in BACKTESTABLE if _last_bar_of(p) < last_session()}
    # two symphonies read a ticker whose bundled data stops on 2026-07-13: they are compared on the 252 sessions
    # ending there (after it the live path fails them to cash, see the next test)
    assert early == {"pals_spell_summon_money.clj": dt.date(2026, 7, 13),
                     "tqqq_ftlt_spxt_switch_2017.clj": dt.date(2026, 7, 13)}


def test_a_symphony_whose_ticker_stops_fails_to_cash_instead_of_keeping_its_targets(tmp_path, capsys):
    """The backtest keeps the last targets on a session it cannot evaluate; the live path (and so the replay)
    fails the symphony alone, naming the ticker, and trades it to cash."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    path = next(p for p in BACKTESTABLE if p.name == "tqqq_ftlt_spxt_switch_2017.clj")
    [sid] = _quiet_seed(wh, [path], "yinn")
    assert main(["replay", "--from", "2026-07-10", "--to", "2026-07-16", "--warehouse", url]) == 0
    runs = wh.read("symphony_runs").sort_values("session_date")
    assert list(runs["status"]) == ["ok", "ok", "failed", "failed", "failed"]
    assert "no price on 2026-07-14 for ticker(s) YINN" in runs["reason"].iloc[2]
    alloc = wh.read("target_allocations", where={"session_date": dt.date(2026, 7, 14)})
    assert alloc[["ticker", "target_weight"]].values.tolist() == [["$USD", 1.0]]
    pos = wh.read("positions", where={"session_date": dt.date(2026, 7, 14)})
    assert list(pos["ticker"]) == ["$USD"] and pos["qty"].iloc[0] > 9_000
    wh.dispose()


# -- the door: CLI output, errors, idempotency ---------------------------------------------------------------------

@pytest.fixture
def demo_wh(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    _quiet_seed(wh, DEMO, "acct-a")
    _quiet_seed(wh, [ROOT / "symphonies" / "tqqq_ftlt_v2_226.clj"], "acct-b")
    yield url, wh
    wh.dispose()


def test_replay_prints_progress_and_writes_every_table(demo_wh, capsys):
    url, wh = demo_wh
    assert main(["replay", "--from", "2026-06-01", "--to", "2026-06-30", "--warehouse", url,
                 "--progress-every", "10"]) == 0
    out = capsys.readouterr().out
    june = sessions_in_range("2026-06-01", "2026-06-30")
    assert len(june) == 21   # Juneteenth
    assert "[replay] 1/21 sessions (through 2026-06-01)" in out and "[replay] 20/21 sessions" in out
    assert "21 sessions 2026-06-01..2026-06-30, 3 symphonies in 2 account(s) (acct-a, acct-b), sizing exact" in out
    nav = wh.read("daily_nav")
    assert len(nav) == 3 * 21 and sorted(set(nav["session_date"])) == june
    for table in ("target_allocations", "decision_traces", "symphony_runs", "orders", "order_intents",
                  "sim_broker_orders", "fills", "positions", "performance_metrics"):
        assert len(wh.read(table)) > 0, table
    orders = wh.read("orders")
    assert set(orders["status"]) == {"filled"} and orders["client_order_id"].is_unique
    fills = wh.read("fills")
    assert sorted(fills["client_order_id"]) == sorted(orders["client_order_id"])
    # a daily return is the NAV against the previous session's (the first against the 10,000 capital)
    for sid, g in nav.sort_values("session_date").groupby("symphony_id"):
        v = g["nav_usd"].to_numpy()
        assert g["daily_return"].to_numpy() == pytest.approx(np.r_[v[0] / 10_000.0, v[1:] / v[:-1]] - 1.0, rel=1e-12)
    # the NAV is the positions' market value, cash included
    pos = wh.read("positions")
    by = pos.groupby(["symphony_id", "session_date"])["market_value_usd"].sum()
    merged = nav.set_index(["symphony_id", "session_date"])["nav_usd"]
    assert by.reindex(merged.index).to_numpy() == pytest.approx(merged.to_numpy(), rel=1e-12)
    runs = wh.read("replay_runs").sort_values("account_id")
    assert runs[["account_id", "sessions", "symphonies", "sizing"]].values.tolist() == [
        ["acct-a", 21, 2, "exact"], ["acct-b", 21, 1, "exact"]]


def test_replaying_again_replaces_and_other_accounts_are_untouched(demo_wh, capsys):
    url, wh = demo_wh
    args = ["replay", "--from", "2026-06-01", "--to", "2026-06-19", "--warehouse", url, "--no-traces"]
    assert main(args) == 0
    first = {t: wh.read(t).sort_values(list(wh.read(t).columns[:4])).reset_index(drop=True)
             for t in ("daily_nav", "positions", "orders")}
    counts = wh.row_counts(ALL_ACCOUNTS)
    assert main(args) == 0   # the same range again: the same rows
    assert wh.row_counts(ALL_ACCOUNTS) == counts
    for t, df in first.items():
        again = wh.read(t).sort_values(list(df.columns[:4])).reset_index(drop=True)
        pd.testing.assert_frame_equal(again.drop(columns=["submitted_at"], errors="ignore"),
                                      df.drop(columns=["submitted_at"], errors="ignore"))
    b_before = wh.read("daily_nav", where={"account_id": "acct-b"})
    # acct-a alone, from a later start: it continues from its stored ledgers; acct-b keeps every row
    assert main(["replay", "--from", "2026-06-15", "--to", "2026-06-30", "--warehouse", url, "--account", "acct-a",
                 "--no-traces"]) == 0
    pd.testing.assert_frame_equal(wh.read("daily_nav", where={"account_id": "acct-b"}), b_before)
    a = wh.read("daily_nav", where={"account_id": "acct-a"}).sort_values(["symphony_id", "session_date"])
    assert sorted(set(a["session_date"])) == sessions_in_range("2026-06-01", "2026-06-30")
    # the continued part equals one replay of the whole range (the ledger carried into 06-15 is the same)
    whole_url = url.replace("w.duckdb", "whole.duckdb")
    whole = Warehouse(whole_url)
    whole.create_schema()
    _quiet_seed(whole, DEMO, "acct-a")
    assert main(["replay", "--from", "2026-06-01", "--to", "2026-06-30", "--warehouse", whole_url,
                 "--no-traces"]) == 0
    w = whole.read("daily_nav").sort_values(["symphony_id", "session_date"])
    assert a["nav_usd"].to_numpy() == pytest.approx(w["nav_usd"].to_numpy(), rel=1e-12)
    whole.dispose()


def test_the_replay_on_both_backends_is_idempotent_and_equals_the_backtest(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    for i, f in enumerate(DEMO):
        _quiet_seed(wh, [f], f"solo-{i}")
    args = ["replay", "--from", "2026-07-01", "--to", "2026-07-31", "--warehouse", warehouse_url, "--no-traces"]
    assert main(args) == 0
    counts = wh.row_counts(ALL_ACCOUNTS)
    assert main(args) == 0
    assert wh.row_counts(ALL_ACCOUNTS) == counts
    days = sessions_in_range("2026-07-01", "2026-07-31")
    for f in DEMO:
        root = _load(f)
        sid = f.stem.replace("_", "-")
        nav = wh.read("daily_nav", where={"symphony_id": sid}, order_by="session_date")
        assert list(nav["session_date"]) == days
        bt = run_backtest(root, load_adjusted_closes(sorted(tickers(root) | {"SPY"})), start=days[0], end=days[-1],
                          costs=CostModel())
        assert nav["nav_usd"].to_numpy() == pytest.approx(bt.nav.to_numpy(), rel=TOLERANCE)
    wh.dispose()


@pytest.mark.parametrize("argv, message", [
    (["--from", "2026-06-30", "--to", "2026-06-01"], "--from 2026-06-30 is after --to 2026-06-01"),
    (["--from", "2026-12-24", "--to", "2026-12-25"], "no bar after 2026-07-31"),
    (["--from", "2026-06-01", "--to", "2026-06-05", "--account", "nobody"], "no active symphony in account(s) nobody"),
    (["--from", "2026-07-04", "--to", "2026-07-05"], "no NYSE session between 2026-07-04 and 2026-07-05"),
])
def test_usage_errors_are_one_line_and_exit_2(demo_wh, capsys, argv, message):
    url, _ = demo_wh
    assert main(["replay", *argv, "--warehouse", url]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_date_is_a_usage_error(capsys):
    assert main(["replay", "--from", "2026-13-01", "--to", "2026-06-05"]) == 2
    assert "argument --from: not an ISO date (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err


# -- the Dagster job, launched as the launchpad launches it -----------------------------------------------------

def test_the_paper_replay_job_writes_what_the_cli_writes(demo_wh, tmp_path):
    from orchestration.definitions import build_definitions

    url, wh = demo_wh
    defs = build_definitions(warehouse_url=url)
    job = defs.resolve_job_def("paper_replay")
    config = {"ops": {"replay_sessions": {"config": {"start": "2026-06-01", "end": "2026-06-30",
                                                  "accounts": ["acct-a"], "sizing": "exact"}}}}
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(run_config=config, instance=instance)
    assert result.success
    meta = next(e for e in result.all_events if e.is_successful_output).step_output_data.metadata
    assert meta["sessions"].value == 21 and meta["accounts"].value == "acct-a" and meta["symphonies"].value == 2
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("replayed 21/21 sessions (through 2026-06-30)" in m for m in logs)
    job_nav = wh.read("daily_nav").sort_values(["symphony_id", "session_date"]).reset_index(drop=True)
    assert set(job_nav["account_id"]) == {"acct-a"} and len(job_nav) == 2 * 21
    cli_url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    cli = Warehouse(cli_url)
    cli.create_schema()
    _quiet_seed(cli, DEMO, "acct-a")
    assert main(["replay", "--from", "2026-06-01", "--to", "2026-06-30", "--warehouse", cli_url]) == 0
    cli_nav = cli.read("daily_nav").sort_values(["symphony_id", "session_date"]).reset_index(drop=True)
    assert job_nav["nav_usd"].to_numpy() == pytest.approx(cli_nav["nav_usd"].to_numpy(), rel=1e-15)
    cli.dispose()
    bad = job.execute_in_process(run_config={"ops": {"replay_sessions": {"config": {"start": "2026-06-30",
                                                                                 "end": "2026-06-01"}}}},
                                 instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not bad.success
    failure = [e for e in bad.all_events if e.is_step_failure][0]
    assert "is after" in failure.step_failure_data.error.message


# -- the buffered sizing is the daily graph's planner ------------------------------------------------------------

@pytest.mark.slow
def test_buffered_replay_trades_what_the_daily_graph_trades_and_the_graph_continues_from_it(tmp_path, monkeypatch):
    from orchestration.cli import run_daily

    s1, s2, s3 = sessions_in_range("2026-07-28", "2026-07-30")
    graph_url, replay_url = (f"duckdb:///{tmp_path / n}" for n in ("graph.duckdb", "replay.duckdb"))
    graph, rep = Warehouse(graph_url), Warehouse(replay_url)
    for wh in (graph, rep):
        wh.create_schema()
        _quiet_seed(wh, DEMO, "acct-a")
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", graph_url)   # undone after the test
    for s in (s1, s2, s3):
        assert run_daily(s, dg.DagsterInstance.ephemeral())
    # two sessions replayed, the third traded by the graph on the replayed ledgers
    assert main(["replay", "--from", s1.isoformat(), "--to", s2.isoformat(), "--sizing", "buffered",
                 "--warehouse", replay_url]) == 0
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", replay_url)
    assert run_daily(s3, dg.DagsterInstance.ephemeral())
    for table, key in (("positions", ["symphony_id", "session_date", "ticker"]),
                       ("daily_nav", ["symphony_id", "session_date"]),
                       ("orders", ["client_order_id"])):
        g = graph.read(table).sort_values(key).reset_index(drop=True)
        r = rep.read(table).sort_values(key).reset_index(drop=True)
        assert g[key].values.tolist() == r[key].values.tolist(), table
        for col in [c for c in ("qty", "nav_usd", "cash_usd", "daily_return", "notional_usd", "filled_qty",
                                "filled_avg_price", "market_value_usd") if c in g.columns]:
            a, b = g[col].to_numpy(dtype="float64"), r[col].to_numpy(dtype="float64")
            assert np.allclose(a, b, rtol=1e-12, atol=1e-9, equal_nan=True), (table, col)
    ta = [w.read("target_allocations").sort_values(["symphony_id", "session_date", "ticker"]) for w in (graph, rep)]
    assert ta[0][["symphony_id", "ticker"]].values.tolist() == ta[1][["symphony_id", "ticker"]].values.tolist()
    assert ta[0]["target_weight"].to_numpy() == pytest.approx(ta[1]["target_weight"].to_numpy(), abs=1e-12)
    graph.dispose()
    rep.dispose()


# -- make demo: a year of paper history ---------------------------------------------------------------------------

@pytest.mark.slow
def test_demo_builds_a_year_of_paper_history_for_the_dashboard(tmp_path, monkeypatch, capsys):
    from engine.metrics import monthly_returns, rolling_sharpe
    from orchestration.cli import DEMO_GRAPH_SESSIONS, DEMO_SESSIONS

    monkeypatch.delenv("DAGSTER_HOME", raising=False)   # an ephemeral Dagster instance
    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    assert main(["demo", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    days = _window(last_session(), DEMO_SESSIONS)
    replayed = DEMO_SESSIONS - DEMO_GRAPH_SESSIONS
    assert f"[demo] replay of {replayed} sessions {days[0]}..{days[-DEMO_GRAPH_SESSIONS - 1]}" in out
    assert f"[demo] daily_trading {days[-1]} ({DEMO_GRAPH_SESSIONS}/{DEMO_GRAPH_SESSIONS}): ok" in out
    wh = Warehouse(url)
    nav = wh.read("daily_nav")
    assert nav.groupby("symphony_id")["session_date"].apply(list).map(lambda d: sorted(d) == days).all()
    assert nav["symphony_id"].nunique() == 6
    for sid, g in nav.groupby("symphony_id"):
        series = pd.Series(g["nav_usd"].to_numpy(), index=pd.to_datetime(g["session_date"])).sort_index()
        heat = monthly_returns(series)
        assert heat.drop(columns="Year").notna().to_numpy().sum() == 13   # Jul 2025 … Jul 2026
        assert rolling_sharpe(series).notna().sum() == DEMO_SESSIONS - 1 - 62
    runs = wh.read("replay_runs")
    assert runs[["account_id", "sessions", "symphonies", "sizing"]].values.tolist() == [["demo", replayed, 6, "exact"]]
    wh.dispose()
