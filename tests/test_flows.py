"""The packaged flow and the tasks, run through real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prefect import flow

from prefect_census import (
    CensusSyncCancelled,
    CensusSyncFailed,
    CensusSyncSkipped,
    CensusSyncTimeout,
    CensusUnknownSyncStatus,
    get_census_sync_run,
    run_census_sync,
    trigger_census_sync,
    wait_for_census_sync_run,
)
from prefect_census.emulator import RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")

QUICK = {"queued_seconds": 0.1, "working_seconds": 0.3}


def test_completed_run_returns_data(census_emulator, credentials_for):
    """A completed run returns Census's whole data object."""
    plan = RunPlan(
        **QUICK,
        records_processed=120,
        records_updated=117,
        records_failed=2,
        records_invalid=1,
    )
    sync_id = census_emulator.add_sync(plan=plan)

    run = run_census_sync(credentials_for(sync_id))

    run_id = census_emulator.runs(sync_id)[0]
    assert run == census_emulator.run_data(run_id)
    assert run["status"] == "completed"
    assert run["records_processed"] == 120
    assert run["records_updated"] == 117
    assert run["records_failed"] == 2
    assert run["records_invalid"] == 1
    assert run["error_message"] is None


def test_completed_run_triggers_once(census_emulator, credentials_for):
    """One flow call starts exactly one sync run."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK))

    run_census_sync(credentials_for(sync_id))

    assert census_emulator.trigger_count(sync_id) == 1


def test_failed_run_raises(census_emulator, credentials_for):
    """A failed run raises CensusSyncFailed with Census's error fields."""
    plan = RunPlan(
        **QUICK,
        final_status="failed",
        error_code="destination_error",
        error_message="Salesforce rejected the batch",
        error_detail="INVALID_FIELD: Email",
    )
    sync_id = census_emulator.add_sync(plan=plan)
    credentials = credentials_for(sync_id)

    with pytest.raises(CensusSyncFailed) as caught:
        run_census_sync(credentials)

    run_id = census_emulator.runs(sync_id)[0]
    assert str(caught.value) == (
        f"Census sync run {run_id} of sync {sync_id} failed with error "
        f"destination_error: Salesforce rejected the batch. Detail: "
        f"INVALID_FIELD: Email. See {credentials.history_url}"
    )
    assert caught.value.sync_id == sync_id
    assert caught.value.sync_run_id == run_id
    assert caught.value.error_code == "destination_error"


def test_failed_run_fails_flow_run(census_emulator, credentials_for):
    """The Prefect flow run of a failed sync run ends Failed."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, final_status="failed"))

    state = run_census_sync(credentials_for(sync_id), return_state=True)

    assert state.is_failed()


def test_skipped_run_raises(census_emulator, credentials_for):
    """A skipped run raises CensusSyncSkipped, not success."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, final_status="skipped"))

    with pytest.raises(CensusSyncSkipped) as caught:
        run_census_sync(credentials_for(sync_id))

    assert caught.value.status == "skipped"


def test_cancelled_run_raises(census_emulator, credentials_for):
    """A completed run with canceled true raises CensusSyncCancelled."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, final_status="cancelled"))

    with pytest.raises(CensusSyncCancelled) as caught:
        run_census_sync(credentials_for(sync_id))

    assert caught.value.run["canceled"] is True
    assert caught.value.status == "completed"


def test_unknown_status_raises(census_emulator, credentials_for):
    """A status outside the contract raises an error that names it."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, final_status="paused"))

    with pytest.raises(CensusUnknownSyncStatus) as caught:
        run_census_sync(credentials_for(sync_id))

    assert "Census reported status 'paused' for sync run" in str(caught.value)


def test_queued_run_keeps_waiting(census_emulator, credentials_for):
    """A queued run is waited on, not taken as finished."""
    plan = RunPlan(queued_seconds=0.6, working_seconds=0.2, records_updated=5)
    sync_id = census_emulator.add_sync(plan=plan)

    run = run_census_sync(credentials_for(sync_id))

    assert run["status"] == "completed"
    assert run["records_updated"] == 5


