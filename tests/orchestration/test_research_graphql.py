"""The walk-forward launched the way the Dagster UI launches it: a ``dagster-webserver`` over the project's
``workspace.yaml``, the study and symphony partition keys added with the UI's ``addDynamicPartition`` GraphQL
mutation, and the run submitted over GraphQL (:class:`dagster_graphql.DagsterGraphQLClient`, the same
``launchRun`` the launchpad sends) with the partition tags of a symphony × study key; the run executes in its own
process (the default run launcher) and writes the study to the warehouse named by ``ORAGAMI_DUCKDB_PATH``."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

from orchestration.cli import seed_symphonies
from tests.orchestration.test_research_walkforward import GOLDEN, WF_CONFIG, _reference_walk_forward
from warehouse import AccountScope, Warehouse
from warehouse.repos import research as repo

ROOT = Path(__file__).resolve().parents[2]
SID, STUDY = "golden-rotation-2x", "gld-vol-windows"
REPO = {"repositoryLocationName": "oragami", "repositoryName": "__repository__"}
ADD_PARTITION = """
mutation Add($repositorySelector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $repositorySelector, partitionsDefName: $partitionsDefName,
                      partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionsDefName partitionKey }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""

pytestmark = pytest.mark.slow


@pytest.fixture
def webserver(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(f"duckdb:///{db}") as wh:
        wh.create_schema()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seed_symphonies(wh, [GOLDEN], "acct")
    home = tmp_path / "dagster_home"
    home.mkdir()
    # runs start at once in their own process (no daemon here to dequeue a queued run)
    (home / "dagster.yaml").write_text("run_coordinator:\n  module: dagster._core.run_coordinator\n"
                                       "  class: DefaultRunCoordinator\ntelemetry:\n  enabled: false\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORAGAMI_", "DAGSTER_"))}
    env.update(ORAGAMI_DUCKDB_PATH=str(db), DAGSTER_HOME=str(home))
    exe = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen([str(exe), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("dagster-webserver did not start within 240 s")
    yield port, db
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_walk_forward_launched_over_graphql(webserver):
    from dagster_graphql import DagsterGraphQLClient

    port, db = webserver
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=120)
    for name, key in (("symphonies", SID), ("research_studies", STUDY)):  # the UI's "Add partition"
        for _ in range(30):  # the code location may still be loading
            answer = client._execute(ADD_PARTITION, {"repositorySelector": REPO, "partitionsDefName": name,
                                                     "partitionKey": key})["addDynamicPartition"]
            if answer["__typename"] == "AddDynamicPartitionSuccess":
                break
            time.sleep(2)
        assert answer["__typename"] == "AddDynamicPartitionSuccess", answer
    run_id = client.submit_job_execution(
        "walk_forward_job", repository_location_name="oragami", repository_name="__repository__",
        run_config={"ops": {"walk_forward_study": {"config": WF_CONFIG}}},
        tags={"dagster/partition": f"{STUDY}|{SID}", "dagster/partition/study": STUDY,
              "dagster/partition/symphony": SID})
    deadline = time.time() + 300
    status = None
    while time.time() < deadline:
        status = client.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", f"run {run_id} ended {status}"
    grid, wf = _reference_walk_forward()
    with Warehouse(f"duckdb:///{db}", read_only=True) as wh:
        windows = repo.study_windows(wh, AccountScope.only("acct"), SID, STUDY)
        study = repo.studies(wh, AccountScope.only("acct"), SID).iloc[0]
    assert windows["config_idx"].tolist() == wf.windows["config_idx"].tolist() and len(windows) == 6
    np.testing.assert_allclose(windows["oos_return"], wf.windows["oos_return"], rtol=1e-12)
    assert study["oos_sharpe"] == pytest.approx(wf.oos_stats["sharpe_ratio"], rel=1e-12)
    assert study["n_configs"] == 9
