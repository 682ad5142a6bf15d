"""The one module that talks to Census: paths, authentication, requests, retries.

Every other module calls `CensusClient`, and no other module contains an API
path or version, so moving to a new API version is a change here alone.

Retries follow one rule: a request is repeated only when repeating it cannot
start a second sync run. Status reads are retried on any transient fault; the
trigger is retried only when the connection was never made or Census returned
429.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Optional, Union

import httpx

from prefect_census import __version__
from prefect_census.exceptions import (
    CensusAPIError,
    CensusAuthenticationError,
    CensusConnectionError,
    CensusSyncNotFound,
    CensusSyncRunNotFound,
    CensusTriggerOutcomeUnknown,
    CensusUnexpectedResponse,
)

API_PREFIX = "/api/v1"
USER_AGENT = f"prefect-census/{__version__}"

# Status codes after which a status read is worth repeating.
RETRYABLE_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
# Faults that prove a request never reached Census.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Faults of a status read that are worth repeating.
TRANSIENT_ERRORS = (httpx.TransportError,)

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
TRIGGER_ATTEMPTS = 5
# How many 404 responses a run may get before it counts as not found, because
# Census can take a moment to show a run it has just started.
EARLY_NOT_FOUND_ATTEMPTS = 4
# How many successful responses in a row may be unreadable before reads stop,
# because a proxy's error page passes, while a body that is never JSON does not.
NOT_JSON_ATTEMPTS = 5
# The maximum pause a `Retry-After` header can impose: on a status read (the
# wait's own time limit still applies) and on the trigger, which has none.
RETRY_AFTER_CAP_SECONDS = 300.0
TRIGGER_RETRY_AFTER_CAP_SECONDS = 60.0
# Census's JSON bodies are a few kilobytes; anything past this is not Census.
MAX_BODY_BYTES = 1024 * 1024
# A request that starts near a wait's deadline may run this much past it.
DEADLINE_GRACE_SECONDS = 5.0


class OutOfTime(Exception):
    """A retry would pass the caller's deadline; the caller raises its own timeout."""


def trigger_path(sync_id: int) -> str:
    """Return the trigger endpoint's path for a sync, below `API_PREFIX`."""
    return f"/syncs/{sync_id}/trigger"


def history_url(base_url: str, sync_id: int) -> str:
    """Return the sync's history page in the Census UI on the trigger URL's host."""
    return f"{base_url}/syncs/{sync_id}/sync-history"


def backoff_seconds(attempt: int) -> float:
    """Return the pause before retry `attempt` (1-based): capped, with jitter."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))

    return random.uniform(ceiling / 2, ceiling)


def retry_after_seconds(
    value: Optional[str], now: Optional[float] = None
) -> Optional[float]:
    """Read a `Retry-After` header given in seconds or as an HTTP date."""
    if value is None:
        return None

    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), RETRY_AFTER_CAP_SECONDS)

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None

    now = time.time() if now is None else now

    return min(RETRY_AFTER_CAP_SECONDS, max(0.0, moment.timestamp() - now))


@dataclass(frozen=True)
class Timeouts:
    """Request timeouts in seconds, passed to httpx as they are."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 30.0

    @property
    def total(self) -> float:
        """The maximum time one request may take, from connecting to the last byte."""
        return self.pool + self.connect + self.write + self.read

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect, read=self.read, write=self.write, pool=self.pool
        )


