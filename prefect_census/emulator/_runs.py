"""Sync runs whose state is computed from the monotonic clock at request time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._plan import RunPlan

TRIGGER_REASON = {"ui_tag": "API", "ui_detail": "Triggered through the API"}


def format_timestamp(moment: datetime) -> str:
    """Format an aware UTC datetime as ISO-8601 with milliseconds and a `Z`."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Run:
    """One sync run: its plan, its start instant and an optional cancellation.

    Times named `*_at` without `_wall` are `time.monotonic()` values.

    Args:
        id: Run id.
        sync_id: Id of the sync the run belongs to.
        plan: Plan that this run follows, already replaced by the skipped plan
            when the run overlaps an earlier run.
        full_sync: Whether the trigger asked for `force_full_sync=true`.
        created_at: Monotonic instant of the trigger.
        created_wall: UTC wall-clock time of the trigger.
        canceled_at: Monotonic instant of a cancellation that arrived before the
            run finished, or None.
    """

    id: int
    sync_id: int
    plan: RunPlan
    full_sync: bool
    created_at: float
    created_wall: datetime
    canceled_at: float | None = None

    @property
    def working_at(self) -> float:
        """Monotonic instant at which the run leaves `queued`."""
        return self.created_at + self.plan.queued_seconds

    @property
    def planned_end_at(self) -> float:
        """Monotonic instant at which the plan ends the run, `math.inf` if never."""
        return self.working_at + self.plan.working_seconds

    def finished_at(self, now: float) -> float | None:
        """Return the monotonic instant the run finished, or None if not yet."""
        if self.canceled_at is not None:
            return self.canceled_at

        if self.planned_end_at <= now:
            return self.planned_end_at

        return None

    def cancel(self, now: float) -> None:
        """Stop the run at `now`, unless it has finished already."""
        if self.finished_at(now) is None:
            self.canceled_at = now

    def data(self, now: float) -> dict[str, Any]:
        """Return the `data` object of `GET /api/v1/sync_runs/{id}` at `now`."""
        finished = self.finished_at(now)
        moment = now if finished is None else finished
        started = moment >= self.working_at
        canceled_by_request = self.canceled_at is not None
        # A queued run has not changed since the trigger.
        updated_at = moment if started or finished is not None else self.created_at

        data: dict[str, Any] = {
            "id": self.id,
            "sync_id": self.sync_id,
            "status": "working" if started else "queued",
            "canceled": False,
            "full_sync": self.full_sync,
            **self._counters(moment, started, finished, canceled_by_request),
            "created_at": format_timestamp(self.created_wall),
            "updated_at": format_timestamp(self._wall(updated_at)),
            "completed_at": None,
            "scheduled_execution_time": None,
            "error_code": None,
            "error_message": None,
            "error_detail": None,
            "sync_trigger_reason": dict(TRIGGER_REASON),
        }

        if finished is None:
            if started and self.plan.steps:
                data["current_step"] = self._current_step(moment)
            return data

        data["completed_at"] = format_timestamp(self._wall(finished))
        if canceled_by_request or self.plan.final_status == "cancelled":
            data["status"] = "completed"
            data["canceled"] = True
        else:
            data["status"] = self.plan.final_status

        if not canceled_by_request:
            error_code, error_message, error_detail = self.plan.error_fields()
            data["error_code"] = error_code
            data["error_message"] = error_message
            data["error_detail"] = error_detail

        return data

    def _counters(
        self, moment: float, started: bool, finished: float | None, canceled: bool
    ) -> dict[str, int | None]:
        plan = self.plan
        finals = {
            "records_processed": plan.records_processed,
            "records_updated": plan.records_updated,
            "records_failed": plan.records_failed,
            "records_invalid": plan.records_invalid,
        }
        if not started:
            return {"source_record_count": None, **dict.fromkeys(finals)}

        counters: dict[str, int | None] = {
            "source_record_count": plan.source_record_count
        }
        if finished is not None and not canceled:
            # The final values are set directly, because the float progress at
            # the planned end can fall a hair short of 1.
            counters.update(finals)
            return counters

        progress = self._progress(moment)
        for name, final in finals.items():
            counters[name] = math.floor(final * progress)

        return counters

    def _progress(self, moment: float) -> float:
        """Return the fraction of the working time that has passed at `moment`."""
        working_seconds = self.plan.working_seconds
        if working_seconds == 0:
            return 1.0

        if math.isinf(working_seconds):
            return 0.0

        return min(1.0, max(0.0, (moment - self.working_at) / working_seconds))

    def _current_step(self, moment: float) -> str:
        steps = self.plan.steps
        index = math.floor(self._progress(moment) * len(steps))

        return steps[min(index, len(steps) - 1)]

    def _wall(self, moment: float) -> datetime:
        return self.created_wall + timedelta(seconds=moment - self.created_at)
