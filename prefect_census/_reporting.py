"""What a waiting run shows Prefect users: step lines, a progress bar, a summary.

An artifact that cannot be written does not fail the wait: the error is logged
at DEBUG and the artifact is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Optional, Union

from prefect_census._compat import has_progress_artifacts
from prefect_census._waiting import is_cancelled, is_in_progress

Logger = Union[logging.Logger, logging.LoggerAdapter]

# The order in which Census reports `current_step` while a run is working, as
# far as the progress bar needs it. A step not in this list leaves the bar
# where it was.
SYNC_STEPS = (
    "Preparing sync",
    "Querying source",
    "Unloading data from warehouse",
    "Computing changes",
    "Loading data into destination service",
    "Finishing sync",
)
COUNTERS = ("records_processed", "records_updated", "records_failed", "records_invalid")


def log_trigger(logger: Logger, client: Any, sync_run_id: int) -> None:
    """Log a triggered run with its sync, id and history link."""
    logger.info(
        "Triggered Census sync %s: sync run %s. History: %s",
        client.sync_id,
        sync_run_id,
        client.history_url,
    )


def artifact_key(sync_id: int, suffix: str = "") -> str:
    """Return the artifact key for a sync: lower-case letters, digits and dashes."""
    return f"census-sync-{sync_id}{suffix}"


def progress_percent(run: dict[str, Any]) -> Optional[float]:
    """Estimate how far a run has got, in percent, or `None` if nothing shows it.

    Record counters win where Census reports them; otherwise the position of
    `current_step` in `SYNC_STEPS` gives a coarse figure.
    """
    if run.get("status") == "completed" and not is_cancelled(run.get("canceled")):
        return 100.0

    processed = run.get("records_processed")
    total = run.get("source_record_count")
    if isinstance(processed, int) and isinstance(total, int) and total > 0:
        return min(99.0, 100.0 * processed / total)

    step = run.get("current_step")
    if step in SYNC_STEPS:
        return 100.0 * SYNC_STEPS.index(step) / len(SYNC_STEPS)

    return None


class RunReporter:
    """Logs each change of status or step and keeps a progress artifact current.

    Args:
        logger: The run logger.
        sync_id: The sync the run belongs to.
        sync_run_id: The run being followed.
        show_progress: Keep a progress artifact, where Prefect has them.
    """

    def __init__(
        self,
        logger: Logger,
        sync_id: int,
        sync_run_id: int,
        show_progress: bool = True,
    ) -> None:
        self._logger = logger
        self._sync_id = sync_id
        self._sync_run_id = sync_run_id
        self._show_progress = show_progress and has_progress_artifacts()
        self._last_state: Optional[tuple[Any, Any]] = None
        self._last_counts: Optional[tuple[Any, ...]] = None
        self._artifact_id: Any = None
        self.percent = 0.0
        self.last_run: dict[str, Any] = {}

    async def observe(self, run: dict[str, Any], elapsed: float) -> None:
        """Take one status report from Census."""
        self.last_run = run
        state = (run.get("status"), run.get("current_step"))
        counts = tuple(run.get(name) for name in COUNTERS)
        # The final status gets its own line from the wait itself.
        if state != self._last_state and is_in_progress(state[0]):
            self._log_change(run, elapsed, counts)
            self._last_state = state
            self._last_counts = counts

        percent = progress_percent(run)
        if self._show_progress and percent is not None and percent > self.percent:
            self.percent = percent
            await asyncio.to_thread(self._write_progress, percent)

    def _log_change(self, run: dict[str, Any], elapsed: float, counts: tuple) -> None:
        step = run.get("current_step")
        text = f"Census sync run %s is %s{', %s' if step else ''} (%.0f s elapsed"
        args: list[Any] = [self._sync_run_id, run.get("status")]
        if step:
            args.append(step)
        args.append(elapsed)

        moved = counts != self._last_counts and any(value for value in counts)
        if moved:
            text += "; %s of %s records processed, %s updated, %s failed"
            args += [
                run.get("records_processed"),
                run.get("source_record_count"),
                run.get("records_updated"),
                run.get("records_failed"),
            ]
        self._logger.info(text + ").", *args)

    def _write_progress(self, percent: float) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        description = f"Census sync run {self._sync_run_id} of sync {self._sync_id}"
        try:
            if self._artifact_id is None:
                self._artifact_id = create_progress_artifact(
                    progress=percent,
                    key=artifact_key(self._sync_id, "-progress"),
                    description=description,
                )
            else:
                update_progress_artifact(
                    artifact_id=self._artifact_id, progress=percent
                )
        except Exception as exc:  # a progress bar must never fail the wait
            self._logger.debug("Could not update the progress artifact: %r", exc)


def write_summary(
    run: dict[str, Any],
    sync_id: int,
    sync_run_id: int,
    history_url: str,
    elapsed: Optional[float],
    logger: Logger,
) -> None:
    """Save a Markdown artifact with the run's status, counts, duration and link."""
    from prefect.artifacts import create_markdown_artifact

    status = run.get("status")
    if status == "completed" and is_cancelled(run.get("canceled")):
        status = "completed (cancelled)"
    duration = _duration(run, elapsed)
    rows = [
        ("Status", status),
        ("Sync run", sync_run_id),
        ("Records processed", run.get("records_processed")),
        ("Records updated", run.get("records_updated")),
        ("Records failed", run.get("records_failed")),
        ("Records invalid", run.get("records_invalid")),
        ("Duration", "unknown" if duration is None else f"{duration:.0f} s"),
        ("History", f"[{history_url}]({history_url})"),
    ]
    if run.get("error_message"):
        rows.insert(
            1, ("Error", f"{run.get('error_code')}: {run.get('error_message')}")
        )
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    markdown = f"### Census sync {sync_id}\n\n| | |\n| --- | --- |\n{table}\n"

    try:
        create_markdown_artifact(
            markdown=markdown,
            key=artifact_key(sync_id),
            description=f"Census sync run {sync_run_id} of sync {sync_id}",
        )
    except Exception as exc:  # a summary must never fail the run
        logger.debug("Could not save the summary artifact: %r", exc)


def _duration(run: dict[str, Any], elapsed: Optional[float]) -> Optional[float]:
    started, ended = run.get("created_at"), run.get("completed_at")
    if isinstance(started, str) and isinstance(ended, str):
        try:
            return (_parse_time(ended) - _parse_time(started)).total_seconds()
        except ValueError:
            pass

    return elapsed


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
