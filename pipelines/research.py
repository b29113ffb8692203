"""Research backtests in Dagster: symphony partitions, the registry sensor and the research jobs.

* ``symphony_partitions`` — dynamic partitions named ``symphonies``, one key per symphony id in the warehouse's
  ``symphonies`` table (active **or** inactive: researchers backtest retired symphonies too).
* ``symphony_registry_sensor`` — keeps those partitions in step with the registry: adds a key for every
  registered symphony, deletes the keys of symphonies no longer in the table. Default **RUNNING**: it launches no
  runs and writes nothing to the warehouse (it only reads the registry, read-only, and edits partition keys in the
  Dagster instance), so it is safe on by default, and without it a newly seeded symphony would not appear in the
  launchpad / backfill dialog. It ticks every :data:`REGISTRY_SENSOR_INTERVAL_S` seconds.
* ``research_backtests`` — the partitioned ``research_backtest`` asset: launch one partition from the launchpad,
  or a backfill over many symphonies (one run per symphony: backtests are path-dependent, so a symphony's whole
  window runs in one run; style guide §5.2). The window and the cost settings come from the run config
  (:class:`assets.backtests.BacktestConfig`).
* ``walk_forward_job`` — the ``walk_forward_study`` asset, partitioned by symphony × study
  (:data:`walk_forward_partitions`; study keys are added from the UI's partition dialog or
  ``oragami research add-study``): one walk-forward over a grid of node parameters per run
  (:class:`assets.research.WalkForwardConfig`).
* ``parameter_sweep_job`` — the non-partitioned ``parameter_sweep`` asset: one symphony over a grid of values of
  one node parameter (:class:`assets.research.SweepConfig`). (Not named ``parameter_sweep``: Dagster requires job
  names to differ from op names, and the asset's op is ``parameter_sweep``.)
"""
from __future__ import annotations

import dagster as dg

from resources import WarehouseResource
from warehouse import Warehouse

#: Name of the dynamic partitions (one key per symphony id).
SYMPHONY_PARTITIONS = "symphonies"
#: Seconds between registry sensor ticks.
REGISTRY_SENSOR_INTERVAL_S = 60

symphony_partitions = dg.DynamicPartitionsDefinition(name=SYMPHONY_PARTITIONS)

#: Name of the dynamic partitions of walk-forward studies (one key per study name, e.g. ``rsi-window-x-select``).
STUDY_PARTITIONS = "research_studies"
study_partitions = dg.DynamicPartitionsDefinition(name=STUDY_PARTITIONS)
#: Walk-forward studies are partitioned by symphony × study (both dynamic).
walk_forward_partitions = dg.MultiPartitionsDefinition({"study": study_partitions, "symphony": symphony_partitions})

research_backtests = dg.define_asset_job(
    "research_backtests",
    selection=dg.AssetSelection.assets("research_backtest"),  # partitioned by symphony_partitions
    description="Backtest one symphony (a partition) over the window and costs given in the run config; "
                "launch a backfill to run many symphonies.",
)

parameter_sweep_job = dg.define_asset_job(
    "parameter_sweep_job",
    selection=dg.AssetSelection.assets("parameter_sweep"),
    description="Backtest one symphony once per value of one node's window; results side by side in "
                "sweep_results.",
)


walk_forward_job = dg.define_asset_job(
    "walk_forward_job",
    selection=dg.AssetSelection.assets("walk_forward_study"),  # partitioned symphony × study
    description="Walk-forward optimisation of a symphony (partition: symphony × study) over a grid of node "
                "parameters given in the run config, with parameter stability, the deflated Sharpe ratio and the "
                "probability of backtest overfitting.",
)


def add_study(instance: dg.DagsterInstance, study: str) -> bool:
    """Add ``study`` as a key of the study partitions (what the UI's "Add partition" does); False if it exists.

    Raises:
        ValueError: an empty name or one with characters Dagster partition keys do not allow (``|``, ``,``,
            ``[``, ``]``, newlines).
    """
    name = (study or "").strip()
    if not name or any(c in name for c in "|,[]\n\r\t"):
        raise ValueError(f"study name {study!r}: use letters, digits, dashes (no '|', ',', brackets, newlines)")
    if instance.has_dynamic_partition(STUDY_PARTITIONS, name):
        return False
    instance.add_dynamic_partitions(STUDY_PARTITIONS, [name])
    return True


def registered_symphony_ids(wh: Warehouse) -> list[str]:
    """Every symphony id in the registry (active or not), sorted."""
    ids = wh.read("symphonies", columns=["symphony_id"])["symphony_id"]
    return sorted(str(s) for s in ids.dropna().unique())


def partition_requests(registered: list[str], existing: list[str]) -> list:
    """Add requests for ids not yet partitions, delete requests for partitions whose symphony is gone."""
    new = sorted(set(registered) - set(existing))
    gone = sorted(set(existing) - set(registered))
    requests = []
    if new:
        requests.append(symphony_partitions.build_add_request(new))
    if gone:
        requests.append(symphony_partitions.build_delete_request(gone))
    return requests


@dg.sensor(
    name="symphony_registry_sensor",
    minimum_interval_seconds=REGISTRY_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the 'symphonies' partitions equal to the symphony registry (adds new ids, deletes removed "
                "ones). Launches no runs.",
)
def symphony_registry_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    try:
        wh = Warehouse.from_settings(url=warehouse.url, duckdb_path=warehouse.duckdb_path, read_only=True)
        try:
            registered = registered_symphony_ids(wh)
        finally:
            wh.dispose()
    except Exception as exc:  # a missing / locked / schema-less warehouse: try again next tick
        return dg.SkipReason(f"symphony registry not readable: {type(exc).__name__}: {exc}")
    existing = list(context.instance.get_dynamic_partitions(SYMPHONY_PARTITIONS))
    requests = partition_requests(registered, existing)
    if not requests:
        return dg.SkipReason(f"{len(existing)} symphony partitions already match the registry")
    for req in requests:
        verb = "adding" if isinstance(req, dg.AddDynamicPartitionsRequest) else "deleting"
        context.log.info(f"{verb} symphony partitions: {', '.join(req.partition_keys)}")
    return dg.SensorResult(dynamic_partitions_requests=requests)


RESEARCH_JOBS = [research_backtests, parameter_sweep_job, walk_forward_job]
RESEARCH_SENSORS = [symphony_registry_sensor]
