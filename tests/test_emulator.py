"""Behaviour of the local Census emulator, exercised over real HTTP with httpx."""

# ruff: noqa: F811

from __future__ import annotations

import base64
import doctest
import http.client
import logging
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import prefect_census.emulator as emulator_package
import prefect_census.emulator._server as emulator_server
from prefect_census.emulator import SYNC_STEPS, CensusEmulator, Fault, RunPlan

# The fixture is imported rather than named in `pytest_plugins`, because the
# installed package also registers the plugin through its entry point, and pytest
# rejects a plugin module registered under two names. Test parameters then shadow
# the imported name, which is what the file-wide F811 exemption above allows.
from prefect_census.emulator.pytest_plugin import census_emulator  # noqa: F401

INVALID_CREDENTIALS = {
    "status": "error",
    "message": "Invalid credentials for the requested resource",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prefect_api():
    """Override the suite's Prefect API fixture: the emulator does not use Prefect."""
    yield


@pytest.fixture
def client(census_emulator: CensusEmulator) -> Iterator[httpx.Client]:
    """httpx client that sends the emulator's token as a bearer header."""
    headers = {"Authorization": f"Bearer secret-token:{census_emulator.token}"}
    with httpx.Client(
        base_url=census_emulator.base_url, headers=headers, timeout=5
    ) as http:
        yield http


def trigger(client: httpx.Client, sync_id: int, **params: str) -> int:
    response = client.post(f"/api/v1/syncs/{sync_id}/trigger", params=params)
    assert response.status_code == 200

    return response.json()["data"]["sync_run_id"]


def run_data(client: httpx.Client, run_id: int) -> dict:
    response = client.get(f"/api/v1/sync_runs/{run_id}")
    assert response.status_code == 200

    return response.json()["data"]


def wait_until_finished(client: httpx.Client, run_id: int) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = run_data(client, run_id)
        if data["status"] not in ("queued", "working"):
            return data
        time.sleep(0.02)

    raise AssertionError(f"run {run_id} did not finish within 5 seconds")


# Authentication


def test_bearer_header_accepted(census_emulator, client):
    """A bearer header with the prefixed token is accepted."""
    sync_id = census_emulator.add_sync()

    response = client.get(f"/api/v1/syncs/{sync_id}")

    assert response.status_code == 200
    assert census_emulator.requests[-1].auth == "bearer"


def test_basic_auth_accepted(census_emulator):
    """HTTP Basic with user bearer and the prefixed token is accepted."""
    sync_id = census_emulator.add_sync()
    auth = ("bearer", f"secret-token:{census_emulator.token}")

    response = httpx.get(
        f"{census_emulator.base_url}/api/v1/syncs/{sync_id}", auth=auth, timeout=5
    )

    assert response.status_code == 200
    assert census_emulator.requests[-1].auth == "basic"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "make_header",
    [
        lambda token: None,
        lambda token: "Bearer secret-token:wrong",
        lambda token: f"Bearer {token}",
        lambda token: f"Token secret-token:{token}",
        lambda token: _basic("bearer", "secret-token:wrong"),
        lambda token: _basic("someone", f"secret-token:{token}"),
        lambda token: _basic("bearer", token),
        lambda token: "Basic not-base64!",
    ],
    ids=[
        "missing",
        "wrong token",
        "no prefix",
        "other scheme",
        "basic wrong token",
        "basic wrong user",
        "basic no prefix",
        "basic garbage",
    ],
)
def test_bad_credentials_rejected(census_emulator, make_header):
    """Missing or wrong credentials get 401 with Census's message."""
    sync_id = census_emulator.add_sync()
    header = make_header(census_emulator.token)
    headers = {} if header is None else {"Authorization": header}

    response = httpx.post(
        f"{census_emulator.base_url}/api/v1/syncs/{sync_id}/trigger",
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS
    assert census_emulator.trigger_count(sync_id) == 0
    assert census_emulator.requests[-1].auth is None


def test_token_default_random():
    """Without a token the emulator makes a 32-character alphanumeric one."""
    first = CensusEmulator()
    second = CensusEmulator()

    assert len(first.token) == 32
    assert first.token.isalnum()
    assert first.token != second.token


def test_token_with_prefix_rejected():
    """A token passed with its secret-token: prefix raises ValueError."""
    with pytest.raises(ValueError, match="without its 'secret-token:' prefix"):
        CensusEmulator(token="secret-token:abc")


def test_non_loopback_host_rejected():
    """Only loopback addresses are accepted as the listening host."""
    with pytest.raises(ValueError, match="loopback"):
        CensusEmulator(host="0.0.0.0")


# Trigger and run states


def test_trigger_returns_run_id(census_emulator, client):
    """A trigger returns the new run id and counts one run."""
    sync_id = census_emulator.add_sync()

    response = client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "success", "data": {"sync_run_id": 1000}}
    assert census_emulator.trigger_count(sync_id) == 1
    assert census_emulator.runs(sync_id) == [1000]