class _ClientPool:
    """One `httpx.AsyncClient` per host and timeout setting, shared by all waits.

    Used only from the package's core event loop, so it needs no lock. A new
    loop (after a fork, say) gets new clients, because a client and its
    connections belong to the loop that made them.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[str, Timeouts], httpx.AsyncClient] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def get(self, base_url: str, timeouts: Timeouts) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._clients = {}
            self._loop = loop
        key = (base_url, timeouts)
        client = self._clients.get(key)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                base_url=base_url,
                timeout=timeouts.to_httpx(),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                limits=httpx.Limits(
                    max_connections=None, max_keepalive_connections=200
                ),
                follow_redirects=False,
            )
            self._clients[key] = client

        return client


_pool = _ClientPool()


class CensusClient:
    """Requests for one Census sync, authenticated with its token.

    Args:
        base_url: Scheme, host and port of the Census API, with no userinfo.
        sync_id: The sync's id.
        token: The token, including its `secret-token:` prefix, as a `SecretStr`.
        timeouts: Request timeouts.
        logger: Where retries are logged.
    """

    def __init__(
        self,
        base_url: str,
        sync_id: int,
        token: Any,
        *,
        timeouts: Timeouts = Timeouts(),
        logger: Union[logging.Logger, logging.LoggerAdapter, None] = None,
    ) -> None:
        self.base_url = base_url
        self.sync_id = sync_id
        self.history_url = history_url(base_url, sync_id)
        self._token = token
        self._timeouts = timeouts
        self._logger = logger or logging.getLogger("prefect_census")

    def __repr__(self) -> str:
        return f"CensusClient(base_url={self.base_url!r}, sync_id={self.sync_id})"

    def _context(self, sync_run_id: Optional[int] = None) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "sync_run_id": sync_run_id,
            "history_url": self.history_url,
        }

    async def _send(
        self,
        method: str,
        path: str,
        deadline: Optional[float] = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request and read its body, within the request's time limit.

        httpx applies its read timeout to each read, so a server that trickles
        bytes could hold a request forever. The whole exchange is bounded here,
        and exceeding the bound raises `httpx.ReadTimeout`, as a silent server
        would.
        """
        limit = self._timeouts.total
        if deadline is not None:
            # The check at the deadline still gets a few seconds to complete.
            remaining = max(deadline - time.monotonic(), DEADLINE_GRACE_SECONDS)
            limit = min(limit, remaining)
        try:
            return await asyncio.wait_for(self._exchange(method, path, kwargs), limit)
        except asyncio.TimeoutError:
            msg = f"no complete response within {limit:.1f} s"
            raise httpx.ReadTimeout(msg) from None

    async def _exchange(
        self, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        client = _pool.get(self.base_url, self._timeouts)
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        request = client.build_request(
            method, API_PREFIX + path, headers=headers, **kwargs
        )
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    break
        finally:
            await response.aclose()

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=bytes(body[: MAX_BODY_BYTES + 1]),
            request=request,
        )

    async def trigger(self, force_full_sync: bool = False) -> int:
        """Start a run of the sync and return its id.

        Raises:
            CensusTriggerOutcomeUnknown: The request was sent but its outcome is
                unknown; it is not repeated.
            CensusAuthenticationError: Census rejected the token.
            CensusSyncNotFound: Census has no such sync.
            CensusAPIError: Census rejected the request for another reason.
            CensusConnectionError: Census could not be reached.
        """
        params = {"force_full_sync": "true"} if force_full_sync else {}
        path = trigger_path(self.sync_id)
        context = self._context()

        for attempt in range(1, TRIGGER_ATTEMPTS + 1):
            try:
                response = await self._send("POST", path, params=params)
            except NOT_SENT_ERRORS as exc:
                if attempt == TRIGGER_ATTEMPTS:
                    msg = (
                        f"Could not connect to Census at {self.base_url} to trigger "
                        f"sync {self.sync_id} after {attempt} attempts "
                        f"({type(exc).__name__}). No run was started."
                    )
                    raise CensusConnectionError(msg, **context) from exc
                await self._pause(attempt, f"could not connect ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                raise self._outcome_unknown(type(exc).__name__) from exc

            if response.status_code == 429 and attempt < TRIGGER_ATTEMPTS:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None:
                    wait = min(wait, TRIGGER_RETRY_AFTER_CAP_SECONDS)
                await self._pause(attempt, "Census answered HTTP 429", wait)
                continue
            if response.status_code >= 500:
                raise self._outcome_unknown(f"HTTP {response.status_code}")

            body = self._read_error_free(response, context, trigger=True)
            data = body.get("data")
            run_id = data.get("sync_run_id") if isinstance(data, dict) else None
            if not _is_id(run_id):
                raise self._outcome_unknown(
                    "a response without a valid data.sync_run_id"
                )

            return int(run_id)

        raise AssertionError("unreachable")  # pragma: no cover

    async def get_sync_run(
        self,
        sync_run_id: int,
        *,
        deadline: Optional[float] = None,
        early: bool = False,
    ) -> dict[str, Any]:
        """Return the run's `data` object, retrying transient faults until `deadline`.

        Args:
            sync_run_id: The run to read.
            deadline: A `time.monotonic()` value after which no retry starts;
                `None` retries for as long as it takes.
            early: The run was triggered moments ago, so a 404 is retried a few
                times before it counts.

        Raises:
            OutOfTime: The next retry would pass `deadline`.
            CensusSyncRunNotFound: Census has no such run.
            CensusAuthenticationError: Census rejected the token.
            CensusUnexpectedResponse: The body could not be read.
            CensusAPIError: Census rejected the request for another reason.
        """
        path = f"/sync_runs/{sync_run_id}"
        context = self._context(sync_run_id)
        attempt = 0
        not_found = 0
        not_json = 0

        while True:
            attempt += 1
            reason: Optional[str] = None
            wait: Optional[float] = None
            try:
                response = await self._send("GET", path, deadline=deadline)
            except TRANSIENT_ERRORS as exc:
                reason = f"{type(exc).__name__}"
            else:
                if response.status_code in RETRYABLE_STATUS_CODES:
                    reason = f"HTTP {response.status_code}"
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                elif response.status_code == 404 and early:
                    not_found += 1
                    if not_found < EARLY_NOT_FOUND_ATTEMPTS:
                        reason = "HTTP 404 (the run may not be visible yet)"
                elif response.status_code < 300 and not _is_json(response):
                    not_json += 1
                    if not_json < NOT_JSON_ATTEMPTS:
                        reason = "a response that is not JSON"

            if reason is None:
                body = self._read_error_free(response, context)
                data = body.get("data")
                if not isinstance(data, dict):
                    msg = (
                        f"Census answered the status request for sync run "
                        f"{sync_run_id} without a data object."
                    )
                    raise CensusUnexpectedResponse(
                        msg, status_code=response.status_code, **context
                    )

                return data

            if wait is None:
                wait = backoff_seconds(attempt)
            if deadline is not None and time.monotonic() + wait >= deadline:
                raise OutOfTime(reason)
            await self._pause(
                attempt, f"status request for sync run {sync_run_id} got {reason}", wait
            )

    async def get_sync(self) -> dict[str, Any]:
        """Return the sync's settings (`GET /syncs/{id}`); no run is started."""
        context = self._context()
        try:
            response = await self._send("GET", f"/syncs/{self.sync_id}")
        except httpx.TransportError as exc:
            msg = f"Could not reach Census at {self.base_url} ({type(exc).__name__})."
            raise CensusConnectionError(msg, **context) from exc

        body = self._read_error_free(response, context)
        data = body.get("data")
        if not isinstance(data, dict):
            msg = f"Census answered the request for sync {self.sync_id} without data."
            raise CensusUnexpectedResponse(
                msg, status_code=response.status_code, **context
            )

        return data

    async def cancel_sync_run(self, sync_run_id: int) -> None:
        """Ask Census to stop a run (`POST /sync_runs/{id}/cancel`)."""
        context = self._context(sync_run_id)
        try:
            response = await self._send("POST", f"/sync_runs/{sync_run_id}/cancel")
        except httpx.TransportError as exc:
            msg = (
                f"Could not reach Census to cancel sync run {sync_run_id} "
                f"({type(exc).__name__}). Cancel it from {self.history_url}."
            )
            raise CensusConnectionError(msg, **context) from exc

        self._read_error_free(response, context)

    async def _pause(
        self, attempt: int, reason: str, wait: Optional[float] = None
    ) -> None:
        if wait is None:
            wait = backoff_seconds(attempt)
        self._logger.warning(
            "Census sync %s: %s; retrying in %.1f s.", self.sync_id, reason, wait
        )
        await asyncio.sleep(wait)

    def _outcome_unknown(self, cause: str) -> CensusTriggerOutcomeUnknown:
        msg = (
            f"The trigger request for Census sync {self.sync_id} got {cause} after "
            f"it was sent, so Census may have started a run. It was not retried, "
            f"because a second request could start a second run. Check "
            f"{self.history_url} before triggering again."
        )

        return CensusTriggerOutcomeUnknown(msg, **self._context())

    def _read_error_free(
        self, response: httpx.Response, context: dict[str, Any], trigger: bool = False
    ) -> dict[str, Any]:
        """Return the JSON body of a successful response, or raise its error."""
        code = response.status_code
        body = _json_or_none(response)
        census_message = _census_message(body)
        detail = f" Census said: {census_message}" if census_message else ""
        sync_run_id = context.get("sync_run_id")
        subject = (
            f"sync run {sync_run_id}"
            if sync_run_id is not None
            else f"sync {self.sync_id}"
        )

        if code in (401, 403):
            msg = (
                f"Census rejected the token for {subject} (HTTP {code}).{detail} Copy "
                f"the API trigger URL again from the sync's configuration page in "
                f"Census and save it in the credentials block."
            )
            raise CensusAuthenticationError(msg, status_code=code, **context)
        if code == 404 and sync_run_id is not None:
            msg = f"Census has no sync run {sync_run_id} (HTTP 404).{detail}"
            raise CensusSyncRunNotFound(msg, status_code=code, **context)
        if code == 404:
            msg = (
                f"Census has no sync {self.sync_id} in this token's workspace "
                f"(HTTP 404).{detail} Check the sync id in the API trigger URL."
            )
            raise CensusSyncNotFound(msg, status_code=code, **context)
        if code >= 300:
            msg = f"Census rejected the request for {subject} (HTTP {code}).{detail}"
            raise CensusAPIError(msg, status_code=code, **context)
        if not isinstance(body, dict):
            msg = (
                f"Census answered the request for {subject} with a body that is not "
                f"a JSON object (HTTP {code}, Content-Type "
                f"{response.headers.get('Content-Type', 'missing')})."
            )
            if trigger:
                raise self._outcome_unknown("a body that is not JSON")
            raise CensusUnexpectedResponse(msg, status_code=code, **context)
        if body.get("status") != "success":
            msg = f"Census reported an error for {subject} (HTTP {code}).{detail}"
            raise CensusAPIError(msg, status_code=code, **context)

        return body


def _is_id(value: Any) -> bool:
    # Census sends ids as numbers; a string of digits is read the same way.
    if isinstance(value, str) and value.isdigit() and value.isascii():
        value = int(value)

    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_json(response: httpx.Response) -> bool:
    return isinstance(_json_or_none(response), dict)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def _census_message(body: Any) -> Optional[str]:
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None

    message = body["message"].strip()[:500]
    if message and message[-1] not in ".!?":
        message += "."

    return message
