"""The packaged flow that triggers a Census sync and waits for its run."""

from __future__ import annotations

from typing import Any, Optional

from prefect_census._compat import dual_call_flow
from prefect_census._waiting import (
    DEFAULT_MAX_WAIT_SECONDS,
    DEFAULT_POLL_SECONDS,
    check_wait_options,
)
from prefect_census.credentials import CensusCredentials
from prefect_census.exceptions import CensusSyncsFailed
from prefect_census.tasks import trigger_census_sync, wait_for_census_sync_run


@dual_call_flow(
    name="Run Census sync",
    description="Trigger a Census sync, wait for its run, and return the run's data.",
    flow_run_name="run-census-sync-{credentials.sync_id}",
)
def run_census_sync(
    credentials: CensusCredentials,
    poll_status_every_n_seconds: float = DEFAULT_POLL_SECONDS,
    force_full_sync: bool = False,
    max_wait_seconds: Optional[float] = DEFAULT_MAX_WAIT_SECONDS,
    cancel_on_stop: bool = False,
) -> dict[str, Any]:
    """Trigger a Census sync, wait for the run to end, and return its data.

    The flow run fails unless the sync run completes: a failed, skipped or
    cancelled run, an unknown status and the time limit each raise an error.
    From an async flow, await it; elsewhere, call it like any flow.

    Args:
        credentials: The sync's credentials block. The flow takes the block, not
            the URL, so the token never becomes a stored flow-run parameter.
        poll_status_every_n_seconds: The maximum pause between status checks.
            Values below 5 are raised to 5 with a warning.
        force_full_sync: Resync every row, not only the changed ones.
        max_wait_seconds: How long to wait for the run before giving up with
            `CensusSyncTimeout` (default 12 hours); `None` for no limit.
        cancel_on_stop: Ask Census to cancel the run when the wait stops before
            the run ends.

    Returns:
        The run's `data` object from Census: `status`, `records_processed`,
        `records_updated`, `records_failed`, `records_invalid` and the rest.

    Examples:
        ```python
        from prefect import flow
        from prefect_census import CensusCredentials, run_census_sync

        @flow
        def refresh_and_publish():
            credentials = CensusCredentials.load("accounts-to-salesforce")
            run = run_census_sync(credentials, poll_status_every_n_seconds=30)
            print(run["records_updated"])
        ```
    """
    check_wait_options(poll_status_every_n_seconds, max_wait_seconds)
    sync_run_id = trigger_census_sync(credentials, force_full_sync=force_full_sync)

    return wait_for_census_sync_run(
        credentials,
        sync_run_id,
        poll_status_every_n_seconds=poll_status_every_n_seconds,
        max_wait_seconds=max_wait_seconds,
        cancel_on_stop=cancel_on_stop,
    )


@dual_call_flow(
    name="Run Census syncs",
    description="Trigger several Census syncs at once and wait for all their runs.",
)
def run_census_syncs(
    credentials: list[CensusCredentials],
    poll_status_every_n_seconds: float = DEFAULT_POLL_SECONDS,
    force_full_sync: bool = False,
    max_wait_seconds: Optional[float] = DEFAULT_MAX_WAIT_SECONDS,
    cancel_on_stop: bool = False,
) -> list[dict[str, Any]]:
    """Trigger several syncs at once, wait for every run, and return their data.

    The triggers go out together and the waits run concurrently, so the flow
    takes about as long as the slowest sync. When some runs do not complete,
    the flow still waits for the others, then raises one `CensusSyncsFailed`
    that names every sync that failed.

    Args:
        credentials: One credentials block per sync.
        poll_status_every_n_seconds: The maximum pause between status checks.
        force_full_sync: Resync every row of every sync.
        max_wait_seconds: How long to wait for each run (default 12 hours);
            `None` for no limit.
        cancel_on_stop: Cancel a run in Census when its wait stops early.

    Returns:
        Each run's `data` object, in the order of `credentials`.

    Raises:
        CensusSyncsFailed: At least one sync did not complete.
    """
    check_wait_options(poll_status_every_n_seconds, max_wait_seconds)
    _reject_repeated_syncs(credentials)
    triggers = [
        trigger_census_sync.submit(block, force_full_sync=force_full_sync)
        for block in credentials
    ]
    waits: list[Any] = []
    for block, trigger in zip(credentials, triggers):
        try:
            sync_run_id = trigger.result()
        except Exception as exc:
            waits.append(exc)
            continue
        waits.append(
            wait_for_census_sync_run.submit(
                block,
                sync_run_id,
                poll_status_every_n_seconds=poll_status_every_n_seconds,
                max_wait_seconds=max_wait_seconds,
                cancel_on_stop=cancel_on_stop,
            )
        )

    runs: list[Any] = []
    failures: list[Exception] = []
    failed_sync_ids: list[Optional[int]] = []
    for block, wait in zip(credentials, waits):
        try:
            if isinstance(wait, Exception):
                raise wait
            runs.append(wait.result())
        except Exception as exc:
            failures.append(exc)
            failed_sync_ids.append(block.sync_id)
            runs.append(None)

    if failures:
        raise CensusSyncsFailed(failures, runs, failed_sync_ids)

    return runs


def _reject_repeated_syncs(credentials: list[CensusCredentials]) -> None:
    """Raise if a sync appears twice: Census would skip its second run."""
    seen: set[tuple[str, int]] = set()
    for block in credentials:
        key = (block.base_url, block.sync_id)
        if key in seen:
            msg = (
                f"Census sync {block.sync_id} appears more than once in credentials; "
                f"Census would skip the second run while the first is going. "
                f"List each sync once."
            )
            raise ValueError(msg)
        seen.add(key)
