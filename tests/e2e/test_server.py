"""`run_census_sync` served as a deployment on a real Prefect server."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import REPO_ROOT, LoggedProcess, PrefectServer, token_forms
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from prefect_census import CensusCredentials
from prefect_census.emulator import CensusEmulator, RunPlan

pytestmark = pytest.mark.e2e

DEPLOYMENT_NAME = "e2e-served"
FLOW_NAME = "Run Census sync"
# The serving process starts, registers the deployment and polls for runs.
DEPLOYMENT_TIMEOUT_SECONDS = 90.0
# A run waits for a subprocess to start, then polls Census every 5 s at least.
FLOW_RUN_TIMEOUT_SECONDS = 180.0
LOG_TIMEOUT_SECONDS = 30.0


class ServedFlow:
    """The serving process and where its flow runs keep their results."""

    def __init__(self, process: LoggedProcess, results: Path) -> None:
        self.process = process
        self.results = results

    def result_bytes(self) -> bytes:
        """Return the contents of every persisted result file."""
        paths = sorted(path for path in self.results.rglob("*") if path.is_file())

        return b"".join(path.read_bytes() for path in paths)


@pytest.fixture(scope="module")
def served_flow(prefect_server, tmp_path_factory):
    """Serve `run_census_sync` from a subprocess and wait for its deployment."""
    directory = tmp_path_factory.mktemp("serve")
    results = directory / "results"
    env = prefect_server.client_env(
        home=directory / "home",
        PREFECT_RESULTS_PERSIST_BY_DEFAULT="true",
        PREFECT_LOCAL_STORAGE_PATH=str(results),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.5",
        # DEBUG output makes the token check cover every poll and request line.
        PREFECT_LOGGING_LEVEL="DEBUG",
    )
    script = Path(__file__).with_name("serve_run_census_sync.py")
    process = LoggedProcess(
        [sys.executable, str(script), DEPLOYMENT_NAME],
        env,
        directory / "serve.log",
        cwd=REPO_ROOT,
    )
    try:
        _wait_for_deployment(prefect_server, process)
        yield ServedFlow(process, results)
    finally:
        process.stop()


def _wait_for_deployment(server: PrefectServer, process: LoggedProcess) -> None:
    deadline = time.monotonic() + DEPLOYMENT_TIMEOUT_SECONDS
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                process.check_running()
                try:
                    client.read_deployment_by_name(f"{FLOW_NAME}/{DEPLOYMENT_NAME}")
                except ObjectNotFound:
                    time.sleep(0.5)
                    continue

                return

    msg = (
        f"deployment {DEPLOYMENT_NAME!r} did not appear within "
        f"{DEPLOYMENT_TIMEOUT_SECONDS:.0f} s; output:\n{process.log_text()}"
    )
    raise TimeoutError(msg)


@pytest.fixture(scope="module")
def census() -> Iterator[CensusEmulator]:
    """Yield a Census emulator in the test process, shared by the module's tests."""
    with CensusEmulator() as emulator:
        yield emulator


def _run_deployment_with_block(
    census: CensusEmulator, plan: RunPlan, block: str
) -> tuple[int, FlowRun]:
    """Save a block for a new sync, run the deployment with it, and wait."""
    sync_id = census.add_sync(plan)
    credentials = CensusCredentials(api_trigger=census.trigger_url(sync_id))
    block_document_id = credentials.save(block, overwrite=True)

    flow_run = run_deployment(
        f"{FLOW_NAME}/{DEPLOYMENT_NAME}",
        parameters={
            "credentials": {"$ref": {"block_document_id": str(block_document_id)}},
            "poll_status_every_n_seconds": 5,
        },
        timeout=FLOW_RUN_TIMEOUT_SECONDS,
        poll_interval=1,
    )

    return sync_id, flow_run


