"""Issue 13 through the Dagster doors: the research backtest's in-sample / out-of-sample split, the walk-forward
study over a corpus symphony's two windows launched as the UI launches it (the ``walk_forward_job`` of the code
location's definitions, a symphony × study partition, config in the run config), the sweep's overfitting
figures, and the registry's last-edit date."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.research import WalkForwardConfig, axes_of, oos_start_for, pbo_splits_for
from engine.model import tickers as symphony_tickers
from engine.oos import split_stats
from engine.parsing import load_symphony
from engine.walkforward import run_grid, walk_forward
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_definitions, build_resources
from pipelines.research import STUDY_PARTITIONS, add_study
from tests.orchestration.test_research import SECTOR, WINDOW, backtest, direct, tick
from warehouse import AccountScope, Warehouse
from warehouse.bundled import load_adjusted_closes
from warehouse.repos import research as repo
from warehouse.repos import symphonies as registry

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "symphonies" / "golden_rotation_2x.clj"
#: golden-rotation-2x's first decision: stdev-return(GLD, 10d) > stdev-return(GLD, 100d) — its two windows.
WF_PARAMS = [{"node_path": "root/0/0", "field": "lhs_window", "values": [5, 10, 20]},
             {"node_path": "root/0/0", "field": "rhs_window", "values": [50, 100, 200]}]
WF_CONFIG = {"params": WF_PARAMS, "start": "2012-01-03", "end": "2019-12-31", "is_sessions": 504,
             "oos_sessions": 252, "objective": "sharpe", "pbo_splits": 16}


@pytest.fixture
def seeded(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = seed_symphonies(wh, [SECTOR, GOLDEN], "acct")
    yield wh, ids
    wh.dispose()


@pytest.fixture
def instance(seeded, warehouse_url):
    inst = dg.DagsterInstance.ephemeral()
    tick(inst, warehouse_url)
    return inst


def test_last_edited_at_is_set_on_upload_and_on_a_source_change(seeded):
    wh, _ = seeded
    sid = "sector-surfing-rsi-bottom2"
    first = repo.last_edited(wh, sid)
    assert first is not None and abs(pd.Timestamp.now(tz="UTC") - first) < pd.Timedelta(minutes=5)
    row = wh.read("symphonies", where={"symphony_id": sid}).iloc[0]
    kw = dict(symphony_id=sid, name=row["name"], source_format=row["source_format"], parsed_json=row["parsed_json"],
              rebalance=row["rebalance"])
    registry.register(wh, "acct", source_text=row["source_text"], **kw)  # the same source again: not an edit
    assert repo.last_edited(wh, sid) == first
    registry.register(wh, "acct", source_text=row["source_text"] + "\n;; edited", **kw)
    assert repo.last_edited(wh, sid) > first


def test_research_backtest_splits_in_and_out_of_sample(seeded, instance, warehouse_url):
    wh, _ = seeded
    sid = "sector-surfing-rsi-bottom2"
    result = backtest(warehouse_url, instance, sid, oos_start="2024-04-01")
    ref = direct(SECTOR)
    expect = split_stats(ref.nav, "2024-04-01", 10_000.0, ref.benchmark_nav)
    run_id = wh.read("backtest_runs")["run_id"].item()
    got = repo.oos_stats(wh, AccountScope.only("acct"), run_id)
    assert len(got) == len(expect) and set(got["oos_source"]) == {"config"}
    assert str(got["oos_start"].iloc[0]) == "2024-04-01"
    merged = got.merge(expect, on=["segment", "series", "stat"], suffixes=("", "_ref"))
    np.testing.assert_allclose(merged["value"].astype(float), merged["value_ref"], rtol=1e-12, equal_nan=True)
    ins = got[(got["segment"] == "in_sample") & (got["series"] == "strategy")].set_index("stat")["value"]
    # the in-sample part is the backtest up to 2024-03-28 measured from the capital: by hand from the NAV
    assert ins["cumulative_return"] == pytest.approx(ref.nav[:"2024-03-28"].iloc[-1] / 10_000.0 - 1, rel=1e-12)
    oos = got[(got["segment"] == "out_of_sample") & (got["series"] == "strategy")].set_index("stat")["value"]
    assert oos["cumulative_return"] == pytest.approx(ref.nav.iloc[-1] / ref.nav[:"2024-03-28"].iloc[-1] - 1,
                                                     rel=1e-12)
    assert set(got["series"]) == {"strategy", "benchmark"}
    meta = result.asset_materializations_for_node("research_backtest")[0].metadata
    assert meta["oos_start"].value == "2024-04-01" and meta["oos_source"].value == "config"
    assert assert_repeatable(wh, warehouse_url, instance, sid) == len(got)  # same config: replaced


def assert_repeatable(wh, url, instance, sid) -> int:
    backtest(url, instance, sid, oos_start="2024-04-01")
    return len(wh.read("research_oos_stats"))


def test_research_backtest_defaults_to_the_last_edit(seeded, instance, warehouse_url):
    wh, _ = seeded
    # the symphony was registered just now, after the last bar: nothing is out of sample yet
    backtest(warehouse_url, instance, "sector-surfing-rsi-bottom2")
    got = wh.read("research_oos_stats")
    assert set(got["oos_source"]) == {"last_edit"} and set(got["segment"]) == {"in_sample", "full"}
    # the New York date of the last edit (02:30 UTC on the 7th is still the 6th in New York)
    assert oos_start_for(None, pd.Timestamp("2024-05-07 02:30", tz="UTC")) == (dt.date(2024, 5, 6), "last_edit")
    assert oos_start_for(None, pd.Timestamp("2024-05-07 14:30", tz="UTC")) == (dt.date(2024, 5, 7), "last_edit")
    assert oos_start_for("2020-01-02", None) == (dt.date(2020, 1, 2), "config")
    with pytest.raises(dg.Failure, match="not an ISO date"):
        oos_start_for("2020/01/02", None)


def _reference_walk_forward():
    root = load_symphony(GOLDEN)
    closes = load_adjusted_closes(sorted(symphony_tickers(root) | {"SPY"}))
    cfg = WalkForwardConfig(**WF_CONFIG)
    kw = dict(start=cfg.start, end=cfg.end, capital=10_000.0, slippage_bps=1.0, apply_reg_fee=True,
              apply_taf_fee=True, benchmark="SPY")
    grid = run_grid(root, closes, axes_of(cfg), backtest=kw)
    return grid, walk_forward(grid, is_sessions=504, oos_sessions=252, objective="sharpe")


def test_walk_forward_over_a_corpus_symphonys_two_windows_from_the_job(seeded, instance, warehouse_url):
    wh, _ = seeded
    sid, study = "golden-rotation-2x", "gld-vol-windows"
    assert add_study(instance, study) and not add_study(instance, study)
    assert instance.get_dynamic_partitions(STUDY_PARTITIONS) == [study]
    # the job of the code location's definitions, launched with a partition and its launchpad config, as the UI
    job = build_definitions(warehouse_url=warehouse_url).resolve_job_def("walk_forward_job")
    key = dg.MultiPartitionKey({"symphony": sid, "study": study})
    run_config = {"ops": {"walk_forward_study": {"config": WF_CONFIG}}}
    for _ in range(2):  # a second launch replaces the first's rows
        result = job.execute_in_process(run_config=run_config, instance=instance, partition_key=key)
        assert result.success
    grid, wf = _reference_walk_forward()
    scope = AccountScope.only("acct")
    windows = repo.study_windows(wh, scope, sid, study)
    assert len(windows) == len(wf.windows) == 6  # 2012..2019: 504 IS, then six OOS steps of ≤ 252 sessions
    assert windows["config_idx"].tolist() == wf.windows["config_idx"].tolist()
    assert [p["root/0/0.lhs_window"] for p in windows["params"]] == wf.windows["root/0/0.lhs_window"].tolist()
    np.testing.assert_allclose(windows["oos_return"], wf.windows["oos_return"], rtol=1e-12)
    # each window's choice is the IS-best Sharpe of the nine configurations (checked from the returns here)
    for w, row in wf.windows.iterrows():
        r = grid.returns.loc[row["is_start"]:row["is_end"]]
        sh = r.mean() / r.std(ddof=1)
        assert row["config_idx"] == int(sh.idxmax())
    curves = repo.study_curves(wh, scope, sid, study)
    assert len(curves) == len(wf.oos_returns)
    assert curves["oos_growth"].iloc[-1] == pytest.approx(wf.oos_growth.iloc[-1], rel=1e-12)
    assert curves["best_growth"].notna().all() and curves["original_growth"].notna().all()
    configs = repo.study_configs(wh, scope, sid, study)
    assert len(configs) == 9 and configs["times_chosen"].sum() == 6
    st = repo.studies(wh, scope, sid).iloc[0]
    assert st["n_configs"] == 9 and st["pbo_splits"] == 16 and 0.0 <= st["pbo"] <= 1.0 and 0.0 <= st["dsr"] <= 1.0
    assert st["oos_sharpe"] == pytest.approx(wf.oos_stats["sharpe_ratio"], rel=1e-12)
    stab = repo.param_stability(wh, scope, sid, study)
    assert len(stab) == 6 and stab.groupby("param")["chosen"].sum().tolist() == [6, 6]
    assert st["spec"]["params"][0]["values"] == [5.0, 10.0, 20.0]
    assert repo.studies(wh, AccountScope.only("someone-else")).empty  # tenant scope
    mat = result.asset_materializations_for_node("walk_forward_study")[0]
    assert mat.metadata["windows"].value == 6 and mat.partition == "gld-vol-windows|golden-rotation-2x"


def test_walk_forward_bad_grid_fails_naming_the_node(seeded, instance, warehouse_url):
    add_study(instance, "bad")
    job = build_definitions(warehouse_url=warehouse_url).resolve_job_def("walk_forward_job")
    cfg = {**WF_CONFIG, "params": [{"node_path": "root/0/0", "field": "threshold", "values": [1]}]}
    with pytest.raises(dg.Failure, match=r"'threshold' at node 'root/0/0'"):
        job.execute_in_process(run_config={"ops": {"walk_forward_study": {"config": cfg}}}, instance=instance,
                               partition_key=dg.MultiPartitionKey({"symphony": "golden-rotation-2x", "study": "bad"}))


def test_parameter_sweep_stores_its_overfitting_figures(seeded, warehouse_url):
    wh, _ = seeded
    cfg = {"symphony_id": "sector-surfing-rsi-bottom2", "node_path": "root/0/0", "values": [10, 14, 20], **WINDOW}
    from assets.research import parameter_sweep
    assert dg.materialize([parameter_sweep], resources=build_resources(warehouse_url=warehouse_url),
                          instance=dg.DagsterInstance.ephemeral(),
                          run_config={"ops": {"parameter_sweep": {"config": cfg}}}).success
    row = repo.sweep_overfitting(wh, AccountScope.only("acct")).iloc[0]
    assert row["n_trials"] == 3 and row["sessions"] == len(direct(SECTOR).nav)
    assert row["pbo_splits"] == pbo_splits_for(int(row["sessions"])) and 0 <= row["pbo"] <= 1
    assert row["best_value"] in (10.0, 14.0, 20.0)
    assert pbo_splits_for(200) == 16 and pbo_splits_for(30) == 6 and pbo_splits_for(7) is None


def test_the_sweep_can_vary_a_filters_select_n():
    from assets.research import with_node_param
    from engine.walkforward import get_node_param

    sector = load_symphony(SECTOR)
    assert get_node_param(with_node_param(sector, "root/0/0", "select_n", 3), "root/0/0", "select_n") == 3
    with pytest.raises(ValueError, match=r"cannot sweep 'threshold' at node 'root/0/0'.*walk_forward_job"):
        with_node_param(sector, "root/0/0", "threshold", 3)


def test_a_run_without_an_oos_start_leaves_no_stale_split(seeded, instance, warehouse_url):
    wh, _ = seeded
    sid = "sector-surfing-rsi-bottom2"
    backtest(warehouse_url, instance, sid, oos_start="2024-04-01")
    assert len(wh.read("research_oos_stats")) > 0
    wh.upsert("symphonies", wh.read("symphonies", where={"symphony_id": sid}).assign(last_edited_at=None),
              ["symphony_id"])  # a symphony registered before last_edited_at existed
    backtest(warehouse_url, instance, sid)  # same backtest settings, so the same run id; no OOS start known
    assert wh.read("research_oos_stats").empty
