"""Shared fixtures: a temporary Prefect API for the whole session."""

from __future__ import annotations

import logging

import pytest
from prefect.testing.utilities import prefect_test_harness


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
