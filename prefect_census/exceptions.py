"""Errors raised by prefect-census, all under one root, `CensusError`.

Every error carries the sync id, the sync run id (when one is known) and a link
to the sync's history page in Census, so a caller can report or retry without
parsing the message. No error message ever contains the API token.

```
CensusError
├── InvalidTriggerURL (also a ValueError)
├── CensusConnectionError
├── CensusAPIError
│   ├── CensusAuthenticationError
│   ├── CensusSyncNotFound
│   ├── CensusSyncRunNotFound
│   └── CensusUnexpectedResponse
├── CensusTriggerOutcomeUnknown
├── CensusSyncTimeout
├── CensusSyncsFailed
└── CensusSyncRunError
    ├── CensusSyncFailed
    ├── CensusSyncSkipped
    ├── CensusSyncCancelled
    └── CensusUnknownSyncStatus
```
"""

from __future__ import annotations

from typing import Any, Optional


class CensusError(Exception):
    """Root of every error raised by prefect-census.

    Attributes:
        sync_id: The Census sync the error is about, if known.
        sync_run_id: The Census sync run the error is about, if known.
        history_url: The sync's history page in the Census UI, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        sync_id: Optional[int] = None,
        sync_run_id: Optional[int] = None,
        history_url: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sync_id = sync_id
        self.sync_run_id = sync_run_id
        self.history_url = history_url

    def _context(self) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "sync_run_id": self.sync_run_id,
            "history_url": self.history_url,
        }

    def __reduce__(self):
        # Keyword-only arguments would otherwise be lost when Prefect pickles a
        # failed state's exception.
        return (_rebuild, (type(self), self.message, self._context()))


def _rebuild(cls: type[CensusError], message: str, context: dict[str, Any]):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.message = message
    error.__dict__.update(context)

    return error


class InvalidTriggerURL(CensusError, ValueError):
    """The API trigger URL is invalid; the message names the part that is wrong."""


class CensusConnectionError(CensusError):
    """Census could not be reached, so no response arrived."""


class CensusAPIError(CensusError):
    """Census returned an error for a request.

    Attributes:
        status_code: The HTTP status code of the response, if there was one.
    """

    def __init__(self, message: str, *, status_code: Optional[int] = None, **context):
        super().__init__(message, **context)
        self.status_code = status_code

    def _context(self) -> dict[str, Any]:
        return {**super()._context(), "status_code": self.status_code}


class CensusAuthenticationError(CensusAPIError):
    """Census rejected the token (HTTP 401 or 403)."""


class CensusSyncNotFound(CensusAPIError):
    """Census has no sync with this id in the token's workspace."""


class CensusSyncRunNotFound(CensusAPIError):
    """Census has no sync run with this id."""


class CensusUnexpectedResponse(CensusAPIError):
    """Census returned a body this package cannot read."""


class CensusTriggerOutcomeUnknown(CensusError):
    """The trigger request was sent, but whether Census started a run is unknown.

    The trigger is not retried, because a second request could start a second
    run. Check the sync history page before triggering again.
    """


class CensusSyncTimeout(CensusError):
    """The wait for a sync run reached its time limit; the run goes on in Census."""


class CensusSyncRunError(CensusError):
    """A sync run ended without success.

    Attributes:
        status: The run's `status` field as Census reported it.
        run: The run's whole `data` object from Census.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[str] = None,
        run: Optional[dict[str, Any]] = None,
        **context,
    ):
        super().__init__(message, **context)
        self.status = status
        self.run = run or {}

    def _context(self) -> dict[str, Any]:
        return {**super()._context(), "status": self.status, "run": self.run}


class CensusSyncFailed(CensusSyncRunError):
    """The sync run failed.

    The properties `error_code`, `error_message` and `error_detail` give the cause.
    """

    @property
    def error_code(self) -> Optional[str]:
        return self.run.get("error_code")

    @property
    def error_message(self) -> Optional[str]:
        return self.run.get("error_message")

    @property
    def error_detail(self) -> Optional[str]:
        return self.run.get("error_detail")


class CensusSyncSkipped(CensusSyncRunError):
    """Census skipped the run, usually because an earlier run of the sync was going."""


class CensusSyncCancelled(CensusSyncRunError):
    """The sync run was cancelled in Census before it finished."""


class CensusUnknownSyncStatus(CensusSyncRunError):
    """Census reported a run status this package does not know, so it is not success."""


class CensusSyncsFailed(CensusError):
    """Some of several syncs run together did not complete.

    Attributes:
        failures: The error of each sync that did not complete, in order.
        failed_sync_ids: The sync id of each error in `failures`.
        runs: Each sync's run data in the order given, `None` where it failed.
    """

    def __init__(
        self,
        failures: list[Exception],
        runs: Optional[list[Optional[dict[str, Any]]]] = None,
        failed_sync_ids: Optional[list[Optional[int]]] = None,
    ) -> None:
        if failed_sync_ids is None:
            failed_sync_ids = [getattr(error, "sync_id", None) for error in failures]
        lines = []
        for sync_id, error in zip(failed_sync_ids, failures):
            run_id = getattr(error, "sync_run_id", None)
            run = f", run {run_id}" if run_id else ""
            lines.append(f"- sync {sync_id}{run}: {type(error).__name__}: {error}")
        count = len(runs) if runs is not None else len(failures)
        message = f"{len(failures)} of {count} Census syncs did not complete:\n"
        super().__init__(message + "\n".join(lines))
        self.failures = failures
        self.failed_sync_ids = failed_sync_ids
        self.runs = runs or []

    def __reduce__(self):
        return (type(self), (self.failures, self.runs, self.failed_sync_ids))
