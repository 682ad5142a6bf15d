"""Block registration, metadata, Prefect's standard block tests, and save/load."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import BlockDocumentUpdate
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from prefect_census import CensusCredentials, CensusSync

TOKEN = "Zq8vWx3RkP0mNa7B"
URL = f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger"


@pytest.mark.parametrize("block", [CensusCredentials, CensusSync])
class TestStandardSuite(BlockStandardTestSuite):
    """Prefect's own checks of block metadata, run on every block here."""

    @pytest.fixture
    def block(self, block):
        return block

    def test_has_a_valid_image(self, block):
        """The logo URL is set; downloading it needs the internet, so not here."""
        assert block._logo_url.startswith("https://")


def test_collections_entry_point():
    """Prefect finds the package through its prefect.collections entry point."""
    entry_points = importlib.metadata.entry_points(group="prefect.collections")

    assert "prefect_census" in [entry_point.name for entry_point in entry_points]


def test_credentials_round_trip():
    """A saved block loads by name with the original token."""
    CensusCredentials(api_trigger=URL).save("round-trip", overwrite=True)

    loaded = CensusCredentials.load("round-trip")

    assert loaded.api_trigger.get_secret_value() == URL
    assert loaded.sync_id == 42


def test_job_block_round_trip():
    """A saved job block loads with its credentials and options."""
    job = CensusSync(
        credentials=CensusCredentials(api_trigger=URL),
        poll_status_every_n_seconds=30,
        max_wait_seconds=600,
    )
    job.save("job-round-trip", overwrite=True)

    loaded = CensusSync.load("job-round-trip")

    assert loaded.credentials.api_trigger.get_secret_value() == URL
    assert loaded.poll_status_every_n_seconds == 30
    assert loaded.max_wait_seconds == 600


def test_invalid_url_rejected_on_load():
    """A stored URL that breaks the rules is rejected when the block is loaded."""
    CensusCredentials(api_trigger=URL).save("to-corrupt", overwrite=True)
    bad = "https://bearer:secret-token:abcd@example.com/api/v1/syncs/42/trigger"

    async def corrupt():
        async with get_client() as client:
            document = await client.read_block_document_by_name(
                "to-corrupt", "census-credentials"
            )
            await client.update_block_document(
                document.id, BlockDocumentUpdate(data={"api_trigger": bad})
            )

    asyncio.run(corrupt())

    with pytest.raises((RuntimeError, ValueError)) as caught:
        CensusCredentials.load("to-corrupt")

    # Prefect 3 wraps the validation error of a load in a RuntimeError.
    error = caught.value
    if isinstance(error, RuntimeError):
        error = error.__cause__
    assert isinstance(error, ValueError)
    assert "host 'example.com' is not a Census host" in str(error)
    assert "abcd" not in str(error)
