"""The token appears nowhere: logs, errors, states, parameters, results, database."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
import urllib.parse
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.logging.handlers import APILogHandler

from prefect_census import CensusCredentials, run_census_sync
from prefect_census._compat import harness_database_path, model_to_json
from prefect_census.emulator import Fault, RunPlan

pytestmark = pytest.mark.usefixtures("fast_polls")

QUICK = {"queued_seconds": 0.1, "working_seconds": 0.3}
LOGGERS = ("", "prefect", "httpx", "httpcore", "asyncio", "prefect_census")


class Everything(logging.Handler):
    """Keep every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


@pytest.fixture
def every_log_record():
    handler = Everything()
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(saved[name])


def _forms(token: str) -> list[str]:
    """Return the token as it could appear: plain, quoted, in Basic auth."""
    basic = base64.b64encode(f"bearer:secret-token:{token}".encode()).decode()

    return [token, urllib.parse.quote(token), basic]


def _exception_texts(error: BaseException) -> list[str]:
    texts = [
        "".join(traceback.format_exception(type(error), error, error.__traceback__))
    ]
    while error is not None:
        texts += [str(error), repr(error), repr(vars(error))]
        error = error.__cause__ or error.__context__

    return texts


async def _api_texts() -> list[str]:
    """Return everything the Prefect API stores about runs, as JSON text."""
    async with get_client() as client:
        flow_runs = await client.read_flow_runs()
        task_runs = await client.read_task_runs()
        artifacts = await client.read_artifacts()
        logs = await client.read_logs()
    items = [*flow_runs, *task_runs, *artifacts, *logs]

    return [model_to_json(item) for item in items]


def test_token_never_leaks(census_emulator, every_log_record):
    """Success and every failure leave no trace of the token anywhere."""
    wrong_token = "WrongToken" + census_emulator.token[10:]
    texts: list[str] = []
    outcomes = [
        (RunPlan(**QUICK), {}, {}),
        (RunPlan(**QUICK, final_status="failed"), {}, {}),
        (RunPlan(**QUICK, final_status="skipped"), {}, {}),
        (RunPlan(**QUICK, final_status="cancelled"), {}, {}),
        (RunPlan(**QUICK, final_status="mystery"), {}, {}),
        (RunPlan(queued_seconds=float("inf")), {}, {"max_wait_seconds": 0.5}),
        (RunPlan(**QUICK), {"trigger": [Fault.after_start(Fault.status(500))]}, {}),
        (RunPlan(**QUICK), {"status": [Fault.drop(), Fault.html(503)]}, {}),
        (RunPlan(**QUICK), {"status": [Fault.outer_error()]}, {}),
    ]
    for plan, faults, options in outcomes:
        sync_id = census_emulator.add_sync(plan=plan)
        census_emulator.add_faults(sync_id, **faults)
        credentials = CensusCredentials(
            api_trigger=census_emulator.trigger_url(sync_id)
        )
        texts += [repr(credentials), str(credentials), str(credentials.dict())]

        state = run_census_sync(credentials, return_state=True, **options)

        texts += [repr(state), str(state.message)]
        try:
            texts.append(repr(state.result()))
        except Exception as error:
            texts += _exception_texts(error)

    bad_url = census_emulator.trigger_url(1).replace(census_emulator.token, wrong_token)
    state = run_census_sync(CensusCredentials(api_trigger=bad_url), return_state=True)
    texts += [repr(state), str(state.message)]
    with pytest.raises(Exception) as caught:
        state.result()
    texts += _exception_texts(caught.value)

    with pytest.raises(ValueError) as caught:
        CensusCredentials(api_trigger=bad_url.replace("/syncs/1/", "/syncs/x/"))
    texts += _exception_texts(caught.value)

    APILogHandler().flush()
    texts += asyncio.run(_api_texts())
    texts += every_log_record.texts

    everything = "\n".join(texts)
    database = Path(harness_database_path())
    stored = b"".join(
        path.read_bytes() for path in database.parent.glob(database.name + "*")
    )
    for secret in (census_emulator.token, wrong_token):
        for form in _forms(secret):
            assert form not in everything
            assert form.encode() not in stored
    assert "Census sync run" in everything
    assert len(every_log_record.texts) > 100
