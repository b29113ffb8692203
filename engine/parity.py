"""Parity with Composer's own outputs: ours vs Composer, the gap and the tolerance, for every ground truth kept in
``tests/fixtures/composer/`` (copies of ``../shared/symphonies`` ground truth; inventory in composer_format.md §7).

Pure comparisons: prices come from a ``load_closes(tickers, end=None) -> DataFrame`` callable the caller passes
(``warehouse.bundled.load_adjusted_closes`` in ``oragami parity`` / ``make parity``), so this module reads no
database. Each ground truth gives a :class:`GroundTruth` of :class:`Check` rows; :func:`format_report` prints them
as the tables of ``docs/parity.md``.

Ground truths (letters as composer_format.md §7):

* **D** — SPY only, monthly, 50 bps, 1993-01-29 → 2026-06-18 (``spy_buy_hold_monthly_probe.composer_backtest.json``):
  our backtest vs Composer's first day, first value, rebalance days, final value, every ``stats`` key
  (:data:`PROBE_TOLERANCES`), ``costs`` and ``data_warnings``; plus Composer's annualisation formula applied to
  Composer's own cumulative return and size (must give its printed value to every digit).
* **E** — Composer's 2022 7-day backtest (``eu_raekon_frankenbot.backtest_response.json``; symphony unpublished):
  every ``stats`` key recomputed by :func:`engine.metrics.full_stats` from Composer's own daily values, for the
  symphony and its SPY benchmark, and the ``percent`` alpha/beta/R²/Pearson block (float precision).
* **A** — inverse-volatility 15 d over SPY/AVGO/QQQ/NVDA, Composer's "Historical Allocations" 2025 (0.1 %
  rounding): our daily target weights per ticker.
* **F** — FOMO NOMO (leveraged) end-of-period holdings snapshot (weak): compared only when every ticker of the
  symphony has prices; otherwise listed as skipped with the missing tickers.
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from engine.backtest import run_backtest
from engine.metrics import annualized_return, full_stats
from engine.model import tickers as symphony_tickers

LoadCloses = Callable[..., pd.DataFrame]

#: |ours − Composer| allowed per ``stats`` key of the SPY probe (set D), with the reason. The probe is a
#: buy-and-hold of SPY, so every gap is the data vendor (Composer's adjusted closes vs ours) unless noted.
PROBE_TOLERANCES: dict[str, tuple[float, str]] = {
    "size": (0, "same sessions"),
    "cumulative_return": (0.005, "final value 308139.53 vs 308153.92 (data vendor)"),
    "annualized_rate_of_return": (5e-6, "same formula (size+1); the gap is the cumulative return's"),
    "standard_deviation": (5e-4, "ours 0.18578 vs 0.18604: Composer's daily returns are slightly noisier"),
    "sharpe_ratio": (0.005, "0.2 % data-vendor gap"),
    "max_drawdown": (1e-4, "same trough (2009-03-09)"),
    "calmar_ratio": (5e-4, "annualized / max drawdown"),
    "mean": (1e-6, "4e-7 apart"),
    "median": (5e-5, "3.7e-5 apart: Composer has fewer small up days (see win_rate)"),
    "min": (1e-5, "same worst day (2020-03-16)"),
    "max": (1e-5, "same best day (2008-10-13)"),
    "skewness": (0.01, "-0.0117 vs -0.0162; population vs sample skewness differ by 2e-6 only"),
    "kurtosis": (0.1, "11.817 vs 11.757 (excess, population); sample-corrected would be 11.825"),
    "sortino_ratio": (0.005, "0.9208 vs 0.9184, the same 0.2 % gap as the Sharpe ratio"),
    "win_rate": (0.01, "4547 vs 4495 up days of 8403: Composer's closes have 52 fewer up days"),
    "tail_ratio": (0.002, "0.9407 vs 0.9413"),
    "top_one_day_contribution": (1e-5, "same best day"),
    "top_five_percent_day_contribution": (0.01, "k = 421 best days; 3.2169 vs 3.2195"),
    "top_ten_percent_day_contribution": (0.02, "k = 841 best days; 4.9474 vs 4.9552"),
    "trailing_one_day_return": (5e-6, "calendar windows"),
    "trailing_one_week_return": (5e-6, "calendar windows"),
    "trailing_two_week_return": (5e-6, "calendar windows"),
    "trailing_one_month_return": (5e-6, "calendar windows"),
    "trailing_three_month_return": (5e-6, "calendar windows"),
    "trailing_one_year_return": (5e-6, "calendar windows"),
    "herfindahl_index": (1e-5, "Composer keeps $0.01 cash (1 − 1.9e-6); we keep none"),
    "annualized_turnover": (1e-5, "Composer 9.6e-7 (re-investing its cent of cash); ours 0"),
}

#: |ours − Composer| allowed on the probe's ``costs`` (USD), with the reason.
PROBE_COST_TOLERANCES: dict[str, tuple[float, str]] = {
    "slippage": (0.01, "49.75 = 0.005 × 9950.25 on both sides"),
    "reg_fee": (0.0, "a buy-and-hold never sells"),
    "taf_fee": (0.0, "a buy-and-hold never sells"),
    "cat_fee": (0.25, "Composer re-invests its $0.01 of residual cash at monthly rebalances: 25 one-cent CAT "
                      "fills since 2024; we invest exactly and trade no residue, so ours is 0"),
}


@dataclass(frozen=True)
class Check:
    """One comparison.

    Attributes:
        key: what is compared.
        ours, composer: the two values (numbers, or text / lists compared for equality).
        tolerance: the largest allowed ``|ours − composer|`` (same unit as the values); None = must be equal.
        note: why the tolerance is what it is (or what the gap is).
    """

    key: str
    ours: object
    composer: object
    tolerance: float | None = None
    note: str = ""

    @property
    def gap(self) -> float | None:
        """``ours − composer`` for numbers, else None."""
        if isinstance(self.ours, (int, float)) and isinstance(self.composer, (int, float)):
            return float(self.ours) - float(self.composer)
        return None

    @property
    def ok(self) -> bool:
        """True when the gap is within the tolerance (or the values are equal)."""
        gap = self.gap
        if self.tolerance is None or gap is None:
            return self.ours == self.composer
        return math.isfinite(gap) and abs(gap) <= self.tolerance * (1 + 1e-12) + 1e-300


@dataclass
class GroundTruth:
    """One ground truth and its checks; ``skipped`` says why it was not compared (then ``checks`` is empty)."""

    letter: str
    title: str
    source: str
    checks: list[Check] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.skipped is None and all(c.ok for c in self.checks)


def _epoch_series(m: dict) -> pd.Series:
    keys = sorted(m, key=int)
    return pd.Series([float(m[k]) for k in keys],
                     index=pd.Timestamp("1970-01-01") + pd.to_timedelta([int(k) for k in keys], unit="D"))


def _epoch(day: pd.Timestamp) -> int:
    return int((pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days)


def _load(path: Path):
    from engine.parsing import load_symphony

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_symphony(path)


def spy_probe(fixture: Path, symphony: Path, load_closes: LoadCloses) -> GroundTruth:
    """Set D: the SPY monthly probe (capital 10,000, 50 bps, fees on) against Composer's response."""
    gt = GroundTruth("D", "SPY only, monthly, 50 bps, 1993-01-29 → 2026-06-18", fixture.name)
    data = json.loads(fixture.read_text())
    composer = data["response"]
    body = data["_request_body"]
    last = pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(composer["last_market_day"]))
    res = run_backtest(_load(symphony), load_closes(["SPY"], end=last.date().isoformat()), end=last,
                       capital=float(body["capital"]), slippage_bps=float(body["slippage_percent"]) * 10_000)
    values = _epoch_series(composer["dvm_capital"][next(k for k in composer["dvm_capital"] if k != "SPY")])
    add = gt.checks.append
    add(Check("first_day (epoch day)", _epoch(res.first_day), int(composer["first_day"])))
    add(Check("last_market_day (epoch day)", _epoch(res.last_day), int(composer["last_market_day"])))
    add(Check("first day value (USD)", float(res.nav.iloc[0]), float(values.iloc[0]), 0.01,
              "10000/1.005 = 9950.2488; Composer prints 9950.24 (cents)"))
    ours_reb = [_epoch(d) for d in res.rebalanced[res.rebalanced].index[:10]]
    add(Check("first 10 rebalance days", ours_reb, [int(d) for d in composer["rebalance_days"][:10]]))
    add(Check("final value (USD)", float(res.nav.iloc[-1]), float(composer["last_market_days_value"]),
              0.0001 * float(composer["last_market_days_value"]), "data vendor (1e-4 relative)"))
    for key in sorted(composer["stats"]):
        tol, why = PROBE_TOLERANCES.get(key, (0.0, "no tolerance recorded"))
        add(Check(f"stats.{key}", float(res.full_stats.get(key, float("nan"))), float(composer["stats"][key]),
                  tol, why))
    cum, size = float(composer["stats"]["cumulative_return"]), int(composer["stats"]["size"])
    add(Check("Composer's annualized from its own cum and size", annualized_return(cum, size),
              float(composer["stats"]["annualized_rate_of_return"]), 1e-15,
              f"(1+{cum})^(252/({size}+1)) − 1: every printed digit"))
    for key, (tol, why) in PROBE_COST_TOLERANCES.items():
        add(Check(f"costs.{key}", float(res.costs_summary.get(key, float("nan"))),
                  float(composer["costs"][key]), tol, why))
    add(Check("data_warnings", res.data_warnings, composer["data_warnings"]))
    return gt