def _flow_run_logs(flow_run: FlowRun, expected_start: str) -> list[str]:
    """Return the run's log messages once one of them starts with `expected_start`.

    The flow-run process sends its logs in batches and the last batch when it
    exits, which can be after the API already reports the final state.
    """
    deadline = time.monotonic() + LOG_TIMEOUT_SECONDS
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id]))
    with get_client(sync_client=True) as client:
        while True:
            messages = [log.message for log in client.read_logs(log_filter=log_filter)]
            found = any(message.startswith(expected_start) for message in messages)
            if found or time.monotonic() > deadline:
                return messages
            time.sleep(0.5)


def _flow_run_artifacts(flow_run: FlowRun) -> dict:
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])
            )
        )

    return {artifact.key: artifact for artifact in artifacts}


def _assert_token_absent(
    token: str, server: PrefectServer, served_flow: ServedFlow, block: str
) -> None:
    """Check the server's database and every log and result file for the token."""
    files = {
        "database": server.database_bytes(),
        "server log": server.process.log_path.read_bytes(),
        "serve log": served_flow.process.log_path.read_bytes(),
        "results": served_flow.result_bytes(),
    }
    # The files hold what the run wrote, so the checks below are not vacuous.
    assert block.encode() in files["database"]
    assert b"Check out the dashboard" in files["server log"]
    assert b"Triggered Census sync" in files["serve log"]
    assert files["results"]

    for form in token_forms(token):
        for name, contents in files.items():
            assert form.encode() not in contents, f"token found in {name}"


def test_block_register_lists_census_credentials(block_registration):
    """`prefect block register -m prefect_census` registers the block type."""
    assert block_registration.returncode == 0, block_registration.stderr
    assert "Census Credentials" in block_registration.stdout


def test_served_run_completes(server_api, served_flow, census):
    """A deployment run with a saved block completes and returns the run's data."""
    plan = RunPlan(
        queued_seconds=0.5,
        working_seconds=1.0,
        source_record_count=120,
        records_processed=120,
        records_updated=117,
        records_failed=3,
    )

    sync_id, flow_run = _run_deployment_with_block(census, plan, "e2e-completed")

    assert flow_run.state.type == StateType.COMPLETED, flow_run.state.message
    assert census.trigger_count(sync_id) == 1
    (sync_run_id,) = census.runs(sync_id)

    result = flow_run.state.result()
    assert result == census.run_data(sync_run_id)
    assert result["status"] == "completed"
    assert result["records_processed"] == 120
    assert result["records_updated"] == 117
    assert result["records_failed"] == 3
    assert result["records_invalid"] == 0

    summary_line = (
        f"Census sync run {sync_run_id} of sync {sync_id} ended with status "
        "completed after "
    )
    counts = ": 120 records processed, 117 updated, 3 failed, 0 invalid."
    messages = _flow_run_logs(flow_run, summary_line)
    ends = [message for message in messages if message.startswith(summary_line)]
    assert len(ends) == 1, messages
    assert ends[0].endswith(counts)

    artifacts = _flow_run_artifacts(flow_run)
    summary = artifacts.get(f"census-sync-{sync_id}")
    assert summary is not None, f"artifact keys: {sorted(map(str, artifacts))}"
    assert summary.type == "markdown"
    assert "| Records updated | 117 |" in summary.data

    _assert_token_absent(census.token, server_api, served_flow, "e2e-completed")


def test_served_failed_sync_fails_run(server_api, served_flow, census):
    """A sync run that fails in Census fails the deployment's flow run."""
    plan = RunPlan(queued_seconds=0.5, working_seconds=1.0, final_status="failed")

    sync_id, flow_run = _run_deployment_with_block(census, plan, "e2e-failed")

    assert flow_run.state.type == StateType.FAILED
    assert census.trigger_count(sync_id) == 1
    (sync_run_id,) = census.runs(sync_id)
    failure = (
        f"Census sync run {sync_run_id} of sync {sync_id} failed with error "
        "sync_failed: The destination rejected the batch."
    )
    assert failure in flow_run.state.message
    assert f"census-sync-{sync_id}" in _flow_run_artifacts(flow_run)

    _assert_token_absent(census.token, server_api, served_flow, "e2e-failed")
