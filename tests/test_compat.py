"""The Prefect 2 and 3 differences that `_compat` hides, checked in every cell."""

from __future__ import annotations

import asyncio
import ctypes
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prefect import flow

from prefect_census import CensusCredentials, run_census_sync
from prefect_census._compat import (
    PREFECT_MAJOR,
    WAKE_SECONDS,
    dual_call_flow,
    run_coroutine,
    uncached_task_options,
)
from prefect_census.emulator import RunPlan

QUICK = {"queued_seconds": 0.1, "working_seconds": 0.3}
PREFECT_CLI = Path(sys.executable).parent / "prefect"


def _run_in_fresh_prefect(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    """Run a command against a new, empty Prefect home with its own database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_")
    }
    env["PREFECT_HOME"] = str(tmp_path)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # The temporary server a command starts can be slow on a busy machine.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"

    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_flow_annotations_resolved():
    """The packaged flow's annotations are classes, not strings.

    Prefect 2 with pydantic 2 picks the pydantic v1 validator for a flow's
    parameters only when an annotation is the v1 model class itself.
    """
    annotations = run_census_sync.fn.__annotations__

    assert annotations["credentials"] is CensusCredentials
    assert annotations["force_full_sync"] is bool


def test_flow_validates_list_of_blocks(census_emulator, credentials_for):
    """A flow parameter typed as a list of blocks validates on every version."""

    def publish(credentials: list[CensusCredentials]) -> int:
        return len(credentials)

    publish_flow = dual_call_flow(name="Publish")(publish)
    sync_id = census_emulator.add_sync()

    parameters = publish_flow.validate_parameters(
        {"credentials": [credentials_for(sync_id)]}
    )

    assert len(parameters["credentials"]) == 1
    assert parameters["credentials"][0].sync_id == sync_id


def test_import_prints_no_warning(tmp_path):
    """Importing the package and building a flow copy prints no warning."""
    code = (
        "import prefect_census; "
        "prefect_census.run_census_sync.with_options(name='Copy')"
    )
    result = _run_in_fresh_prefect(tmp_path, sys.executable, "-W", "always", "-c", code)

    assert result.returncode == 0, result.stderr
    assert "Mixing V1 models" not in result.stderr
    assert "prefect_census" not in result.stderr


def test_prefect_version_prints_no_warning(tmp_path):
    """`prefect version` loads the collection and prints no warning about it."""
    result = _run_in_fresh_prefect(tmp_path, str(PREFECT_CLI), "version")

    assert result.returncode == 0, result.stderr
    assert "prefect_census" not in result.stdout + result.stderr
    assert "Mixing V1 models" not in result.stdout + result.stderr


def test_block_register_succeeds(tmp_path):
    """`prefect block register -m prefect_census` registers the blocks."""
    result = _run_in_fresh_prefect(
        tmp_path, str(PREFECT_CLI), "block", "register", "-m", "prefect_census"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Census Credentials" in result.stdout


def test_uncached_task_options():
    """Prefect 3 tasks get a cache policy that computes no key, Prefect 2 none."""
    options = uncached_task_options()

    if PREFECT_MAJOR >= 3:
        assert options["cache_policy"].compute_key(None, {}, {}) is None
    else:
        assert options == {}


def test_run_coroutine_takes_exception_from_other_thread():
    """An exception raised in the waiting thread stops the wait and the coroutine.

    Prefect stops a sync flow running outside the main thread at its timeout
    this way, and Python delivers the exception only between bytecodes.
    """
    cancelled = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def wait() -> None:
        try:
            run_coroutine(forever())
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(2 * WAKE_SECONDS)
    raised = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(waiter.ident), ctypes.py_object(KeyboardInterrupt)
    )
    waiter.join(timeout=10)

    assert raised == 1
    assert not waiter.is_alive()
    assert len(outcome) == 1
    assert type(outcome[0]) is KeyboardInterrupt
    assert cancelled.wait(timeout=5)


@pytest.mark.usefixtures("fast_polls")
def test_subflow_of_sync_flow(census_emulator, credentials_for):
    """The packaged flow runs as a subflow of a sync flow and returns the data."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=11))

    @flow
    def parent():
        return run_census_sync(credentials_for(sync_id))

    assert parent()["records_updated"] == 11


@pytest.mark.usefixtures("fast_polls")
def test_subflow_of_async_flow(census_emulator, credentials_for):
    """An async parent flow awaits the packaged flow as a subflow."""
    sync_id = census_emulator.add_sync(plan=RunPlan(**QUICK, records_updated=12))

    @flow
    async def parent():
        return await run_census_sync(credentials_for(sync_id))

    assert asyncio.run(parent())["records_updated"] == 12


# NOTE: Prefect 2 runs a sync task in a thread of its own and does not interrupt
# it at the flow's timeout, so the flow run waits until the task ends. The
# `max_wait_seconds` limit of the wait still applies there.
@pytest.mark.skipif(PREFECT_MAJOR < 3, reason="Prefect 2 cannot stop a running task")
@pytest.mark.usefixtures("fast_polls")
def test_timeout_of_awaited_flow(census_emulator, credentials_for):
    """A timeout stops the flow awaited from async code and cancels the run."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=float("inf")))
    bounded = run_census_sync.with_options(timeout_seconds=1)

    async def main():
        return await bounded(
            credentials_for(sync_id), cancel_on_stop=True, return_state=True
        )

    started = time.monotonic()
    state = asyncio.run(main())

    run_id = census_emulator.runs(sync_id)[0]
    assert state.is_failed()
    assert time.monotonic() - started < 20
    assert census_emulator.run_data(run_id)["canceled"] is True
