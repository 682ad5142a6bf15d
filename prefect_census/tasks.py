"""Prefect tasks that trigger a Census sync and follow its run."""

from __future__ import annotations

import time
from typing import Any, Optional

from prefect import get_run_logger, task

from prefect_census._compat import run_coroutine, uncached_task_options
from prefect_census._reporting import RunReporter, log_trigger, write_summary
from prefect_census._waiting import (
    DEFAULT_MAX_WAIT_SECONDS,
    DEFAULT_POLL_SECONDS,
    check_max_wait,
    check_poll_interval,
    wait_for_run,
)
from prefect_census.credentials import CensusCredentials
from prefect_census.exceptions import CensusSyncRunError

# How long a single status read may spend retrying transient faults.
SINGLE_READ_DEADLINE_SECONDS = 60.0


@task(
    name="Trigger Census sync",
    description="Start a run of a Census sync and return the run's id.",
    task_run_name="trigger-census-sync-{credentials.sync_id}",
    retries=0,
    **uncached_task_options(),
)
def trigger_census_sync(
    credentials: CensusCredentials, force_full_sync: bool = False
) -> int:
    """Start a run of the sync and return the sync run id.

    The request is repeated only when it certainly did not reach Census, so a
    call starts at most one run. The task has no Prefect retries for the same
    reason.

    Args:
        credentials: The sync's credentials block.
        force_full_sync: Resync every row, not only the changed ones. Some sync
            modes, such as append, reject it.

    Returns:
        The id of the sync run Census started.

    Raises:
        CensusTriggerOutcomeUnknown: The request was sent but its outcome is
            unknown; check the sync history before triggering again.
        CensusAuthenticationError: Census rejected the token.
        CensusSyncNotFound: Census has no such sync.
    """
    logger = get_run_logger()
    client = credentials.get_client(logger)
    sync_run_id = run_coroutine(client.trigger(force_full_sync=force_full_sync))
    log_trigger(logger, client, sync_run_id)

    return sync_run_id


@task(
    name="Check Census sync",
    description="Check a sync's token and id without starting a run.",
    task_run_name="check-census-sync-{credentials.sync_id}",
    **uncached_task_options(),
)
def check_census_sync(credentials: CensusCredentials) -> dict[str, Any]:
    """Ask Census whether the token works and the sync exists; start no run.

    Args:
        credentials: The sync's credentials block.

    Returns:
        A dict with `sync_id`, `token_valid`, `sync_exists`, `label`, `paused`
        and a one-line `message`.
    """
    logger = get_run_logger()
    report = run_coroutine(credentials._check_sync())
    logger.info("Census sync %s: %s", report["sync_id"], report["message"])

    return report


@task(
    name="Get Census sync run",
    description="Read the status and record counts of a Census sync run.",
    task_run_name="get-census-sync-run-{sync_run_id}",
    **uncached_task_options(),
)
def get_census_sync_run(
    credentials: CensusCredentials, sync_run_id: int
) -> dict[str, Any]:
    """Read a sync run once and return its `data` object as Census sent it.

    Transient faults (a dropped connection, HTTP 429 or 5xx) are retried for up
    to a minute. Each call sends its own request; results are never cached.

    Args:
        credentials: The sync's credentials block.
        sync_run_id: The run to read.

    Returns:
        The run's `data` object: `status`, the record counts and the rest.
    """
    logger = get_run_logger()
    client = credentials.get_client(logger)
    deadline = time.monotonic() + SINGLE_READ_DEADLINE_SECONDS

    return run_coroutine(_read_once(client, sync_run_id, deadline))


async def _read_once(client, sync_run_id: int, deadline: float) -> dict[str, Any]:
    from prefect_census._api import OutOfTime
    from prefect_census.exceptions import CensusConnectionError

    try:
        return await client.get_sync_run(sync_run_id, deadline=deadline)
    except OutOfTime as exc:
        msg = (
            f"Could not read Census sync run {sync_run_id} within "
            f"{SINGLE_READ_DEADLINE_SECONDS:g} s; the last attempt got {exc}."
        )
        raise CensusConnectionError(
            msg,
            sync_id=client.sync_id,
            sync_run_id=sync_run_id,
            history_url=client.history_url,
        ) from None


@task(
    name="Wait for Census sync run",
    description="Poll a Census sync run until it ends; fail unless it completed.",
    task_run_name="wait-for-census-sync-run-{sync_run_id}",
    **uncached_task_options(),
)
def wait_for_census_sync_run(
    credentials: CensusCredentials,
    sync_run_id: int,
    poll_status_every_n_seconds: float = DEFAULT_POLL_SECONDS,
    max_wait_seconds: Optional[float] = DEFAULT_MAX_WAIT_SECONDS,
    cancel_on_stop: bool = False,
) -> dict[str, Any]:
    """Poll a sync run until it ends and return its data if it completed.

    The first checks come every 5 s; after a minute the pause doubles up to
    `poll_status_every_n_seconds`. Transient faults are retried until the
    time limit.

    Args:
        credentials: The sync's credentials block.
        sync_run_id: The run to follow.
        poll_status_every_n_seconds: The maximum pause between status checks.
            Values below 5 are raised to 5 with a warning.
        max_wait_seconds: How long to wait before giving up with
            `CensusSyncTimeout`, counted from the start of the wait; `None`
            waits for as long as the run takes.
        cancel_on_stop: Ask Census to cancel the run when the wait stops
            before the run ends: on the time limit, or when the Prefect run is
            cancelled.

    Returns:
        The run's `data` object, with `status` equal to `completed`.

    Raises:
        CensusSyncFailed: The run failed.
        CensusSyncSkipped: Census skipped the run.
        CensusSyncCancelled: The run was cancelled.
        CensusUnknownSyncStatus: Census reported a status this package does
            not know.
        CensusSyncTimeout: The run had not ended within `max_wait_seconds`.
    """
    logger = get_run_logger()
    interval = check_poll_interval(poll_status_every_n_seconds, logger)
    limit = check_max_wait(max_wait_seconds)
    client = credentials.get_client(logger)
    reporter = RunReporter(logger, client.sync_id, sync_run_id)
    started = time.monotonic()
    run: dict[str, Any] = {}

    try:
        run = run_coroutine(
            wait_for_run(
                client,
                sync_run_id,
                interval=interval,
                max_wait_seconds=limit,
                logger=logger,
                cancel_on_stop=cancel_on_stop,
                observer=reporter,
            )
        )
    except CensusSyncRunError as exc:
        run = exc.run
        raise
    finally:
        write_summary(
            run or reporter.last_run,
            client.sync_id,
            sync_run_id,
            client.history_url,
            time.monotonic() - started,
            logger,
        )

    return run
