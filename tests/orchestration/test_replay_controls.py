"""The replay applies the live controls as the daily graph does (``oragami controls set`` then ``oragami replay``):
go to cash until the next scheduled rebalance, skip the next rebalance; a buffered replay equals the graph on the
sessions a control acts on; re-running a range repeats its decisions."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from dashboards import auth
from engine.calendar import sessions_in_range
from engine.costs import CostModel
from orchestration.cli import main, seed_symphonies
from warehouse import Warehouse
from warehouse.repos.replay import REPLAY_TABLES

D = dt.date.fromisoformat
ROOT = Path(__file__).resolve().parents[2]
#: Mid-June to the second session of July 2026: a monthly symphony trades on 06-15 (its first) and 07-01.
START, END = "2026-06-15", "2026-07-02"
CONTROL_FROM = "2026-06-24"
JULY_1 = D("2026-07-01")


@pytest.fixture(autouse=True)
def _restore_warehouse_env(monkeypatch):
    """``--warehouse`` sets ORAGAMI_WAREHOUSE_URL for the process (orchestration.cli._warehouse): undo it."""
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)


def write(tmp_path: Path, name: str, body: str, rebalance: str) -> Path:
    p = tmp_path / f"{name}.clj"
    p.write_text(f'(defsymphony "{name}" {{:asset-class "EQUITIES", :rebalance-frequency {rebalance}}} {body})')
    return p


def make_warehouse(tmp_path: Path, name: str) -> str:
    """A DuckDB warehouse with account ``acct``: ``spy-tlt`` (monthly 50/50 SPY/TLT) and ``qqq-gld`` (daily 50/50
    QQQ/GLD, no ticker in common, so nothing crosses between the two), and the operator ``root``."""
    url = f"duckdb:///{tmp_path / f'{name}.duckdb'}"
    files = [write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])', ":monthly"),
             write(tmp_path, "qqq-gld", '(weight-equal [(asset "QQQ") (asset "GLD")])', ":daily")]
    with Warehouse(url) as wh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wh.create_schema()
        seed_symphonies(wh, files, "acct")
        auth.create_user(wh, "root", "root-pass-1234", "operator")
    return url


def set_control(url: str, capsys, symphony: str, control: str, session: str) -> None:
    """``oragami controls set`` as the operator, in this process."""
    assert main(["controls", "set", "--user", "root", "--symphony", symphony, "--control", control,
                 "--from-session", session, "--warehouse", url]) == 0
    assert f"{symphony}: {control} from session {session}" in capsys.readouterr().out


def replay(url: str, capsys, *extra: str, start: str = START, end: str = END) -> str:
    assert main(["replay", "--from", start, "--to", end, "--warehouse", url, "--no-traces", *extra]) == 0
    return capsys.readouterr().out


def read(url: str, table: str, **where) -> pd.DataFrame:
    with Warehouse(url) as wh:
        return wh.read(table, where=where or None)


def held(url: str, sid: str) -> dict[dt.date, dict[str, float]]:
    """Shares (cash in USD under ``$USD``) per session of one symphony."""
    pos = read(url, "positions", symphony_id=sid)
    return {d: {r["ticker"]: float(r["qty"]) for r in g.to_dict("records")} for d, g in pos.groupby("session_date")}


def the_control(url: str, sid: str) -> dict:
    """The symphony's one control row, NULLs as None."""
    rows = read(url, "symphony_controls", symphony_id=sid)
    assert len(rows) == 1
    return {k: None if v is None or (not isinstance(v, (str, dt.date)) and pd.isna(v)) else v
            for k, v in rows.iloc[0].to_dict().items()}


