"""The Research page through the user's door (the router, the sign-in form), over a warehouse written by the
Dagster research assets: the in-sample / out-of-sample table and charts, the walk-forward windows with the chosen
parameters, the stitched curve, the heat map, and the PBO / DSR readings; an analyst of another account sees none
of it. Also the page's pure reads and charts."""
from __future__ import annotations

import gc
import shutil
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.research import research_backtest, walk_forward_study
from dashboards.present import research_charts as rc
from dashboards.reads import research as rr
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources
from pipelines.research import STUDY_PARTITIONS, SYMPHONY_PARTITIONS
from tests.dashboards.door import add_users, open_page, sign_in, texts
from warehouse import AccountScope, Warehouse
from warehouse.repos import research as repo

ROOT = Path(__file__).resolve().parents[2]
PAGE = "app_pages/research.py"
SID, STUDY = "golden-rotation-2x", "gld-vol-windows"
WF = {"params": [{"node_path": "root/0/0", "field": "lhs_window", "values": [5, 10, 20]},
                 {"node_path": "root/0/0", "field": "rhs_window", "values": [50, 100, 200]}],
      "start": "2012-01-03", "end": "2019-12-31", "is_sessions": 504, "oos_sessions": 252}


def build_research_db(path: Path) -> Path:
    """A DuckDB file with acct-a's golden-rotation-2x, a research backtest of it split at 2018-01-02 and a
    walk-forward study over its first decision's two windows, both materialised by the Dagster assets; users
    ``alice`` (acct-a) and ``bob`` (acct-b) of :data:`tests.dashboards.door.USERS`."""
    url = f"duckdb:///{path}"
    with Warehouse(url) as wh:
        wh.create_schema()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seed_symphonies(wh, [ROOT / "symphonies" / "golden_rotation_2x.clj"], "acct-a")
        wh.upsert("accounts", pd.DataFrame([{"account_id": "acct-b", "name": "Bob"}]), ["account_id"])
        add_users(wh, ("alice", "bob"))
    with dg.DagsterInstance.ephemeral() as inst:
        inst.add_dynamic_partitions(SYMPHONY_PARTITIONS, [SID])
        inst.add_dynamic_partitions(STUDY_PARTITIONS, [STUDY])
        res = build_resources(warehouse_url=url)
        assert dg.materialize([research_backtest], resources=res, instance=inst, partition_key=SID, run_config={
            "ops": {"research_backtest": {"config": {"start": "2012-01-03", "end": "2019-12-31",
                                                     "oos_start": "2018-01-02"}}}}).success
        assert dg.materialize([walk_forward_study], resources=res, instance=inst,
                              partition_key=dg.MultiPartitionKey({"symphony": SID, "study": STUDY}),
                              run_config={"ops": {"walk_forward_study": {"config": WF}}}).success
    # the warehouse bars of the benchmark for the split chart (the daily graph ingests them in production)
    from warehouse.bundled import load_adjusted_closes
    spy = load_adjusted_closes(["SPY"]).loc["2012-01-03":"2019-12-31", "SPY"]
    with Warehouse(url) as wh:
        wh.upsert("daily_bars", pd.DataFrame({"session_date": spy.index.date, "ticker": "SPY", "close": spy.to_numpy(),
                                              "adj_close": spy.to_numpy(), "source": "bundled"}),
                  ["session_date", "ticker"])
    gc.collect()   # the runs' garbage is collected here, not in an AppTest script thread (tests/e2e/conftest.py)
    return path


@pytest.fixture(scope="module")
def research_db(tmp_path_factory) -> Path:
    """:func:`build_research_db`, once per module (copy it to write)."""
    return build_research_db(tmp_path_factory.mktemp("research") / "w.duckdb")


@pytest.fixture
def page_db(research_db, tmp_path, monkeypatch, use_duckdb):
    monkeypatch.setenv("ORAGAMI_DASHBOARD_AUTH", "on")
    path = tmp_path / "w.duckdb"
    shutil.copyfile(research_db, path)
    use_duckdb(path)
    return f"duckdb:///{path}"