def test_run_ids_global(census_emulator, client):
    """Run ids count up by one across all syncs."""
    plan = RunPlan(working_seconds=0)
    first = census_emulator.add_sync(plan)
    second = census_emulator.add_sync(plan)

    run_ids = [trigger(client, first), trigger(client, second), trigger(client, first)]

    assert (first, second) == (1, 2)
    assert run_ids == [1000, 1001, 1002]
    assert census_emulator.runs() == [1000, 1001, 1002]
    assert census_emulator.runs(first) == [1000, 1002]


def test_trigger_url_form(census_emulator):
    """The trigger URL carries the prefixed token as Basic userinfo."""
    sync_id = census_emulator.add_sync()
    authority = census_emulator.base_url.removeprefix("http://")

    url = census_emulator.trigger_url(sync_id)

    assert url == (
        f"http://bearer:secret-token:{census_emulator.token}@{authority}"
        f"/api/v1/syncs/{sync_id}/trigger"
    )


def test_status_walk(census_emulator, client):
    """A run goes queued, working with rising counters, then completed."""
    plan = RunPlan(
        queued_seconds=0.2,
        working_seconds=0.4,
        source_record_count=150,
        records_processed=120,
        records_updated=117,
        records_failed=3,
    )
    sync_id = census_emulator.add_sync(plan)
    run_id = trigger(client, sync_id)

    snapshots = []
    while True:
        data = run_data(client, run_id)
        snapshots.append(data)
        if data["status"] not in ("queued", "working"):
            break
        time.sleep(0.03)

    queued = snapshots[0]
    working = [data for data in snapshots if data["status"] == "working"]
    final = snapshots[-1]
    assert queued["status"] == "queued"
    assert queued["source_record_count"] is None
    assert queued["records_updated"] is None
    assert "current_step" not in queued
    assert len(working) >= 3
    assert all(data["source_record_count"] == 150 for data in working)
    assert all(data["current_step"] in SYNC_STEPS for data in working)
    updated = [data["records_updated"] for data in working] + [117]
    assert updated == sorted(updated)
    assert working[0]["records_updated"] < 117
    assert final["status"] == "completed"
    assert final["canceled"] is False
    assert final["records_processed"] == 120
    assert final["records_updated"] == 117
    assert final["records_failed"] == 3
    assert final["records_invalid"] == 0
    assert final["completed_at"].endswith("Z")
    assert "current_step" not in final


