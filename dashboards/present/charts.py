"""Pure plotly figure builders for the Performance and Backtests pages (no Streamlit, no warehouse).

Each function takes the frames computed by :mod:`dashboards.reads` and returns a ``go.Figure``; empty
inputs give an empty (but valid) figure.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

_LAYOUT = dict(hovermode="x unified", margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12, x=0))


def _mode(n: int) -> str:
    return "lines+markers" if n <= 30 else "lines"


def date_axis(fig: go.Figure, index) -> None:
    """Dates as dates: over a short window (≤ 31 days) one tick per day, never hours ("00:00 / 12:00")."""
    idx = pd.DatetimeIndex(index) if len(index) else pd.DatetimeIndex([])
    if len(idx) and (idx.max() - idx.min()) <= pd.Timedelta(days=31):
        fig.update_xaxes(tickformat="%b %d, %Y", dtick=86_400_000, tick0=idx.min())


def growth_chart(frame: pd.DataFrame, names: dict[str, str] | None = None, height: int = 340) -> go.Figure:
    """Lines of the columns of ``frame`` (index = dates, values = growth of 1), labelled by ``names``."""
    fig = go.Figure()
    for i, col in enumerate(frame.columns):
        s = frame[col].dropna()
        fig.add_trace(go.Scatter(x=s.index, y=s.to_numpy(), name=(names or {}).get(col, str(col)),
                                 mode=_mode(len(s)), line=dict(width=2, dash="solid" if i == 0 else "dash")))
    # ".3~f": a narrow range (0.995 to 1.01) gets distinct ticks, not "1.00" five times
    fig.update_layout(height=height, yaxis=dict(title="Growth of 1", tickformat=".3~f"), xaxis_title=None, **_LAYOUT)
    date_axis(fig, frame.index)
    return fig


def drawdown_chart(drawdown: pd.Series, height: int = 240) -> go.Figure:
    """Filled area of a drawdown series, in **positive** percent (Composer's convention, as every table of the
    dashboard), drawn downwards from 0 % (reversed y axis). ``drawdown``: fractions of either sign
    (:func:`engine.metrics.drawdown_series` gives them ≤ 0); the figure plots their absolute values."""
    fig = go.Figure(go.Scatter(x=drawdown.index, y=drawdown.abs().to_numpy(), fill="tozeroy", name="Drawdown",
                               mode="lines", line=dict(color="#d62728", width=1),
                               hovertemplate="%{y:.2%} below the peak<extra></extra>"))
    fig.update_layout(height=height, yaxis=dict(title="Drawdown", tickformat=".1%", autorange="reversed",
                                                rangemode="tozero"),
                      xaxis_title=None, showlegend=False, hovermode="x unified", margin=dict(l=10, r=10, t=10, b=10))
    date_axis(fig, drawdown.index)
    return fig


def rolling_sharpe_chart(series: pd.Series, window: int, height: int = 240) -> go.Figure:
    """Line of a rolling Sharpe ratio with a zero line."""
    s = series.dropna()
    fig = go.Figure(go.Scatter(x=s.index, y=s.to_numpy(), mode=_mode(len(s)), name=f"Sharpe ({window} sessions)"))
    fig.add_hline(y=0, line=dict(color="#888", width=1, dash="dot"))
    fig.update_layout(height=height, yaxis=dict(title=f"Sharpe, {window}-session window", tickformat=".2f"),
                      xaxis_title=None, showlegend=False, hovermode="x unified", margin=dict(l=10, r=10, t=10, b=10))
    return fig


def monthly_heatmap(table: pd.DataFrame, height: int | None = None) -> go.Figure:
    """Heatmap of monthly returns in percent (rows = years, columns = months; the ``Year`` column is left out)."""
    months = [c for c in table.columns if c != "Year"]
    z = table[months].to_numpy(dtype="float64") if len(table) else [[]]
    text = [[("" if pd.isna(v) else f"{v:+.1f}%".replace("-", "\u2212")) for v in row] for row in z] \
        if len(table) else [[]]  # the page's minus sign (U+2212), as every figure of the dashboard
    limit = float(pd.DataFrame(z).abs().max().max()) if len(table) and pd.DataFrame(z).notna().any().any() else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=months, y=[str(y) for y in table.index], text=text, texttemplate="%{text}",
                               colorscale="RdYlGn", zmid=0, zmin=-limit, zmax=limit,
                               colorbar=dict(title="%"), hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>"))
    fig.update_layout(height=height or 120 + 40 * max(len(table), 1), margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(autorange="reversed", type="category"))
    return fig


def equity_curves_chart(curves: pd.DataFrame, height: int = 380) -> go.Figure:
    """Overlaid rebased equity curves: a long frame with ``label, session_date, growth``."""
    fig = go.Figure()
    for label, part in curves.groupby("label", sort=False):
        fig.add_trace(go.Scatter(x=part["session_date"], y=part["growth"], name=str(label), mode=_mode(len(part))))
    fig.update_layout(height=height, yaxis=dict(title="Growth of 1 (each rebased to its start)", type="log"),
                      xaxis_title=None, **_LAYOUT)
    return fig


def live_vs_backtest_chart(aligned: pd.DataFrame, height: int = 340) -> go.Figure:
    """Paper NAV against the backtest rebased to the paper start (:func:`engine.attribution.align_live_backtest`)."""
    fig = go.Figure()
    for col, name, dash in (("paper_usd", "Paper", "solid"), ("backtest_usd", "Backtest (rebased)", "dash")):
        if col in aligned:
            fig.add_trace(go.Scatter(x=aligned.index, y=aligned[col], name=name, mode=_mode(len(aligned)),
                                     line=dict(dash=dash, width=2)))
    fig.update_layout(height=height, yaxis=dict(tickprefix="$", tickformat=",.0f", title="NAV (USD)"),
                      xaxis_title=None, **_LAYOUT)
    date_axis(fig, aligned.index)
    return fig


__all__ = ["date_axis", "growth_chart", "drawdown_chart", "rolling_sharpe_chart", "monthly_heatmap", "equity_curves_chart",
           "live_vs_backtest_chart"]
