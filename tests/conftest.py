"""Shared fixtures: a temporary Prefect API for the whole session."""

from __future__ import annotations

import logging
import os

import pytest
from prefect.testing.utilities import prefect_test_harness

# The temporary Prefect server must not try to reach the internet.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session", autouse=True)
def prefect_api():
    """Run every test against a temporary Prefect API and database."""
    with prefect_test_harness():
        yield


@pytest.fixture
def credentials_for(census_emulator):
    """Return a function that builds a credentials block for an emulator sync."""
    from prefect_census import CensusCredentials

    def build(sync_id: int) -> CensusCredentials:
        return CensusCredentials(api_trigger=census_emulator.trigger_url(sync_id))

    return build


@pytest.fixture
def census_logs(caplog):
    """Capture the package's log lines from Prefect's run loggers at DEBUG."""
    caplog.set_level(logging.DEBUG)

    return caplog


@pytest.fixture
def fast_polls(monkeypatch):
    """Shrink the 5 s poll floor and the retry backoff so runs end in moments.

    The schedule keeps its shape; only its unit shrinks. Tests of the real
    floor do not use this fixture.
    """
    from prefect_census import _api, _waiting

    monkeypatch.setattr(_waiting, "MIN_POLL_SECONDS", 0.1)
    monkeypatch.setattr(_waiting, "FAST_PHASE_SECONDS", 1.0)
    monkeypatch.setattr(_api, "BACKOFF_BASE_SECONDS", 0.05)
    monkeypatch.setattr(_api, "BACKOFF_CAP_SECONDS", 0.2)
