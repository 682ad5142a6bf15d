"""Exact request shapes sent to Census, checked with respx."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from prefect_census import CensusCredentials, __version__
from prefect_census._api import retry_after_seconds
from prefect_census.exceptions import (
    CensusAPIError,
    CensusTriggerOutcomeUnknown,
)

TOKEN = "Zq8vWx3RkP0mNa7B"
URL = f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger"
TRIGGER = "https://app.getcensus.com/api/v1/syncs/42/trigger"


def client():
    return CensusCredentials(api_trigger=URL).get_client()


@respx.mock
def test_trigger_request_shape():
    """The trigger is a POST without userinfo, with a bearer header and agent."""
    route = respx.post(TRIGGER).respond(
        200, json={"status": "success", "data": {"sync_run_id": 48151}}
    )

    run_id = asyncio.run(client().trigger())

    request = route.calls.last.request
    assert run_id == 48151
    assert str(request.url) == TRIGGER
    assert request.headers["Authorization"] == f"Bearer secret-token:{TOKEN}"
    assert request.headers["User-Agent"] == f"prefect-census/{__version__}"
    assert request.headers["Accept"] == "application/json"


@respx.mock
def test_trigger_full_sync_query():
    """A full sync adds force_full_sync=true to the query string."""
    route = respx.post(TRIGGER).respond(
        200, json={"status": "success", "data": {"sync_run_id": 7}}
    )

    asyncio.run(client().trigger(force_full_sync=True))

    assert route.calls.last.request.url.params["force_full_sync"] == "true"


@respx.mock
def test_status_request_shape():
    """A status read is a GET of /api/v1/sync_runs/<id> with the bearer header."""
    route = respx.get("https://app.getcensus.com/api/v1/sync_runs/48151").respond(
        200, json={"status": "success", "data": {"id": 48151, "status": "working"}}
    )

    data = asyncio.run(client().get_sync_run(48151))

    request = route.calls.last.request
    assert data == {"id": 48151, "status": "working"}
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer secret-token:{TOKEN}"


@respx.mock
def test_cancel_request_shape():
    """Cancelling is a POST of /api/v1/sync_runs/<id>/cancel."""
    route = respx.post("https://app.getcensus.com/api/v1/sync_runs/9/cancel").respond(
        200, json={"status": "success"}
    )

    asyncio.run(client().cancel_sync_run(9))

    assert route.call_count == 1


@respx.mock
def test_sync_request_shape():
    """Checking a sync is a GET of /api/v1/syncs/<id>."""
    route = respx.get("https://app.getcensus.com/api/v1/syncs/42").respond(
        200, json={"status": "success", "data": {"id": 42, "label": "Accounts"}}
    )

    data = asyncio.run(client().get_sync())

    assert data == {"id": 42, "label": "Accounts"}
    assert route.call_count == 1


@respx.mock
def test_trigger_write_timeout_not_retried():
    """A timeout while sending the trigger is an unknown outcome, sent once."""
    route = respx.post(TRIGGER).mock(side_effect=httpx.WriteTimeout("slow"))

    with pytest.raises(CensusTriggerOutcomeUnknown):
        asyncio.run(client().trigger())

    assert route.call_count == 1


@respx.mock
def test_outer_error_with_200_is_error():
    """An outer status of error is an error even with HTTP 200."""
    respx.post(TRIGGER).respond(200, json={"status": "error", "message": "Sync paused"})

    with pytest.raises(CensusAPIError) as caught:
        asyncio.run(client().trigger())

    assert str(caught.value) == (
        "Census reported an error for sync 42 (HTTP 200). Census said: Sync paused."
    )


def test_retry_after_seconds():
    """Retry-After in whole seconds is read as it is."""
    assert retry_after_seconds("7") == 7.0


def test_retry_after_http_date():
    """Retry-After as an HTTP date becomes the seconds until that moment."""
    now = 1_700_000_000.0
    header = "Tue, 14 Nov 2023 22:13:30 GMT"  # now + 10 s

    assert retry_after_seconds(header, now=now) == 10.0


def test_retry_after_garbage():
    """An unreadable Retry-After is ignored."""
    assert retry_after_seconds("soon") is None


@respx.mock
def test_trigger_accepts_id_as_digits():
    """A run id sent as a string of digits is read as a number."""
    respx.post(TRIGGER).respond(
        200, json={"status": "success", "data": {"sync_run_id": "48151"}}
    )

    assert asyncio.run(client().trigger()) == 48151


@pytest.mark.parametrize("value", [None, 0, -3, True, 1.5, "12a", [], {}])
@respx.mock
def test_trigger_rejects_bad_run_id(value):
    """A run id that is not a positive whole number is an unknown outcome."""
    respx.post(TRIGGER).respond(
        200, json={"status": "success", "data": {"sync_run_id": value}}
    )

    with pytest.raises(CensusTriggerOutcomeUnknown) as caught:
        asyncio.run(client().trigger())

    assert "a response without a valid data.sync_run_id" in str(caught.value)
