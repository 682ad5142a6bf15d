"""Every way a user calls the package: submit, map, nested tasks, timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest
from prefect import flow, task

from prefect_census import (
    run_census_sync,
    trigger_census_sync,
    wait_for_census_sync_run,
)
from prefect_census._compat import PREFECT_MAJOR
from prefect_census.emulator import RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")

QUICK = {"queued_seconds": 0.1, "working_seconds": 0.3}
PREFECT_2_TIMEOUTS = "Prefect 2 does not interrupt a sync task at a flow timeout"


def test_submit_in_sync_flow(census_emulator, credentials_for):
    """Tasks submitted from a sync flow trigger once and return the data."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=3))
    credentials = credentials_for(sync_id)

    @flow
    def parent():
        run_id = trigger_census_sync.submit(credentials).result()
        return wait_for_census_sync_run.submit(credentials, run_id).result()

    assert parent()["records_updated"] == 3
    assert census_emulator.trigger_count(sync_id) == 1


def test_map_over_blocks(census_emulator, credentials_for):
    """Mapping the tasks over several blocks triggers each sync once."""
    sync_ids = [
        census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=20 + index))
        for index in range(3)
    ]
    blocks = [credentials_for(sync_id) for sync_id in sync_ids]

    @flow
    def parent():
        run_ids = trigger_census_sync.map(blocks)
        return [
            future.result() for future in wait_for_census_sync_run.map(blocks, run_ids)
        ]

    runs = parent()

    assert [run["records_updated"] for run in runs] == [20, 21, 22]
    assert [census_emulator.trigger_count(sync_id) for sync_id in sync_ids] == [1, 1, 1]


def test_submit_in_async_flow(census_emulator, credentials_for):
    """Tasks submitted from an async flow work too."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=4))
    credentials = credentials_for(sync_id)

    @flow
    async def parent():
        future = trigger_census_sync.submit(credentials)
        if asyncio.iscoroutine(future):  # Prefect 2 returns an awaitable here
            future = await future
        run_id = future.result()
        return wait_for_census_sync_run(credentials, run_id)

    assert asyncio.run(parent())["records_updated"] == 4


@pytest.mark.skipif(PREFECT_MAJOR < 3, reason="Prefect 2 forbids tasks in tasks")
def test_task_inside_user_task(census_emulator, credentials_for):
    """The packaged flow's tasks can be called from a user's own task."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=5))
    credentials = credentials_for(sync_id)

    @task
    def publish():
        run_id = trigger_census_sync(credentials)
        return wait_for_census_sync_run(credentials, run_id)

    @flow
    def parent():
        return publish()

    assert parent()["records_updated"] == 5
    assert census_emulator.trigger_count(sync_id) == 1


def test_flow_called_at_top_level_in_event_loop(census_emulator, credentials_for):
    """Code with a running event loop awaits the flow instead of blocking."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=7))
    credentials = credentials_for(sync_id)

    async def main():
        return await run_census_sync(credentials)

    assert asyncio.run(main())["records_updated"] == 7


def test_with_options_keeps_dual_call(census_emulator, credentials_for):
    """A copy made with with_options is still awaitable from async code."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=8))
    renamed = run_census_sync.with_options(name="Publish accounts")

    async def main():
        return await renamed(credentials_for(sync_id))

    assert asyncio.run(main())["records_updated"] == 8


@pytest.mark.skipif(PREFECT_MAJOR < 3, reason=PREFECT_2_TIMEOUTS)
def test_flow_timeout_cancels_census_run(census_emulator, credentials_for):
    """A Prefect timeout stops the wait and, when asked, cancels the Census run."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=float("inf")))
    bounded = run_census_sync.with_options(timeout_seconds=1)

    started = time.monotonic()
    state = bounded(credentials_for(sync_id), cancel_on_stop=True, return_state=True)

    run_id = census_emulator.runs(sync_id)[0]
    assert state.is_failed()
    assert time.monotonic() - started < 20
    assert census_emulator.run_data(run_id)["canceled"] is True


@pytest.mark.skipif(PREFECT_MAJOR < 3, reason=PREFECT_2_TIMEOUTS)
def test_flow_timeout_leaves_run_by_default(census_emulator, credentials_for):
    """Without cancel_on_stop, a Prefect timeout leaves the Census run going."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=float("inf")))
    bounded = run_census_sync.with_options(timeout_seconds=1)

    state = bounded(credentials_for(sync_id), return_state=True)

    run_id = census_emulator.runs(sync_id)[0]
    assert state.is_failed()
    assert census_emulator.run_data(run_id)["status"] == "working"
