"""One benchmark job for this package or the Prefect 1 style baseline.

Run by `benchmarks/run.py` as `python _child_current.py SPEC.json RESULT.json`,
in the environment that has this checkout installed. The job description names
the contender, the mode and the emulator's trigger URLs.

Modes:

- `fanout`: one flow triggers every sync and waits for all runs.
- `lag`: one single-sync flow per trigger URL, all started at once from
  threads; the result contains the monotonic time each flow returned.
"""

import sys
import threading
import time
import traceback

import httpx
from _usage import Usage, describe_error, measurement, read_spec, write_result
from prefect import flow, task

from prefect_census import (
    CensusCredentials,
    run_census_sync,
    trigger_census_sync,
    wait_for_census_sync_run,
)

# Statuses of an unfinished run, as the Prefect 1 Census task knew them.
PREFECT1_IN_PROGRESS = ("queued", "working")
PREFECT1_MIN_INTERVAL_SECONDS = 5.0


@flow(name="Fan out Census syncs with map")
def fan_out_with_map(credentials: list[CensusCredentials]) -> list[dict]:
    """Trigger every sync, then wait for every run, each step as mapped tasks."""
    sync_run_ids = trigger_census_sync.map(credentials)
    waits = wait_for_census_sync_run.map(credentials, sync_run_ids)

    return [future.result() for future in waits]


@task(name="Census sync, Prefect 1 style")
def run_sync_prefect1_style(trigger_url: str, poll_interval: float) -> dict:
    """Trigger a sync and poll its run as the Prefect 1 Census task did.

    Each request opens its own connection (no shared client), the token goes as
    Basic auth from the URL's userinfo, and every check follows a full sleep of
    the poll interval.
    """
    response = httpx.post(trigger_url)
    response.raise_for_status()
    sync_run_id = response.json()["data"]["sync_run_id"]
    status_url = httpx.URL(trigger_url).copy_with(
        path=f"/api/v1/sync_runs/{sync_run_id}"
    )

    while True:
        time.sleep(max(PREFECT1_MIN_INTERVAL_SECONDS, poll_interval))
        response = httpx.get(status_url)
        response.raise_for_status()
        run = response.json()["data"]
        if run["status"] not in PREFECT1_IN_PROGRESS:
            break

    if run["status"] != "completed":
        msg = f"Census sync run {sync_run_id} ended with status {run['status']}."
        raise RuntimeError(msg)

    return run


@flow(name="Census syncs, Prefect 1 style")
def prefect1_style_syncs(trigger_urls: list[str], poll_interval: float) -> list[dict]:
    """Run the syncs one after another, as a Prefect 1 flow of these tasks did."""
    return [run_sync_prefect1_style(url, poll_interval) for url in trigger_urls]


def run_fanout(spec: dict) -> dict:
    contender = spec["contender"]
    urls = spec["trigger_urls"]
    blocks = [CensusCredentials(api_trigger=url) for url in urls]

    start = Usage.now()
    if contender == "map":
        fan_out_with_map(blocks)
    elif contender == "flow":
        from prefect_census.flows import run_census_syncs

        run_census_syncs(blocks)
    elif contender == "baseline":
        prefect1_style_syncs(urls, spec["poll_interval"])
    else:
        msg = f"unknown contender {contender!r}"
        raise ValueError(msg)
    end = Usage.now()

    return measurement(start, end)


def run_lag(spec: dict) -> dict:
    contender = spec["contender"]
    urls = spec["trigger_urls"]
    returned: list[float | None] = [None] * len(urls)
    errors: list[str] = []

    def follow(index: int, url: str) -> None:
        try:
            if contender == "package":
                run_census_sync(CensusCredentials(api_trigger=url))
            elif contender == "baseline":
                prefect1_style_syncs([url], spec["poll_interval"])
            else:
                msg = f"unknown contender {contender!r}"
                raise ValueError(msg)
        except Exception as exc:
            traceback.print_exc()
            errors.append(describe_error(exc))
            return
        returned[index] = time.monotonic()

    threads = [
        threading.Thread(target=follow, args=(index, url))
        for index, url in enumerate(urls)
    ]
    start = Usage.now()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = Usage.now()

    return measurement(start, end, returned=returned, errors=errors)


def main() -> int:
    spec = read_spec()
    try:
        if spec["mode"] == "fanout":
            result = run_fanout(spec)
        else:
            result = run_lag(spec)
    except Exception as exc:
        traceback.print_exc()
        write_result({"error": describe_error(exc)})
        return 1

    write_result(result)

    return 0


if __name__ == "__main__":
    sys.exit(main())