def rows_of(url: str, table: str, sid: str | None = None) -> pd.DataFrame:
    """A replay table without its wall-clock stamps, sorted on every column, ``sid``'s rows only if given."""
    df = read(url, table)
    if sid is not None:
        df = df[df["symphony_id"] == sid]
    df = df.drop(columns=[c for c in ("evaluated_at", "created_at", "ingested_at") if c in df.columns])
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def test_cash_until_the_next_monthly_rebalance(tmp_path, capsys):
    """Sold to cash on 06-24, cash (NAV = the sale's proceeds after fees) until 06-30, back to SPY/TLT on 07-01
    (the first session of the next month), where the control is consumed; the other symphony trades as without it."""
    plain, url = make_warehouse(tmp_path, "plain"), make_warehouse(tmp_path, "ctl")
    replay(plain, capsys)
    set_control(url, capsys, "spy-tlt", "cash_until_rebalance", CONTROL_FROM)
    out = replay(url, capsys)
    assert ("[replay] live control 2026-06-24 spy-tlt: to cash — cash_until_rebalance set by root: to cash until "
            "the next scheduled rebalance") in out
    assert ("[replay] live control 2026-07-01 spy-tlt: trade — first session of a new month period "
            "(cash_until_rebalance set by root ended: scheduled rebalance on 2026-07-01)") in out

    sessions = sessions_in_range(START, END)
    s = D(CONTROL_FROM)
    mine, base = held(url, "spy-tlt"), held(plain, "spy-tlt")
    before = [d for d in sessions if d < s]
    assert {d: mine[d] for d in before} == {d: base[d] for d in before}   # nothing changes before it acts
    # the liquidation: exactly the shares held are sold at the close with the cost model, the proceeds are cash
    day_before = mine[before[-1]]
    assert set(day_before) == {"SPY", "TLT", "$USD"}
    orders = read(url, "orders", session_date=s).set_index("ticker")
    assert sorted(orders.index) == ["GLD", "QQQ", "SPY", "TLT"]   # the daily one rebalances as usual
    closes = read(url, "daily_bars", session_date=s).set_index("ticker")["adj_close"]
    costs = CostModel()
    cash = day_before["$USD"]
    for t in ("SPY", "TLT"):
        o = orders.loc[t]
        assert o["side"] == "sell" and o["qty"] == pytest.approx(day_before[t], rel=1e-12)
        fill = costs.fill("sell", day_before[t], float(closes[t]), s)
        assert o["filled_avg_price"] == pytest.approx(fill.net_price, rel=1e-12)
        cash += fill.shares * fill.net_price
    nav = read(url, "daily_nav", symphony_id="spy-tlt").set_index("session_date")
    cash_days = [d for d in sessions if s <= d < JULY_1]
    assert cash_days == [D("2026-06-24"), D("2026-06-25"), D("2026-06-26"), D("2026-06-29"), D("2026-06-30")]
    for d in cash_days:
        assert mine[d] == {"$USD": pytest.approx(cash, rel=1e-12)}, d
        assert nav.loc[d, "nav_usd"] == pytest.approx(cash, rel=1e-12)
        assert nav.loc[d, "cash_usd"] == nav.loc[d, "nav_usd"]
    intents = read(url, "order_intents", symphony_id="spy-tlt")
    assert sorted(set(intents["session_date"])) == [D(START), s, JULY_1]   # nothing traded while in cash
    # 07-01: the scheduled rebalance trades it back to its targets, 50/50
    july = mine[JULY_1]
    assert set(july) == {"SPY", "TLT", "$USD"} and 0 <= july["$USD"] < 1.0
    value = {t: july[t] * float(c) for t, c in read(url, "daily_bars", session_date=JULY_1)
             .set_index("ticker")["adj_close"].items() if t in ("SPY", "TLT")}
    assert value["SPY"] / sum(value.values()) == pytest.approx(0.5, abs=1e-3)
    assert mine[D(END)] == july   # monthly: nothing more in July
    ctl = the_control(url, "spy-tlt")
    assert (ctl["status"], ctl["started_session"], ctl["consumed_session"]) == ("consumed", s, JULY_1)
    # the other symphony of the account trades exactly as in the replay without the control
    for table in ("positions", "daily_nav", "order_intents"):
        pd.testing.assert_frame_equal(rows_of(url, table, "qqq-gld"), rows_of(plain, table, "qqq-gld"))


def test_skip_next_rebalance_keeps_the_holdings_on_the_next_rebalance(tmp_path, capsys):
    """Skip set from 06-24: the monthly rule's next trade (07-01) keeps the holdings, no intent for the symphony that
    day, consumed on 07-01; without the control the replay rebalances it on 07-01."""
    plain, url = make_warehouse(tmp_path, "plain"), make_warehouse(tmp_path, "ctl")
    replay(plain, capsys, "--sizing", "buffered")
    set_control(url, capsys, "spy-tlt", "skip_next_rebalance", CONTROL_FROM)
    out = replay(url, capsys, "--sizing", "buffered")
    assert ("[replay] live control 2026-07-01 spy-tlt: hold — skip_next_rebalance set by root: this rebalance "
            "skipped, holdings kept") in out
    mine, base = held(url, "spy-tlt"), held(plain, "spy-tlt")
    june_30 = D("2026-06-30")
    assert mine[june_30] == base[june_30]
    assert mine[JULY_1] == mine[june_30] == mine[D(END)]   # shares and cash untouched
    assert base[JULY_1] != base[june_30]                   # what the rule alone does on 07-01
    def on_july_1(u):
        return read(u, "order_intents", session_date=JULY_1, symphony_id="spy-tlt")
    assert on_july_1(url).empty and sorted(on_july_1(plain)["ticker"]) == ["SPY", "TLT"]
    assert sorted(read(url, "orders", session_date=JULY_1)["ticker"]) == ["GLD", "QQQ"]   # only the daily one's
    ctl = the_control(url, "spy-tlt")
    assert (ctl["status"], ctl["consumed_session"]) == ("consumed", JULY_1)
    assert ctl["started_session"] is None


