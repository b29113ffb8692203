"""Benchmarks of the engine (``make bench``): prints figures, asserts only that the 1,600 variants are distinct.

Every part runs in its own fresh Python process (``--only PART``), so each part's peak memory (``VmHWM``) is
its own and a "cold" figure really is a first run; times are CPU seconds (``time.process_time``, this process
only), not wall time, because the benchmark machine is shared. Parts, in order:

1. **parse** — the largest real corpus file (``fomo_nomo_leveraged.clj``, ~327 KB): the defsymphony pre-pass, the
   input-limit scan and the whole :func:`engine.parsing.load_symphony`; best of 5 (target, issue 8: ≤ 0.5 s).
2. **bundle** — ``data/bundled``: size on disk per file, the cold load of one symphony's tickers through
   :class:`warehouse.prices.BundledCloseReader` against reading the whole adjusted-close table; best of 3.
3. **compile** — the Numba simulation kernel (:mod:`engine.kernel`): the first compile in a process with an
   empty on-disk cache (paid once per install and Numba/CPU version), and the load from the cache that every later
   process pays; the ``import numba`` cost beside them.
4. **backtests** — per corpus symphony with all tickers bundled, 2007→2026 (``START``): sessions, nodes, the
   *warm* backtest (:func:`engine.backtest.run_backtest`, best of 3 runs in one process after a first run, each
   with a fresh indicator cache and an empty sub-strategy store: evaluation, indicators, simulation, stats all
   recomputed; target ≤ 0.05 s), the evaluation alone cold and on cached indicators, the speed ratio of the plain
   per-day reference evaluator (tests/engine/reference.py, timed on ``--ref-sample`` sessions and extrapolated)
   to the vectorised one, and the *cold process* of the same backtest (a fresh interpreter: imports, kernel load,
   price load, one backtest; target ≤ 2 s) with its parts and peak RSS.
5. **floor** — :mod:`scripts.floor_kernel`: the reference symphony (Sector Surfing) backtested by hand in NumPy /
   TA-Lib at zero cost, the engine's warm backtest of it, their ratio and the NAV agreement.
6. **evaluations** — 1,600 one-session evaluations of 1,600 distinct symphonies (40 accounts × 40;
   :func:`symphony_variants`: corpus symphonies with perturbed windows and thresholds, asserted distinct by
   canonical JSON): CPU seconds of the first session evaluated in the process (cold: every indicator and
   sub-strategy NAV built over the whole history) and of the next session, best of ``--repeat``; imports and the
   price load reported apart. Target (issue 12): ≤ 3 s CPU, ≤ 1 GB.

``--only PART`` runs one part in this process (what the parent does for each); ``--skip-cold`` leaves out the
per-symphony cold processes (about 2 s each).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.backtest import run_backtest  # noqa: E402
from engine.evaluate import IndicatorCache, SubStrategyStore, evaluate  # noqa: E402
from engine.model import iter_nodes, tickers  # noqa: E402
from engine.parsing import load_symphony  # noqa: E402
from tests.engine.reference import ReferenceEvaluator  # noqa: E402
from warehouse.bundled import available_tickers, load_adjusted_closes  # noqa: E402

START = "2007-01-03"


def corpus_files() -> list[Path]:
    files = {p.name: p for p in sorted((ROOT / "symphonies").iterdir())}
    shared = ROOT.parent / "shared" / "symphonies"
    if shared.is_dir():
        for p in sorted(shared.iterdir()):
            files.setdefault(p.name, p)
    keep = []
    for name, p in sorted(files.items()):
        if p.suffix in {".clj", ".json", ".edn"} and "backtest_response" not in name and "composer_backtest" not in name:
            keep.append(p)
    return keep


def load_all() -> list[tuple[Path, object]]:
    out = []
    seen = set()
    for p in corpus_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                root = load_symphony(p)
        except Exception:
            continue
        key = root.model_dump_json(exclude={"path", "id"})
        if key in seen:  # the same symphony in two encodings
            continue
        seen.add(key)
        out.append((p, root))
    return out


def parse_figures() -> None:
    """Section 4: parse timings of the largest defsymphony file of the corpus (best of 5 runs each)."""
    from engine.parse_common import check_text_limits
    from engine.parse_defsymphony import replace_special_floats

    largest = max((p for p in corpus_files() if p.suffix == ".clj"), key=lambda p: p.stat().st_size)
    text = largest.read_text(encoding="utf-8-sig")

    def best(fn) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre, scan, full = (best(lambda: replace_special_floats(text)), best(lambda: check_text_limits(text)),
                           best(lambda: load_symphony(largest)))
        pre_nan = best(lambda: replace_special_floats(text + " ##NaN"))  # forces the regex pass
    print(f"parse {largest.name} ({largest.stat().st_size / 1000:.0f} KB): defsymphony pre-pass {pre:.4f} s "
          f"({pre_nan:.4f} s with a ##NaN; target <= 0.5 s), limit scan {scan:.4f} s, "
          f"whole load_symphony {full:.3f} s")
    print()


def bundle_figures() -> None:
    """Section 5: bundle size and the cold load time of one symphony's tickers (best of 3, cache emptied)."""
    import pyarrow.parquet as pq

    from warehouse import bundled
    from warehouse.prices import BundledCloseReader

    files = {f: (bundled.BUNDLE_DIR / f).stat().st_size for f in ("adj_close.parquet", "bars.parquet",
                                                                  "manifest.json")}
    m = bundled.manifest()
    print(f"bundle: {sum(files.values()) / 1e6:.1f} MB ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in files.items())});"
          f" {m['adj_close']['tickers']} tickers, {m['adj_close']['rows']:,} closes, "
          f"{pq.ParquetFile(bundled.BUNDLE_DIR / 'adj_close.parquet').metadata.num_row_groups} row groups")

    def cold(fn) -> float:
        times = []
        for _ in range(3):
            bundled._SERIES.clear()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    reader = BundledCloseReader()
    for name in ("tqqq_ftlt_v2_226.clj", "what_have_i_done_v1a.clj"):
        path = next((p for p in corpus_files() if p.name == name), None)
        if path is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            need = sorted(tickers(load_symphony(path)))
        secs = cold(lambda: reader.closes(need))
        print(f"load {name} ({len(need)} tickers, inception → last session): {secs:.3f} s cold")
    whole = cold(lambda: pq.read_table(bundled.BUNDLE_DIR / "adj_close.parquet").to_pandas())
    print(f"read the whole adj_close table: {whole:.3f} s")
    print()


