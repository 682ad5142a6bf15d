"""The emulator's public face: a loopback HTTP server around an emulated workspace."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import socketserver
import string
import threading
import time
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from ._handler import TOKEN_PREFIX, CensusRequestHandler
from ._plan import Fault, RunPlan
from ._workspace import RequestRecord, Workspace

_TOKEN_ALPHABET = string.ascii_letters + string.digits

logger = logging.getLogger("prefect_census.emulator")


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server that can close its open connections on stop."""

    daemon_threads = True
    # Hundreds of clients may connect at once; the default backlog of 5 would make
    # the kernel reject or delay connections beyond it.
    request_queue_size = 1024

    def __init__(self, host: str, port: int, workspace: Workspace, token: str) -> None:
        if ipaddress.ip_address(host).version == 6:
            self.address_family = socket.AF_INET6
        self.workspace = workspace
        self.token = token
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), CensusRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can mean a DNS
        # query; the emulator only needs the bound address.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client connection, ending its handler thread."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # The client closed it first.


class CensusEmulator:
    """A local stand-in for the Census API v1, listening on a loopback address.

    The emulator stores syncs that follow a `RunPlan`, serves the trigger, sync,
    sync run, run list and cancel endpoints, plays queued `Fault`s and records every
    request. Use it as a context manager, or call `start` and `stop`.

    Args:
        token: Workspace API token without the `secret-token:` prefix. None makes
            a random 32-character token of letters and digits.
        host: Loopback IP address to listen on, `127.0.0.1` or `::1`.
        port: TCP port to listen on; 0 picks a free one.
        skip_overlapping_runs: End a run `skipped` when it is triggered while an
            earlier run of the same sync is unfinished, as Census does.

    Raises:
        ValueError: The host is not a loopback IP address, or the token is empty,
            contains whitespace or starts with `secret-token:`.

    Examples:
        >>> with CensusEmulator() as census:
        ...     sync_id = census.add_sync(RunPlan(working_seconds=0))
        ...     census.trigger_url(sync_id).endswith(f"/api/v1/syncs/{sync_id}/trigger")
        True
    """

    def __init__(
        self,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        skip_overlapping_runs: bool = True,
    ) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            msg = f"host must be a loopback IP address such as 127.0.0.1, got {host!r}"
            raise ValueError(msg)

        if token is None:
            token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(32))
        elif not token or token != "".join(token.split()):
            msg = "token must be non-empty and contain no whitespace"
            raise ValueError(msg)
        elif token.startswith(TOKEN_PREFIX):
            msg = f"pass the token without its {TOKEN_PREFIX!r} prefix"
            raise ValueError(msg)

        self.token = token
        self.host = host
        self.port = port
        self._workspace = Workspace(skip_overlapping_runs)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CensusEmulator:
        """Bind the port and serve requests from a daemon thread."""
        if self._server is not None:
            msg = "the emulator is already started"
            raise RuntimeError(msg)

        server = EmulatorHTTPServer(self.host, self.port, self._workspace, self.token)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"census-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("Census emulator listening on %s", self.base_url)

        return self

    def stop(self) -> None:
        """Stop serving, close the port and every open connection."""
        server = self._server
        if server is None:
            return

        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None
        logger.debug("Census emulator on port %s stopped", self.port)

    def __enter__(self) -> CensusEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Root URL of the running emulator, such as `http://127.0.0.1:54321`."""
        if self._server is None:
            msg = "the emulator is not started, so it has no URL yet"
            raise RuntimeError(msg)

        host = f"[{self.host}]" if ":" in self.host else self.host

        return f"http://{host}:{self.port}"

    def trigger_url(self, sync_id: int) -> str:
        """Return the sync's API trigger URL, with the token in its userinfo."""
        self._workspace.sync_plan(sync_id)  # Raises KeyError for an unknown sync.
        scheme, _, authority = self.base_url.partition("://")
        userinfo = f"bearer:{TOKEN_PREFIX}{quote(self.token, safe='')}"

        return f"{scheme}://{userinfo}@{authority}/api/v1/syncs/{sync_id}/trigger"

    def add_sync(
        self,
        plan: RunPlan | None = None,
        label: str | None = None,
        paused: bool = False,
        sync_id: int | None = None,
    ) -> int:
        """Add a sync and return its id.

        Args:
            plan: Plan of the sync's runs; None means `RunPlan()`.
            label: Sync name shown by `GET /api/v1/syncs/{id}`.
            paused: `paused` flag shown by `GET /api/v1/syncs/{id}`. The emulator
                still runs a paused sync when it is triggered.
            sync_id: Id to use; None takes the next free id counting from 1.

        Raises:
            ValueError: `sync_id` is in use or not a positive integer.
        """
        plan = RunPlan() if plan is None else plan

        return self._workspace.add_sync(plan, label, paused, sync_id)

    def set_plan(self, sync_id: int, plan: RunPlan) -> None:
        """Set the plan of the sync's runs triggered from now on."""
        self._workspace.set_plan(sync_id, plan)

    def add_faults(
        self,
        sync_id: int,
        trigger: Iterable[Fault] = (),
        status: Iterable[Fault] = (),
    ) -> None:
        """Queue faults for the sync, each played once, in order.

        Only authenticated requests for an existing sync or run consume faults.

        Args:
            sync_id: Sync whose requests play the faults.
            trigger: Faults for `POST /api/v1/syncs/{id}/trigger`.
            status: Faults for `GET /api/v1/sync_runs/{id}` of the sync's runs.

        Raises:
            ValueError: `status` contains an `after_start` fault.
        """
        self._workspace.add_faults(sync_id, trigger, status)

    def trigger_count(self, sync_id: int) -> int:
        """Return how many runs of the sync were started."""
        return len(self._workspace.run_ids(sync_id))

    def runs(self, sync_id: int | None = None) -> list[int]:
        """Return the ids of started runs in trigger order, of all syncs or one."""
        return self._workspace.run_ids(sync_id)

    def run_data(self, run_id: int) -> dict[str, Any]:
        """Return the `data` object the sync run endpoint would send now."""
        return self._workspace.run_data(run_id, time.monotonic())

    def finished_at(self, run_id: int) -> float | None:
        """Return the `time.monotonic()` instant the run finished, None if not yet."""
        return self._workspace.finished_at(run_id, time.monotonic())

    @property
    def requests(self) -> list[RequestRecord]:
        """Copy of every request received so far, including those given a fault."""
        return self._workspace.requests()

    def status_request_count(self, run_id: int) -> int:
        """Return how many GET requests asked for the run's status."""
        path = f"/api/v1/sync_runs/{run_id}"

        return sum(
            1
            for record in self._workspace.requests()
            if record.method == "GET" and record.path == path
        )
