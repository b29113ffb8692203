"""Research backtests: symphony partitions from the registry sensor, the partitioned backtest asset (results,
replacement by configuration, decision traces on change days) and the parameter sweep."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.research import (SWEEP_FIELDS, change_sessions, parameter_sweep, research_backtest, with_node_param)
from engine.backtest import run_backtest
from engine.model import Filter, iter_nodes
from engine.model import tickers as symphony_tickers
from engine.parsing import load_symphony
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources, defs
from resources import WarehouseResource
from pipelines.research import SYMPHONY_PARTITIONS, symphony_partitions, symphony_registry_sensor
from warehouse import Warehouse
from warehouse.bundled import load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
SECTOR = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"
INVVOL = ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"
WINDOW = {"start": "2024-01-02", "end": "2024-06-21"}


@pytest.fixture
def seeded(warehouse_url):
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = seed_symphonies(wh, [SECTOR, INVVOL], "acct")
    yield wh, ids
    wh.dispose()


def tick(instance: dg.DagsterInstance, url: str):
    """Evaluate the registry sensor once and apply its partition requests, as the daemon does."""
    with dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource(url=url)}) as ctx:
        result = symphony_registry_sensor(ctx)
    if isinstance(result, dg.SensorResult):
        for req in result.dynamic_partitions_requests or []:
            if isinstance(req, dg.AddDynamicPartitionsRequest):
                instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            else:
                for key in req.partition_keys:
                    instance.delete_dynamic_partition(req.partitions_def_name, key)
    return result


@pytest.fixture
def instance(seeded, warehouse_url):
    inst = dg.DagsterInstance.ephemeral()
    tick(inst, warehouse_url)
    return inst


def direct(path: Path, root=None, **settings):
    """``run_backtest`` on the bundled closes with the asset's default settings (overridable)."""
    root = root or load_symphony(path)
    closes = load_adjusted_closes(sorted(symphony_tickers(root) | {"SPY"}))
    kw = {"capital": 10_000.0, "slippage_bps": 1.0, "apply_reg_fee": True, "apply_taf_fee": True,
          "benchmark": "SPY", **WINDOW, **settings}
    return run_backtest(root, closes, **kw)


def backtest(url: str, instance, sid: str, **config):
    result = dg.materialize([research_backtest], resources=build_resources(warehouse_url=url), instance=instance,
                            partition_key=sid,
                            run_config={"ops": {"research_backtest": {"config": {**WINDOW, **config}}}})
    assert result.success
    return result


def test_sensor_tracks_the_registry(seeded, warehouse_url):
    wh, ids = seeded
    inst = dg.DagsterInstance.ephemeral()
    inst.add_dynamic_partitions(SYMPHONY_PARTITIONS, ["stale-symphony"])
    result = tick(inst, warehouse_url)
    assert isinstance(result, dg.SensorResult)
    assert sorted(inst.get_dynamic_partitions(SYMPHONY_PARTITIONS)) == sorted(ids)
    assert isinstance(tick(inst, warehouse_url), dg.SkipReason)  # nothing to do

    # an inactive symphony keeps its partition; a deleted one loses it
    row = wh.read("symphonies", where={"symphony_id": ids[0]}).assign(status="inactive")
    wh.upsert("symphonies", row, ["symphony_id"])
    assert isinstance(tick(inst, warehouse_url), dg.SkipReason)
    wh.replace("symphonies", pd.DataFrame(columns=["symphony_id"]), where={"symphony_id": ids[1]})
    tick(inst, warehouse_url)
    assert list(inst.get_dynamic_partitions(SYMPHONY_PARTITIONS)) == [ids[0]]


def test_sensor_skips_an_unreadable_warehouse(tmp_path):
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(),
                                 resources={"warehouse": WarehouseResource(duckdb_path=str(tmp_path / "none.db"))}) as ctx:
        assert isinstance(symphony_registry_sensor(ctx), dg.SkipReason)