# ---------------------------------------------------------------------------------------------------------------
# Section 3: one-session evaluations of 1,600 distinct symphonies
# ---------------------------------------------------------------------------------------------------------------

def _perturbation_sites(node: object, out: list) -> None:
    """Collect the mutable dicts of a dumped symphony that hold a window or a comparison threshold.

    Sites are ``(dict, key, kind)``: ``kind`` is ``"window"`` (an indicator, filter or inverse-vol window) or
    ``"threshold"`` (the constant right side of a comparison).
    """
    if isinstance(node, dict):
        for key in ("window", "sort_window"):
            if isinstance(node.get(key), int) and not isinstance(node.get(key), bool):
                out.append((node, key, "window"))
        rhs = node.get("rhs")
        if isinstance(rhs, dict) and set(rhs) == {"value"}:
            out.append((rhs, "value", "threshold"))
        for v in node.values():
            _perturbation_sites(v, out)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _perturbation_sites(v, out)


def symphony_variants(roots: list, n: int, seed: int = 12) -> list:
    """``n`` distinct symphonies made from ``roots`` by perturbing windows and thresholds (deterministic).

    Variant k is ``roots[k % len(roots)]`` with one to three of its windows moved by ±1…5 trading days (at least 2)
    or thresholds moved by ±1…10 % of their value (±0.1…1 when the value is 0). Each variant's canonical JSON
    (``model_dump_json`` without ``path`` / ``id``) differs from every other's and from the originals'; a draw
    that repeats one is redrawn.

    Args:
        roots: parsed symphonies (:class:`engine.model.Root`).
        n: number of variants.
        seed: seed of the generator.

    Returns:
        ``n`` parsed :class:`engine.model.Root`, all distinct.
    """
    from engine.model import Root

    rng = random.Random(seed)
    seen = {r.model_dump_json(exclude={"path", "id"}) for r in roots}
    out = []
    k = 0
    while len(out) < n:
        base = roots[k % len(roots)]
        k += 1
        for _attempt in range(20):
            data = base.model_dump()
            sites: list = []
            _perturbation_sites(data, sites)
            if not sites:
                break
            for holder, key, kind in rng.sample(sites, min(len(sites), rng.randint(1, 3))):
                if kind == "window":
                    step = rng.choice((-1, 1)) * rng.randint(1, 5)
                    holder[key] = max(2, holder[key] + step)
                else:
                    v = float(holder[key])
                    delta = abs(v) * rng.uniform(0.01, 0.10) if v else rng.uniform(0.1, 1.0)
                    holder[key] = round(v + rng.choice((-1, 1)) * delta, 4)
            try:
                variant = Root.model_validate(data)
            except Exception:
                continue
            key_json = variant.model_dump_json(exclude={"path", "id"})
            if key_json not in seen:
                seen.add(key_json)
                out.append(variant)
                break
    return out


