"""One fan-out job for the archived prefect-census 0.2.2 on Prefect 2.

Run by `benchmarks/run.py` as `python _child_archived.py SPEC.json RESULT.json`
with the interpreter of the virtual environment that contains prefect-census 0.2.2,
never this checkout.

prefect-census 0.2.2 builds its `httpx.AsyncClient` with the fixed base URL
`https://app.getcensus.com/api/v1` and has no setting to change it, so this
script replaces the `AsyncClient` name in `prefect_census.client` with a factory
that points the client at the emulator. Nothing else of the package changes: it
still opens a new client, and so a new connection, for every request.
"""

import asyncio
import sys
import traceback

import httpx
from _usage import Usage, describe_error, measurement, read_spec, write_result
from prefect import flow

# This is prefect-census 0.2.2 from the child's environment, not this checkout.
from prefect_census import CensusCredentials, client, syncs


def point_client_at(api_url: str) -> None:
    """Make every client that prefect-census 0.2.2 builds send to `api_url`."""

    def async_client(*args, **kwargs):
        kwargs["base_url"] = api_url
        return httpx.AsyncClient(*args, **kwargs)

    client.AsyncClient = async_client


@flow(name="Fan out Census syncs with prefect-census 0.2.2")
async def fan_out_archived(credentials: CensusCredentials, sync_ids: list) -> list:
    """Run the package's trigger-and-wait flow for every sync at once."""
    return await asyncio.gather(
        *(
            syncs.trigger_census_sync_run_and_wait_for_completion(
                credentials=credentials, sync_id=sync_id
            )
            for sync_id in sync_ids
        )
    )


def main() -> int:
    spec = read_spec()
    point_client_at(spec["base_url"] + "/api/v1")
    # Census API keys start with `secret-token:`, and 0.2.2 sends the key as
    # given, in `Authorization: Bearer <key>`.
    credentials = CensusCredentials(api_key="secret-token:" + spec["token"])

    try:
        start = Usage.now()
        asyncio.run(fan_out_archived(credentials, spec["sync_ids"]))
        end = Usage.now()
    except Exception as exc:
        traceback.print_exc()
        write_result({"error": describe_error(exc)})
        return 1

    write_result(measurement(start, end))

    return 0


if __name__ == "__main__":
    sys.exit(main())