def test_research_backtest_writes_replaces_and_traces(seeded, instance, warehouse_url):
    wh, _ = seeded
    sid = "sector-surfing-rsi-bottom2"
    result = backtest(warehouse_url, instance, sid)
    ref = direct(SECTOR)

    runs = wh.read("backtest_runs")
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["symphony_id"] == sid and run["account_id"] == "acct"
    assert str(run["start_date"]) == "2024-01-02" and str(run["end_date"]) == "2024-06-21"
    assert run["cagr"] == pytest.approx(ref.stats["annualized_return"], rel=1e-12)
    assert run["sharpe"] == pytest.approx(ref.stats["sharpe_ratio"], rel=1e-12)
    assert run["max_drawdown"] == pytest.approx(ref.stats["max_drawdown"], rel=1e-12)
    assert json.loads(run["stats_json"])["stats"]["calmar_ratio"] == pytest.approx(ref.full_stats["calmar_ratio"])
    daily = wh.read("backtest_daily").sort_values("session_date")
    assert len(daily) == len(ref.nav)
    assert daily["nav_usd"].to_numpy() == pytest.approx(ref.nav.to_numpy(), rel=1e-12)
    weights = wh.read("backtest_weights")
    assert set(weights["session_date"]) == set(ref.nav.index.date)

    # traces only on the sessions whose target weights changed (computed here from the stored weights)
    wide = weights.pivot(index="session_date", columns="ticker", values="weight").fillna(0.0).sort_index()
    changed = (wide.diff().abs().max(axis=1) > 1e-9)
    changed.iloc[0] = True
    traces = wh.read("backtest_traces")
    assert 0 < changed.sum() < len(wide)  # the test means something: some days unchanged
    assert set(traces["session_date"]) == set(wide.index[changed])
    assert len(traces) == changed.sum()  # one decision node (the filter), reached every session
    assert set(traces["node_path"]) == {"root/0/0"} and set(traces["node_type"]) == {"filter"}
    assert set(traces["run_id"]) == {run["run_id"]}
    mat = result.asset_materializations_for_node("research_backtest")[0]
    assert mat.partition == sid and mat.metadata["trace_sessions"].value == changed.sum()

    counts = {t: len(wh.read(t)) for t in ("backtest_runs", "backtest_daily", "backtest_weights", "backtest_traces")}
    backtest(warehouse_url, instance, sid)  # same config: replaced
    assert {t: len(wh.read(t)) for t in counts} == counts
    backtest(warehouse_url, instance, sid, slippage_bps=5.0, apply_taf_fee=False)  # another config: a second run
    runs = wh.read("backtest_runs")
    assert len(runs) == 2
    other = runs[runs["run_id"] != run["run_id"]].iloc[0]
    assert other["cagr"] == pytest.approx(direct(SECTOR, slippage_bps=5.0, apply_taf_fee=False)
                                          .stats["annualized_return"], rel=1e-12)
    assert len(wh.read("backtest_daily")) == 2 * counts["backtest_daily"]


def test_research_backtest_of_an_inverse_vol_symphony(seeded, instance, warehouse_url):
    wh, _ = seeded
    sid = "spy-avgo-qqq-nvda-inverse-vol"
    backtest(warehouse_url, instance, sid, capital_usd=25_000.0, benchmark="QQQ")
    ref = direct(INVVOL, capital=25_000.0, benchmark="QQQ")
    run = wh.read("backtest_runs").iloc[0]
    assert run["cagr"] == pytest.approx(ref.stats["annualized_return"], rel=1e-12)
    assert json.loads(run["config_json"])["benchmark"] == "QQQ"
    traces = wh.read("backtest_traces")
    assert traces["session_date"].nunique() == len(change_sessions(ref.target_weights))
    assert set(traces["node_type"]) == {"wt-inverse-vol"}