def test_run_data_fields(census_emulator, client):
    """A finished run's data has every documented field and nothing unexpected."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=0))
    run_id = trigger(client, sync_id)

    data = run_data(client, run_id)

    assert set(data) == {
        "id", "sync_id", "status", "canceled", "full_sync", "source_record_count",
        "records_processed", "records_updated", "records_failed", "records_invalid",
        "created_at", "updated_at", "completed_at", "scheduled_execution_time",
        "error_code", "error_message", "error_detail", "sync_trigger_reason",
    }  # fmt: skip
    assert data["id"] == run_id
    assert data["sync_id"] == sync_id
    assert data["scheduled_execution_time"] is None
    assert data["sync_trigger_reason"] == {
        "ui_tag": "API",
        "ui_detail": "Triggered through the API",
    }
    assert data == census_emulator.run_data(run_id)


def test_failed_run_default_errors(census_emulator, client):
    """A failed run reports made-up error fields when the plan gives none."""
    sync_id = census_emulator.add_sync(
        RunPlan(working_seconds=0, final_status="failed")
    )

    data = run_data(client, trigger(client, sync_id))

    assert data["status"] == "failed"
    assert data["error_code"] == "sync_failed"
    assert data["error_message"] == "The destination rejected the batch."
    assert data["error_detail"] == (
        "The destination service returned HTTP 400 for every record."
    )


def test_failed_run_plan_errors(census_emulator, client):
    """A failed run reports the error fields of its plan."""
    plan = RunPlan(
        working_seconds=0,
        final_status="failed",
        error_code="bad_query",
        error_message="Column EMAIL does not exist",
        error_detail="line 3",
    )
    sync_id = census_emulator.add_sync(plan)

    data = run_data(client, trigger(client, sync_id))

    assert data["error_code"] == "bad_query"
    assert data["error_message"] == "Column EMAIL does not exist"
    assert data["error_detail"] == "line 3"


@pytest.mark.parametrize(
    ("final_status", "status", "canceled"),
    [
        ("skipped", "skipped", False),
        ("cancelled", "completed", True),
        ("rerouted", "rerouted", False),
    ],
)
def test_final_status_reported(census_emulator, client, final_status, status, canceled):
    """Skipped, cancelled and unknown final statuses are reported as Census does."""
    plan = RunPlan(working_seconds=0, final_status=final_status)
    sync_id = census_emulator.add_sync(plan)

    data = run_data(client, trigger(client, sync_id))

    assert data["status"] == status
    assert data["canceled"] is canceled
    assert data["error_code"] is None


def test_overlapping_run_skipped(census_emulator, client):
    """A trigger during an unfinished run starts a run that ends skipped."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=math.inf))
    first = trigger(client, sync_id)

    second = trigger(client, sync_id)

    assert run_data(client, first)["status"] == "working"
    skipped = run_data(client, second)
    assert skipped["status"] == "skipped"
    assert skipped["records_updated"] == 0
    assert census_emulator.trigger_count(sync_id) == 2


def test_overlap_allowed_when_disabled():
    """With overlap skipping off, a second run works beside the first."""
    with CensusEmulator(skip_overlapping_runs=False) as census:
        sync_id = census.add_sync(RunPlan(working_seconds=math.inf))
        headers = {"Authorization": f"Bearer secret-token:{census.token}"}
        url = f"{census.base_url}/api/v1/syncs/{sync_id}/trigger"
        httpx.post(url, headers=headers, timeout=5)
        httpx.post(url, headers=headers, timeout=5)

        second = census.run_data(census.runs(sync_id)[1])

    assert second["status"] == "working"


def test_finished_at_monotonic(census_emulator, client):
    """finished_at is None while working and a monotonic instant once final."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=0.1))
    before = time.monotonic()
    run_id = trigger(client, sync_id)

    assert census_emulator.finished_at(run_id) is None
    wait_until_finished(client, run_id)

    finished = census_emulator.finished_at(run_id)
    assert finished is not None
    assert before + 0.1 <= finished <= time.monotonic()


# Cancel, sync and run list endpoints


def test_cancel_stops_run(census_emulator, client):
    """Cancelling a working run reports completed and canceled."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=math.inf))
    run_id = trigger(client, sync_id)

    response = client.post(f"/api/v1/sync_runs/{run_id}/cancel")

    assert response.status_code == 200
    assert response.json() == {"status": "success"}
    data = run_data(client, run_id)
    assert data["status"] == "completed"
    assert data["canceled"] is True
    assert data["records_updated"] == 0
    assert data["completed_at"] is not None
    assert census_emulator.finished_at(run_id) is not None


