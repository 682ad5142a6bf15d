"""A local emulator of the Census API v1 for tests, demos and benchmarks.

The emulator uses only the standard library and imports nothing else from
`prefect_census`, so tests that run the package against it do not have the package
checking itself.

Examples:
    >>> from prefect_census.emulator import CensusEmulator, RunPlan
    >>> with CensusEmulator() as census:
    ...     sync_id = census.add_sync(RunPlan(working_seconds=2, records_updated=117))
    ...     census.trigger_count(sync_id)
    0
"""

from __future__ import annotations

from ._plan import SYNC_STEPS, Fault, RunPlan
from ._server import CensusEmulator
from ._workspace import RequestRecord

__all__ = ["SYNC_STEPS", "CensusEmulator", "Fault", "RequestRecord", "RunPlan"]
