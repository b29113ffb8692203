"""The one registration path (warehouse.repos.symphonies) and the account scope, on DuckDB and Postgres."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from warehouse import ActivationLimitError, Warehouse
from warehouse.repos import symphonies as repo
from warehouse.repos import tenant
from warehouse.scope import ALL_ACCOUNTS, AccountScope, require_scope

ROOT = Path(__file__).resolve().parents[2]
SURF = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"


def _kw(sid: str) -> dict:
    return {"symphony_id": sid, "name": "Sector Surfing", "source_format": "defsymphony",
            "source_text": SURF.read_text(), "parsed_json": "{}", "rebalance": "daily"}


def test_scope_is_required_and_an_empty_scope_sees_nothing(seeded: Warehouse) -> None:
    with pytest.raises(TypeError, match="AccountScope is required"):
        require_scope(None)
    with pytest.raises(TypeError):
        tenant.read(seeded, "symphonies", "acct-a")          # a bare id is not a scope
    assert tenant.read(seeded, "symphonies", AccountScope.only()).empty
    assert sorted(tenant.read(seeded, "symphonies", AccountScope.only("acct-b"))["symphony_id"]) == ["sym-b1"]
    assert len(tenant.read(seeded, "symphonies", ALL_ACCOUNTS)) == 3
    both = tenant.read(seeded, "symphonies", AccountScope.only("acct-a", "acct-b"))
    assert sorted(both["symphony_id"]) == ["sym-a1", "sym-a2", "sym-b1"]
    with pytest.raises(ValueError, match="not tenant data"):
        tenant.read(seeded, "daily_bars", ALL_ACCOUNTS)


def test_register_ownership_limit_and_status(wh: Warehouse) -> None:
    repo.ensure_account(wh, "acct-a", "Alice")
    repo.ensure_account(wh, "acct-b")
    repo.ensure_account(wh, "acct-a", "renamed")           # existing account left as it is
    assert wh.read("accounts", where={"account_id": "acct-a"})["name"].tolist() == ["Alice"]
    wh.upsert("accounts", pd.DataFrame({"account_id": ["acct-a"], "name": ["Alice"], "max_active_symphonies": [2]}))

    assert repo.register(wh, "acct-a", **_kw("s1")).status == "active"          # 1/2
    first = wh.read("symphonies", where={"symphony_id": "s1"})["created_at"].iloc[0]
    assert repo.register(wh, "acct-a", **_kw("s2")).status == "active"          # 2/2
    third = repo.register(wh, "acct-a", **_kw("s3"))
    assert (third.status, third.at_limit) == ("inactive", True)                 # at 2/2
    again = repo.register(wh, "acct-a", **_kw("s1"))                            # re-registering keeps its slot
    assert again.status == "active"
    assert wh.read("symphonies", where={"symphony_id": "s1"})["created_at"].iloc[0] == first
    assert repo.register(wh, "acct-a", **_kw("s4"), activate=False).status == "inactive"

    with pytest.raises(repo.OwnershipError, match="belongs to another account"):
        repo.register(wh, "acct-b", **_kw("s1"))                                # never moved across tenants
    assert wh.read("symphonies", where={"symphony_id": "s1"})["account_id"].tolist() == ["acct-a"]
    with pytest.raises(LookupError, match="unknown account"):
        repo.register(wh, "nobody", **_kw("x"))

    with pytest.raises(ActivationLimitError, match="2/2"):
        repo.set_status(wh, "s3", "active", AccountScope.only("acct-a"))
    with pytest.raises(LookupError, match="in acct-b"):
        repo.set_status(wh, "s1", "inactive", AccountScope.only("acct-b"))     # another account's symphony
    repo.set_status(wh, "s1", "inactive", AccountScope.only("acct-a"))
    repo.set_status(wh, "s3", "active", ALL_ACCOUNTS)                          # an operator
    counts = repo.active_counts(wh, AccountScope.only("acct-a"))
    assert counts[["account_id", "active", "max_active_symphonies"]].values.tolist() == [["acct-a", 2, 2]]
    assert sorted(repo.active(wh, AccountScope.only("acct-a"))["symphony_id"]) == ["s2", "s3"]
    assert repo.active(wh, AccountScope.only("acct-b")).empty


def test_slug_and_proposed_ids(wh: Warehouse) -> None:
    assert repo.slug("Sector Surfing!") == "sector-surfing"
    assert repo.slug("TQQQ_FTLT v2.2.6") == "tqqq-ftlt-v2-2-6"
    assert repo.slug("!!!") == "symphony"
    repo.ensure_account(wh, "acct-a")
    repo.ensure_account(wh, "acct-b")
    repo.register(wh, "acct-a", **_kw("sector-surfing"))
    assert repo.propose_id(wh, "Sector Surfing!", "acct-a") == "sector-surfing"        # own id: replaced
    assert repo.propose_id(wh, "Sector Surfing!", "acct-b") == "sector-surfing-acct-b"  # taken elsewhere
    assert repo.propose_id(wh, "new one", "acct-b") == "new-one"


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORAGAMI_WAREHOUSE_URL": f"duckdb:///{db}"}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_seed_through_the_cli_refuses_another_accounts_id_and_respects_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = []
    for name in ("alpha", "beta", "gamma"):
        f = tmp_path / f"{name}.clj"
        f.write_text('(defsymphony "%s" {:rebalance-frequency :daily} (weight-equal [(asset "SPY")]))' % name)
        files.append(str(f))
    ok = _cli("seed", files[0], "--account", "alice", db=db)
    assert ok.returncode == 0, ok.stderr
    assert "registered 1 symphonies for account alice: alpha" in ok.stdout
    stolen = _cli("seed", files[0], "--account", "bob", db=db)
    assert stolen.returncode == 2
    assert "symphony id 'alpha' belongs to another account" in stolen.stderr
    assert "Traceback" not in stolen.stderr
    with Warehouse(f"duckdb:///{db}") as wh:
        assert wh.read("symphonies")[["symphony_id", "account_id"]].values.tolist() == [["alpha", "alice"]]
        wh.upsert("accounts", pd.DataFrame({"account_id": ["alice"], "max_active_symphonies": [2]}))
    limited = _cli("seed", *files, "--account", "alice", db=db)
    assert limited.returncode == 0, limited.stderr
    assert "gamma registered inactive" in limited.stderr
    with Warehouse(f"duckdb:///{db}") as wh:
        status = dict(wh.read("symphonies")[["symphony_id", "status"]].values.tolist())
    assert status == {"alpha": "active", "beta": "active", "gamma": "inactive"}


def test_register_many_is_all_or_nothing(wh: Warehouse) -> None:
    repo.ensure_account(wh, "acct-a")
    repo.ensure_account(wh, "acct-b")
    repo.register(wh, "acct-b", **_kw("taken"))
    with pytest.raises(repo.OwnershipError, match="'taken' belongs to another account"):
        repo.register_many(wh, "acct-a", [_kw("fresh-1"), _kw("taken"), _kw("fresh-2")])
    assert wh.read("symphonies")[["symphony_id", "account_id"]].values.tolist() == [["taken", "acct-b"]]
    regs = repo.register_many(wh, "acct-a", [_kw("fresh-1"), _kw("fresh-2")])
    assert [(r.symphony_id, r.status) for r in regs] == [("fresh-1", "active"), ("fresh-2", "active")]