def raekon_stats(fixture: Path) -> GroundTruth:
    """Set E: every stats key of Composer's 2022 7-day backtest recomputed from its own daily values."""
    gt = GroundTruth("E", "Composer's 2022 7-day backtest (stats from its own daily values)", fixture.name)
    data = json.loads(fixture.read_text())
    series = data["dvm-capital"]
    sid = next(k for k in series if k != "SPY")
    nav, spy = _epoch_series(series[sid]), _epoch_series(series["SPY"])
    # this 2022 engine measured the cumulative return from the first day's value, not from the capital
    ours = full_stats(nav, capital=float(nav.iloc[0]), benchmark_nav=spy)
    ours_b = full_stats(spy, capital=float(spy.iloc[0]))
    stats = data["stats"]

    def add(key: str, o: float, c: float) -> None:
        gt.checks.append(Check(key, o, c, 1e-12 * max(1.0, abs(c)), "float precision"))

    for key, value in sorted(stats.items()):
        if key != "benchmarks":
            add(f"stats.{key}", ours[key.replace("-", "_")], float(value))
    bench = stats["benchmarks"]["SPY"]
    for key, value in sorted(bench.items()):
        if not isinstance(value, dict):
            add(f"benchmarks.SPY.{key}", ours_b[key.replace("-", "_")], float(value))
    for key, value in sorted(bench["percent"].items()):
        add(f"benchmarks.SPY.percent.{key}", ours[key.replace("-", "_")], float(value))
    return gt