def test_research_page_shows_the_split_the_windows_and_the_overfitting_figures(page_db):
    at = open_page(sign_in("alice"), PAGE)
    assert not at.exception, at.exception
    scope = AccountScope.only("acct-a")
    with Warehouse(page_db) as wh:
        study = repo.studies(wh, scope, SID).iloc[0]
        windows = repo.study_windows(wh, scope, SID, STUDY)
        run_id = repo.oos_runs(wh, scope, SID)["run_id"].item()
        stats = repo.oos_stats(wh, scope, run_id)
    # in sample vs out of sample, side by side
    table = next(df.value for df in at.dataframe if "Out of sample · strategy" in df.value.columns)
    assert list(table.columns) == ["In sample · strategy", "In sample · benchmark", "Out of sample · strategy",
                                   "Out of sample · benchmark", "Whole · strategy", "Whole · benchmark"]
    oos_sharpe = stats[(stats["segment"] == "out_of_sample") & (stats["series"] == "strategy")
                       & (stats["stat"] == "sharpe_ratio")]["value"].item()
    assert table.loc["Sharpe", "Out of sample · strategy"] == f"{oos_sharpe:.2f}"
    assert "2018-01-02" in texts(at)
    # the walk-forward windows with the chosen parameters
    wtable = next(df.value for df in at.dataframe if "root/0/0.lhs_window" in df.value.columns)
    assert len(wtable) == 6
    assert wtable["root/0/0.lhs_window"].tolist() == [p["root/0/0.lhs_window"] for p in windows["params"]]
    assert wtable["OOS return"].to_numpy() == pytest.approx(windows["oos_return"].to_numpy())
    # plain-language readings of the figures stored by the asset
    words = "\n".join(str(e.value) for e in at.info)
    assert f"below the median out of sample is {study['pbo']:.0%}" in words
    assert f"The deflated Sharpe ratio is {study['dsr']:.0%}" in words
    assert [m.value for m in at.metric][3:5] == [f"{study['pbo']:.0%}", f"{study['dsr']:.0%}"]
    # split growth, split drawdown, chosen parameters, stitched curve, heat map
    assert len(at.get("plotly_chart")) == 5
    stab = next(df.value for df in at.dataframe if "mean_relative_drop" in df.value.columns)
    assert len(stab) == 6 and stab["chosen"].sum() == 12


def test_another_account_sees_no_research(page_db):
    at = open_page(sign_in("bob"), PAGE)
    assert not at.exception
    assert "No symphonies for this account" in texts(at)
    assert not at.get("plotly_chart")


def test_reads_and_charts_by_hand():
    stats = pd.DataFrame({"segment": ["in_sample", "out_of_sample", "in_sample", "out_of_sample"],
                          "series": ["strategy"] * 4, "stat": ["sharpe_ratio", "sharpe_ratio", "max_drawdown",
                                                               "max_drawdown"],
                          "value": [1.234, np.nan, 0.1234, 0.05], "start_date": ["2020-01-01", "2021-01-04"] * 2,
                          "end_date": ["2020-12-31", "2021-06-30"] * 2})
    t = rr.oos_table(stats)
    assert list(t.index) == ["Sharpe", "Max drawdown"]
    f = rr.format_oos_table(t)
    assert f.loc["Sharpe"].tolist() == ["1.23", "—"] and f.loc["Max drawdown"].tolist() == ["12.34%", "5.00%"]
    assert rr.segment_ranges(stats) == {"in_sample": ("2020-01-01", "2020-12-31"),
                                        "out_of_sample": ("2021-01-04", "2021-06-30")}
    configs = pd.DataFrame({"params": [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 2, "b": 10}, {"a": 2, "b": 20}],
                            "objective": [0.1, 0.2, 0.3, 0.4]})
    h = rr.heatmap_frame(configs, "a", "b")
    assert h.loc[20, 2] == 0.4 and h.loc[10, 1] == 0.1
    assert rr.param_names(configs) == ["a", "b"]
    assert rr.pbo_reading(0.25) == ("The chance that the best in-sample configuration is below the median out of "
                                    "sample is 25% (some evidence the choice carries over).")
    assert "could not be computed" in rr.pbo_reading(None)
    assert "0.50 (annualised)" in rr.dsr_reading(0.97, 0.5 / np.sqrt(252), 9)
    assert len(rc.param_heatmap(h, "a", "b", "sharpe").data) == 1
    assert len(rc.param_heatmap(pd.DataFrame(), "a", None, "sharpe").data) == 0
