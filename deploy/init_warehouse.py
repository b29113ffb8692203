"""One-shot init step of the deployment (the ``init`` service of docker-compose.yml).

Creates the warehouse schema on ``ORAGAMI_WAREHOUSE_URL`` (idempotent), then the dashboard's admin user (role
``admin``: users, accounts, risk gates, everything) named ``ORAGAMI_ADMIN_USER`` (default ``admin``) with the
password ``ORAGAMI_ADMIN_PASSWORD`` (required; never printed) — and, with ``ORAGAMI_SEED_DEMO=1``, the demo account's symphonies and its analyst ``demo``
(``ORAGAMI_DEMO_PASSWORD``, default ``oragami-demo``). Safe to run on every ``docker compose up``: users are replaced,
symphonies re-registered under the same ids.

    python -m deploy.init_warehouse
"""
from __future__ import annotations

import os
import sys


def main() -> int:
    from dashboards.auth import create_user
    from orchestration.cli import DEMO_ACCOUNT, DEMO_SYMPHONIES, SYMPHONY_DIR, seed_symphonies
    from warehouse import Warehouse

    password = os.environ.get("ORAGAMI_ADMIN_PASSWORD")
    if not password:
        print("init: set ORAGAMI_ADMIN_PASSWORD (the dashboard admin's password)", file=sys.stderr)
        return 2
    wh = Warehouse.from_settings()
    try:
        wh.create_schema()
        admin = os.environ.get("ORAGAMI_ADMIN_USER", "admin")
        create_user(wh, admin, password, "admin")
        print(f"init: schema ready on {wh.safe_url}; admin '{admin}' stored")
        if os.environ.get("ORAGAMI_SEED_DEMO") == "1":
            ids = seed_symphonies(wh, [SYMPHONY_DIR / n for n in DEMO_SYMPHONIES], DEMO_ACCOUNT, "Demo account")
            create_user(wh, DEMO_ACCOUNT, os.environ.get("ORAGAMI_DEMO_PASSWORD", "oragami-demo"), "analyst",
                        DEMO_ACCOUNT, is_demo=True)   # published password: accepted on a loopback address only
            print(f"init: demo account '{DEMO_ACCOUNT}' with {len(ids)} symphonies and its analyst '{DEMO_ACCOUNT}'")
    finally:
        wh.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
