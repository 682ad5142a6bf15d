"""Run a Census sync end to end on the local emulator: `make demo`.

Starts the emulator on a free loopback port, saves a `CensusCredentials` block
to Prefect's API, loads it back, runs the packaged flow, and prints the data of
the finished sync run.
"""

from __future__ import annotations

import json
import os

# The demo's Prefect server is a temporary local one; it must not try to reach
# the internet.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect_census import CensusCredentials, run_census_sync  # noqa: E402
from prefect_census.emulator import CensusEmulator, RunPlan  # noqa: E402

BLOCK_NAME = "demo-census-sync"


def main() -> None:
    # Six steps of five seconds each, so every step shows up in the logs.
    plan = RunPlan(
        queued_seconds=3,
        working_seconds=30,
        source_record_count=1200,
        records_processed=1200,
        records_updated=1187,
        records_failed=13,
    )
    with CensusEmulator() as census:
        sync_id = census.add_sync(plan=plan, label="Accounts to Salesforce")
        print(f"Census emulator listening on {census.base_url}; sync {sync_id}.")

        CensusCredentials(api_trigger=census.trigger_url(sync_id)).save(
            BLOCK_NAME, overwrite=True
        )
        credentials = CensusCredentials.load(BLOCK_NAME)
        print(f"Saved and loaded the block {BLOCK_NAME!r}: {credentials!r}")

        run = run_census_sync(credentials, poll_status_every_n_seconds=10)

    print("Sync run data returned by run_census_sync:")
    print(json.dumps(run, indent=2))
    print(
        f"Summary: sync run {run['id']} {run['status']}; "
        f"{run['records_processed']} records processed, "
        f"{run['records_updated']} updated, {run['records_failed']} failed, "
        f"{run['records_invalid']} invalid."
    )


if __name__ == "__main__":
    main()