def evaluation_figures(roots: list, n: int, repeat: int = 3, boot: float | None = None) -> None:
    """Section 3: ``n`` one-session evaluations of ``n`` distinct symphonies (:func:`symphony_variants`).

    Prints CPU seconds (``time.process_time``, best of ``repeat`` runs, each in a fresh indicator cache and with
    an empty sub-strategy store) for two cases:

    * **cold**: the first session ever evaluated in the process (every indicator and every sub-strategy NAV is
      built over the whole history);
    * **next session**: the same symphonies evaluated the day before on a frame one session shorter (that run is
      not timed), as the daily job does from one session to the next; a sub-strategy NAV is extended by one
      session, indicators are computed again over the longer frame.

    The very first cold run of the process is printed apart (it also builds each symphony's plan, kept with the
    parsed model afterwards). Not timed: the price-matrix build of each run's :class:`IndicatorCache` (printed
    apart), the variants' construction and the price load. ``boot`` is the CPU the process spent before (the
    interpreter and the imports). The peak RSS is the process's (``VmHWM``), so run ``--only evaluations`` for
    this section's own figure.
    """
    t_variants = time.process_time()
    variants = symphony_variants(roots, n)
    distinct = len({v.model_dump_json(exclude={"path", "id"}) for v in variants})
    originals = {r.model_dump_json(exclude={"path", "id"}) for r in roots}
    assert distinct == n == len(variants), f"{n - distinct} duplicate variants"
    assert not originals & {v.model_dump_json(exclude={"path", "id"}) for v in variants}, "a variant is a corpus file"
    union = sorted(set().union(*(tickers(r) for r in variants)))
    closes = load_adjusted_closes(union)
    closes = closes[closes.index >= pd.Timestamp(START) - pd.Timedelta(days=2000)]
    session = closes.index[-1]
    t_load = time.process_time()
    import engine.evaluate as evaluate_module
    matrix = []

    store_reset = getattr(evaluate_module, "clear_substrategy_store", lambda: None)

    def run(frame: pd.DataFrame) -> tuple[float, int]:
        t0 = time.process_time()
        cache = IndicatorCache(frame)
        matrix.append(time.process_time() - t0)
        held = 0
        t0 = time.process_time()
        day = frame.index[-1]
        for root in variants:
            ev = evaluate(root, cache, start=day)
            held += len(ev.weights_on(day))
        return time.process_time() - t0, held

    cold, nxt = [], []
    for _ in range(repeat):
        store_reset()
        cold.append(run(closes)[0])
        store_reset()
        run(closes.iloc[:-1])  # the previous session (not timed)
        secs, held = run(closes)
        nxt.append(secs)
    rss = _peak_rss_mib()
    store = getattr(evaluate_module, "substrategy_store", lambda: None)()
    kept = f", sub-strategy store {len(store)} entries / {store.nbytes / 2**20:.0f} MiB" if store else ""
    print(f"{n} one-session evaluations of {distinct} distinct symphonies (variants of {len(roots)}, none a "
          f"duplicate) for {session.date()}, {len(union)} tickers, {len(closes)} sessions: cold {min(cold):.2f} CPU s "
          f"(the process's first run, plans built: {cold[0]:.2f}), next session {min(nxt):.2f} CPU s (best of "
          f"{len(cold)}; target <= 3 s), max RSS {rss:.0f} MiB (target <= 1 GB), {held} holdings{kept}")
    if boot is not None:
        print(f"  not in those figures: interpreter + imports {boot:.2f} CPU s, the {n} variants and the price "
              f"load {t_load - t_variants:.2f} CPU s, the price matrix {min(matrix):.3f} CPU s per cache")
    print()


