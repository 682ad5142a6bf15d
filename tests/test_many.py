"""Several syncs at once, the sync check, and the job block."""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow

from prefect_census import (
    CensusSync,
    CensusSyncFailed,
    CensusSyncsFailed,
    CensusSyncSkipped,
    check_census_sync,
    run_census_sync_job,
    run_census_syncs,
)
from prefect_census.emulator import RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")


def test_many_syncs_in_order(census_emulator, credentials_for):
    """Every sync runs once and the data comes back in the order given."""
    sync_ids = [
        census_emulator.add_sync(
            plan=RunPlan(working_seconds=0.8 - 0.2 * index, records_updated=10 + index)
        )
        for index in range(4)
    ]

    runs = run_census_syncs([credentials_for(sync_id) for sync_id in sync_ids])

    assert [run["sync_id"] for run in runs] == sync_ids
    assert [run["records_updated"] for run in runs] == [10, 11, 12, 13]
    assert [census_emulator.trigger_count(sync_id) for sync_id in sync_ids] == [1] * 4


def test_many_syncs_name_every_failure(census_emulator, credentials_for):
    """Failures wait for the rest, then one error names every failed sync."""
    good = census_emulator.add_sync(plan=RunPlan(working_seconds=1.0))
    failed = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.2, final_status="failed")
    )
    skipped = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.2, final_status="skipped")
    )

    with pytest.raises(CensusSyncsFailed) as caught:
        run_census_syncs([credentials_for(s) for s in (good, failed, skipped)])

    error = caught.value
    assert [type(failure) for failure in error.failures] == [
        CensusSyncFailed,
        CensusSyncSkipped,
    ]
    assert [failure.sync_id for failure in error.failures] == [failed, skipped]
    assert error.runs[0]["status"] == "completed"
    assert error.runs[1:] == [None, None]
    assert str(error).startswith("2 of 3 Census syncs did not complete:\n- sync ")
    assert census_emulator.run_data(census_emulator.runs(good)[0])["status"] == (
        "completed"
    )


def test_many_syncs_run_concurrently(census_emulator, credentials_for):
    """Three runs of 1 s each overlap in time instead of running in turn."""
    sync_ids = [
        census_emulator.add_sync(plan=RunPlan(working_seconds=1.0)) for _ in range(3)
    ]

    run_census_syncs([credentials_for(sync_id) for sync_id in sync_ids])

    finishes = [
        census_emulator.finished_at(census_emulator.runs(s)[0]) for s in sync_ids
    ]
    assert max(finishes) - min(finishes) < 1.0


def test_check_sync_ready(census_emulator, credentials_for):
    """The check reports a working token, the label and no pause."""
    sync_id = census_emulator.add_sync(label="Accounts to Salesforce")

    @flow
    def check():
        return check_census_sync(credentials_for(sync_id))

    assert check() == {
        "sync_id": sync_id,
        "token_valid": True,
        "sync_exists": True,
        "label": "Accounts to Salesforce",
        "paused": False,
        "message": f"Sync {sync_id} (Accounts to Salesforce) is ready.",
    }
    assert census_emulator.trigger_count(sync_id) == 0


def test_check_sync_paused(census_emulator, credentials_for):
    """A paused sync is reported as paused."""
    sync_id = census_emulator.add_sync(label="Leads", paused=True)

    report = credentials_for(sync_id).check_sync()

    assert report["paused"] is True
    assert (
        report["message"] == f"Sync {sync_id} (Leads) is ready, but paused in Census."
    )


def test_check_sync_bad_token(census_emulator):
    """A wrong token is reported, not raised."""
    from prefect_census import CensusCredentials

    sync_id = census_emulator.add_sync()
    url = census_emulator.trigger_url(sync_id).replace(
        census_emulator.token, "nope1234"
    )

    report = CensusCredentials(api_trigger=url).check_sync()

    assert report["token_valid"] is False
    assert report["sync_exists"] is None


def test_check_sync_unknown_sync(census_emulator):
    """A sync id the workspace lacks is reported as missing."""
    from prefect_census import CensusCredentials

    census_emulator.add_sync()
    url = census_emulator.trigger_url(1).replace("/syncs/1/", "/syncs/77/")

    report = CensusCredentials(api_trigger=url).check_sync()

    assert report["token_valid"] is True
    assert report["sync_exists"] is False


def test_check_sync_async(census_emulator, credentials_for):
    """Async callers await the check."""
    sync_id = census_emulator.add_sync(label="Async")
    credentials = credentials_for(sync_id)

    async def main():
        return await credentials.check_sync()

    assert asyncio.run(main())["label"] == "Async"


def test_job_block_sync_calls(census_emulator, credentials_for):
    """trigger, wait_for_completion and fetch_result work for sync callers."""
    sync_id = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.3, records_updated=31)
    )
    job = CensusSync(
        credentials=credentials_for(sync_id), poll_status_every_n_seconds=5
    )

    run = job.trigger()
    run.wait_for_completion()

    assert run.fetch_result()["records_updated"] == 31
    assert run.sync_run_id == census_emulator.runs(sync_id)[0]


def test_job_block_async_calls(census_emulator, credentials_for):
    """The same calls are awaitable for async callers."""
    sync_id = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.3, records_updated=32)
    )
    job = CensusSync(credentials=credentials_for(sync_id))

    async def main():
        run = await job.trigger()
        await run.wait_for_completion()
        return await run.fetch_result()

    assert asyncio.run(main())["records_updated"] == 32


def test_job_block_failure_raises(census_emulator, credentials_for):
    """A failed run raises from wait_for_completion and from fetch_result."""
    sync_id = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.2, final_status="failed")
    )
    run = CensusSync(credentials=credentials_for(sync_id)).trigger()

    with pytest.raises(CensusSyncFailed):
        run.wait_for_completion()
    with pytest.raises(CensusSyncFailed):
        run.fetch_result()


def test_job_block_fetch_before_wait(census_emulator, credentials_for):
    """Fetching before the wait names the method to call first."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=5))
    run = CensusSync(credentials=credentials_for(sync_id)).trigger()

    with pytest.raises(RuntimeError) as caught:
        run.fetch_result()

    assert str(caught.value) == (
        f"Census sync run {run.sync_run_id} has not finished; call "
        "wait_for_completion() before fetch_result()."
    )


def test_job_flow(census_emulator, credentials_for):
    """The job flow runs the block's sync with the block's options."""
    sync_id = census_emulator.add_sync(
        plan=RunPlan(working_seconds=0.3, records_updated=33)
    )
    job = CensusSync(credentials=credentials_for(sync_id), max_wait_seconds=60)

    assert run_census_sync_job(job)["records_updated"] == 33
    assert census_emulator.trigger_count(sync_id) == 1
