"""Every fault scenario, played by the emulator over real HTTP."""

from __future__ import annotations

import pytest
from scenarios import PAGE, SCENARIOS, render_page

import prefect_census.exceptions as exceptions
from prefect_census import CensusCredentials, run_census_sync
from prefect_census.emulator import Fault

pytestmark = pytest.mark.usefixtures("fast_polls")


def _credentials(census_emulator, scenario, sync_id):
    url = census_emulator.trigger_url(sync_id)
    if scenario.bad_token:
        url = url.replace(census_emulator.token, "wrong" + census_emulator.token[5:])
    if scenario.unknown_sync:
        url = url.replace(f"/syncs/{sync_id}/", "/syncs/999999/")

    return CensusCredentials(
        api_trigger=url, request_timeout_seconds=scenario.request_timeout_seconds
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_scenario_outcome(census_emulator, scenario):
    """Each scenario ends with its documented outcome and number of runs."""
    sync_id = census_emulator.add_sync(plan=scenario.plan)
    census_emulator.add_faults(
        sync_id,
        trigger=list(scenario.trigger_faults),
        status=list(scenario.status_faults),
    )
    credentials = _credentials(census_emulator, scenario, sync_id)
    call = {
        "max_wait_seconds": scenario.max_wait_seconds,
        "force_full_sync": scenario.force_full_sync,
    }

    if scenario.outcome is None:
        run = run_census_sync(credentials, **call)
        assert run["status"] == "completed"
        assert run["records_updated"] == scenario.plan.records_updated
    else:
        expected = getattr(exceptions, scenario.outcome)
        with pytest.raises(expected) as caught:
            run_census_sync(credentials, **call)
        assert type(caught.value) is expected

    assert census_emulator.trigger_count(sync_id) == scenario.runs_started


def test_outcome_unknown_names_history_link(census_emulator):
    """A trigger that may have started a run reports it with the link."""
    sync_id = census_emulator.add_sync()
    census_emulator.add_faults(sync_id, trigger=[Fault.after_start(Fault.status(500))])
    credentials = CensusCredentials(api_trigger=census_emulator.trigger_url(sync_id))

    with pytest.raises(exceptions.CensusTriggerOutcomeUnknown) as caught:
        run_census_sync(credentials)

    assert str(caught.value) == (
        f"The trigger request for Census sync {sync_id} got HTTP 500 after it was "
        f"sent, so Census may have started a run. It was not retried, because a "
        f"second request could start a second run. Check {credentials.history_url} "
        f"before triggering again."
    )


def test_unreachable_census_starts_nothing(census_emulator):
    """A refused connection is retried, then reported as no run started."""
    sync_id = census_emulator.add_sync()
    credentials = CensusCredentials(api_trigger=census_emulator.trigger_url(sync_id))
    census_emulator.stop()

    with pytest.raises(exceptions.CensusConnectionError) as caught:
        run_census_sync(credentials)

    assert str(caught.value) == (
        f"Could not connect to Census at {credentials.base_url} to trigger sync "
        f"{sync_id} after 5 attempts (ConnectError). No run was started."
    )


def test_retry_logs_one_warning(census_emulator, census_logs):
    """Each retried status read logs one WARNING with the reason and wait."""
    sync_id = census_emulator.add_sync(plan=SCENARIOS[0].plan)
    census_emulator.add_faults(sync_id, status=[Fault.status(503)])
    credentials = CensusCredentials(api_trigger=census_emulator.trigger_url(sync_id))

    run_census_sync(credentials)

    run_id = census_emulator.runs(sync_id)[0]
    warnings = [
        record.getMessage()
        for record in census_logs.records
        if record.levelname == "WARNING" and record.name.startswith("prefect")
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"Census sync {sync_id}: status request for sync run {run_id} got HTTP 503; "
        "retrying in "
    )


def test_reliability_page_is_current():
    """docs/reliability.md matches the scenario list the tests run."""
    assert PAGE.read_text() == render_page()
