"""Regression tests for faults found by attacking the package on purpose."""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import threading
import time

import httpx
import pytest
import respx

from prefect_census import (
    CensusCredentials,
    CensusSync,
    CensusSyncCancelled,
    CensusSyncTimeout,
    CensusTriggerOutcomeUnknown,
    CensusUnexpectedResponse,
    CensusUnknownSyncStatus,
    InvalidTriggerURL,
    _api,
    run_census_sync,
    run_census_syncs,
)
from prefect_census._compat import PREFECT_MAJOR, run_coroutine
from prefect_census._waiting import wait_for_run
from prefect_census.emulator import Fault, RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")

TOKEN = "Zq8vWx3RkP0mNa7B"
URL = f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger"
RUN = "https://app.getcensus.com/api/v1/sync_runs/7"
LOGGER = __import__("logging").getLogger("prefect_census.test")


def _client(**options):
    return CensusCredentials(api_trigger=URL, **options).get_client()


def _wait(client, **options):
    options.setdefault("max_wait_seconds", 30)
    return asyncio.run(wait_for_run(client, 7, interval=0.1, logger=LOGGER, **options))


@pytest.mark.parametrize(
    "options",
    [
        {"max_wait_seconds": 0},
        {"max_wait_seconds": float("nan")},
        {"poll_status_every_n_seconds": -1},
        {"poll_status_every_n_seconds": float("inf")},
    ],
)
def test_bad_options_rejected_before_trigger(census_emulator, credentials_for, options):
    """Invalid wait options raise before any run is started."""
    sync_id = census_emulator.add_sync()

    with pytest.raises(ValueError):
        run_census_sync(credentials_for(sync_id), **options)

    assert census_emulator.trigger_count(sync_id) == 0


def test_many_syncs_bad_options_start_nothing(census_emulator, credentials_for):
    """run_census_syncs checks its options before triggering any sync."""
    sync_ids = [census_emulator.add_sync() for _ in range(2)]

    with pytest.raises(ValueError):
        run_census_syncs([credentials_for(s) for s in sync_ids], max_wait_seconds=0)

    assert [census_emulator.trigger_count(s) for s in sync_ids] == [0, 0]


def test_job_block_bad_options_start_nothing(census_emulator, credentials_for):
    """The job block checks its options before triggering."""
    sync_id = census_emulator.add_sync()
    job = CensusSync(
        credentials=credentials_for(sync_id),
        poll_status_every_n_seconds=float("inf"),
    )

    with pytest.raises(ValueError):
        job.trigger()

    assert census_emulator.trigger_count(sync_id) == 0


def test_repeated_sync_rejected(census_emulator, credentials_for):
    """The same sync twice is rejected up front, since Census skips the second."""
    sync_id = census_emulator.add_sync()
    block = credentials_for(sync_id)

    with pytest.raises(ValueError) as caught:
        run_census_syncs([block, block])

    assert str(caught.value).startswith(
        f"Census sync {sync_id} appears more than once in credentials"
    )
    assert census_emulator.trigger_count(sync_id) == 0


def test_retry_after_capped():
    """A huge Retry-After is capped, not slept through for years."""
    assert _api.retry_after_seconds("1000000000") == 300.0
    assert _api.retry_after_seconds("9" * 400) == 300.0


def test_retry_after_non_ascii_digits():
    """Digits outside ASCII in Retry-After are ignored, not a crash."""
    assert _api.retry_after_seconds("\u00b2") is None


@respx.mock
def test_trigger_retry_after_capped(monkeypatch):
    """The trigger waits at most 60 s on a 429, whatever Retry-After requests."""
    pauses = []

    async def record(seconds):
        pauses.append(seconds)

    monkeypatch.setattr(_api.asyncio, "sleep", record)
    respx.post("https://app.getcensus.com/api/v1/syncs/42/trigger").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1000000000"}),
            httpx.Response(200, json={"status": "success", "data": {"sync_run_id": 5}}),
        ]
    )

    assert asyncio.run(_client().trigger()) == 5
    assert pauses == [60.0]


def _trickle_server():
    """Start a server that sends one header line a second and never finishes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    def trickle(connection):
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.is_set():
                connection.sendall(b"X-Slow: yes\r\n")
                time.sleep(0.3)
        except OSError:
            pass
        finally:
            connection.close()

    threading.Thread(target=serve, daemon=True).start()

    return listener.getsockname()[1], stop


def test_trickling_trigger_ends():
    """A response that trickles in forever ends within the request's time limit."""
    port, stop = _trickle_server()
    credentials = CensusCredentials(
        api_trigger=f"http://bearer:secret-token:{TOKEN}@127.0.0.1:{port}"
        "/api/v1/syncs/1/trigger",
        request_timeout_seconds=0.5,
        connect_timeout_seconds=0.5,
    )

    started = time.monotonic()
    with pytest.raises(CensusTriggerOutcomeUnknown):
        run_coroutine(credentials.get_client().trigger())
    stop.set()

    assert time.monotonic() - started < 10


def test_trickling_status_respects_time_limit():
    """A status read that trickles forever ends at the wait's time limit."""
    port, stop = _trickle_server()
    credentials = CensusCredentials(
        api_trigger=f"http://bearer:secret-token:{TOKEN}@127.0.0.1:{port}"
        "/api/v1/syncs/1/trigger",
    )

    started = time.monotonic()
    with pytest.raises(CensusSyncTimeout) as caught:
        run_coroutine(
            wait_for_run(
                credentials.get_client(),
                7,
                interval=0.1,
                max_wait_seconds=1,
                logger=LOGGER,
            )
        )
    stop.set()

    assert time.monotonic() - started < 15
    assert "the last status request got ReadTimeout" in str(caught.value)


