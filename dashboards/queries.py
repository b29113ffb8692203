"""Pure read helpers of the dashboards: functions of a :class:`warehouse.Warehouse` returning plain DataFrames.

No Streamlit here (style guide §3.3): these functions are unit-tested on a hand-seeded warehouse, and
:mod:`dashboards.data` wraps them in ``st.cache_data``. Every function only reads, so a read-only warehouse
(:func:`warehouse.open_read_only`) is enough.

Tenancy: every read takes ``account_id`` and passes it to the warehouse (:meth:`Warehouse.read_scoped`), which
returns only that account's rows; ``None`` reads every account and is for operators only (:func:`dashboards.auth
.scope_for`). Pages never filter by account themselves.

Units: ``*_usd`` columns are US dollars, weights and returns are fractions (0.01 = 1 %), dates are
``datetime.date`` objects (America/New_York sessions).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from engine.errors import SymphonyError, SymphonyWarning
from engine.model import Root
from engine.model import tickers as symphony_tickers
from engine.parsing import FORMATS, detect_format, parse_symphony
from warehouse import CASH_TICKER, AccountScope, Warehouse, open_read_only
from warehouse.repos import ledgers, symphonies as symphony_repo, tenant

#: How the cash row of an allocation is shown.
CASH_LABEL = "Cash"

#: Tables whose newest ``session_date`` makes the warehouse's latest session (the daily graph writes them).
SESSION_TABLES: tuple[str, ...] = ("symphony_runs", "target_allocations", "daily_nav")

#: Tables the overview page reads; if one is missing the schema was never created.
REQUIRED_TABLES: tuple[str, ...] = ("accounts", "symphonies", "target_allocations", "decision_traces",
                                    "symphony_runs", "daily_nav", "backtest_runs", "backtest_daily")

#: Columns of :func:`symphony_overview`.
OVERVIEW_COLUMNS: tuple[str, ...] = (
    "symphony_id", "name", "label", "account_id", "account_name", "status", "rebalance", "capital_usd",
    "holdings", "holdings_date", "last_run_status", "last_run_date", "last_run_reason", "paper_nav_usd",
    "paper_nav_date", "backtest_cagr", "backtest_sharpe", "backtest_max_drawdown",
)

#: Columns of :func:`nav_comparison`.
NAV_COMPARISON_COLUMNS: tuple[str, ...] = ("session_date", "series", "nav_usd")
PAPER, BACKTEST = "Paper", "Backtest (rebased)"


# ----------------------------------------------------------------------------------------------------------------
# Which warehouse
# ----------------------------------------------------------------------------------------------------------------

def settings_url() -> str:
    """The URL of the warehouse chosen by the settings, read now (never at import time).

    Same precedence as :meth:`Warehouse.from_settings`: env ``ORAGAMI_WAREHOUSE_URL``, else the DuckDB file at
    env ``ORAGAMI_DUCKDB_PATH``, else ``./var/oragami.duckdb``. Nothing is created or opened.

    Returns:
        The full URL, password included: pass it to the cached reads, never display it (use :func:`safe_url`).
    """
    wh = Warehouse.from_settings(read_only=True)
    try:
        return wh.engine.url.render_as_string(hide_password=False)
    finally:
        wh.dispose()


def safe_url(url: str) -> str:
    """``url`` with its password masked (``***``), safe to display."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def duckdb_file(url: str) -> str | None:
    """The file of a DuckDB URL; ``None`` for PostgreSQL or an in-memory DuckDB."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def warehouse_state(url: str) -> str:
    """Whether the warehouse can be read, without creating anything.

    Returns:
        ``"missing"``: the DuckDB file does not exist; ``"no_schema"``: it exists but lacks the tables (run
        ``make demo`` / ``oragami seed``); ``"ok"``: readable.

    Raises:
        warehouse.WarehouseLockedError: a writer held the DuckDB file through every retry.
    """
    path = duckdb_file(url)
    if path is not None and not Path(path).exists():
        return "missing"
    wh = open_read_only(url)
    try:
        with wh.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
    finally:
        wh.dispose()
    return "ok" if set(REQUIRED_TABLES) <= names else "no_schema"


# ----------------------------------------------------------------------------------------------------------------
# Small pure helpers
# ----------------------------------------------------------------------------------------------------------------

def format_weight(weight: float) -> str:
    """A weight (fraction) as a percentage: 0.6 -> ``"60%"``, 0.445218 -> ``"44.5%"``, 1/3 -> ``"33.3%"``."""
    pct = round(float(weight) * 100.0, 1)
    return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"


def holdings_string(allocation: pd.DataFrame) -> str:
    """One symphony-session's target weights as text, largest first: ``"SPY 60%, TLT 40%"``.

    Args:
        allocation: rows with ``ticker`` and ``target_weight`` (fraction). The cash row (``$USD``) is shown as
            ``Cash``; weights that round to 0 % are left out.

    Returns:
        The text, or ``""`` when there is nothing to show.
    """
    if allocation is None or allocation.empty:
        return ""
    rows = allocation[["ticker", "target_weight"]].dropna()
    rows = rows[rows["target_weight"] >= 0.0005]
    rows = rows.assign(_cash=rows["ticker"] == CASH_TICKER)
    rows = rows.sort_values(["_cash", "target_weight", "ticker"], ascending=[True, False, True])
    return ", ".join(f"{CASH_LABEL if t == CASH_TICKER else t} {format_weight(w)}"
                     for t, w in zip(rows["ticker"], rows["target_weight"]))


def holdings_string_from_weights(weights: dict[str, float]) -> str:
    """:func:`holdings_string` of a ``{ticker: fraction}`` mapping (``$USD`` is cash)."""
    return holdings_string(pd.DataFrame({"ticker": list(weights), "target_weight": list(weights.values())}))


def display_labels(symphonies: pd.DataFrame) -> dict[str, str]:
    """``{symphony_id: label}``: the symphony's name, followed by its id when the name is missing or shared."""
    if symphonies.empty:
        return {}
    names = symphonies["name"].where(symphonies["name"].notna() & (symphonies["name"].astype(str) != ""), None)
    counts = names.value_counts()
    out = {}
    for sid, name in zip(symphonies["symphony_id"], names):
        if name is None or (isinstance(name, float) and math.isnan(name)):
            out[sid] = sid
        elif counts.get(name, 0) > 1:
            out[sid] = f"{name} ({sid})"
        else:
            out[sid] = str(name)
    return out


