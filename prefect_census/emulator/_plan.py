"""Run plans and faults: how the emulator behaves when a sync is triggered."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

SYNC_STEPS: tuple[str, ...] = (
    "Preparing sync",
    "Querying source",
    "Unloading data from warehouse",
    "Computing changes",
    "Loading data into destination service",
    "Finishing sync",
)
"""The emulator's own sequence of `current_step` values for a working run.

Census reports step names of this kind, but this list is made up for the emulator and
is not a copy of the list Census uses.
"""

DEFAULT_ERROR_CODE = "sync_failed"
DEFAULT_ERROR_MESSAGE = "The destination rejected the batch."
DEFAULT_ERROR_DETAIL = "The destination service returned HTTP 400 for every record."

_COUNTERS = (
    "source_record_count",
    "records_processed",
    "records_updated",
    "records_failed",
    "records_invalid",
)


@dataclass(frozen=True)
class RunPlan:
    """Script for the sync runs that the emulator starts.

    A run is `queued` for `queued_seconds`, then `working` for `working_seconds`,
    then ends with `final_status`. Either duration may be `math.inf`, which keeps
    the run in that state until it is cancelled.

    Args:
        queued_seconds: Time from the trigger until the run reports `working`.
        working_seconds: Time the run reports `working`. The record counters rise
            linearly from 0 to their final values over this time.
        final_status: `completed`, `failed`, `skipped`, `cancelled` or any other
            string. `cancelled` is reported as `status: "completed"` with
            `canceled: true`. Any other string is reported verbatim, as Census
            would report a status the client does not know.
        source_record_count: Rows the source query returned.
        records_processed: Final number of rows sent to the destination.
        records_updated: Final number of rows the destination accepted.
        records_failed: Final number of rows the destination rejected.
        records_invalid: Final number of rows rejected before sending.
        error_code: `error_code` of the finished run. A failed run gets
            `DEFAULT_ERROR_CODE` when this is None.
        error_message: `error_message` of the finished run, with a made-up default
            for a failed run.
        error_detail: `error_detail` of the finished run, with a made-up default
            for a failed run.
        steps: `current_step` values that a working run walks through evenly.
        refuse_full_sync: Reject a trigger with `force_full_sync=true` with HTTP
            400 and start no run, as Census does for sync modes such as append.

    Raises:
        ValueError: A duration is negative or NaN, a counter is negative, or
            `final_status` is empty.
    """

    queued_seconds: float = 0.0
    working_seconds: float = 1.0
    final_status: str = "completed"
    source_record_count: int = 100
    records_processed: int = 100
    records_updated: int = 100
    records_failed: int = 0
    records_invalid: int = 0
    error_code: str | None = None
    error_message: str | None = None
    error_detail: str | None = None
    steps: tuple[str, ...] = SYNC_STEPS
    refuse_full_sync: bool = False

    def __post_init__(self) -> None:
        for name in ("queued_seconds", "working_seconds"):
            seconds = getattr(self, name)
            if math.isnan(seconds) or seconds < 0:
                msg = f"{name} must be zero or more seconds, got {seconds!r}"
                raise ValueError(msg)

        for name in _COUNTERS:
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                msg = f"{name} must be an integer of zero or more, got {count!r}"
                raise ValueError(msg)

        if not isinstance(self.final_status, str) or not self.final_status:
            msg = f"final_status must be a non-empty string, got {self.final_status!r}"
            raise ValueError(msg)

        # A list is accepted for convenience and stored as a tuple, so the plan
        # stays hashable and immutable.
        object.__setattr__(self, "steps", tuple(self.steps))

    def error_fields(self) -> tuple[str | None, str | None, str | None]:
        """Return `error_code`, `error_message` and `error_detail` of a finished run.

        Returns:
            The plan's values, with made-up defaults filled in for a failed run.
        """
        if self.final_status != "failed":
            return self.error_code, self.error_message, self.error_detail

        return (
            self.error_code or DEFAULT_ERROR_CODE,
            self.error_message or DEFAULT_ERROR_MESSAGE,
            self.error_detail or DEFAULT_ERROR_DETAIL,
        )

    def as_skipped(self) -> RunPlan:
        """Return the plan of a run skipped because an earlier run was unfinished.

        The run keeps its queued time, then ends `skipped` at once with no records.
        """
        zero_counts = dict.fromkeys(_COUNTERS, 0)

        return dataclasses.replace(
            self,
            working_seconds=0.0,
            final_status="skipped",
            error_code=None,
            error_message=None,
            error_detail=None,
            **zero_counts,
        )


FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "status",
        "html",
        "slow",
        "drop",
        "not_json",
        "not_found",
        "outer_error",
        "missing_data",
        "after_start",
    }
)


@dataclass(frozen=True)
class Fault:
    """A bad response that the emulator sends once instead of the normal one.

    Build faults with the class methods and queue them with
    `CensusEmulator.add_faults`. Each request to the matching endpoint consumes
    the next fault of its queue.

    Args:
        kind: One of `FAULT_KINDS`.
        status_code: HTTP status of `status` and `html` faults.
        retry_after: `Retry-After` header value of a `rate_limit` fault.
        seconds: Delay of a `slow` fault.
        inner: Fault that an `after_start` fault sends after starting the run.
    """

    kind: str
    status_code: int | None = None
    retry_after: int | str | None = None
    seconds: float | None = None
    inner: Fault | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            expected = ", ".join(sorted(FAULT_KINDS))
            msg = f"unknown fault kind {self.kind!r}, expected one of: {expected}"
            raise ValueError(msg)

    @classmethod
    def rate_limit(cls, retry_after: int | str | None = None) -> Fault:
        """Make a fault that sends HTTP 429, with `Retry-After` verbatim if given."""
        return cls("rate_limit", status_code=429, retry_after=retry_after)

    @classmethod
    def status(cls, code: int) -> Fault:
        """Make a fault that sends HTTP `code`, such as 503, with a JSON error body."""
        if (
            isinstance(code, bool)
            or not isinstance(code, int)
            or not 100 <= code <= 599
        ):
            msg = f"HTTP status code must be an integer from 100 to 599, got {code!r}"
            raise ValueError(msg)

        return cls("status", status_code=code)

    @classmethod
    def html(cls, code: int = 503) -> Fault:
        """Make a fault that sends a load balancer's HTML page with HTTP `code`."""
        return dataclasses.replace(cls.status(code), kind="html")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Make a fault that waits `seconds` before the normal response."""
        if not 0 <= seconds < math.inf:
            msg = f"delay must be finite and zero or more seconds, got {seconds!r}"
            raise ValueError(msg)

        return cls("slow", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Make a fault that closes the connection without any response."""
        return cls("drop")

    @classmethod
    def not_json(cls) -> Fault:
        """Make a fault that sends HTTP 200 with a plain-text body, not JSON."""
        return cls("not_json")

    @classmethod
    def not_found(cls) -> Fault:
        """Make a fault that sends HTTP 404, as for a run that is not visible yet."""
        return cls("not_found", status_code=404)

    @classmethod
    def outer_error(cls) -> Fault:
        """Make a fault that sends HTTP 200 with `{"status": "error", ...}`."""
        return cls("outer_error")

    @classmethod
    def missing_data(cls) -> Fault:
        """Make a fault that sends HTTP 200 with `{"status": "success"}` and no data."""
        return cls("missing_data")

    @classmethod
    def after_start(cls, inner: Fault) -> Fault:
        """Make a fault that starts the run, then plays `inner` instead of success.

        Only valid in the trigger queue. A trigger fault without this wrapper
        starts no run, except `slow`, which delays a normal trigger.
        """
        if not isinstance(inner, Fault) or inner.kind == "after_start":
            msg = f"after_start needs a fault other than after_start, got {inner!r}"
            raise ValueError(msg)

        return cls("after_start", inner=inner)
