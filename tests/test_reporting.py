"""Progress while a sync runs: step lines in the logs, a progress bar, a summary."""

from __future__ import annotations

import asyncio
import re

import prefect.artifacts
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from prefect_census import run_census_sync
from prefect_census._compat import has_progress_artifacts
from prefect_census._reporting import SYNC_STEPS, progress_percent
from prefect_census.emulator import SYNC_STEPS as EMULATOR_STEPS
from prefect_census.emulator import RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")


def _step_lines(records, run_id):
    """Return the run's step lines with the elapsed time and counters cut off."""
    prefix = f"Census sync run {run_id} is "

    return [
        re.sub(r" \(\d+ s elapsed.*\)\.$", "", record.getMessage())[len(prefix) :]
        for record in records
        if record.getMessage().startswith(prefix)
    ]


def _artifacts(key, state):
    """Return the artifacts with `key` made by the flow run that ended in `state`."""

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )

    flow_run_id = state.state_details.flow_run_id

    return [item for item in asyncio.run(read()) if item.flow_run_id == flow_run_id]


def test_step_list_matches_emulator():
    """The package's step order is the one the emulator plays."""
    assert SYNC_STEPS == EMULATOR_STEPS


def test_step_lines_in_order(census_emulator, credentials_for, census_logs):
    """Each status and step change is logged once, in the order Census reports."""
    plan = RunPlan(queued_seconds=0.5, working_seconds=3.0)
    sync_id = census_emulator.add_sync(plan=plan)

    run_census_sync(credentials_for(sync_id), poll_status_every_n_seconds=0.1)

    run_id = census_emulator.runs(sync_id)[0]
    assert _step_lines(census_logs.records, run_id) == [
        "queued",
        *(f"working, {step}" for step in SYNC_STEPS),
    ]


def test_long_step_logged_once(census_emulator, credentials_for, census_logs):
    """A step that lasts many polls gives one line, not one per poll."""
    step = "Loading data into destination service"
    plan = RunPlan(working_seconds=1.5, steps=(step,))
    sync_id = census_emulator.add_sync(plan=plan)

    run_census_sync(credentials_for(sync_id), poll_status_every_n_seconds=0.1)

    run_id = census_emulator.runs(sync_id)[0]
    assert census_emulator.status_request_count(run_id) > 5
    assert _step_lines(census_logs.records, run_id) == [f"working, {step}"]


def test_step_line_carries_counters(census_emulator, credentials_for, census_logs):
    """Once the record counters move, the step line reports them."""
    plan = RunPlan(
        working_seconds=1.2,
        steps=("Querying source", "Loading data into destination service"),
        source_record_count=400,
        records_processed=400,
        records_updated=400,
    )
    sync_id = census_emulator.add_sync(plan=plan)

    run_census_sync(credentials_for(sync_id), poll_status_every_n_seconds=0.1)

    run_id = census_emulator.runs(sync_id)[0]
    loading = [
        record.getMessage()
        for record in census_logs.records
        if record.getMessage().startswith(
            f"Census sync run {run_id} is working, Loading data"
        )
    ]
    assert len(loading) == 1
    counters = r"; \d+ of 400 records processed, \d+ updated, 0 failed\)\.$"
    assert re.search(counters, loading[0])


def test_progress_from_counters():
    """Record counters give the fraction processed."""
    run = {"status": "working", "records_processed": 30, "source_record_count": 120}

    assert progress_percent(run) == 25.0


def test_progress_from_step():
    """Without counters, the step's position gives the fraction."""
    run = {"status": "working", "current_step": "Unloading data from warehouse"}

    assert progress_percent(run) == pytest.approx(100 * 2 / 6)


def test_progress_complete():
    """A completed run is at 100 percent."""
    assert progress_percent({"status": "completed", "canceled": False}) == 100.0


def test_progress_unknown_step():
    """An unknown step without counters gives no figure."""
    assert progress_percent({"status": "working", "current_step": "Thinking"}) is None


@pytest.mark.skipif(not has_progress_artifacts(), reason="no progress artifacts")
def test_progress_artifact_rises_to_100(census_emulator, credentials_for, monkeypatch):
    """The progress artifact only rises and ends at 100 for a completed run."""
    sent = []
    create = prefect.artifacts.create_progress_artifact
    update = prefect.artifacts.update_progress_artifact

    def record_create(progress, **kwargs):
        sent.append(progress)
        return create(progress, **kwargs)

    def record_update(artifact_id, progress, **kwargs):
        sent.append(progress)
        return update(artifact_id, progress, **kwargs)

    monkeypatch.setattr(prefect.artifacts, "create_progress_artifact", record_create)
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", record_update)
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=2.0))

    state = run_census_sync(
        credentials_for(sync_id), poll_status_every_n_seconds=0.1, return_state=True
    )

    stored = _artifacts(f"census-sync-{sync_id}-progress", state)
    assert len(sent) >= 3
    assert sent == sorted(set(sent))
    assert sent[-1] == 100.0
    assert [artifact.data for artifact in stored] == [100.0]


def test_summary_artifact(census_emulator, credentials_for):
    """A finished run leaves a Markdown summary keyed by its sync."""
    plan = RunPlan(queued_seconds=0.1, working_seconds=0.3, records_updated=117)
    sync_id = census_emulator.add_sync(plan=plan)
    credentials = credentials_for(sync_id)

    state = run_census_sync(credentials, return_state=True)

    run_id = census_emulator.runs(sync_id)[0]
    [artifact] = _artifacts(f"census-sync-{sync_id}", state)
    assert artifact.type == "markdown"
    assert "| Status | completed |" in artifact.data
    assert f"| Sync run | {run_id} |" in artifact.data
    assert "| Records updated | 117 |" in artifact.data
    assert f"| History | [{credentials.history_url}]({credentials.history_url}) |" in (
        artifact.data
    )


def test_summary_artifact_for_failure(census_emulator, credentials_for):
    """A failed run's summary shows the failure and Census's error."""
    plan = RunPlan(queued_seconds=0.1, working_seconds=0.3, final_status="failed")
    sync_id = census_emulator.add_sync(plan=plan)

    state = run_census_sync(credentials_for(sync_id), return_state=True)

    [artifact] = _artifacts(f"census-sync-{sync_id}", state)
    assert state.is_failed()
    assert "| Status | failed |" in artifact.data
    assert (
        "| Error | sync_failed: The destination rejected the batch. |" in artifact.data
    )