def test_cancel_finished_run_unchanged(census_emulator, client):
    """Cancelling a finished run leaves its status as it was."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=0))
    run_id = trigger(client, sync_id)

    client.post(f"/api/v1/sync_runs/{run_id}/cancel")

    assert run_data(client, run_id)["canceled"] is False


def test_sync_endpoint(census_emulator, client):
    """The sync endpoint returns the label, paused flag and operation."""
    sync_id = census_emulator.add_sync(
        label="Accounts to Salesforce", paused=True, sync_id=42
    )

    response = client.get(f"/api/v1/syncs/{sync_id}")

    data = response.json()["data"]
    assert response.json()["status"] == "success"
    assert data["id"] == 42
    assert data["label"] == "Accounts to Salesforce"
    assert data["paused"] is True
    assert data["operation"] == "upsert"
    assert set(data) == {
        "id",
        "label",
        "paused",
        "operation",
        "source_attributes",
        "destination_attributes",
        "created_at",
    }


def test_run_list_paginated(census_emulator, client):
    """The run list is newest first and paginated."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=0))
    for _ in range(5):
        trigger(client, sync_id)

    body = client.get(
        f"/api/v1/syncs/{sync_id}/sync_runs", params={"page": 2, "per_page": 2}
    ).json()

    assert [data["id"] for data in body["data"]] == [1002, 1001]
    assert body["pagination"] == {
        "total_records": 5,
        "per_page": 2,
        "prev_page": 1,
        "page": 2,
        "next_page": 3,
        "last_page": 3,
    }


def test_run_list_per_page_capped(census_emulator, client):
    """per_page above 100 is capped at 100."""
    sync_id = census_emulator.add_sync()

    body = client.get(
        f"/api/v1/syncs/{sync_id}/sync_runs", params={"per_page": 500}
    ).json()

    assert body["data"] == []
    assert body["pagination"]["per_page"] == 100
    assert body["pagination"]["last_page"] == 1


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("POST", "/api/v1/syncs/9/trigger", "Sync 9 not found."),
        ("GET", "/api/v1/syncs/9", "Sync 9 not found."),
        ("GET", "/api/v1/syncs/9/sync_runs", "Sync 9 not found."),
        ("GET", "/api/v1/sync_runs/9", "Sync run 9 not found."),
        ("POST", "/api/v1/sync_runs/9/cancel", "Sync run 9 not found."),
        ("GET", "/api/v2/syncs/9", "No API endpoint at /api/v2/syncs/9."),
    ],
)
def test_unknown_resource_404(client, method, path, message):
    """Unknown syncs, runs and paths get 404 with a JSON error."""
    response = client.request(method, path)

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": message}


def test_wrong_method_405(census_emulator, client):
    """A known path with the wrong method gets 405 and an Allow header."""
    sync_id = census_emulator.add_sync()

    response = client.get(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["status"] == "error"


def test_status_request_count(census_emulator, client):
    """status_request_count counts GETs of one run, faults included."""
    sync_id = census_emulator.add_sync()
    run_id = trigger(client, sync_id)
    census_emulator.add_faults(sync_id, status=[Fault.status(503)])

    client.get(f"/api/v1/sync_runs/{run_id}")
    client.get(f"/api/v1/sync_runs/{run_id}")

    assert census_emulator.status_request_count(run_id) == 2


# Faults


@pytest.mark.parametrize(("retry_after", "header"), [(7, "7"), ("soon", "soon")])
def test_fault_rate_limit(census_emulator, client, retry_after, header):
    """A rate-limit fault sends 429 with Retry-After verbatim."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.rate_limit(retry_after)])

    response = client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.status_code == 429
    assert response.headers["retry-after"] == header
    assert response.json()["status"] == "error"
    assert census_emulator.trigger_count(sync_id) == 0


def test_fault_rate_limit_no_header(census_emulator, client):
    """A rate-limit fault without retry_after sends no Retry-After."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.rate_limit()])

    response = client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.status_code == 429
    assert "retry-after" not in response.headers


def test_fault_status_in_order(census_emulator, client):
    """Status faults play once each, in order, before normal responses resume."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.status(503), Fault.status(502)])
    url = f"/api/v1/syncs/{sync_id}/trigger"

    codes = [client.post(url).status_code for _ in range(3)]

    assert codes == [503, 502, 200]
    assert [record.status_code for record in census_emulator.requests] == codes
    assert census_emulator.trigger_count(sync_id) == 1


def test_fault_status_body(census_emulator, client):
    """A status fault sends a JSON error body."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.status(500)])

    response = client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.json() == {
        "status": "error",
        "message": "HTTP 500 Internal Server Error.",
    }


def test_fault_html(census_emulator, client):
    """An html fault sends a load balancer's HTML page."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.html(502)])

    response = client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_fault_slow_times_out(census_emulator):
    """A slow fault outlasts a short client read timeout."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.slow(0.5)])
    headers = {"Authorization": f"Bearer secret-token:{census_emulator.token}"}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{census_emulator.base_url}/api/v1/syncs/{sync_id}/trigger",
            headers=headers,
            timeout=0.1,
        )


