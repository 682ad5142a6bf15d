"""`CensusSync`, a job block: one sync and how to run it, saved together."""

from __future__ import annotations

from typing import Any, Optional

from prefect.blocks.abstract import JobBlock, JobRun
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from prefect_census._compat import Field, call_sync_or_async, dual_call_flow
from prefect_census._reporting import RunReporter, log_trigger
from prefect_census._waiting import (
    DEFAULT_MAX_WAIT_SECONDS,
    DEFAULT_POLL_SECONDS,
    check_max_wait,
    check_poll_interval,
    check_wait_options,
    wait_for_run,
)
from prefect_census.credentials import CensusCredentials
from prefect_census.exceptions import CensusError
from prefect_census.flows import run_census_sync


def _logger():
    try:
        return get_run_logger()
    except MissingContextError:
        import logging

        return logging.getLogger("prefect_census")


class CensusSyncRun(JobRun):
    """A run of a Census sync started by `CensusSync.trigger()`.

    Both methods run to completion for sync callers and return awaitables for
    async callers.

    Attributes:
        sync_run_id: The run's id in Census.
        census_sync: The job block that started the run.
    """

    def __init__(self, census_sync: CensusSync, sync_run_id: int) -> None:
        self.census_sync = census_sync
        self.sync_run_id = sync_run_id
        self._run: Optional[dict[str, Any]] = None
        self._error: Optional[CensusError] = None

    def __repr__(self) -> str:
        sync_id = self.census_sync.credentials.sync_id
        return f"CensusSyncRun(sync_id={sync_id}, sync_run_id={self.sync_run_id})"

    def wait_for_completion(self) -> Any:
        """Poll the run until it ends, with the block's interval and time limit.

        Raises:
            CensusSyncRunError: The run failed, was skipped or cancelled, or
                reported an unknown status.
            CensusSyncTimeout: The run had not ended within the time limit.
        """
        return call_sync_or_async(self._wait())

    async def _wait(self) -> None:
        job = self.census_sync
        logger = _logger()
        client = job.credentials.get_client(logger)
        try:
            self._run = await wait_for_run(
                client,
                self.sync_run_id,
                interval=check_poll_interval(job.poll_status_every_n_seconds, logger),
                max_wait_seconds=check_max_wait(job.max_wait_seconds),
                logger=logger,
                cancel_on_stop=job.cancel_on_stop,
                observer=RunReporter(logger, client.sync_id, self.sync_run_id, False),
            )
        except CensusError as exc:
            self._error = exc
            raise

    def fetch_result(self) -> Any:
        """Return the data of the completed run.

        Raises:
            CensusSyncRunError: The run ended without success.
            RuntimeError: `wait_for_completion()` has not finished yet.
        """
        return call_sync_or_async(self._fetch())

    async def _fetch(self) -> dict[str, Any]:
        if self._error is not None:
            raise self._error
        if self._run is None:
            msg = (
                f"Census sync run {self.sync_run_id} has not finished; call "
                f"wait_for_completion() before fetch_result()."
            )
            raise RuntimeError(msg)

        return self._run


class CensusSync(JobBlock):
    """A Census sync and the options for running it, as one saved block.

    Attributes:
        credentials: The sync's credentials block.
        force_full_sync: Resync every row on each run, not only the changes.
        poll_status_every_n_seconds: The maximum pause between status checks.
        max_wait_seconds: How long to wait for a run before giving up.
        cancel_on_stop: Cancel the run in Census when the wait stops early.

    Examples:
        ```python
        from prefect_census import CensusSync

        census_sync = CensusSync.load("accounts-to-salesforce")
        run = census_sync.trigger()
        run.wait_for_completion()
        print(run.fetch_result()["records_updated"])
        ```
    """

    _block_type_name = "Census Sync"
    _block_type_slug = "census-sync"
    _logo_url = "https://cdn.sanity.io/images/3ugk85nk/production/b2f805555c778f37f861b67c4a861908f66a6e35-700x700.png"  # noqa: E501
    _documentation_url = "https://prefect-census.readthedocs.io/en/latest/blocks/"
    _description = (
        "A Census sync and the options for running it: trigger it, wait for "
        "the run and fetch its record counts."
    )
    _code_example = """```python
from prefect_census import CensusSync

census_sync = CensusSync.load("BLOCK_NAME")
run = census_sync.trigger()
run.wait_for_completion()
print(run.fetch_result())
```"""

    credentials: CensusCredentials = Field(
        default=...,
        description="The credentials block holding the sync's API trigger URL.",
    )
    force_full_sync: bool = Field(
        default=False,
        description="Resync every row on each run, not only the changed ones.",
    )
    poll_status_every_n_seconds: float = Field(
        default=DEFAULT_POLL_SECONDS,
        gt=0,
        description="The maximum pause between status checks, in seconds (at least 5).",
    )
    max_wait_seconds: Optional[float] = Field(
        default=DEFAULT_MAX_WAIT_SECONDS,
        gt=0,
        description="How long to wait for a run, in seconds; empty for no limit.",
    )
    cancel_on_stop: bool = Field(
        default=False,
        description="Cancel the run in Census when the wait stops before it ends.",
    )

    def trigger(self) -> Any:
        """Start a run of the sync and return a `CensusSyncRun` to follow it."""
        return call_sync_or_async(self._trigger())

    async def _trigger(self) -> CensusSyncRun:
        check_wait_options(self.poll_status_every_n_seconds, self.max_wait_seconds)
        logger = _logger()
        client = self.credentials.get_client(logger)
        sync_run_id = await client.trigger(force_full_sync=self.force_full_sync)
        log_trigger(logger, client, sync_run_id)

        return CensusSyncRun(self, sync_run_id)


@dual_call_flow(
    name="Run Census sync job",
    description="Run the sync of a CensusSync block with its options and wait for it.",
    flow_run_name="run-census-sync-job-{census_sync.credentials.sync_id}",
)
def run_census_sync_job(census_sync: CensusSync) -> dict[str, Any]:
    """Trigger the block's sync, wait with the block's options, return the data.

    Args:
        census_sync: The job block naming the sync and how to run it.

    Returns:
        The run's `data` object from Census.
    """
    return run_census_sync.fn(
        census_sync.credentials,
        poll_status_every_n_seconds=census_sync.poll_status_every_n_seconds,
        force_full_sync=census_sync.force_full_sync,
        max_wait_seconds=census_sync.max_wait_seconds,
        cancel_on_stop=census_sync.cancel_on_stop,
    )
