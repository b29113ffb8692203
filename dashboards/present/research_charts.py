"""Pure plotly figure builders for the Research page (no Streamlit, no warehouse); the style of
:mod:`dashboards.present.charts`. Empty inputs give an empty (but valid) figure."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.present.charts import _LAYOUT, _mode

_COLORS = {"in_sample": "#1f77b4", "out_of_sample": "#ff7f0e"}
_NAMES = {"in_sample": "In sample", "out_of_sample": "Out of sample"}


def oos_split_chart(curves: pd.DataFrame, oos_start=None, height: int = 340) -> go.Figure:
    """Growth of 1 per segment (each rebased to its own start), strategy solid, benchmark dotted, the whole
    backtest in grey behind, with a vertical line at the out-of-sample start. ``curves``:
    :func:`engine.oos.split_curves`'s frame."""
    fig = go.Figure()
    whole = curves[(curves["segment"] == "full") & (curves["series"] == "strategy")]
    if len(whole):
        fig.add_trace(go.Scatter(x=whole["session_date"], y=whole["growth"], mode="lines", name="Whole · strategy",
                                 line=dict(color="#bbbbbb", width=1)))
    for (segment, series), part in curves[curves["segment"] != "full"].groupby(["segment", "series"], sort=False):
        fig.add_trace(go.Scatter(x=part["session_date"], y=part["growth"], mode=_mode(len(part)),
                                 name=f"{_NAMES.get(segment, segment)} · {series}",
                                 line=dict(color=_COLORS.get(segment), width=2 if series == "strategy" else 1,
                                           dash="solid" if series == "strategy" else "dot")))
    if oos_start is not None:
        fig.add_vline(x=pd.Timestamp(oos_start), line=dict(color="#888", dash="dash", width=1))
    fig.update_layout(height=height, yaxis=dict(title="Growth of 1 (each part from its start)", tickformat=".2f"),
                      xaxis_title=None, **_LAYOUT)
    return fig


def oos_drawdown_chart(curves: pd.DataFrame, height: int = 220) -> go.Figure:
    """The strategy's drawdown per segment (fractions ≤ 0, shown in percent), each from its own peak."""
    fig = go.Figure()
    for segment, part in curves[(curves["series"] == "strategy") & (curves["segment"] != "full")].groupby(
            "segment", sort=False):
        fig.add_trace(go.Scatter(x=part["session_date"], y=part["drawdown"], fill="tozeroy", mode="lines",
                                 name=_NAMES.get(segment, segment), line=dict(color=_COLORS.get(segment), width=1)))
    fig.update_layout(height=height, yaxis=dict(title="Drawdown", tickformat=".1%"), xaxis_title=None, **_LAYOUT)
    return fig


def chosen_params_chart(windows: pd.DataFrame, names: list[str], height: int = 280) -> go.Figure:
    """The value of each parameter chosen per walk-forward window, as steps over the out-of-sample periods
    (``windows``: the page's windows frame with ``oos_start``, ``oos_end`` and one column per parameter)."""
    fig = go.Figure()
    for i, n in enumerate(names):
        xs, ys = [], []
        for _, r in windows.iterrows():
            xs += [pd.Timestamp(r["oos_start"]), pd.Timestamp(r["oos_end"]), None]
            ys += [r[n], r[n], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=n, yaxis="y" if i == 0 else "y2",
                                 line=dict(width=3)))
    layout = dict(height=height, xaxis_title=None, yaxis=dict(title=names[0] if names else None), **_LAYOUT)
    if len(names) > 1:
        layout["yaxis2"] = dict(title=names[1], overlaying="y", side="right")
    fig.update_layout(**layout)
    return fig


def stitched_chart(curves: pd.DataFrame, height: int = 340) -> go.Figure:
    """The stitched out-of-sample curve against the full-sample best configuration and the symphony as written,
    all growth of 1 from the first out-of-sample session (``curves``: ``session_date, oos_growth, best_growth,
    original_growth``)."""
    fig = go.Figure()
    for col, name, dash in (("oos_growth", "Walk-forward (stitched out of sample)", "solid"),
                            ("best_growth", "Full-sample best configuration", "dash"),
                            ("original_growth", "Symphony as written", "dot")):
        if col in curves and curves[col].notna().any():
            fig.add_trace(go.Scatter(x=pd.to_datetime(curves["session_date"]), y=curves[col], name=name,
                                     mode=_mode(len(curves)), line=dict(dash=dash, width=2)))
    fig.update_layout(height=height, yaxis=dict(title="Growth of 1", tickformat=".2f"), xaxis_title=None, **_LAYOUT)
    return fig


def param_heatmap(frame: pd.DataFrame, x_name: str, y_name: str | None, value_name: str,
                  height: int | None = None) -> go.Figure:
    """Heat map of the full-sample objective over the grid (rows = ``y`` values, columns = ``x`` values)."""
    if frame.empty:
        return go.Figure()
    z = frame.to_numpy(dtype="float64")
    text = [[("" if pd.isna(v) else f"{v:.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{c:g}" for c in frame.columns],
                               y=[f"{r:g}" if isinstance(r, (int, float)) else str(r) for r in frame.index],
                               text=text, texttemplate="%{text}", colorscale="RdYlGn",
                               colorbar=dict(title=value_name),
                               hovertemplate=f"{x_name}=%{{x}}<br>{y_name or ''}=%{{y}}<br>{value_name}=%{{z:.3f}}"
                                             "<extra></extra>"))
    fig.update_layout(height=height or 140 + 45 * max(len(frame), 1), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=x_name, type="category"), yaxis=dict(title=y_name, type="category"))
    return fig


__all__ = ["oos_split_chart", "oos_drawdown_chart", "chosen_params_chart", "stitched_chart", "param_heatmap"]
