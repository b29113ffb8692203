"""Benchmark of the replay (``make bench``): 252 sessions of the live path for the demo account's 6 symphonies.

On a fresh DuckDB warehouse seeded with the demo symphonies (:data:`orchestration.cli.DEMO_SYMPHONIES`), runs
:func:`pipelines.replay.replay_range` — bar ingestion, the close read, the session loop (targets → netted orders →
simulated fills → ledgers → NAV → statistics, decision traces included) and the one-transaction write — over the
252 sessions ending on the last bundled session, twice: cold (bars ingested from the bundle) and warm (bars already
stored; re-running the range replaces its rows). Prints wall and CPU seconds of each run and of each step, rows
written, and the process's peak memory (max RSS). Target (issue 12): ≤ 60 s for the 252 × 6 replay.

    .venv/bin/python scripts/bench_replay.py [--sessions N] [--no-traces]
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.calendar import sessions_in_range  # noqa: E402
from orchestration.cli import DEMO_ACCOUNT, DEMO_SYMPHONIES, SYMPHONY_DIR, seed_symphonies  # noqa: E402
from pipelines.replay import replay_range  # noqa: E402
from resources import BundledMarketData, SimulatedBroker  # noqa: E402
from warehouse import Warehouse  # noqa: E402
from warehouse.bundled import last_session  # noqa: E402

TARGET_S = 60.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=252, help="sessions to replay (default 252)")
    ap.add_argument("--no-traces", action="store_true", help="do not store decision traces")
    args = ap.parse_args(argv)
    last = last_session()
    days = sessions_in_range(last - dt.timedelta(days=2 * args.sessions), last)[-args.sessions:]
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(f"duckdb:///{Path(tmp) / 'bench.duckdb'}")
        wh.create_schema()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seed_symphonies(wh, [SYMPHONY_DIR / n for n in DEMO_SYMPHONIES], DEMO_ACCOUNT, "Demo account")
        costs = SimulatedBroker().cost_model()
        print(f"replay of {len(days)} sessions {days[0]}..{days[-1]} for the demo account "
              f"({len(DEMO_SYMPHONIES)} symphonies), DuckDB, traces {'off' if args.no_traces else 'on'}")
        worst = 0.0
        for label in ("cold (bars ingested)", "warm (bars stored, rows replaced)"):
            w0, c0 = time.perf_counter(), time.process_time()
            summary = replay_range(wh, BundledMarketData(), costs, days[0], days[-1], [DEMO_ACCOUNT],
                                   traces=not args.no_traces)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            worst = max(worst, wall)
            steps = ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
            print(f"  {label}: {wall:.1f} s wall, {cpu:.1f} s CPU ({steps}); {sum(summary.rows.values())} rows")
        wh.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"replay {len(days)} sessions × {len(DEMO_SYMPHONIES)} symphonies: worst {worst:.1f} s wall "
          f"(target ≤ {TARGET_S:.0f} s) — {'OK' if worst <= TARGET_S else 'OVER TARGET'}; peak memory (max RSS) "
          f"{rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
