"""Processes for the end-to-end tests: a real Prefect server and its clients.

Every process gets its settings from its environment alone, never from the test
process's Prefect profile, and writes its output to a log file that the tests
read afterwards.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]

# A cold start creates the database and copies the UI bundle. It took 8 s on a
# 2-core machine, so the limit leaves room for a slower or busier one.
SERVER_START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))

        return probe.getsockname()[1]


def token_forms(token: str) -> list[str]:
    """Return the ways a token can be written: plain, URL-quoted, in Basic auth."""
    basic = base64.b64encode(f"bearer:secret-token:{token}".encode()).decode()

    return [token, urllib.parse.quote(token, safe=""), basic]


class LoggedProcess:
    """A child process in its own process group, with stdout and stderr in a file.

    Args:
        args: The command line.
        env: The whole environment of the process.
        log_path: File that receives stdout and stderr.
        cwd: Working directory, the repository root by default.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        self.args = args
        self.log_path = log_path
        with open(log_path, "wb") as log:
            # A new session makes the process the leader of its own group, so
            # stop() also reaches the children it starts (uvicorn, flow runs).
            self.popen = subprocess.Popen(
                args,
                env=env,
                cwd=cwd or REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_text(self) -> str:
        """Return everything the process has written so far."""
        return self.log_path.read_text(errors="replace")

    def check_running(self) -> None:
        """Raise with the process's output if it has exited."""
        code = self.popen.poll()
        if code is not None:
            msg = f"{self.args} exited with code {code}; output:\n{self.log_text()}"
            raise RuntimeError(msg)

    def stop(self) -> None:
        """Send SIGTERM to the process group, then SIGKILL if it does not exit."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)

        # Children of a process that exited on SIGTERM may still be running.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signal_number: int) -> None:
        try:
            os.killpg(self.popen.pid, signal_number)
        except ProcessLookupError:
            pass  # The whole group has exited.


class PrefectServer:
    """`prefect server start` on 127.0.0.1 with its own home and SQLite database.

    Args:
        directory: An empty directory for the server's home, database and log.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.home = directory / "home"
        self.home.mkdir()
        self.database_path = directory / "prefect.db"
        self.port = free_port()
        self.process: LoggedProcess | None = None

    @property
    def url(self) -> str:
        """Root URL of the server, where the UI is served."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """URL of the server's REST API, the value of `PREFECT_API_URL`."""
        return f"{self.url}/api"

    def client_env(self, home: Path | None = None, **settings: str) -> dict[str, str]:
        """Return the environment of a Prefect process that talks to this server.

        Prefect settings of the test process's environment are dropped, and the
        repository root comes first on `PYTHONPATH`, so the child imports the
        checkout under test.

        Args:
            home: `PREFECT_HOME` of the process; the server's home by default.
            settings: More variables, such as `PREFECT_LOGGING_LEVEL="DEBUG"`.
        """
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PREFECT_")
        }
        python_path = [str(REPO_ROOT), env.get("PYTHONPATH", "")]
        env.update(
            PYTHONPATH=os.pathsep.join(part for part in python_path if part),
            # Unbuffered output reaches the log file at once, so the token
            # checks read everything that was printed before them.
            PYTHONUNBUFFERED="1",
            PREFECT_HOME=str(home or self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        env.update(settings)

        return env

    def start(self) -> None:
        """Start the server and wait until its health check passes."""
        env = self.client_env(
            PREFECT_SERVER_DATABASE_CONNECTION_URL=(
                f"sqlite+aiosqlite:///{self.database_path}"
            ),
            # DEBUG output makes the token checks cover the server's own logs.
            PREFECT_SERVER_LOGGING_LEVEL="DEBUG",
        )
        self.process = LoggedProcess(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env,
            self.directory / "server.log",
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self.process.check_running()
            try:
                response = httpx.get(f"{self.api_url}/health", timeout=2.0)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                return
            time.sleep(0.25)

        msg = (
            f"the Prefect server on port {self.port} was not healthy after "
            f"{SERVER_START_TIMEOUT_SECONDS:.0f} s; output:\n{self.process.log_text()}"
        )
        raise TimeoutError(msg)

    def stop(self) -> None:
        """Stop the server and the processes it started."""
        if self.process is not None:
            self.process.stop()

    def database_bytes(self) -> bytes:
        """Return the contents of the database file and its -wal and -shm files."""
        paths = sorted(self.directory.glob(self.database_path.name + "*"))

        return b"".join(path.read_bytes() for path in paths)

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run `prefect ARGS` against this server and return its captured output."""
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=self.client_env(),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
