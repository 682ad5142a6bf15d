"""Prefect tasks, flows and blocks for triggering Census syncs and waiting on them."""

import importlib
from typing import Any

__version__ = "0.1.0"

from prefect_census.credentials import CensusCredentials  # noqa: E402
from prefect_census.exceptions import (  # noqa: E402
    CensusAPIError,
    CensusAuthenticationError,
    CensusConnectionError,
    CensusError,
    CensusSyncCancelled,
    CensusSyncFailed,
    CensusSyncNotFound,
    CensusSyncRunError,
    CensusSyncRunNotFound,
    CensusSyncsFailed,
    CensusSyncSkipped,
    CensusSyncTimeout,
    CensusTriggerOutcomeUnknown,
    CensusUnexpectedResponse,
    CensusUnknownSyncStatus,
    InvalidTriggerURL,
)

__all__ = [
    "CensusAPIError",
    "CensusAuthenticationError",
    "CensusConnectionError",
    "CensusCredentials",
    "CensusError",
    "CensusSyncCancelled",
    "CensusSyncFailed",
    "CensusSyncNotFound",
    "CensusSyncRunError",
    "CensusSyncRunNotFound",
    "CensusSyncSkipped",
    "CensusSync",
    "CensusSyncRun",
    "CensusSyncsFailed",
    "CensusSyncTimeout",
    "CensusTriggerOutcomeUnknown",
    "CensusUnexpectedResponse",
    "CensusUnknownSyncStatus",
    "InvalidTriggerURL",
    "check_census_sync",
    "get_census_sync_run",
    "run_census_sync",
    "run_census_sync_job",
    "run_census_syncs",
    "trigger_census_sync",
    "wait_for_census_sync_run",
]

# Tasks, flows and the job block load on first use: defining a flow costs
# Prefect tens of milliseconds, which `import prefect_census` need not pay.
_LAZY = {
    "CensusSync": "prefect_census.jobs",
    "CensusSyncRun": "prefect_census.jobs",
    "run_census_sync_job": "prefect_census.jobs",
    "run_census_sync": "prefect_census.flows",
    "run_census_syncs": "prefect_census.flows",
    "check_census_sync": "prefect_census.tasks",
    "get_census_sync_run": "prefect_census.tasks",
    "trigger_census_sync": "prefect_census.tasks",
    "wait_for_census_sync_run": "prefect_census.tasks",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'prefect_census' has no attribute {name!r}")

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value

    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