# ---------------------------------------------------------------------------------------------------------------
# Parts 3-6 and the driver: one fresh process per part
# ---------------------------------------------------------------------------------------------------------------

_MARK = "@@bench "

#: The start of every probe: imports and the child's own peak memory (VmHWM; ru_maxrss keeps the parent's
#: peak across exec).
_PROBE_HEAD = r"""
import json, resource, sys, time
def _hwm():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

#: A cold process: a fresh interpreter backtesting one symphony (argv[1]) from START; prints one JSON line.
COLD_PROBE = _PROBE_HEAD + r"""
sys.path.insert(0, sys.argv[2])
t_boot = time.process_time()
from engine.backtest import run_backtest
from engine.evaluate import IndicatorCache
from engine.model import tickers
from engine.parsing import load_symphony
from warehouse.bundled import load_adjusted_closes
t_imp = time.process_time()
from engine import kernel
kernel.warm_up()
t_nb = time.process_time()
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    root = load_symphony(sys.argv[1])
closes = load_adjusted_closes(sorted(tickers(root)))
t_load = time.process_time()
res = run_backtest(root, IndicatorCache(closes), start=sys.argv[3])
t_bt = time.process_time()
print("@@bench " + json.dumps({"boot_s": t_boot, "imports_s": t_imp - t_boot, "kernel_s": t_nb - t_imp,
      "load_s": t_load - t_nb, "backtest_s": t_bt - t_load, "total_s": t_bt, "sessions": len(res.nav),
      "maxrss_mib": _hwm()}))
"""

#: The kernel's compile (or cache load) in a fresh process; prints one JSON line.
COMPILE_PROBE = _PROBE_HEAD + r"""
sys.path.insert(0, sys.argv[1])
import numpy
t0 = time.process_time()
import numba
t1 = time.process_time()
from engine import kernel
secs = kernel.warm_up()
st = kernel.simulate_arrays.stats
print("@@bench " + json.dumps({"import_numba_s": t1 - t0, "warm_up_s": secs, "cache_dir": str(kernel.cache_dir()),
      "hits": sum(st.cache_hits.values()), "misses": sum(st.cache_misses.values()),
      "maxrss_mib": _hwm()}))
"""


def _mark(payload: dict) -> None:
    print(_MARK + json.dumps(payload), flush=True)


def _child(argv: list[str], env: dict | None = None) -> tuple[list[str], dict]:
    """Run a fresh Python process; its printed lines (less the marker line) and the marker's JSON."""
    out = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    lines, payload = [], {}
    for line in out.stdout.splitlines():
        if line.startswith(_MARK):
            payload = json.loads(line[len(_MARK):])
        else:
            lines.append(line)
    return lines, payload


def _peak_rss_mib() -> float:
    """This process's peak resident memory, MiB: ``VmHWM`` of /proc/self/status (the high-water mark of this
    program only — ``ru_maxrss`` keeps the parent's peak across fork + exec), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _self_rss() -> float:
    return _peak_rss_mib()


def compile_figures() -> None:
    """Part 3: the kernel's first compile (empty cache folder) and its load from the cache, fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": tmp}
        _, first = _child(["-c", COMPILE_PROBE, str(ROOT)], env)
        _, again = _child(["-c", COMPILE_PROBE, str(ROOT)], env)
    _, installed = _child(["-c", COMPILE_PROBE, str(ROOT)])
    print(f"numba kernel: first compile {first['warm_up_s']:.2f} CPU s (empty cache; once per install), "
          f"load from the on-disk cache {again['warm_up_s']:.2f} CPU s (every later process; this install's "
          f"cache {installed['cache_dir']}: {installed['warm_up_s']:.2f} s, {installed['hits']} hit(s) "
          f"{installed['misses']} miss(es)); import numba {again['import_numba_s']:.2f} s; peak RSS "
          f"{first['maxrss_mib']:.0f} MiB compiling, {again['maxrss_mib']:.0f} MiB loading")
    print()