def test_fault_slow_then_normal(census_emulator, client):
    """A slow trigger fault delays the normal response, which starts the run."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.slow(0.2)])
    started = time.monotonic()

    run_id = trigger(client, sync_id)

    assert time.monotonic() - started >= 0.2
    assert run_id == 1000
    assert census_emulator.trigger_count(sync_id) == 1


def test_fault_drop(census_emulator, client):
    """A drop fault closes the connection with no response."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.drop()])

    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert census_emulator.requests[-1].status_code is None
    assert census_emulator.trigger_count(sync_id) == 0


def test_fault_not_json(census_emulator, client):
    """A not_json fault sends HTTP 200 with a plain-text body."""
    sync_id = census_emulator.add_sync()
    run_id = trigger(client, sync_id)
    census_emulator.add_faults(sync_id, status=[Fault.not_json()])

    response = client.get(f"/api/v1/sync_runs/{run_id}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    with pytest.raises(ValueError):
        response.json()


def test_fault_not_found(census_emulator, client):
    """A not_found fault hides an existing run once."""
    sync_id = census_emulator.add_sync()
    run_id = trigger(client, sync_id)
    census_emulator.add_faults(sync_id, status=[Fault.not_found()])

    hidden = client.get(f"/api/v1/sync_runs/{run_id}")
    visible = client.get(f"/api/v1/sync_runs/{run_id}")

    assert hidden.status_code == 404
    assert hidden.json() == {
        "status": "error",
        "message": f"Sync run {run_id} not found.",
    }
    assert visible.status_code == 200


def test_fault_outer_error(census_emulator, client):
    """An outer_error fault sends HTTP 200 with an error status."""
    sync_id = census_emulator.add_sync()
    run_id = trigger(client, sync_id)
    census_emulator.add_faults(sync_id, status=[Fault.outer_error()])

    response = client.get(f"/api/v1/sync_runs/{run_id}")

    assert response.status_code == 200
    assert response.json() == {
        "status": "error",
        "message": "The request could not be processed.",
    }


def test_fault_missing_data(census_emulator, client):
    """A missing_data fault sends success with no data."""
    sync_id = census_emulator.add_sync()
    run_id = trigger(client, sync_id)
    census_emulator.add_faults(sync_id, status=[Fault.missing_data()])

    response = client.get(f"/api/v1/sync_runs/{run_id}")

    assert response.status_code == 200
    assert response.json() == {"status": "success"}


@pytest.mark.parametrize(
    ("inner", "error"),
    [(Fault.status(500), None), (Fault.drop(), httpx.RemoteProtocolError)],
)
def test_fault_after_start_counts_run(census_emulator, client, inner, error):
    """An after_start fault starts a run even though the response fails."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.after_start(inner)])

    if error is None:
        response = client.post(f"/api/v1/syncs/{sync_id}/trigger")
        assert response.status_code == 500
    else:
        with pytest.raises(error):
            client.post(f"/api/v1/syncs/{sync_id}/trigger")

    assert census_emulator.trigger_count(sync_id) == 1


def test_fault_after_start_slow(census_emulator):
    """An after_start slow fault counts the run before the client times out."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.after_start(Fault.slow(0.5))])
    headers = {"Authorization": f"Bearer secret-token:{census_emulator.token}"}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{census_emulator.base_url}/api/v1/syncs/{sync_id}/trigger",
            headers=headers,
            timeout=0.1,
        )

    assert census_emulator.trigger_count(sync_id) == 1


def test_after_start_status_queue_rejected(census_emulator):
    """after_start faults are rejected in the status queue."""
    sync_id = census_emulator.add_sync()

    with pytest.raises(ValueError, match="trigger queue only"):
        census_emulator.add_faults(
            sync_id, status=[Fault.after_start(Fault.status(500))]
        )


