"""Research results: out-of-sample splits, walk-forward studies and overfitting statistics (issue 13).

Tables (:mod:`warehouse.schema`, research section): ``research_oos_stats`` (per research backtest run),
``research_studies``, ``research_study_configs``, ``research_wf_windows``, ``research_wf_curves``,
``research_param_stability`` (per symphony × study) and ``research_sweep_overfitting`` (per parameter sweep).

Writes are idempotent: each replaces the rows of its key (a run id, a ``(symphony_id, study)`` pair, a sweep id),
so materialising a partition again replaces its results. Reads return tenant rows and take an
:class:`~warehouse.scope.AccountScope`, required.
"""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from warehouse.repos import tenant
from warehouse.scope import AccountScope
from warehouse.store import Warehouse

#: The tables of one study, replaced together by :func:`write_study`.
STUDY_TABLES: tuple[str, ...] = ("research_studies", "research_study_configs", "research_wf_windows",
                                 "research_wf_curves", "research_param_stability")


def last_edited(wh: Warehouse, symphony_id: str) -> pd.Timestamp | None:
    """The registry's ``last_edited_at`` of a symphony (UTC Timestamp), or None when unknown or unset.

    Not a tenant read: the research assets call it for the partition's own symphony.
    """
    rows = wh.read("symphonies", where={"symphony_id": symphony_id}, columns=["last_edited_at"])
    if rows.empty or pd.isna(rows["last_edited_at"].iloc[0]):
        return None
    return pd.Timestamp(rows["last_edited_at"].iloc[0])


def write_oos_stats(wh: Warehouse, run_id: str, row: dict, oos_start, oos_source: str,
                    stats: pd.DataFrame) -> int:
    """Replace the split stats of backtest run ``run_id``.

    Args:
        row: the symphony's registry row (``symphony_id``, ``account_id``).
        oos_start: the first out-of-sample day (date).
        oos_source: ``'config'`` or ``'last_edit'``.
        stats: :func:`engine.oos.split_stats`'s frame (``segment, series, start_date, end_date, stat, value``).

    Returns:
        Rows written.
    """
    frame = stats.assign(run_id=run_id, account_id=row["account_id"], symphony_id=row["symphony_id"],
                         oos_start=pd.Timestamp(oos_start).date(), oos_source=oos_source)
    return wh.replace("research_oos_stats", frame, where={"run_id": run_id})


def write_study(wh: Warehouse, symphony_id: str, study: str, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace one study's rows in every table of :data:`STUDY_TABLES` (a table missing from ``frames`` is
    emptied for the study, so no stale rows of an earlier run survive).

    Returns:
        Rows written per table.

    Raises:
        ValueError: a frame has rows of another symphony or study (from :meth:`Warehouse.replace`).
    """
    key = {"symphony_id": symphony_id, "study": study}
    out = {}
    for table in STUDY_TABLES:
        frame = frames.get(table)
        if frame is None:
            frame = pd.DataFrame(columns=list(key))
        out[table] = wh.replace(table, frame.assign(**key) if len(frame) else frame, where=key)
    return out


def write_sweep_overfitting(wh: Warehouse, sweep_id: str, row: dict[str, Any]) -> int:
    """Replace the overfitting statistics of sweep ``sweep_id`` (one row; keys as the table's columns)."""
    return wh.replace("research_sweep_overfitting", pd.DataFrame([{**row, "sweep_id": sweep_id}]),
                      where={"sweep_id": sweep_id})


# ----------------------------------------------------------------------------------------------------------------
# Reads (tenant: the scope is required)
# ----------------------------------------------------------------------------------------------------------------

def oos_stats(wh: Warehouse, scope: AccountScope, run_id: str) -> pd.DataFrame:
    """The split stats of one run (long: ``segment, series, stat, value, start_date, end_date, oos_start, …``)."""
    return tenant.read(wh, "research_oos_stats", scope, where={"run_id": run_id},
                       order_by=["segment", "series", "stat"])


def oos_runs(wh: Warehouse, scope: AccountScope, symphony_id: str | None = None) -> pd.DataFrame:
    """Runs that have split stats: ``run_id, symphony_id, oos_start, oos_source`` (one row per run)."""
    where = {} if symphony_id is None else {"symphony_id": symphony_id}
    rows = tenant.read(wh, "research_oos_stats", scope, where=where,
                       columns=["run_id", "account_id", "symphony_id", "oos_start", "oos_source"])
    return rows.drop_duplicates("run_id").sort_values(["symphony_id", "run_id"]).reset_index(drop=True)


def studies(wh: Warehouse, scope: AccountScope, symphony_id: str | None = None) -> pd.DataFrame:
    """Walk-forward studies in scope, newest first, with ``spec`` and ``stats`` (dicts from their JSON)."""
    where = {} if symphony_id is None else {"symphony_id": symphony_id}
    rows = tenant.read(wh, "research_studies", scope, where=where, order_by=["-created_at", "symphony_id", "study"])
    rows["spec"] = pd.Series([_json(t) for t in rows["spec_json"]], index=rows.index, dtype=object)
    rows["stats"] = pd.Series([_json(t) for t in rows["stats_json"]], index=rows.index, dtype=object)
    return rows.reset_index(drop=True)


def _study_rows(wh: Warehouse, scope: AccountScope, table: str, symphony_id: str, study: str,
                order_by: list[str]) -> pd.DataFrame:
    return tenant.read(wh, table, scope, where={"symphony_id": symphony_id, "study": study}, order_by=order_by)


def study_configs(wh: Warehouse, scope: AccountScope, symphony_id: str, study: str) -> pd.DataFrame:
    """The study's configurations (``config_idx, label, params`` (dict), ``objective, cagr, sharpe, …``)."""
    rows = _study_rows(wh, scope, "research_study_configs", symphony_id, study, ["config_idx"])
    rows["params"] = pd.Series([_json(t) for t in rows["params_json"]], index=rows.index, dtype=object)
    return rows


def study_windows(wh: Warehouse, scope: AccountScope, symphony_id: str, study: str) -> pd.DataFrame:
    """The walk-forward windows in time order (``params`` a dict of the chosen values)."""
    rows = _study_rows(wh, scope, "research_wf_windows", symphony_id, study, ["window"])
    rows["params"] = pd.Series([_json(t) for t in rows["params_json"]], index=rows.index, dtype=object)
    return rows


def study_curves(wh: Warehouse, scope: AccountScope, symphony_id: str, study: str) -> pd.DataFrame:
    """The stitched OOS curve and the full-sample ones, by session."""
    return _study_rows(wh, scope, "research_wf_curves", symphony_id, study, ["session_date"])


def param_stability(wh: Warehouse, scope: AccountScope, symphony_id: str, study: str) -> pd.DataFrame:
    """How often each parameter value was chosen and how far the objective falls at its neighbours."""
    return _study_rows(wh, scope, "research_param_stability", symphony_id, study, ["param", "value"])


def sweep_overfitting(wh: Warehouse, scope: AccountScope, symphony_id: str | None = None) -> pd.DataFrame:
    """Overfitting statistics of the parameter sweeps in scope."""
    where = {} if symphony_id is None else {"symphony_id": symphony_id}
    return tenant.read(wh, "research_sweep_overfitting", scope, where=where, order_by=["symphony_id", "sweep_id"])


def _json(text: Any) -> dict:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["STUDY_TABLES", "last_edited", "write_oos_stats", "write_study", "write_sweep_overfitting", "oos_stats",
           "oos_runs", "studies", "study_configs", "study_windows", "study_curves", "param_stability",
           "sweep_overfitting"]