def _cpu_best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def backtest_rows(ref_sample: int) -> list[dict]:
    """Part 4, in-process half: the warm figures of every corpus symphony with all tickers bundled."""
    from engine import kernel

    kernel.warm_up()
    have = available_tickers()
    rows = []
    for p, root in load_all():
        if not tickers(root) <= have:
            continue
        closes = load_adjusted_closes(sorted(tickers(root)))
        closes = closes[closes.index >= pd.Timestamp(START) - pd.Timedelta(days=2000)]
        nodes = sum(1 for _ in iter_nodes(root))
        # each run gets a fresh indicator cache and an empty sub-strategy store: nothing reused from another run
        res = run_backtest(root, IndicatorCache(closes, substrategies=SubStrategyStore()), start=START)
        warm = _cpu_best(lambda: run_backtest(root, IndicatorCache(closes, substrategies=SubStrategyStore()),
                                              start=START), 3)
        cache = IndicatorCache(closes, substrategies=SubStrategyStore())
        t0 = time.process_time()
        evaluate(root, cache)
        ev_cold = time.process_time() - t0           # indicators computed + tree
        cache.substrategies = SubStrategyStore()    # sub-strategy NAVs rebuilt, as the reference does
        t0 = time.process_time()
        ev = evaluate(root, cache)
        ev_warm = time.process_time() - t0          # tree only (indicators cached), like the timed reference
        ref = ReferenceEvaluator(root, closes)
        valid = np.flatnonzero(ev.valid.to_numpy())
        sample = valid[np.linspace(0, len(valid) - 1, min(ref_sample, len(valid))).astype(int)]
        ref.weights(int(sample[0]))  # indicator frames computed once, outside the timing (as in the engine's cache)
        t0 = time.process_time()
        for t in sample:
            ref._memo.clear()
            ref.weights(int(t))
        per_session = (time.process_time() - t0) / len(sample)
        rows.append({"name": p.name, "path": str(p), "sessions": len(res.nav), "nodes": nodes, "warm_s": warm,
                     "eval_cold_s": ev_cold, "eval_warm_s": ev_warm,
                     "ref_ratio": per_session * len(ev.sessions) / max(ev_warm, 1e-6)})
    return rows


def backtest_figures(ref_sample: int, cold: bool) -> None:
    """Part 4: the warm table (a child process) joined with one cold process per symphony."""
    _, warm = _child([str(Path(__file__)), "--only", "backtests", "--ref-sample", str(ref_sample)])
    rows = warm["rows"]
    print(f"{'symphony':40s} {'sessions':>8s} {'nodes':>5s} {'warm_s':>7s} {'eval_cold':>9s} {'eval_warm':>9s} "
          f"{'ref/vec':>7s} | {'cold: bt_s':>10s} {'process_s':>9s} {'imports':>7s} {'kernel':>6s} {'load':>5s} "
          f"{'rss_MiB':>7s}")
    colds = []
    for r in rows:
        c = _child(["-c", COLD_PROBE, r["path"], str(ROOT), START])[1] if cold else {}
        colds.append(c)
        tail = (f"{c['backtest_s']:10.3f} {c['total_s']:9.2f} {c['imports_s']:7.2f} {c['kernel_s']:6.2f} "
                f"{c['load_s']:5.2f} {c['maxrss_mib']:7.0f}") if c else ""
        print(f"{r['name'][:40]:40s} {r['sessions']:8d} {r['nodes']:5d} {r['warm_s']:7.3f} {r['eval_cold_s']:9.4f} "
              f"{r['eval_warm_s']:9.4f} {r['ref_ratio']:7.1f} | {tail}", flush=True)
    warm_s = [r["warm_s"] for r in rows]
    over = [r["name"] for r in rows if r["warm_s"] > 0.05]
    print(f"corpus: {len(rows)} symphonies; warm backtest total {sum(warm_s):.2f} CPU s, median "
          f"{np.median(warm_s):.3f}, worst {max(warm_s):.3f} (target <= 0.05 s: {len(rows) - len(over)}/{len(rows)} "
          f"within{'; over: ' + ', '.join(over) if over else ''}); ref/vec min "
          f"{min(r['ref_ratio'] for r in rows):.1f}x median {np.median([r['ref_ratio'] for r in rows]):.1f}x; "
          f"peak RSS of the warm process {warm['maxrss_mib']:.0f} MiB")
    if cold:
        tot = [c["total_s"] for c in colds]
        print(f"cold processes: median {np.median(tot):.2f} CPU s, worst {max(tot):.2f} (target <= 2 s), of which "
              f"interpreter start {np.median([c['boot_s'] for c in colds]):.2f}, imports (NumPy, pandas, engine, warehouse) "
              f"{np.median([c['imports_s'] for c in colds]):.2f}, kernel load "
              f"{np.median([c['kernel_s'] for c in colds]):.2f}, price load {np.median([c['load_s'] for c in colds]):.2f}"
              f", first backtest {np.median([c['backtest_s'] for c in colds]):.3f} (medians); peak RSS max "
              f"{max(c['maxrss_mib'] for c in colds):.0f} MiB")
    print()