def test_parameter_sweep(seeded, warehouse_url):
    wh, _ = seeded
    sid = "sector-surfing-rsi-bottom2"
    root = load_symphony(SECTOR)
    fpath = next(n.path for n in iter_nodes(root) if isinstance(n, Filter))
    values = [10, 14, 20]
    cfg = {"symphony_id": sid, "node_path": fpath, "values": values, **WINDOW}
    for _ in range(2):  # the second run replaces the first
        result = dg.materialize([parameter_sweep], resources=build_resources(warehouse_url=warehouse_url),
                                instance=dg.DagsterInstance.ephemeral(),
                                run_config={"ops": {"parameter_sweep": {"config": cfg}}})
        assert result.success
    rows = wh.read("sweep_results").sort_values("value")
    assert rows["value"].tolist() == values and rows["sweep_id"].nunique() == 1
    assert set(rows["node_path"]) == {fpath} and set(rows["field"]) == {"window"}
    for value, cagr, final in zip(rows["value"], rows["cagr"], rows["final_value"]):
        # the modified model built by hand (frozen models: copy the filter, its parent, the root)
        parent = root.children[0]
        f = parent.children[0]
        model = root.model_copy(update={"children": (parent.model_copy(update={
            "children": (f.model_copy(update={"sort_window": int(value)}),)}),)})
        ref = direct(SECTOR, root=model)
        assert cagr == pytest.approx(ref.stats["annualized_return"], rel=1e-12)
        assert final == pytest.approx(float(ref.nav.iloc[-1]), rel=1e-12)
    assert rows.loc[rows["value"] == 14, "cagr"].item() == pytest.approx(
        direct(SECTOR).stats["annualized_return"], rel=1e-12)  # 14 is the symphony's own window
    assert rows["cagr"].nunique() == 3


def test_with_node_param_fields_and_errors():
    inv = load_symphony(INVVOL)
    assert with_node_param(inv, "root/0", "window", 30).children[0].window == 30
    assert inv.children[0].window == 15  # the original is untouched
    tqqq = load_symphony(ROOT / "symphonies" / "tqqq_long_term_original.edn")
    top = with_node_param(tqqq, "root/0/0", "rhs_window", 150)
    assert next(n for n in iter_nodes(top) if n.path == "root/0/0").condition.rhs.window == 150
    inner = with_node_param(tqqq, "root/0/0/0/0/0", "window", 12)
    assert next(n for n in iter_nodes(inner) if n.path == "root/0/0/0/0/0").condition.lhs.window == 12
    assert next(n for n in iter_nodes(inner) if n.path == "root/0/0/1/0/0").condition.lhs.window == 10

    with pytest.raises(ValueError, match=r"'root/0/0'.*current-price"):
        with_node_param(tqqq, "root/0/0", "lhs_window", 5)
    with pytest.raises(ValueError, match=r"'root/0/0/0/0/0'.*constant"):
        with_node_param(tqqq, "root/0/0/0/0/0", "rhs_window", 5)
    with pytest.raises(ValueError, match=r"'root/0/1'.*asset"):
        with_node_param(inv, "root/0/1", "window", 5)
    with pytest.raises(ValueError, match=r"'select_n' at node 'root/0'"):
        with_node_param(inv, "root/0", "select_n", 5)
    with pytest.raises(ValueError, match=r"no node at path 'root/9'"):
        with_node_param(inv, "root/9", "window", 5)
    with pytest.raises(ValueError, match="positive"):
        with_node_param(inv, "root/0", "window", 0)
    assert set(SWEEP_FIELDS) == {"filter", "wt-inverse-vol", "if"}


def test_sweep_rejects_an_unsupported_node(seeded, warehouse_url):
    cfg = {"symphony_id": "sector-surfing-rsi-bottom2", "node_path": "root/0", "values": [5], **WINDOW}
    with pytest.raises(ValueError, match=r"'root/0'"):
        dg.materialize([parameter_sweep], resources=build_resources(warehouse_url=warehouse_url),
                       instance=dg.DagsterInstance.ephemeral(),
                       run_config={"ops": {"parameter_sweep": {"config": cfg}}})


def test_definitions_have_the_research_jobs_and_sensor():
    dg.Definitions.validate_loadable(defs)  # e.g. a job named like an op fails here
    job = defs.resolve_job_def("research_backtests")
    assert job.partitions_def == symphony_partitions
    assert [n.name for n in job.nodes] == ["research_backtest"]
    assert [n.name for n in defs.resolve_job_def("parameter_sweep_job").nodes] == ["parameter_sweep"]
    assert [n.name for n in defs.resolve_job_def("backtest_all").nodes] == ["symphony_backtests"]
    sensor = defs.resolve_sensor_def("symphony_registry_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
