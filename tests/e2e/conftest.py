"""Fixtures for the end-to-end tests: one real Prefect server for the session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from _server import PrefectServer
from prefect.settings import PREFECT_API_URL, temporary_settings


@pytest.fixture(scope="session", autouse=True)
def prefect_api():
    """Replace the suite's temporary Prefect API: these tests run their own server."""
    yield


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    """Yield a running `prefect server start` with its own home and database."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def block_registration(prefect_server) -> subprocess.CompletedProcess:
    """Return the outcome of `prefect block register -m prefect_census`."""
    return prefect_server.run_cli("block", "register", "-m", "prefect_census")


@pytest.fixture
def server_api(prefect_server) -> Iterator[PrefectServer]:
    """Point the test process's Prefect client at the server, and yield the server."""
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server