# Full sync


def test_refuse_full_sync(census_emulator, client):
    """A plan refusing full syncs rejects force_full_sync with 400 and no run."""
    sync_id = census_emulator.add_sync(RunPlan(refuse_full_sync=True))

    response = client.post(
        f"/api/v1/syncs/{sync_id}/trigger", params={"force_full_sync": "true"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": f"Sync {sync_id} does not support a full sync.",
    }
    assert census_emulator.trigger_count(sync_id) == 0


def test_full_sync_flag(census_emulator, client):
    """force_full_sync=true marks the run as a full sync."""
    sync_id = census_emulator.add_sync()

    run_id = trigger(client, sync_id, force_full_sync="true")

    assert run_data(client, run_id)["full_sync"] is True


# Server


def test_many_keep_alive_clients(census_emulator):
    """300 keep-alive connections open at once are all answered twice."""
    sync_id = census_emulator.add_sync(RunPlan(working_seconds=0))
    headers = {"Authorization": f"Bearer secret-token:{census_emulator.token}"}
    path = f"/api/v1/syncs/{sync_id}"
    port = int(census_emulator.base_url.rsplit(":", 1)[1])
    barrier = threading.Barrier(300, timeout=20)
    codes: list[int] = []

    # http.client keeps each connection open between the two requests, and is
    # far cheaper to set up 300 times than an httpx client with its TLS context.
    def fetch_twice() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            for _ in range(2):
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                codes.append(response.status)
                barrier.wait()
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch_twice) for _ in range(300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert codes == [200] * 600


def test_ipv6_loopback():
    """The emulator can listen on ::1."""
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        pytest.skip("IPv6 is not available")

    with CensusEmulator(host="::1") as census:
        sync_id = census.add_sync()
        headers = {"Authorization": f"Bearer secret-token:{census.token}"}
        base_url = census.base_url
        response = httpx.get(
            f"{base_url}/api/v1/syncs/{sync_id}", headers=headers, timeout=5
        )

    assert base_url.startswith("http://[::1]:")
    assert response.status_code == 200


def test_token_not_logged(census_emulator, client, caplog):
    """No log record of the emulator contains the token."""
    caplog.set_level(logging.DEBUG, logger="prefect_census.emulator")
    sync_id = census_emulator.add_sync()
    auth = ("bearer", f"secret-token:{census_emulator.token}")

    run_id = trigger(client, sync_id)
    httpx.get(f"{census_emulator.base_url}/api/v1/sync_runs/{run_id}", auth=auth)
    client.get(f"/api/v1/syncs/{sync_id}", headers={"Authorization": "Bearer bad"})

    emulator_records = [
        record for record in caplog.records if record.name == "prefect_census.emulator"
    ]
    assert [record.getMessage() for record in emulator_records] == [
        f"POST /api/v1/syncs/{sync_id}/trigger -> 200",
        f"GET /api/v1/sync_runs/{run_id} -> 200",
        f"GET /api/v1/syncs/{sync_id} -> 401",
    ]
    assert census_emulator.token not in caplog.text


def test_cli_prints_trigger_url():
    """The command line prints each sync's trigger URL and exits 0 on SIGTERM."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "prefect_census.emulator", "--port", "0"]
    command += ["--token", "cliToken123"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )
    # Kill a process that hangs before printing, so readline cannot block forever.
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        first_line = process.stdout.readline().strip()
        second_line = process.stdout.readline().strip()
    finally:
        watchdog.cancel()
        process.terminate()
        returncode = process.wait(timeout=10)
        process.stdout.close()

    label, _, url = first_line.partition(": ")
    assert label == "sync 1"
    assert url.startswith("http://bearer:secret-token:cliToken123@127.0.0.1:")
    assert url.endswith("/api/v1/syncs/1/trigger")
    assert second_line.endswith("press Ctrl-C to stop.")
    assert returncode == 0


@pytest.mark.parametrize("module", [emulator_package, emulator_server])
def test_docstring_examples(module):
    """The examples in the emulator's docstrings run and print what they show."""
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0
