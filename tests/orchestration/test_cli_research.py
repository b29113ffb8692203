"""``oragami research`` through the CLI's door (:func:`orchestration.cli.main`)."""
from __future__ import annotations

import json

import dagster as dg
import pytest

from engine.oos import split_stats
from orchestration.cli import main
from pipelines.research import STUDY_PARTITIONS
from tests.orchestration.test_research import ROOT, SECTOR, direct

GOLDEN = ROOT / "symphonies" / "golden_rotation_2x.clj"


def test_oos_prints_the_three_segments(capsys):
    rc = main(["research", "oos", str(SECTOR), "--start", "2024-01-02", "--end", "2024-06-21",
               "--oos-start", "2024-04-01"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    ref = direct(SECTOR)
    frame = split_stats(ref.nav, "2024-04-01", 10_000.0, ref.benchmark_nav)
    want = frame[(frame["segment"] == "out_of_sample") & (frame["series"] == "strategy")].set_index("stat")["value"]
    assert out["out_of_sample"]["strategy"]["start"] == "2024-04-01"
    assert out["out_of_sample"]["strategy"]["sharpe_ratio"] == pytest.approx(want["sharpe_ratio"], rel=1e-12)
    assert out["in_sample"]["benchmark"]["end"] == "2024-03-28"
    assert set(out) == {"symphony", "oos_start", "in_sample", "out_of_sample", "full"}


def test_walk_forward_json_and_files(capsys, tmp_path):
    rc = main(["research", "walk-forward", str(GOLDEN), "--param", "root/0/0:lhs_window=5,10",
               "--param", "root/0/0:rhs_window=50,100", "--start", "2016-01-04", "--end", "2019-12-31",
               "--is", "252", "--oos", "252", "--out", str(tmp_path)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["configurations"] == 4 and len(out["windows"]) == 3  # 1006 sessions: 252 IS, OOS 252/252/250
    assert out["windows"][0]["in_sample"].startswith("2016-01-04")
    assert out["overfitting"]["n_trials"] == 4 and 0 <= out["overfitting"]["pbo"] <= 1
    assert sum(f["chosen"] for f in out["stability"]["choice_frequency"]) == 6  # 3 windows x 2 parameters
    assert {p.name for p in tmp_path.iterdir()} == {"windows.csv", "configs.csv", "oos_curve.csv"}


def test_walk_forward_mistakes_exit_2(capsys):
    assert main(["research", "walk-forward", str(GOLDEN), "--param", "root/0/0:threshold=1"]) == 2
    assert "'threshold' at node 'root/0/0'" in capsys.readouterr().err
    assert main(["research", "walk-forward", str(GOLDEN), "--param", "root/0/0window=1"]) == 2
    assert "PATH:FIELD=V1,V2" in capsys.readouterr().err
    assert main(["research", "walk-forward", str(GOLDEN), "--param", "root/0/0:window=5", "--start", "2019-06-03",
                 "--end", "2019-12-31", "--is", "504"]) == 2
    assert "not enough" in capsys.readouterr().err


def test_add_study(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["research", "add-study", "rsi-windows"]) == 0
    assert main(["research", "add-study", "rsi-windows"]) == 0
    assert "already exists" in capsys.readouterr().out
    assert dg.DagsterInstance.get().get_dynamic_partitions(STUDY_PARTITIONS) == ["rsi-windows"]
    assert main(["research", "add-study", "a|b"]) == 2