def test_replaying_the_range_again_repeats_the_control_decisions(tmp_path, capsys):
    """The first replay (``oragami replay`` as a subprocess) consumes the control inside the range; replaying the
    same range again decides the same way from the stored row: identical rows, identical control."""
    url = make_warehouse(tmp_path, "ctl")
    set_control(url, capsys, "spy-tlt", "cash_until_rebalance", CONTROL_FROM)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([str(Path(sys.executable).with_name("oragami")), "replay", "--from", START, "--to", END,
                           "--warehouse", url, "--no-traces"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "live control 2026-06-24 spy-tlt: to cash" in done.stdout
    first = {name: rows_of(url, name) for name, _ in REPLAY_TABLES}
    ctl = the_control(url, "spy-tlt")
    assert (ctl["status"], ctl["started_session"], ctl["consumed_session"]) == ("consumed", D(CONTROL_FROM), JULY_1)
    out = replay(url, capsys)
    assert "live control 2026-06-24 spy-tlt: to cash" in out and "live control 2026-07-01 spy-tlt: trade" in out
    for name, _ in REPLAY_TABLES:
        pd.testing.assert_frame_equal(rows_of(url, name), first[name], obj=name)
    assert the_control(url, "spy-tlt") == ctl
    assert held(url, "spy-tlt")[D("2026-06-30")].keys() == {"$USD"}


@pytest.mark.slow
def test_a_buffered_replay_with_controls_trades_what_the_daily_graph_trades(tmp_path, capsys, monkeypatch):
    """06-29 .. 07-01, both controls from 06-30: the graph session by session and a buffered replay of the three
    sessions write the same orders, intents, ledgers and NAV, and leave the controls in the same state."""
    from orchestration.cli import run_daily

    s1, s2, s3 = sessions_in_range("2026-06-29", "2026-07-01")
    graph, rep = make_warehouse(tmp_path, "graph"), make_warehouse(tmp_path, "replay")
    for url in (graph, rep):
        set_control(url, capsys, "spy-tlt", "cash_until_rebalance", s2.isoformat())
        set_control(url, capsys, "qqq-gld", "skip_next_rebalance", s2.isoformat())
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", graph)   # the graph's warehouse (undone after the test)
    for s in (s1, s2, s3):
        assert run_daily(s, dg.DagsterInstance.ephemeral())
    replay(rep, capsys, "--sizing", "buffered", start=s1.isoformat(), end=s3.isoformat())
    # what the controls did (on both): spy-tlt cash on s2 and back on s3, qqq-gld's s2 rebalance skipped
    for url in (graph, rep):
        h = held(url, "spy-tlt")
        assert set(h[s1]) == {"SPY", "TLT", "$USD"} and set(h[s2]) == {"$USD"} and set(h[s3]) == {"SPY", "TLT", "$USD"}
        q = held(url, "qqq-gld")
        assert q[s2] == q[s1] and q[s3] != q[s2]
    for table, key in (("positions", ["symphony_id", "session_date", "ticker"]),
                       ("daily_nav", ["symphony_id", "session_date"]),
                       ("orders", ["client_order_id"]),
                       ("order_intents", ["symphony_id", "session_date", "ticker"])):
        g = read(graph, table).sort_values(key).reset_index(drop=True)
        r = read(rep, table).sort_values(key).reset_index(drop=True)
        assert g[key].values.tolist() == r[key].values.tolist(), table
        for col in [c for c in ("qty", "nav_usd", "cash_usd", "daily_return", "notional_usd", "filled_qty",
                                "filled_avg_price", "market_value_usd", "delta_qty") if c in g.columns]:
            a, b = g[col].to_numpy(dtype="float64"), r[col].to_numpy(dtype="float64")
            assert np.allclose(a, b, rtol=1e-12, atol=1e-9, equal_nan=True), (table, col)
        if "disposition" in g.columns:
            assert g["disposition"].tolist() == r["disposition"].tolist()
    for sid in ("spy-tlt", "qqq-gld"):
        a, b = the_control(graph, sid), the_control(rep, sid)
        assert [a[k] for k in ("status", "started_session", "consumed_session")] == \
            [b[k] for k in ("status", "started_session", "consumed_session")], sid
    assert the_control(rep, "spy-tlt")["consumed_session"] == s3
    assert the_control(rep, "qqq-gld")["consumed_session"] == s2


def test_cash_until_a_branch_switch_under_rule_none_continues_across_two_replays(tmp_path, capsys):
    """Rule ``none`` (no calendar): the cash ends on the first session whose target tickers differ from the previous
    session's. Replaying up to the session before that switch, then from the switch on (its previous targets read
    from the warehouse), ends it on the same session and writes the same rows as one replay of the whole range."""
    start, end = "2026-05-01", "2026-06-30"
    branch = '(weight-equal [(if (> (rsi "SPY" {:window 10}) 50) [(asset "SPY")] [(asset "TLT")])])'

    def branch_warehouse(name: str) -> str:
        url = make_warehouse(tmp_path, name)
        with Warehouse(url) as wh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seed_symphonies(wh, [write(tmp_path, "spy-or-tlt", branch, ":none")], "acct-b")
        return url

    whole, split = branch_warehouse("whole"), branch_warehouse("split")
    replay(whole, capsys, "--account", "acct-b", start=start, end=end)
    targets = read(whole, "target_allocations", symphony_id="spy-or-tlt")
    pick = {d: frozenset(g["ticker"]) for d, g in targets.groupby("session_date")}
    days = sorted(pick)
    switches = [d for a, d in zip(days, days[1:]) if pick[d] != pick[a]]
    # a switch X with at least three sessions since the previous switch: the control starts two sessions before X
    x = next(d for a, d in zip(switches, switches[1:]) if days.index(d) - days.index(a) >= 3)
    s, before_x = days[days.index(x) - 2], days[days.index(x) - 1]
    for url in (whole, split):
        set_control(url, capsys, "spy-or-tlt", "cash_until_rebalance", s.isoformat())
    replay(whole, capsys, "--account", "acct-b", start=start, end=end)
    replay(split, capsys, "--account", "acct-b", start=start, end=before_x.isoformat())
    assert the_control(split, "spy-or-tlt")["status"] == "open"
    replay(split, capsys, "--account", "acct-b", start=x.isoformat(), end=end)
    for url in (whole, split):
        h = held(url, "spy-or-tlt")
        assert set(h[s]) == set(h[before_x]) == {"$USD"}
        assert set(h[x]) == set(pick[x]) | {"$USD"} and pick[x] != pick[before_x]
        ctl = the_control(url, "spy-or-tlt")
        assert (ctl["status"], ctl["started_session"], ctl["consumed_session"]) == ("consumed", s, x)
    for table in ("positions", "daily_nav", "orders", "order_intents"):
        pd.testing.assert_frame_equal(rows_of(split, table, "spy-or-tlt"), rows_of(whole, table, "spy-or-tlt"),
                                      obj=table)


def test_the_paper_replay_job_applies_the_controls_and_reports_them(tmp_path, capsys):
    """The Dagster door: the ``paper_replay`` job skips the same rebalance, stores the consumption and names it in
    its ``live_controls`` metadata."""
    from orchestration.definitions import build_definitions

    url = make_warehouse(tmp_path, "job")
    set_control(url, capsys, "spy-tlt", "skip_next_rebalance", CONTROL_FROM)
    job = build_definitions(warehouse_url=url).resolve_job_def("paper_replay")
    config = {"ops": {"replay_sessions": {"config": {"start": START, "end": END, "accounts": ["acct"]}}}}
    result = job.execute_in_process(run_config=config, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = next(e for e in result.all_events if e.is_successful_output).step_output_data.metadata
    assert meta["live_controls"].value == ("2026-07-01 spy-tlt: hold — skip_next_rebalance set by root: this "
                                           "rebalance skipped, holdings kept")
    ctl = the_control(url, "spy-tlt")
    assert (ctl["status"], ctl["consumed_session"]) == ("consumed", JULY_1)
    assert read(url, "order_intents", session_date=JULY_1, symphony_id="spy-tlt").empty