def inverse_vol_allocations(fixture: Path, symphony: Path, load_closes: LoadCloses) -> GroundTruth:
    """Set A: our daily target weights vs Composer's Historical Allocations export (2025, 0.1 % rounding)."""
    from engine.evaluate import evaluate

    gt = GroundTruth("A", "inverse-vol 15d over SPY/AVGO/QQQ/NVDA, daily allocations 2025", fixture.name)
    truth = pd.read_csv(fixture, encoding="utf-8-sig", skiprows=[1])
    truth["Date"] = pd.to_datetime(truth["Date"])
    truth = truth.set_index("Date").sort_index()
    names = [c for c in truth.columns if c not in ("Day Traded", "$USD")]
    for t in names:
        truth[t] = truth[t].astype(str).str.rstrip("%").replace("-", "0").astype(float) / 100
    ev = evaluate(_load(symphony), load_closes(names, end=truth.index[-1].date().isoformat()))
    ours = ev.weights.reindex(truth.index)[names].fillna(0.0)
    diff = (ours - truth[names]).abs()
    gt.checks.append(Check("days compared", int(len(truth)), 250))
    for t in names:
        gt.checks.append(Check(f"{t}: days within 0.5 pp", int((diff[t] <= 0.005).sum()), int(len(truth))))
        gt.checks.append(Check(f"{t}: max |ours − Composer| (pp)", round(100 * float(diff[t].max()), 4), 0.0, 0.07,
                               "the export rounds to 0.1 % (±0.05 pp)"))
    return gt