@pytest.mark.skipif(
    PREFECT_MAJOR < 3, reason="Prefect 2 runs the task where the signal cannot reach"
)
def test_awaited_flow_cancel_stops_wait(census_emulator, credentials_for):
    """Cancelling an awaited flow stops its wait and cancels the run when asked."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=float("inf")))
    credentials = credentials_for(sync_id)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                run_census_sync(credentials, cancel_on_stop=True), timeout=2
            )

    started = time.monotonic()
    asyncio.run(main())

    run_id = census_emulator.runs(sync_id)[0]
    assert time.monotonic() - started < 20
    assert census_emulator.run_data(run_id)["canceled"] is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_new_connections(census_emulator, credentials_for):
    """A forked child triggers through its own loop and connections."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=60))
    credentials = credentials_for(sync_id)
    run_coroutine(credentials.get_client().trigger())

    child = os.fork()
    if child == 0:
        try:
            run_coroutine(credentials.get_client().get_sync())
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)

    assert os.WEXITSTATUS(status) == 0
    assert census_emulator.trigger_count(sync_id) == 1


@respx.mock
def test_missing_status_keeps_waiting():
    """A young run without a status is waited on, not failed."""
    respx.get(RUN).mock(
        side_effect=[
            httpx.Response(200, json={"status": "success", "data": {"id": 7}}),
            httpx.Response(
                200, json={"status": "success", "data": {"id": 7, "status": None}}
            ),
            httpx.Response(
                200,
                json={"status": "success", "data": {"id": 7, "status": "completed"}},
            ),
        ]
    )

    assert _wait(_client())["status"] == "completed"


@respx.mock
def test_lasting_missing_status_is_unknown():
    """A status that stays missing is reported as unknown, never success."""
    respx.get(RUN).respond(200, json={"status": "success", "data": {"id": 7}})

    with pytest.raises(CensusUnknownSyncStatus):
        _wait(_client())


@pytest.mark.parametrize("flag", ["true", 1, "TRUE", "yes"])
@respx.mock
def test_odd_canceled_flag_is_cancelled(flag):
    """A canceled flag that is not a plain boolean still means cancelled."""
    data = {"id": 7, "status": "completed", "canceled": flag}
    respx.get(RUN).respond(200, json={"status": "success", "data": data})

    with pytest.raises(CensusSyncCancelled):
        _wait(_client())


@pytest.mark.parametrize("status", [["completed"], {"a": 1}, 1, "COMPLETED"])
@respx.mock
def test_odd_status_is_unknown(status):
    """A status of the wrong type or case is unknown, never success."""
    data = {"id": 7, "status": status}
    respx.get(RUN).respond(200, json={"status": "success", "data": data})

    with pytest.raises(CensusUnknownSyncStatus):
        _wait(_client())


@respx.mock
def test_deeply_nested_body_is_unreadable():
    """A body nested too deeply to parse is an unreadable response."""
    respx.get(RUN).respond(200, text="[" * 100000)

    with pytest.raises(CensusUnexpectedResponse):
        asyncio.run(_client().get_sync_run(7))


@respx.mock
def test_huge_trigger_body_cut_short():
    """A huge body is read only up to the size limit."""
    respx.post("https://app.getcensus.com/api/v1/syncs/42/trigger").respond(
        200, content=b"x" * (3 * 1024 * 1024)
    )

    with pytest.raises(CensusTriggerOutcomeUnknown):
        asyncio.run(_client().trigger())


@pytest.mark.parametrize(
    "url",
    [
        f"bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/1/trigger"
        "?u=https://x",
        f"https://bearer:secret-token:@{TOKEN}.getcensus.com/api/v1/syncs/1/trigger",
    ],
)
def test_lowercased_token_not_quoted(url):
    """A token quoted in lower case inside a message is still hidden."""
    with pytest.raises(InvalidTriggerURL) as caught:
        CensusCredentials(api_trigger=url)

    assert TOKEN.lower() not in str(caught.value).lower()


def test_rejection_pickle_hides_token():
    """The rejection raised on construction carries no copy of the URL."""
    url = URL.replace("app.getcensus.com", "example.com")

    with pytest.raises(InvalidTriggerURL) as caught:
        CensusCredentials(api_trigger=url)

    assert TOKEN.encode() not in pickle.dumps(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"http://bearer:secret-token:{TOKEN}@127.0.0.1:\uff18\uff10/api/v1/syncs/1/trigger",
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com../api/v1/syncs/1/trigger",
    ],
)
def test_odd_hosts_and_ports_rejected(url):
    """Non-ASCII port digits and doubled trailing dots are rejected."""
    with pytest.raises(InvalidTriggerURL):
        CensusCredentials(api_trigger=url)


def test_assignment_is_validated():
    """Assigning a new URL to a block runs the same checks."""
    credentials = CensusCredentials(api_trigger=URL)

    with pytest.raises(ValueError):
        credentials.api_trigger = "https://example.com"

    assert credentials.sync_id == 42


def test_status_timeout_names_last_fault(census_emulator, credentials_for):
    """A time limit reached during retries names the fault that caused them."""
    sync_id = census_emulator.add_sync(plan=RunPlan(working_seconds=60))
    census_emulator.add_faults(sync_id, status=[Fault.rate_limit(retry_after=100)])

    with pytest.raises(CensusSyncTimeout) as caught:
        run_census_sync(credentials_for(sync_id), max_wait_seconds=1)

    assert "could not be read before the time limit of 1 s" in str(caught.value)
    assert "the last status request got HTTP 429" in str(caught.value)
