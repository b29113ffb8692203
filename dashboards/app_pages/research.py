"""Research page: in-sample vs out-of-sample side by side, walk-forward studies (the parameters chosen per window,
the stitched out-of-sample curve against the full-sample ones, a heat map of the objective over the grid,
parameter stability) and the overfitting figures (deflated Sharpe ratio, probability of backtest overfitting) in
plain words.

Scope: the page context's (:func:`dashboards.context.current`), passed to every read. Results are written by the
Dagster assets (``research_backtests`` with ``oos_start``, ``walk_forward_job``, ``parameter_sweep_job``); this
page only reads them (style guide §5.6). Sections: :func:`_oos`, :func:`_walk_forward`, :func:`_sweeps`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cache, context, notices
from dashboards.context import PageContext
from dashboards.present import research_charts as rc
from dashboards.present.format import md
from dashboards.reads import research as rr
from engine.oos import split_curves
from warehouse import AccountScope, WarehouseLockedError
from warehouse.repos import research as repo
from warehouse.scope import require_scope

PLOTLY = {"displaylogo": False}
LAUNCH_OOS = ("Launch the `research_backtests` job in the Dagster UI (`make dagster`) for this symphony; "
              "`oos_start` in the launchpad sets the out-of-sample start (default: the symphony's last edit).")
LAUNCH_WF = ("Add a study (`oragami research add-study NAME`, or *Add partition* in the launchpad) and launch "
             "`walk_forward_job` for this symphony × study with the grid in the run config (docs/research.md).")


def _scope_key(scope: AccountScope) -> str:
    return "*" if scope.accounts is None else "\x1f".join(sorted(scope.accounts))


_cached = st.cache_data(ttl=cache.CACHE_TTL_S, max_entries=cache.CACHE_MAX_ENTRIES, show_spinner=False,
                        hash_funcs={AccountScope: _scope_key})


@_cached
def _oos_runs(url: str, scope: AccountScope, sid: str) -> pd.DataFrame:
    with cache.reading(url) as wh:
        return rr.oos_runs(wh, require_scope(scope), sid)


@_cached
def _oos_stats(url: str, scope: AccountScope, run_id: str) -> pd.DataFrame:
    with cache.reading(url) as wh:
        return repo.oos_stats(wh, require_scope(scope), run_id)


@_cached
def _studies(url: str, scope: AccountScope, sid: str) -> pd.DataFrame:
    with cache.reading(url) as wh:
        return rr.studies(wh, require_scope(scope), sid)


@_cached
def _bundle(url: str, scope: AccountScope, sid: str, study: str) -> dict[str, pd.DataFrame]:
    with cache.reading(url) as wh:
        return rr.study_bundle(wh, require_scope(scope), sid, study)


@_cached
def _sweep_rows(url: str, scope: AccountScope, sid: str) -> pd.DataFrame:
    with cache.reading(url) as wh:
        return rr.sweep_overfitting(wh, require_scope(scope), sid)


def _oos(ctx: PageContext, sid: str) -> None:
    st.subheader("In sample vs out of sample")
    runs = _oos_runs(ctx.url, ctx.scope, sid)
    if runs.empty:
        st.info(LAUNCH_OOS, icon=":material/info:")
        return
    labels = {r.run_id: f"{r.run_id} · out of sample from {r.oos_start} ({str(r.oos_source).replace('_', ' ')})"
              for r in runs.itertuples()}
    run_id = st.selectbox("Research backtest", list(labels), format_func=labels.get, key="research_run")
    stats = _oos_stats(ctx.url, ctx.scope, run_id)
    oos_start = runs.loc[runs["run_id"] == run_id, "oos_start"].iloc[0]
    ranges = rr.segment_ranges(stats)
    parts = [f"**{rr.SEGMENT_LABELS[s]}** {a} → {b}" for s, (a, b) in ranges.items() if s != "full"]
    st.caption(" · ".join(parts) + f" · out-of-sample start {oos_start}.")
    if "out_of_sample" not in ranges:
        st.warning(f"Nothing is out of sample yet: the out-of-sample start {oos_start} is after the last "
                   "backtest session.", icon=":material/warning:")
    table = rr.oos_table(stats)
    st.dataframe(rr.format_oos_table(table), key="research_oos_table", height=35 * (len(table) + 1) + 3)
    daily = cache.backtest_daily(ctx.url, ctx.scope, (run_id,))
    if daily.empty:
        return
    nav = pd.Series(daily["nav_usd"].to_numpy(dtype="float64"), index=pd.to_datetime(daily["session_date"]))
    runs_all = cache.backtest_runs(ctx.url, ctx.scope)
    run = runs_all[runs_all["run_id"] == run_id]
    capital = float(run["capital_usd"].iloc[0]) if len(run) and pd.notna(run["capital_usd"].iloc[0]) else \
        float(nav.iloc[0])
    ticker = str(run["config"].iloc[0].get("benchmark") or "SPY") if len(run) else "SPY"
    closes = cache.benchmark_closes(ctx.url, ticker, nav.index[0].date(), nav.index[-1].date())
    bench = None
    if len(closes):
        c = pd.Series(closes.to_numpy(dtype="float64"), index=pd.to_datetime(closes.index)).reindex(nav.index).ffill()
        if c.notna().any():
            bench = capital * c / c.dropna().iloc[0]
    curves = split_curves(nav, oos_start, capital, bench)
    st.plotly_chart(rc.oos_split_chart(curves, oos_start), key="research_oos_growth", config=PLOTLY)
    st.plotly_chart(rc.oos_drawdown_chart(curves), key="research_oos_drawdown", config=PLOTLY)
    st.caption(f"Each part rebased to 1 at its own start; the out-of-sample drawdown is measured from the "
               f"out-of-sample start. Benchmark {ticker}: buy and hold from the warehouse's bars"
               + ("" if bench is not None else " (no bars in the warehouse for this window)") + ".")


def _overfitting_readings(study: pd.Series) -> None:
    st.markdown("**Overfitting**")
    pbo = study["pbo"] if pd.notna(study["pbo"]) else None
    dsr = study["dsr"] if pd.notna(study["dsr"]) else None
    st.info(rr.pbo_reading(pbo), icon=":material/casino:")
    st.info(rr.dsr_reading(dsr, study["dsr_sr0"], study["n_configs"]), icon=":material/functions:")
    over = (study["stats"] or {}).get("overfitting", {})
    st.caption(f"PBO: combinatorially symmetric cross-validation over {over.get('pbo_splits') or '—'} blocks of the "
               f"{over.get('sessions') or '—'} × {over.get('n_trials') or '—'} daily-returns matrix (Bailey, "
               "Borwein, López de Prado & Zhu 2017). DSR: the full-sample best configuration's Sharpe deflated for "
               "the number of trials, skewness and kurtosis (Bailey & López de Prado 2014).")


def _walk_forward(ctx: PageContext, sid: str) -> None:
    st.subheader("Walk-forward")
    studies = _studies(ctx.url, ctx.scope, sid)
    if studies.empty:
        st.info(LAUNCH_WF, icon=":material/info:")
        return
    name = st.selectbox("Study", list(studies["study"]), key="research_study")
    study = studies[studies["study"] == name].iloc[0]
    b = _bundle(ctx.url, ctx.scope, sid, name)
    names = rr.param_names(b["configs"])
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Windows", f"{len(b['windows'])}", border=True,
              help=f"{'Anchored' if study['anchored'] else 'Rolling'} {study['is_sessions']} in-sample / "
                   f"{study['oos_sessions']} out-of-sample sessions")
    c2.metric("OOS annualised", "—" if pd.isna(study["oos_cagr"]) else f"{study['oos_cagr']:.2%}", border=True)
    c3.metric("OOS Sharpe", "—" if pd.isna(study["oos_sharpe"]) else f"{study['oos_sharpe']:.2f}", border=True)
    c4.metric("PBO", "—" if pd.isna(study["pbo"]) else f"{study['pbo']:.0%}", border=True,
              help="Probability of backtest overfitting")
    c5.metric("DSR", "—" if pd.isna(study["dsr"]) else f"{study['dsr']:.0%}", border=True,
              help="Deflated Sharpe ratio of the full-sample best")
    st.caption(f"{study['n_configs']} configurations over {study['first_session']} → {study['last_session']}; "
               f"objective `{study['objective']}`, at least {study['min_trades']} trades in sample.")
    _overfitting_readings(study)
    st.markdown("**Parameters chosen per window**")
    st.dataframe(rr.windows_table(b["windows"], names), hide_index=True, key="research_windows",
                 column_config={"OOS return": st.column_config.NumberColumn(format="percent"),
                                "IS objective": st.column_config.NumberColumn(format="%.3f"),
                                "OOS objective": st.column_config.NumberColumn(format="%.3f")})
    chosen = b["windows"].assign(**{n: [p.get(n) for p in b["windows"]["params"]] for n in names})
    st.plotly_chart(rc.chosen_params_chart(chosen, names), key="research_chosen", config=PLOTLY)
    st.markdown("**Stitched out-of-sample curve vs the full-sample ones**")
    st.plotly_chart(rc.stitched_chart(b["curves"]), key="research_stitched", config=PLOTLY)
    st.caption("All three from 1 at the first out-of-sample session: the walk-forward trades each window's "
               "in-sample choice; the full-sample best is the configuration a single backtest over everything "
               "would pick (with hindsight).")
    if names:
        st.markdown(f"**Heat map of the full-sample objective (`{study['objective']}`)**")
        x = names[0]
        y = names[1] if len(names) > 1 else None
        if len(names) > 2:
            x = st.selectbox("Columns", names, index=0, key="research_heat_x")
            y = st.selectbox("Rows", [n for n in names if n != x], index=0, key="research_heat_y")
            st.caption("Other parameters averaged.")
        st.plotly_chart(rc.param_heatmap(rr.heatmap_frame(b["configs"], x, y), x, y, study["objective"]),
                        key="research_heatmap", config=PLOTLY)
    st.markdown("**Parameter stability**")
    st.dataframe(b["stability"][["param", "value", "chosen", "share", "mean_objective", "mean_relative_drop"]],
                 hide_index=True, key="research_stability",
                 column_config={"share": st.column_config.NumberColumn("Share of windows", format="percent"),
                                "mean_relative_drop": st.column_config.NumberColumn(
                                    "Objective drop at neighbours", format="percent",
                                    help="Mean over windows of (chosen − neighbours) / |chosen|, in sample"),
                                "mean_objective": st.column_config.NumberColumn("Mean full-sample objective",
                                                                                format="%.3f")})


def _sweeps(ctx: PageContext, sid: str) -> None:
    sweeps = _sweep_rows(ctx.url, ctx.scope, sid)
    if sweeps.empty:
        return
    st.subheader("Parameter sweeps")
    st.dataframe(sweeps[["sweep_id", "n_trials", "sessions", "pbo", "dsr", "best_value"]], hide_index=True,
                 key="research_sweeps",
                 column_config={"pbo": st.column_config.NumberColumn("PBO", format="percent"),
                                "dsr": st.column_config.NumberColumn("DSR", format="percent")})
    for r in sweeps.itertuples():
        st.caption(f"{r.sweep_id}: " + rr.pbo_reading(r.pbo if pd.notna(r.pbo) else None))


def render() -> None:
    st.title("Research")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        syms = cache.symphonies(ctx.url, ctx.scope)
        if syms.empty:
            st.info(f"No symphonies for this account yet — {notices.NEXT_STEPS_SEED}.", icon=":material/info:")
            return
        labels = dict(zip(syms["symphony_id"], syms["label"]))
        sid = st.selectbox("Symphony", list(syms["symphony_id"]), format_func=lambda s: labels.get(s, s),
                           key="research_symphony")
        st.caption(f"Results of {md(labels[sid])} written by the research jobs in Dagster.")
        _oos(ctx, sid)
        _walk_forward(ctx, sid)
        _sweeps(ctx, sid)
    except WarehouseLockedError:
        notices.busy()


render()