def fomo_nomo_snapshot(fixture: Path, symphony: Path, load_closes: LoadCloses) -> GroundTruth:
    """Set F (weak): Composer's end-of-period simulated holdings of FOMO NOMO (leveraged), 2025-01-10 → 2026-01-09."""
    gt = GroundTruth("F", "FOMO NOMO leveraged, simulated holdings 2025-01-10 → 2026-01-09 (weak)", fixture.name)
    if not symphony.is_file():
        gt.skipped = f"symphony file {symphony.name} not found"
        return gt
    root = _load(symphony)
    try:
        closes = load_closes(sorted(symphony_tickers(root) | {"SPY"}), end="2026-01-09")
    except (KeyError, LookupError, ValueError) as exc:
        gt.skipped = f"not comparable: {exc.args[0] if exc.args else exc}"
        return gt
    res = run_backtest(root, closes, start="2025-01-10", end="2026-01-09", capital=10_000.0)
    lines = [ln.strip() for ln in fixture.read_text().splitlines()]
    theirs: dict[str, float] = {}
    for i, ln in enumerate(lines):
        if ln.endswith("%") and "\t" in ln and i >= 3:
            ticker = next((lines[j] for j in range(i - 1, max(i - 4, 0), -1)
                           if lines[j].isupper() and lines[j].isalpha()), None)
            if ticker:
                theirs[ticker] = float(ln.split("\t")[-1].rstrip("%")) / 100
    last = res.holdings_weights().iloc[-1]
    for t in sorted(set(theirs) | {k for k, v in last.items() if v > 0.001 and k != "$USD"}):
        gt.checks.append(Check(f"{t} weight", round(float(last.get(t, 0.0)), 3), theirs.get(t, 0.0), 0.02,
                               "one-decimal snapshot of drifted holdings"))
    return gt


def run_parity(fixtures: Path, symphonies: Path, load_closes: LoadCloses) -> list[GroundTruth]:
    """Every ground truth in ``fixtures`` (``tests/fixtures/composer``) that is present.

    Args:
        fixtures: the folder of Composer ground truth files.
        symphonies: the folder of the project's symphony files (``symphonies/``).
        load_closes: ``(tickers, end=ISO date or None) -> DataFrame`` of adjusted closes (sessions × tickers).
    """
    out: list[GroundTruth] = []
    probe = fixtures / "spy_buy_hold_monthly_probe.composer_backtest.json"
    if probe.is_file():
        out.append(spy_probe(probe, symphonies / "spy_buy_hold_monthly_probe.json", load_closes))
    raekon = fixtures / "eu_raekon_frankenbot.backtest_response.json"
    if raekon.is_file():
        out.append(raekon_stats(raekon))
    alloc = fixtures / "spy_avgo_qqq_nvda_inverse_vol.allocations.csv"
    if alloc.is_file():
        out.append(inverse_vol_allocations(alloc, symphonies / "spy_avgo_qqq_nvda_inverse_vol.clj", load_closes))
    fomo = fixtures / "fomo_nomo_leveraged.simulated_holdings.txt"
    if fomo.is_file():
        out.append(fomo_nomo_snapshot(fomo, fixtures / "fomo_nomo_leveraged.clj", load_closes))
    return out


def _fmt(x: object) -> str:
    if isinstance(x, float):
        if x == 0 or not math.isfinite(x):
            return f"{x:g}"
        return f"{x:.10g}" if abs(x) >= 1e-4 else f"{x:.6e}"
    if isinstance(x, (list, dict)):
        text = json.dumps(x)
        return text if len(text) <= 40 else text[:37] + "..."
    return str(x)


def format_report(results: list[GroundTruth]) -> str:
    """Markdown tables, one per ground truth: key | ours | Composer | ours − Composer | tolerance | ok | note."""
    lines: list[str] = []
    n_ok = sum(c.ok for g in results for c in g.checks)
    n_all = sum(len(g.checks) for g in results)
    for g in results:
        lines.append(f"## {g.letter}: {g.title}  ({g.source})")
        if g.skipped:
            lines += [f"skipped — {g.skipped}", ""]
            continue
        lines.append("| key | ours | Composer | ours − Composer | tolerance | ok | note |")
        lines.append("|---|---|---|---|---|---|---|")
        for c in g.checks:
            gap = "" if c.gap is None else f"{c.gap:+.3g}"
            tol = "equal" if c.tolerance is None else f"{c.tolerance:g}"
            lines.append(f"| {c.key} | {_fmt(c.ours)} | {_fmt(c.composer)} | {gap} | {tol} | "
                         f"{'yes' if c.ok else '**NO**'} | {c.note} |")
        lines.append("")
    skipped = [g.letter for g in results if g.skipped]
    lines.append(f"{n_ok}/{n_all} checks within tolerance" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return "\n".join(lines)
