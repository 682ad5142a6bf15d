"""The emulated workspace: syncs, their runs, queued faults and the request log."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._plan import Fault, RunPlan
from ._runs import Run, format_timestamp

FIRST_RUN_ID = 1000
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class RequestRecord:
    """One request that the emulator received, including those given a fault response.

    Args:
        method: HTTP method.
        path: URL path without the query string.
        query: Query parameters; a repeated name keeps its last value.
        status_code: HTTP status sent, or None when the connection was dropped.
        auth: `"bearer"` or `"basic"` for accepted credentials, else None.
        at: `time.monotonic()` value when the request arrived.
    """

    method: str
    path: str
    query: dict[str, str]
    status_code: int | None
    auth: str | None
    at: float


@dataclass
class Sync:
    """A configured sync with its plan, queued faults and runs in trigger order."""

    id: int
    label: str
    paused: bool
    plan: RunPlan
    created_wall: datetime
    trigger_faults: deque[Fault] = field(default_factory=deque)
    status_faults: deque[Fault] = field(default_factory=deque)
    run_ids: list[int] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        """Return the `data` object of `GET /api/v1/syncs/{id}`."""
        return {
            "id": self.id,
            "label": self.label,
            "paused": self.paused,
            "operation": "upsert",
            "source_attributes": {
                "connection_id": 1,
                "object": {"type": "model", "id": self.id, "name": "emulated_model"},
            },
            "destination_attributes": {"connection_id": 2, "object": "contact"},
            "created_at": format_timestamp(self.created_wall),
        }


class Workspace:
    """Thread-safe store of syncs, runs, faults and requests.

    Methods that take a sync id or run id raise `KeyError` when it is unknown.

    Args:
        skip_overlapping_runs: End a run `skipped` when it is triggered while an
            earlier run of the same sync is unfinished, as Census does.
    """

    def __init__(self, skip_overlapping_runs: bool = True) -> None:
        self.skip_overlapping_runs = skip_overlapping_runs
        self._lock = threading.Lock()
        self._syncs: dict[int, Sync] = {}
        self._runs: dict[int, Run] = {}
        self._requests: list[RequestRecord] = []
        self._next_sync_id = 1
        self._next_run_id = FIRST_RUN_ID

    def add_sync(
        self, plan: RunPlan, label: str | None, paused: bool, sync_id: int | None
    ) -> int:
        """Add a sync and return its id, the next free one when `sync_id` is None."""
        _check_plan(plan)
        if sync_id is not None and (
            isinstance(sync_id, bool) or not isinstance(sync_id, int) or sync_id < 1
        ):
            msg = f"sync id must be a positive integer, got {sync_id!r}"
            raise ValueError(msg)

        with self._lock:
            if sync_id is None:
                while self._next_sync_id in self._syncs:
                    self._next_sync_id += 1
                sync_id = self._next_sync_id
            elif sync_id in self._syncs:
                msg = f"sync {sync_id} exists already"
                raise ValueError(msg)

            created = datetime.now(timezone.utc)
            label = f"Emulated sync {sync_id}" if label is None else label
            self._syncs[sync_id] = Sync(sync_id, label, paused, plan, created)

        return sync_id

    def set_plan(self, sync_id: int, plan: RunPlan) -> None:
        """Set the plan of runs triggered from now on."""
        _check_plan(plan)
        with self._lock:
            self._sync(sync_id).plan = plan

    def add_faults(
        self, sync_id: int, trigger: Iterable[Fault], status: Iterable[Fault]
    ) -> None:
        """Append faults to the sync's trigger queue and status queue."""
        trigger = list(trigger)
        status = list(status)
        for fault in trigger + status:
            if not isinstance(fault, Fault):
                msg = f"expected a Fault, got {fault!r}"
                raise TypeError(msg)
        for fault in status:
            if fault.kind == "after_start":
                msg = "after_start faults apply to the trigger queue only"
                raise ValueError(msg)

        with self._lock:
            sync = self._sync(sync_id)
            sync.trigger_faults.extend(trigger)
            sync.status_faults.extend(status)

    def pop_fault(self, sync_id: int, queue: str) -> Fault | None:
        """Remove and return the next fault of the `trigger` or `status` queue."""
        with self._lock:
            sync = self._sync(sync_id)
            faults = sync.trigger_faults if queue == "trigger" else sync.status_faults

            return faults.popleft() if faults else None

    def has_sync(self, sync_id: int) -> bool:
        with self._lock:
            return sync_id in self._syncs

    def sync_data(self, sync_id: int) -> dict[str, Any]:
        with self._lock:
            return self._sync(sync_id).data()

    def sync_plan(self, sync_id: int) -> RunPlan:
        with self._lock:
            return self._sync(sync_id).plan

    def start_run(self, sync_id: int, full_sync: bool, now: float) -> int:
        """Start a run of the sync with its current plan and return the run id."""
        with self._lock:
            sync = self._sync(sync_id)
            plan = sync.plan
            if self.skip_overlapping_runs and any(
                self._runs[run_id].finished_at(now) is None for run_id in sync.run_ids
            ):
                plan = plan.as_skipped()

            run_id = self._next_run_id
            self._next_run_id += 1
            created = datetime.now(timezone.utc)
            self._runs[run_id] = Run(run_id, sync_id, plan, full_sync, now, created)
            sync.run_ids.append(run_id)

        return run_id

    def run_sync_id(self, run_id: int) -> int:
        with self._lock:
            return self._run(run_id).sync_id

    def run_data(self, run_id: int, now: float) -> dict[str, Any]:
        with self._lock:
            return self._run(run_id).data(now)

    def cancel_run(self, run_id: int, now: float) -> None:
        with self._lock:
            self._run(run_id).cancel(now)

    def finished_at(self, run_id: int, now: float) -> float | None:
        with self._lock:
            return self._run(run_id).finished_at(now)

    def run_ids(self, sync_id: int | None = None) -> list[int]:
        """Return run ids in trigger order, of one sync or of all syncs."""
        with self._lock:
            if sync_id is None:
                return list(self._runs)

            return list(self._sync(sync_id).run_ids)

    def list_runs(
        self, sync_id: int, page: int, per_page: int, now: float
    ) -> dict[str, Any]:
        """Return one page of the sync's runs, newest first, with `pagination`."""
        with self._lock:
            newest_first = list(reversed(self._sync(sync_id).run_ids))
            total = len(newest_first)
            last_page = max(1, math.ceil(total / per_page))
            start = (page - 1) * per_page
            data = [
                self._runs[run_id].data(now)
                for run_id in newest_first[start : start + per_page]
            ]

        pagination = {
            "total_records": total,
            "per_page": per_page,
            "prev_page": page - 1 if page > 1 else None,
            "page": page,
            "next_page": page + 1 if page < last_page else None,
            "last_page": last_page,
        }

        return {"status": "success", "data": data, "pagination": pagination}

    def record(self, request: RequestRecord) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def _sync(self, sync_id: int) -> Sync:
        try:
            return self._syncs[sync_id]
        except KeyError:
            msg = f"no sync with id {sync_id}"
            raise KeyError(msg) from None

    def _run(self, run_id: int) -> Run:
        try:
            return self._runs[run_id]
        except KeyError:
            msg = f"no sync run with id {run_id}"
            raise KeyError(msg) from None


def _check_plan(plan: RunPlan) -> None:
    if not isinstance(plan, RunPlan):
        msg = f"expected a RunPlan, got {plan!r}"
        raise TypeError(msg)
