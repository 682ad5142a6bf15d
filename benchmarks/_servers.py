"""Prefect API servers for the benchmark children, and their CPU time.

Each contender talks to a real Prefect server on loopback that the harness
starts, so the work the server does for a contender's flow and task runs can be
read from `/proc` apart from the contender's own process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))

        return probe.getsockname()[1]


def process_tree_cpu_seconds(root_pid: int) -> float:
    """Return the CPU time of a process and its descendants, from `/proc`.

    Counts user and system time of every live process in the tree, plus the
    time of its children that have ended and been waited for.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # The process ended while the tree was read.
        # The command name in brackets may contain spaces, so split after it.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        times[pid] = (utime + stime + cutime + cstime) / ticks

    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True

    return sum(times.get(pid, 0.0) for pid in tree)


class PrefectServer:
    """A `prefect server start` process on 127.0.0.1 with its own Prefect home.

    Args:
        prefect_command: The command that runs Prefect's CLI, such as
            `[sys.executable, "-m", "prefect"]`.
        home: Directory for `PREFECT_HOME`, which holds the SQLite database.
        log_path: File that receives the server's output.
    """

    def __init__(self, prefect_command: list[str], home: Path, log_path: Path) -> None:
        self.prefect_command = prefect_command
        self.home = home
        self.log_path = log_path
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def environment(self) -> dict[str, str]:
        """Return the environment for a client of this server."""
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )

        return env

    def start(self) -> PrefectServer:
        """Start the server process; `wait_until_ready` waits for its API."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        env.pop("PREFECT_API_URL")
        command = [
            *self.prefect_command,
            *("server", "start", "--host", "127.0.0.1", "--port", str(self.port)),
            *("--no-ui", "--analytics-off"),
        ]
        with open(self.log_path, "wb") as log:
            # A session of its own, so that `stop` can end the server's
            # uvicorn child (Prefect 2) with it and nothing else.
            self._process = subprocess.Popen(
                command,
                env=env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        return self

    def wait_until_ready(self) -> None:
        """Block until the API answers its health check.

        Raises:
            RuntimeError: The server exited or did not answer in time.
        """
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                msg = f"Prefect server exited early; see {self.log_path}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)

        msg = (
            f"Prefect server did not answer within {READY_TIMEOUT_SECONDS:g} s; "
            f"see {self.log_path}"
        )
        raise RuntimeError(msg)

    def cpu_seconds(self) -> float:
        """Return the CPU time the server's processes have used so far."""
        if self._process is None:
            return 0.0

        return process_tree_cpu_seconds(self._process.pid)

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL if it stays."""
        process = self._process
        if process is None:
            return

        self._process = None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass  # It had already exited.