def _path_key(node_path: Any) -> tuple:
    """Sort key putting decision-trace nodes in tree pre-order (``root/0/2`` before ``root/0/10``)."""
    if not isinstance(node_path, str):
        return ((1, ""),)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in node_path.split("/"))


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _latest_date(wh: Warehouse, table: str, account_id: str | None) -> dt.date | None:
    newest = tenant.read(wh, table, AccountScope.of(account_id), columns=["session_date"], order_by="-session_date", limit=1)
    return None if newest.empty else newest["session_date"].iloc[0]


# ----------------------------------------------------------------------------------------------------------------
# Reads
# ----------------------------------------------------------------------------------------------------------------

def latest_session(wh: Warehouse, account_id: str | None = None) -> dt.date | None:
    """The newest session the daily graph wrote (max ``session_date`` of :data:`SESSION_TABLES`) for
    ``account_id`` (``None``: any account); ``None`` if none."""
    dates = [d for d in (_latest_date(wh, t, account_id) for t in SESSION_TABLES) if d is not None]
    return max(dates) if dates else None


def accounts(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """Columns ``account_id, name``, ordered by ``account_id`` (only ``account_id``'s row when given)."""
    return tenant.read(wh, "accounts", AccountScope.of(account_id), columns=["account_id", "name"], order_by="account_id")


def symphonies(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """Every registered symphony with its account's name, active ones first.

    Returns:
        Columns ``symphony_id, name, label, account_id, account_name, status, rebalance, capital_usd`` (USD);
        ``label`` is :func:`display_labels`. Ordered by status (active first), account, name.
    """
    syms = tenant.read(wh, "symphonies", AccountScope.of(account_id), columns=["symphony_id", "account_id", "name", "status",
                                                             "rebalance", "capital_usd"])
    accts = accounts(wh, account_id).rename(columns={"name": "account_name"})
    out = syms.merge(accts, on="account_id", how="left")
    out["label"] = out["symphony_id"].map(display_labels(out)).astype("str")
    out = out.assign(_inactive=out["status"] != "active", _name=out["label"].str.lower())
    out = out.sort_values(["_inactive", "account_id", "_name", "symphony_id"], na_position="last")
    cols = ["symphony_id", "name", "label", "account_id", "account_name", "status", "rebalance", "capital_usd"]
    return out[cols].reset_index(drop=True)


def latest_allocations(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """Each symphony's target weights of its newest evaluated session.

    Returns:
        Columns ``account_id, symphony_id, session_date, ticker, target_weight`` (fraction), ordered by
        ``symphony_id`` then weight (largest first).
    """
    alloc = ledgers.latest_allocations(wh, AccountScope.of(account_id))
    return alloc.sort_values(["symphony_id", "target_weight", "ticker"],
                             ascending=[True, False, True]).reset_index(drop=True)


def paper_nav(wh: Warehouse, symphony_ids: Iterable[str] | None = None, account_id: str | None = None) -> pd.DataFrame:
    """Paper NAV history (``daily_nav``) of every symphony, or of ``symphony_ids``.

    Returns:
        Columns ``account_id, symphony_id, session_date, nav_usd, cash_usd`` (USD), ``daily_return``
        (fraction), ordered by ``symphony_id, session_date``.
    """
    where = None if symphony_ids is None else {"symphony_id": list(symphony_ids)}
    return tenant.read(wh, "daily_nav", AccountScope.of(account_id), where=where, order_by=["symphony_id", "session_date"])


def latest_backtest_runs(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """The newest backtest run (by ``created_at``) of each symphony, with its headline stats.

    Returns:
        Columns ``run_id, account_id, symphony_id, start_date, end_date, capital_usd, slippage_bps, cagr``
        (fraction per year), ``sharpe``, ``max_drawdown`` (fraction, <= 0), ``created_at``; one row per symphony
        that has a backtest, ordered by ``symphony_id``.
    """
    cols = ["run_id", "account_id", "symphony_id", "start_date", "end_date", "capital_usd", "slippage_bps",
            "cagr", "sharpe", "max_drawdown", "created_at"]
    runs = tenant.read(wh, "backtest_runs", AccountScope.of(account_id), columns=cols,
                          order_by=["symphony_id", "created_at", "run_id"])
    if runs.empty:
        return runs
    return runs.groupby("symphony_id", sort=True).tail(1).reset_index(drop=True)


def backtest_nav(wh: Warehouse, runs: pd.DataFrame | None = None, account_id: str | None = None) -> pd.DataFrame:
    """The equity curve (``backtest_daily``) of each symphony's newest backtest run.

    Args:
        runs: the output of :func:`latest_backtest_runs` if already read.

    Returns:
        Columns ``run_id, account_id, symphony_id, session_date, nav_usd`` (USD), ``daily_return`` (fraction),
        ordered by ``symphony_id, session_date``.
    """
    if runs is None:
        runs = latest_backtest_runs(wh, account_id)
    return tenant.read(wh, "backtest_daily", AccountScope.of(account_id), where={"run_id": list(runs["run_id"])},
                          order_by=["symphony_id", "session_date"])


def symphony_runs(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """The newest evaluation outcome of each symphony.

    Returns:
        Columns ``account_id, symphony_id, session_date, status`` (``ok|failed|skipped``), ``reason``,
        ``evaluated_at``; one row per symphony that was ever evaluated, ordered by ``symphony_id``.
    """
    runs = tenant.read(wh, "symphony_runs", AccountScope.of(account_id), order_by=["symphony_id", "session_date"])
    if runs.empty:
        return runs
    return runs.groupby("symphony_id", sort=True).tail(1).reset_index(drop=True)


def decision_traces(wh: Warehouse, session_date: Any, account_id: str | None = None) -> pd.DataFrame:
    """The decision traces of one session ("why it holds this"), each symphony's nodes in tree pre-order.

    Returns:
        Columns ``symphony_id, seq, node_path, node_type, summary``.
    """
    cols = ["symphony_id", "seq", "node_path", "node_type", "summary"]
    if session_date is None:
        return wh.read("decision_traces", columns=cols, limit=0)
    traces = tenant.read(wh, "decision_traces", AccountScope.of(account_id), where={"session_date": session_date}, columns=cols)
    if traces.empty:
        return traces
    order = sorted(range(len(traces)), key=lambda i: (traces["symphony_id"].iloc[i],
                                                      _path_key(traces["node_path"].iloc[i]),
                                                      traces["seq"].iloc[i]))
    return traces.iloc[order].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Derived tables
# ----------------------------------------------------------------------------------------------------------------

def symphony_overview(symphonies_df: pd.DataFrame, allocations: pd.DataFrame, runs: pd.DataFrame,
                      nav: pd.DataFrame, backtests: pd.DataFrame) -> pd.DataFrame:
    """One row per symphony for the overview table (pure: takes the frames the reads above return).

    Returns:
        Columns :data:`OVERVIEW_COLUMNS`: the :func:`symphonies` columns plus ``holdings`` (e.g.
        ``"SPY 60%, TLT 40%"``, ``""`` if never evaluated) as of ``holdings_date``; the newest run's
        ``last_run_status/_date/_reason``; the newest ``paper_nav_usd`` (USD) and its date; the newest
        backtest's ``backtest_cagr``, ``backtest_sharpe``, ``backtest_max_drawdown`` (NaN when absent).
    """
    out = symphonies_df.copy()
    ids = list(out["symphony_id"])

    def lookup(frame: pd.DataFrame, column: str, *, number: bool = False) -> pd.Series:
        values = dict(zip(frame["symphony_id"], frame[column])) if len(frame) else {}
        if number:
            return pd.Series([values.get(i, math.nan) for i in ids], index=out.index, dtype="float64")
        cells = [values.get(i) for i in ids]
        return pd.Series([None if _missing(v) else v for v in cells], index=out.index, dtype=object)

    holdings = {sid: holdings_string(part) for sid, part in allocations.groupby("symphony_id")}
    out["holdings"] = pd.Series([holdings.get(i, "") for i in ids], index=out.index, dtype="str")
    newest_alloc = allocations.groupby("symphony_id", as_index=False)["session_date"].max() \
        if len(allocations) else allocations
    out["holdings_date"] = lookup(newest_alloc, "session_date")
    out["last_run_status"] = lookup(runs, "status")
    out["last_run_date"] = lookup(runs, "session_date")
    out["last_run_reason"] = lookup(runs, "reason")
    last_nav = nav.sort_values("session_date").groupby("symphony_id").tail(1) if len(nav) else nav
    out["paper_nav_usd"] = lookup(last_nav, "nav_usd", number=True)
    out["paper_nav_date"] = lookup(last_nav, "session_date")
    out["backtest_cagr"] = lookup(backtests, "cagr", number=True)
    out["backtest_sharpe"] = lookup(backtests, "sharpe", number=True)
    out["backtest_max_drawdown"] = lookup(backtests, "max_drawdown", number=True)
    return out[list(OVERVIEW_COLUMNS)].reset_index(drop=True)


def headline(symphonies_df: pd.DataFrame, accounts_df: pd.DataFrame, nav: pd.DataFrame,
             session: dt.date | None) -> dict[str, Any]:
    """The headline numbers of the overview page.

    Returns:
        ``accounts`` (count), ``active_symphonies`` (count), ``latest_session`` (date or ``None``),
        ``nav_date`` (newest ``daily_nav`` session or ``None``), ``total_nav_usd`` (sum of every symphony's NAV
        on ``nav_date``, USD; ``None`` without NAV) and ``total_nav_change_usd`` (change against the previous
        session, over the symphonies that have a NAV on both; ``None`` when there is no previous session) and
        ``total_pnl_usd`` (``total_nav_usd`` minus the starting capital of the same symphonies — the
        ``capital_usd`` column of ``symphonies_df``, 10,000 where absent; ``None`` without NAV).
    """
    out: dict[str, Any] = {
        "accounts": int(len(accounts_df)),
        "active_symphonies": int((symphonies_df["status"] == "active").sum()) if len(symphonies_df) else 0,
        "latest_session": session,
        "nav_date": None,
        "total_nav_usd": None,
        "total_nav_change_usd": None,
        "total_pnl_usd": None,
    }
    if nav.empty:
        return out
    nav_date = max(nav["session_date"])
    today = nav[nav["session_date"] == nav_date].set_index("symphony_id")["nav_usd"]
    out["nav_date"] = nav_date
    out["total_nav_usd"] = float(today.sum())
    capital = (symphonies_df.set_index("symphony_id")["capital_usd"] if "capital_usd" in symphonies_df
               else pd.Series(dtype="float64"))
    out["total_pnl_usd"] = float(today.sum() - sum(
        float(capital.get(sid)) if sid in capital.index and pd.notna(capital.get(sid)) else 10_000.0
        for sid in today.index))
    earlier = nav[nav["session_date"] < nav_date]
    if len(earlier):
        prev_date = max(earlier["session_date"])
        prev = earlier[earlier["session_date"] == prev_date].set_index("symphony_id")["nav_usd"]
        both = today.index.intersection(prev.index)
        if len(both):
            out["total_nav_change_usd"] = float(today[both].sum() - prev[both].sum())
    return out


def format_usd(value: float | None) -> str:
    """``12345.6`` -> ``"$12,345.60"``; ``None``/NaN -> ``"—"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def nav_comparison(paper: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """One symphony's paper NAV and its backtest NAV over the paper window, rebased to the same start.

    The backtest curve is cut to the paper window ``[first, last]`` paper session and scaled so that on the first
    session both have a value (the common start) it equals the paper NAV:
    ``backtest_rebased = backtest_nav * paper_nav[start] / backtest_nav[start]``.

    Args:
        paper: ``daily_nav`` rows of the symphony (``session_date``, ``nav_usd``).
        backtest: ``backtest_daily`` rows of its newest run (``session_date``, ``nav_usd``); may be empty.

    Returns:
        Long frame, columns :data:`NAV_COMPARISON_COLUMNS`: ``series`` is ``"Paper"`` or
        ``"Backtest (rebased)"``, ``session_date`` a ``datetime64`` (for charting), ``nav_usd`` USD; ordered by
        series then date. No backtest rows when the curves share no session.
    """
    p = paper[["session_date", "nav_usd"]].dropna().copy()
    p["session_date"] = pd.to_datetime(p["session_date"])
    p = p.sort_values("session_date")
    frames = [p.assign(series=PAPER)]
    if len(p) and backtest is not None and len(backtest):
        b = backtest[["session_date", "nav_usd"]].dropna().copy()
        b["session_date"] = pd.to_datetime(b["session_date"])
        b = b[(b["session_date"] >= p["session_date"].iloc[0]) & (b["session_date"] <= p["session_date"].iloc[-1])]
        b = b.sort_values("session_date")
        common = p.merge(b, on="session_date", suffixes=("_paper", "_bt"))
        common = common[common["nav_usd_bt"] != 0]
        if len(common):
            start = common.iloc[0]
            scale = float(start["nav_usd_paper"]) / float(start["nav_usd_bt"])
            b = b[b["session_date"] >= start["session_date"]]
            frames.append(b.assign(nav_usd=b["nav_usd"] * scale, series=BACKTEST))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(NAV_COMPARISON_COLUMNS))
    out["nav_usd"] = out["nav_usd"].astype("float64")
    return out[list(NAV_COMPARISON_COLUMNS)].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Symphony library (the library and detail pages)
# ----------------------------------------------------------------------------------------------------------------

#: Columns of :func:`library`.
LIBRARY_COLUMNS: tuple[str, ...] = ("symphony_id", "name", "label", "account_id", "status", "rebalance",
                                    "source_format", "tickers", "updated_at")


def parse_stored(parsed_json: Any, source_text: Any, source_format: Any = None) -> Root | None:
    """The model of a stored symphony: ``parsed_json`` when present, else ``source_text`` parsed; ``None`` if
    neither can be read."""
    try:
        if isinstance(parsed_json, str) and parsed_json.strip():
            return Root.model_validate_json(parsed_json)
        if isinstance(source_text, str) and source_text.strip():
            fmt = source_format if source_format in FORMATS else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SymphonyWarning)
                return parse_symphony(source_text, fmt=fmt)
    except (SymphonyError, ValueError):
        return None
    return None


def library(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """The symphonies of ``account_id`` (``None``: every account) with the tickers each one reads.

    Returns:
        Columns :data:`LIBRARY_COLUMNS`; ``tickers`` is ``"SPY, TLT"`` (sorted; ``""`` when the stored text cannot
        be read). Ordered like :func:`symphonies`.
    """
    cols = ["symphony_id", "account_id", "name", "status", "rebalance", "source_format", "source_text",
            "parsed_json", "updated_at"]
    rows = tenant.read(wh, "symphonies", AccountScope.of(account_id), columns=cols)
    ticks = []
    for pj, src, fmt in zip(rows["parsed_json"], rows["source_text"], rows["source_format"]):
        root = parse_stored(pj, src, fmt)
        ticks.append(", ".join(sorted(symphony_tickers(root))) if root is not None else "")
    rows = rows.assign(tickers=pd.Series(ticks, index=rows.index, dtype="str"))
    rows["label"] = rows["symphony_id"].map(display_labels(rows)).astype("str")
    rows = rows.assign(_inactive=rows["status"] != "active", _name=rows["label"].str.lower())
    rows = rows.sort_values(["_inactive", "account_id", "_name", "symphony_id"])
    return rows[list(LIBRARY_COLUMNS)].reset_index(drop=True)


def symphony_record(wh: Warehouse, symphony_id: str, account_id: str | None = None) -> dict[str, Any] | None:
    """One stored symphony (every ``symphonies`` column) if it exists in ``account_id``'s scope, else ``None``."""
    rows = tenant.read(wh, "symphonies", AccountScope.of(account_id), where={"symphony_id": symphony_id}, limit=1)
    return None if rows.empty else rows.iloc[0].to_dict()


def account_usage(wh: Warehouse, account_id: str | None = None) -> pd.DataFrame:
    """Active symphonies against the limit per account: ``account_id, name, max_active_symphonies, active``."""
    return symphony_repo.active_counts(wh, AccountScope.of(account_id))


def usage_label(active: int, limit: int) -> str:
    """``"3/40 active"``."""
    return f"{int(active)}/{int(limit)} active"


def filter_library(frame: pd.DataFrame, text: str = "", status: str = "all") -> pd.DataFrame:
    """Rows of a :func:`library` frame whose name, id or tickers contain ``text`` (case-insensitive; a ticker
    matches whole, ``"SPY"`` does not match ``"SPYG"``) and whose status is ``status`` (``"all"``: any)."""
    out = frame
    if status and status != "all":
        out = out[out["status"] == status]
    needle = (text or "").strip().lower()
    if needle:
        def match(row: pd.Series) -> bool:
            tickers = {t.strip().lower() for t in str(row["tickers"]).split(",")}
            return (needle in str(row["name"]).lower() or needle in str(row["symphony_id"]).lower()
                    or needle in tickers)
        out = out[out.apply(match, axis=1)] if len(out) else out
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class UploadCheck:
    """The outcome of :func:`check_upload`: ``root`` when valid, else the error's parts."""

    fmt: str | None
    root: Root | None = None
    message: str | None = None
    node_path: str | None = None
    field: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.root is not None


def check_upload(data: bytes | str, filename: str = "") -> UploadCheck:
    """Validate an uploaded symphony (JSON score, EDN, defsymphony text): parse it and report what is wrong.

    Returns:
        :class:`UploadCheck`: the model and the detected format, or the message, node path and field of the
        :class:`~engine.errors.SymphonyError`; repairs the parser made (weights normalised) are in ``warnings``.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return UploadCheck(fmt=None, message=f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    else:
        text = data
    try:
        fmt = detect_format(text)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SymphonyWarning)
            root = parse_symphony(text, fmt=fmt)
    except SymphonyError as exc:
        return UploadCheck(fmt=None, message=exc.message, node_path=exc.node_path, field=exc.field)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, SymphonyWarning))
    return UploadCheck(fmt=fmt, root=root, warnings=notes)


def window_return(series: pd.DataFrame, name: str) -> float | None:
    """Total return (fraction) of one series of a :func:`nav_comparison` frame; ``None`` with < 2 points."""
    s = series.loc[series["series"] == name, "nav_usd"]
    if len(s) < 2 or s.iloc[0] == 0:
        return None
    return float(s.iloc[-1] / s.iloc[0] - 1.0)


__all__ = [
    "CASH_LABEL", "SESSION_TABLES", "REQUIRED_TABLES", "OVERVIEW_COLUMNS", "NAV_COMPARISON_COLUMNS", "PAPER",
    "BACKTEST", "settings_url", "safe_url", "duckdb_file", "warehouse_state", "format_weight", "holdings_string", "holdings_string_from_weights",
    "display_labels", "latest_session", "accounts", "symphonies", "latest_allocations", "paper_nav",
    "latest_backtest_runs", "backtest_nav", "symphony_runs", "decision_traces", "symphony_overview", "headline",
    "format_usd", "nav_comparison", "window_return", "LIBRARY_COLUMNS", "parse_stored", "library",
    "symphony_record", "account_usage", "usage_label", "filter_library", "UploadCheck",
    "check_upload",
]