def floor_figures() -> None:
    """Part 5: the floor kernel against the engine (a child process)."""
    lines, r = _child([str(Path(__file__)), "--only", "floor"])
    print(f"floor kernel (scripts/floor_kernel.py, sector_surfing_rsi_bottom2, {int(r['sessions'])} sessions, NumPy + "
          f"TA-Lib, zero cost): {r['floor_s'] * 1e3:.2f} ms CPU; ours warm {r['ours_zero_cost_s'] * 1e3:.1f} ms at zero "
          f"cost = {r['ratio_zero_cost']:.1f}x the floor, {r['ours_default_costs_s'] * 1e3:.1f} ms at 1 bp + fees = "
          f"{r['ratio_default_costs']:.1f}x; zero-cost NAV max relative difference {r['max_rel_nav_diff']:.1e}; "
          f"peak RSS {r['maxrss_mib']:.0f} MiB")
    print()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-sample", type=int, default=20, help="sessions timed with the reference evaluator")
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--per-account", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the evaluations part (the best is printed)")
    ap.add_argument("--only", choices=("parse", "bundle", "compile", "backtests", "floor", "evaluations"),
                    help="run one part in this process")
    ap.add_argument("--skip-cold", action="store_true", help="no cold process per symphony")
    args = ap.parse_args()
    boot = time.process_time()

    if args.only == "evaluations":
        have = available_tickers()
        evaluation_figures([r for _, r in load_all() if tickers(r) <= have], args.accounts * args.per_account,
                           args.repeat, boot=boot)
        return 0
    if args.only == "backtests":
        _mark({"rows": backtest_rows(args.ref_sample), "maxrss_mib": _self_rss()})
        return 0
    if args.only == "floor":
        from scripts.floor_kernel import compare

        _mark({**compare(START), "maxrss_mib": _self_rss()})
        return 0
    if args.only == "compile":
        compile_figures()
        return 0
    if args.only in ("parse", "bundle"):
        (parse_figures if args.only == "parse" else bundle_figures)()
        return 0

    parse_figures()
    bundle_figures()
    compile_figures()
    have = available_tickers()
    syms = load_all()
    missing = [(p, sorted(tickers(r) - have)) for p, r in syms if not tickers(r) <= have]
    print(f"symphonies: {len(syms)} distinct parsed, {len(syms) - len(missing)} with all tickers bundled, "
          f"{len(missing)} without")
    for p, m in missing:
        print(f"  not bundled: {p.name}: {', '.join(m)}")
    print()
    backtest_figures(args.ref_sample, cold=not args.skip_cold)
    floor_figures()
    lines, _ = _child([str(Path(__file__)), "--only", "evaluations", "--accounts", str(args.accounts),
                       "--per-account", str(args.per_account), "--repeat", str(args.repeat)])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