def test_time_limit_raises_timeout(census_emulator, credentials_for):
    """A run still queued at the time limit raises CensusSyncTimeout."""
    sync_id = census_emulator.add_sync(plan=RunPlan(queued_seconds=float("inf")))
    credentials = credentials_for(sync_id)

    with pytest.raises(CensusSyncTimeout) as caught:
        run_census_sync(credentials, max_wait_seconds=0.5)

    run_id = census_emulator.runs(sync_id)[0]
    assert str(caught.value) == (
        f"Census sync run {run_id} of sync {sync_id} had not finished after the "
        f"time limit of 0.5 s (max_wait_seconds); its last known status is queued. "
        f"The run goes on in Census: {credentials.history_url}"
    )
    assert census_emulator.run_data(run_id)["status"] == "queued"


def test_time_limit_cancels_when_asked(census_emulator, credentials_for):
    """With cancel_on_stop, the time limit cancels the run in Census."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=float("inf")))

    with pytest.raises(CensusSyncTimeout) as caught:
        run_census_sync(
            credentials_for(sync_id), max_wait_seconds=0.5, cancel_on_stop=True
        )

    run_id = census_emulator.runs(sync_id)[0]
    assert census_emulator.run_data(run_id)["canceled"] is True
    assert str(caught.value).endswith(
        "The run was cancelled in Census (cancel_on_stop=True)."
    )


def test_flow_awaited_from_async_flow(census_emulator, credentials_for):
    """An async parent flow awaits the packaged flow and gets the data."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=9))
    credentials = credentials_for(sync_id)

    @flow
    async def parent():
        return await run_census_sync(credentials)

    run = asyncio.run(parent())

    assert run["records_updated"] == 9
    assert census_emulator.trigger_count(sync_id) == 1


def test_flow_as_subflow_of_sync_flow(census_emulator, credentials_for):
    """A sync parent flow calls the packaged flow as a subflow."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=8))
    credentials = credentials_for(sync_id)

    @flow
    def parent():
        return run_census_sync(credentials)

    assert parent()["records_updated"] == 8
    assert census_emulator.trigger_count(sync_id) == 1


def test_tasks_in_async_flow(census_emulator, credentials_for):
    """The tasks work when called from an async flow."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=6))
    credentials = credentials_for(sync_id)

    @flow
    async def parent():
        run_id = trigger_census_sync(credentials)
        return wait_for_census_sync_run(credentials, run_id)

    assert asyncio.run(parent())["records_updated"] == 6
    assert census_emulator.trigger_count(sync_id) == 1


def test_get_run_twice_sends_two_requests(census_emulator, credentials_for):
    """Two status reads in one flow run make two requests, never a cached one."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=60))
    credentials = credentials_for(sync_id)

    @flow
    def parent():
        run_id = trigger_census_sync(credentials)
        first = get_census_sync_run(credentials, run_id)
        second = get_census_sync_run(credentials, run_id)
        return run_id, first, second

    run_id, first, second = parent()

    assert census_emulator.status_request_count(run_id) == 2
    assert first["status"] == "working"
    assert second["status"] == "working"


def test_trigger_log_line(census_emulator, credentials_for, census_logs):
    """The trigger logs the sync id, the run id and the history link at INFO."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK))
    credentials = credentials_for(sync_id)

    run_census_sync(credentials)

    run_id = census_emulator.runs(sync_id)[0]
    expected = (
        f"Triggered Census sync {sync_id}: sync run {run_id}. "
        f"History: {credentials.history_url}"
    )
    assert expected in [record.getMessage() for record in census_logs.records]


def test_final_log_line(census_emulator, credentials_for, census_logs):
    """The final status and record counts are logged at INFO."""
    plan = RunPlan(**QUICK, records_processed=12, records_updated=10, records_failed=2)
    sync_id = census_emulator.add_sync(plan=plan)

    run_census_sync(credentials_for(sync_id))

    run_id = census_emulator.runs(sync_id)[0]
    lines = [
        (record.levelno, record.getMessage())
        for record in census_logs.records
        if record.getMessage().startswith(f"Census sync run {run_id} of sync")
    ]
    assert len(lines) == 1
    assert lines[0][0] == logging.INFO
    assert lines[0][1].endswith(
        ": 12 records processed, 10 updated, 2 failed, 0 invalid."
    )
