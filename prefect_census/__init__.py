"""Prefect tasks, flows and blocks for triggering Census syncs and waiting on them."""

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
from prefect_census.flows import run_census_sync, run_census_syncs  # noqa: E402
from prefect_census.jobs import (  # noqa: E402
    CensusSync,
    CensusSyncRun,
    run_census_sync_job,
)
from prefect_census.tasks import (  # noqa: E402
    check_census_sync,
    get_census_sync_run,
    trigger_census_sync,
    wait_for_census_sync_run,
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
