"""Following a sync run until it ends: the poll schedule, the time limit, the outcome.

This is the async core behind `wait_for_census_sync_run`. It does not use
Prefect: the caller passes in a logger and, optionally, an observer that
receives every status Census reports.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Iterator
from typing import Any, Optional, Protocol, Union

from prefect_census._api import CensusClient, OutOfTime
from prefect_census.exceptions import (
    CensusError,
    CensusSyncCancelled,
    CensusSyncFailed,
    CensusSyncSkipped,
    CensusSyncTimeout,
    CensusUnknownSyncStatus,
)

MIN_POLL_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 60.0
# Twelve hours: longer than any sync we expect, short enough that a stuck run
# does not hold a daily schedule's worker for more than half a day.
DEFAULT_MAX_WAIT_SECONDS = 12 * 60 * 60.0
# Checks come every MIN_POLL_SECONDS for this long after the trigger, because
# many syncs finish within a minute. After that the pause doubles up to the
# configured interval.
FAST_PHASE_SECONDS = 60.0
# Statuses of a run that has not finished. `preparing` and `new` are older
# names of `queued`, and `retrying` an older name of `working`.
IN_PROGRESS_STATUSES = frozenset({"queued", "working", "preparing", "new", "retrying"})
CANCEL_TIMEOUT_SECONDS = 10.0
# Status checks in a row that may find no status before it counts as unknown.
MISSING_STATUS_POLLS = 3
# The first check of a run comes up to this fraction of MIN_POLL_SECONDS late.
FIRST_POLL_SPREAD = 0.2

Logger = Union[logging.Logger, logging.LoggerAdapter]


class RunObserver(Protocol):
    """A receiver of each status Census reports while the wait goes on."""

    async def observe(self, run: dict[str, Any], elapsed: float) -> None: ...


def check_poll_interval(value: Any, logger: Optional[Logger] = None) -> float:
    """Return a valid poll interval, raising values under 5 s to 5 s.

    The change is logged as a warning when a logger is given.

    Raises:
        ValueError: `value` is not a positive, finite number.
    """
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        msg = (
            f"poll_status_every_n_seconds must be a positive number of seconds, "
            f"not {value!r}."
        )
        raise ValueError(msg)

    if value < MIN_POLL_SECONDS:
        if logger is None:
            return MIN_POLL_SECONDS
        logger.warning(
            "poll_status_every_n_seconds=%s is below the minimum of %d s; "
            "polling every %d s instead.",
            value,
            MIN_POLL_SECONDS,
            MIN_POLL_SECONDS,
        )
        return MIN_POLL_SECONDS

    return float(value)


def check_max_wait(value: Any) -> Optional[float]:
    """Return a valid time limit in seconds, or `None` for no limit.

    Raises:
        ValueError: `value` is neither `None` nor a positive, finite number.
    """
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        msg = (
            f"max_wait_seconds must be a positive number of seconds, or None for "
            f"no time limit, not {value!r}."
        )
        raise ValueError(msg)

    return float(value)


def is_in_progress(status: Any) -> bool:
    """Return whether `status` is that of a run that has not finished."""
    return isinstance(status, str) and status in IN_PROGRESS_STATUSES


def is_cancelled(canceled: Any) -> bool:
    """Read the run's `canceled` flag, taking any value but false as cancelled.

    A cancelled run must never pass for a success, so a flag that is not a
    plain boolean (`"true"`, `1`) counts as cancelled.
    """
    if canceled is None or canceled is False or canceled == 0:
        return False

    return not (isinstance(canceled, str) and canceled.strip().lower() == "false")


def check_wait_options(poll_status_every_n_seconds: Any, max_wait_seconds: Any) -> None:
    """Check the options of a wait before anything is triggered.

    Raises:
        ValueError: An option is invalid; nothing has been sent to Census.
    """
    check_poll_interval(poll_status_every_n_seconds)
    check_max_wait(max_wait_seconds)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def poll_delays(interval: float) -> Iterator[float]:
    """Yield the pauses before each status check of one run.

    Checks come every 5 s for the first minute, then the pause doubles until it
    reaches `interval`, which it keeps. No pause is shorter than 5 s or longer
    than `interval`.
    """
    elapsed = 0.0
    while elapsed < FAST_PHASE_SECONDS and interval > MIN_POLL_SECONDS:
        yield MIN_POLL_SECONDS
        elapsed += MIN_POLL_SECONDS

    delay = MIN_POLL_SECONDS
    while True:
        delay = min(interval, delay * 2)
        yield delay


async def wait_for_run(
    client: CensusClient,
    sync_run_id: int,
    *,
    interval: float,
    max_wait_seconds: Optional[float],
    logger: Logger,
    cancel_on_stop: bool = False,
    observer: Optional[RunObserver] = None,
) -> dict[str, Any]:
    """Poll a sync run until it ends and return its `data` object if it completed.

    Raises:
        CensusSyncFailed: The run failed.
        CensusSyncSkipped: Census skipped the run.
        CensusSyncCancelled: The run was cancelled.
        CensusUnknownSyncStatus: Census reported a status this package does not know.
        CensusSyncTimeout: The run had not ended within `max_wait_seconds`.
    """
    started = time.monotonic()
    deadline = None if max_wait_seconds is None else started + max_wait_seconds
    context = {
        "sync_id": client.sync_id,
        "sync_run_id": sync_run_id,
        "history_url": client.history_url,
    }
    delays = poll_delays(interval)
    without_status = 0
    # Runs triggered together would otherwise poll in lockstep, every request
    # of a fan-out hitting Census and the connection pool in the same instant.
    offset = random.uniform(0, FIRST_POLL_SPREAD * MIN_POLL_SECONDS)
    seen_run = False

    try:
        while True:
            pause = next(delays) + offset
            offset = 0.0
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            await asyncio.sleep(pause)

            try:
                run = await client.get_sync_run(
                    sync_run_id, deadline=deadline, early=not seen_run
                )
            except OutOfTime as exc:
                raise _timeout(
                    client, sync_run_id, max_wait_seconds, None, str(exc)
                ) from None
            seen_run = True

            elapsed = time.monotonic() - started
            status = run.get("status")
            logger.debug(
                "Census sync run %s is %s after %.1f s.", sync_run_id, status, elapsed
            )
            if observer is not None:
                await observer.observe(run, elapsed)

            # A young run may have no status yet; only a lasting gap is an error.
            if status is None and without_status < MISSING_STATUS_POLLS:
                without_status += 1
            elif not is_in_progress(status):
                return _outcome(run, elapsed, logger, context)
            if deadline is not None and time.monotonic() >= deadline:
                raise _timeout(client, sync_run_id, max_wait_seconds, status)
    except CensusSyncTimeout as exc:
        if cancel_on_stop:
            exc.message = await _cancel(client, sync_run_id, logger, exc.message)
            exc.args = (exc.message,)
        raise
    except asyncio.CancelledError:
        if cancel_on_stop:
            await _cancel(client, sync_run_id, logger, "")
        raise


def _timeout(
    client: CensusClient,
    sync_run_id: int,
    max_wait_seconds: Optional[float],
    status: Any,
    fault: Optional[str] = None,
) -> CensusSyncTimeout:
    run = f"Census sync run {sync_run_id} of sync {client.sync_id}"
    limit = f"the time limit of {max_wait_seconds:g} s (max_wait_seconds)"
    if fault is None:
        msg = (
            f"{run} had not finished after {limit}; its last known status is "
            f"{status}. The run goes on in Census: {client.history_url}"
        )
    else:
        msg = (
            f"{run} could not be read before {limit} ran out; the last status "
            f"request got {fault}. The run may still be going in Census: "
            f"{client.history_url}"
        )

    return CensusSyncTimeout(
        msg,
        sync_id=client.sync_id,
        sync_run_id=sync_run_id,
        history_url=client.history_url,
    )


async def _cancel(
    client: CensusClient, sync_run_id: int, logger: Logger, message: str
) -> str:
    """Ask Census to stop the run and return `message` with the outcome added."""
    try:
        await asyncio.shield(
            asyncio.wait_for(
                client.cancel_sync_run(sync_run_id), timeout=CANCEL_TIMEOUT_SECONDS
            )
        )
    except (CensusError, asyncio.TimeoutError, asyncio.CancelledError) as exc:
        logger.warning(
            "Could not cancel Census sync run %s (%s); cancel it from %s.",
            sync_run_id,
            type(exc).__name__,
            client.history_url,
        )
        return f"{message} Cancelling the run in Census failed.".strip()

    logger.info("Asked Census to cancel sync run %s.", sync_run_id)

    return f"{message} The run was cancelled in Census (cancel_on_stop=True).".strip()


def _sentence(text: Any) -> str:
    """Return `text` as a sentence that ends with a full stop."""
    text = str(text).strip()

    return text if text.endswith((".", "!", "?")) else text + "."


def _outcome(
    run: dict[str, Any], elapsed: float, logger: Logger, context: dict[str, Any]
) -> dict[str, Any]:
    """Return the data of a completed run, or raise the error its status calls for."""
    status = run.get("status")
    sync_run_id = context["sync_run_id"]
    where = f"See {context['history_url']}"
    counts = (
        f"{run.get('records_processed')} records processed, "
        f"{run.get('records_updated')} updated, {run.get('records_failed')} "
        f"failed, {run.get('records_invalid')} invalid"
    )
    logger.info(
        "Census sync run %s of sync %s ended with status %s after %.0f s: %s.",
        sync_run_id,
        context["sync_id"],
        status,
        elapsed,
        counts,
    )

    if status == "completed" and is_cancelled(run.get("canceled")):
        msg = f"Census sync run {sync_run_id} was cancelled before it finished. {where}"
        raise CensusSyncCancelled(msg, status=status, run=run, **context)
    if status == "completed":
        return run
    if status == "failed":
        msg = (
            f"Census sync run {sync_run_id} of sync {context['sync_id']} failed "
            f"with error {run.get('error_code')}: "
            f"{_sentence(run.get('error_message'))}"
        )
        if run.get("error_detail"):
            msg += f" Detail: {_sentence(run.get('error_detail'))}"
        msg += f" {where}"
        raise CensusSyncFailed(msg, status=status, run=run, **context)
    if status == "skipped":
        msg = (
            f"Census skipped sync run {sync_run_id}, usually because an earlier run "
            f"of the same sync was still going. {where}"
        )
        raise CensusSyncSkipped(msg, status=status, run=run, **context)

    msg = (
        f"Census reported status {status!r} for sync run {sync_run_id}, which this "
        f"package does not know, so the run is not taken as a success. {where}"
    )
    raise CensusUnknownSyncStatus(msg, status=status, run=run, **context)
