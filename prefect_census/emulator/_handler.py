"""HTTP request handler that speaks the Census API v1 for the emulated workspace."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ._faults import Reply, error_reply, fault_reply, json_reply
from ._workspace import DEFAULT_PER_PAGE, MAX_PER_PAGE, RequestRecord

if TYPE_CHECKING:
    from ._server import EmulatorHTTPServer

logger = logging.getLogger("prefect_census.emulator")

TOKEN_PREFIX = "secret-token:"
INVALID_CREDENTIALS = "Invalid credentials for the requested resource"

# Each route is (path pattern, allowed method, endpoint name).
_ROUTES = (
    (re.compile(r"/api/v1/syncs/([0-9]+)/trigger"), "POST", "trigger"),
    (re.compile(r"/api/v1/syncs/([0-9]+)"), "GET", "sync"),
    (re.compile(r"/api/v1/syncs/([0-9]+)/sync_runs"), "GET", "sync_runs"),
    (re.compile(r"/api/v1/sync_runs/([0-9]+)"), "GET", "sync_run"),
    (re.compile(r"/api/v1/sync_runs/([0-9]+)/cancel"), "POST", "cancel"),
)


class CensusRequestHandler(BaseHTTPRequestHandler):
    """Serve one keep-alive connection, recording every request in the workspace."""

    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "census-emulator"
    sys_version = ""
    # Headers and body go out in two writes, so Nagle's algorithm would hold the
    # body back until the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Drop the standard access log, because a request line may carry secrets."""

    def _handle(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))

        auth = None
        try:
            self._read_body()
        except ValueError:
            self.close_connection = True
            reply = error_reply(400, "The request body is malformed.")
        else:
            auth = self._authenticate()
            reply = self._route(url.path, query, auth)

        # Record before sending, so a client that has its response can already
        # find the request in `CensusEmulator.requests`.
        status_code = reply.status_code
        record = RequestRecord(
            self.command, url.path, query, status_code, auth, arrived
        )
        self.server.workspace.record(record)
        logger.debug("%s %s -> %s", self.command, url.path, status_code or "dropped")
        self._send(reply)

    def _read_body(self) -> None:
        """Read and discard the body, so the next request on the connection parses."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return
                self.rfile.read(size + 2)

        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            msg = f"negative Content-Length {length}"
            raise ValueError(msg)
        self.rfile.read(length)

    def _authenticate(self) -> str | None:
        """Return `"bearer"` or `"basic"` for valid credentials, else None."""
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        credentials = credentials.strip()
        expected = TOKEN_PREFIX + self.server.token

        if scheme.lower() == "bearer" and _equal(credentials, expected):
            return "bearer"

        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, _, password = decoded.partition(":")
            if user == "bearer" and _equal(password, expected):
                return "basic"

        return None

    def _route(self, path: str, query: dict[str, str], auth: str | None) -> Reply:
        found = _match_route(path)
        if found is None:
            return error_reply(404, f"No API endpoint at {path}.")

        method, endpoint, resource_id = found
        if self.command != method:
            message = f"Method {self.command} is not allowed here; use {method}."
            return error_reply(405, message, headers={"Allow": method})

        if auth is None:
            return error_reply(401, INVALID_CREDENTIALS)

        if endpoint == "trigger":
            return self._trigger(resource_id, query)
        if endpoint == "sync":
            return self._get_sync(resource_id)
        if endpoint == "sync_runs":
            return self._list_runs(resource_id, query)
        if endpoint == "sync_run":
            return self._get_run(resource_id)

        return self._cancel(resource_id)

    def _trigger(self, sync_id: int, query: dict[str, str]) -> Reply:
        workspace = self.server.workspace
        if not workspace.has_sync(sync_id):
            return _sync_not_found(sync_id)

        fault = workspace.pop_fault(sync_id, "trigger")
        if fault is not None and fault.kind == "slow":
            self._sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind != "after_start":
            return fault_reply(fault, f"Sync {sync_id} not found.")

        full_sync = query.get("force_full_sync", "").lower() == "true"
        if full_sync and workspace.sync_plan(sync_id).refuse_full_sync:
            return error_reply(400, f"Sync {sync_id} does not support a full sync.")

        run_id = workspace.start_run(sync_id, full_sync, time.monotonic())
        success = json_reply(
            200, {"status": "success", "data": {"sync_run_id": run_id}}
        )
        if fault is None:
            return success

        inner = fault.inner
        if inner.kind == "slow":
            self._sleep(inner.seconds)
            return success

        return fault_reply(inner, f"Sync {sync_id} not found.")

    def _get_sync(self, sync_id: int) -> Reply:
        try:
            data = self.server.workspace.sync_data(sync_id)
        except KeyError:
            return _sync_not_found(sync_id)

        return json_reply(200, {"status": "success", "data": data})

    def _list_runs(self, sync_id: int, query: dict[str, str]) -> Reply:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", str(DEFAULT_PER_PAGE)))
        except ValueError:
            return error_reply(400, "page and per_page must be integers.")
        if page < 1 or per_page < 1:
            return error_reply(400, "page and per_page must be 1 or more.")

        per_page = min(per_page, MAX_PER_PAGE)
        try:
            body = self.server.workspace.list_runs(
                sync_id, page, per_page, time.monotonic()
            )
        except KeyError:
            return _sync_not_found(sync_id)

        return json_reply(200, body)

    def _get_run(self, run_id: int) -> Reply:
        workspace = self.server.workspace
        try:
            sync_id = workspace.run_sync_id(run_id)
        except KeyError:
            return _run_not_found(run_id)

        fault = workspace.pop_fault(sync_id, "status")
        if fault is not None and fault.kind == "slow":
            self._sleep(fault.seconds)
            fault = None
        if fault is not None:
            return fault_reply(fault, f"Sync run {run_id} not found.")

        data = workspace.run_data(run_id, time.monotonic())

        return json_reply(200, {"status": "success", "data": data})

    def _cancel(self, run_id: int) -> Reply:
        try:
            self.server.workspace.cancel_run(run_id, time.monotonic())
        except KeyError:
            return _run_not_found(run_id)

        return json_reply(200, {"status": "success"})

    def _sleep(self, seconds: float) -> None:
        """Wait for `seconds`, or less if the emulator stops meanwhile."""
        self.server.stopping.wait(seconds)

    def _send(self, reply: Reply) -> None:
        """Send the reply, or close the connection for a dropped one."""
        if reply.status_code is None:
            self.close_connection = True
            return

        try:
            self.send_response(reply.status_code)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The client gave up, for example after its read timeout.
            logger.debug("Client left before the response was sent: %r", exc)
            self.close_connection = True


def _match_route(path: str) -> tuple[str, str, int] | None:
    """Return the method, endpoint name and id of the route matching `path`."""
    for pattern, method, endpoint in _ROUTES:
        match = pattern.fullmatch(path)
        if match is not None:
            return method, endpoint, int(match.group(1))

    return None


def _equal(received: str, expected: str) -> bool:
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _sync_not_found(sync_id: int) -> Reply:
    return error_reply(404, f"Sync {sync_id} not found.")


def _run_not_found(run_id: int) -> Reply:
    return error_reply(404, f"Sync run {run_id} not found.")
