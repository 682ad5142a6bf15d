"""Faults Census or the network can throw, and what the package does in each.

The reliability tests run every scenario against the emulator, and
`docs/reliability.md` is rendered from this same list, so the page cannot drift
from what the tests prove. Regenerate the page with `make reliability-page`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from prefect_census.emulator import Fault, RunPlan

QUICK = RunPlan(queued_seconds=0.1, working_seconds=0.3, records_updated=42)
PAGE = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


@dataclass(frozen=True)
class Scenario:
    """One fault, how the emulator plays it, and the outcome the package gives."""

    name: str
    census_does: str
    package_does: str
    outcome: Optional[str] = None
    runs_started: int = 1
    plan: RunPlan = QUICK
    trigger_faults: tuple = ()
    status_faults: tuple = ()
    max_wait_seconds: Optional[float] = 30.0
    request_timeout_seconds: float = 5.0
    force_full_sync: bool = False
    bad_token: bool = False
    unknown_sync: bool = False
    extra: dict = field(default_factory=dict)


SCENARIOS = [
    Scenario(
        "status-429",
        "answers a status read with HTTP 429 and no Retry-After",
        "waits with capped exponential backoff and jitter, reads again, completes",
        status_faults=(Fault.rate_limit(),),
    ),
    Scenario(
        "status-429-retry-after-seconds",
        "answers HTTP 429 with `Retry-After: 1`",
        "waits the 1 s Census asked for, reads again, completes",
        status_faults=(Fault.rate_limit(retry_after=1),),
    ),
    Scenario(
        "status-429-retry-after-date",
        "answers HTTP 429 with `Retry-After` as an HTTP date in the past",
        "reads again at once, completes",
        status_faults=(Fault.rate_limit(retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),),
    ),
    Scenario(
        "status-5xx-burst",
        "answers four status reads with HTTP 500, 502, 503 and 504",
        "retries each with backoff, completes",
        status_faults=tuple(Fault.status(code) for code in (500, 502, 503, 504)),
    ),
    Scenario(
        "status-html-503",
        "a load balancer answers with an HTML 503 page",
        "retries with backoff, completes",
        status_faults=(Fault.html(503),),
    ),
    Scenario(
        "status-read-timeout",
        "answers a status read after the read timeout",
        "treats the timeout as transient, reads again, completes",
        status_faults=(Fault.slow(1.5),),
        request_timeout_seconds=0.5,
    ),
    Scenario(
        "status-dropped-connection",
        "closes the connection without answering a status read",
        "reads again on a new connection, completes",
        status_faults=(Fault.drop(),),
    ),
    Scenario(
        "status-not-json-once",
        "answers a status read with HTTP 200 and a body that is not JSON",
        "reads again, completes",
        status_faults=(Fault.not_json(),),
    ),
    Scenario(
        "status-not-json-always",
        "answers every status read with a body that is not JSON",
        "gives up after 5 unreadable answers",
        outcome="CensusUnexpectedResponse",
        status_faults=(Fault.not_json(),) * 6,
    ),
    Scenario(
        "status-404-first-poll",
        "does not show the new run on the first status read (HTTP 404)",
        "reads again a few times before believing it, completes",
        status_faults=(Fault.not_found(),),
    ),
    Scenario(
        "status-404-always",
        "answers HTTP 404 for the run on every read",
        "after 4 answers, raises that the run was not found",
        outcome="CensusSyncRunNotFound",
        status_faults=(Fault.not_found(),) * 6,
    ),
    Scenario(
        "status-outer-error",
        'answers HTTP 200 with `"status": "error"`',
        "raises an API error with Census's message; never reads it as a run status",
        outcome="CensusAPIError",
        status_faults=(Fault.outer_error(),),
    ),
    Scenario(
        "status-missing-data",
        "answers HTTP 200 without a `data` object",
        "raises an unexpected-response error",
        outcome="CensusUnexpectedResponse",
        status_faults=(Fault.missing_data(),),
    ),
    Scenario(
        "run-unknown-status",
        "reports a run status outside the documented ones",
        "raises an error that names the status; never success",
        outcome="CensusUnknownSyncStatus",
        plan=RunPlan(queued_seconds=0.1, working_seconds=0.2, final_status="paused"),
    ),
    Scenario(
        "run-queued-forever",
        "keeps the run queued",
        "raises a timeout at `max_wait_seconds`, with the run id and link",
        outcome="CensusSyncTimeout",
        plan=RunPlan(queued_seconds=float("inf")),
        max_wait_seconds=1.0,
    ),
    Scenario(
        "run-skipped",
        "skips the run",
        "raises that the run was skipped",
        outcome="CensusSyncSkipped",
        plan=RunPlan(queued_seconds=0.1, working_seconds=0.2, final_status="skipped"),
    ),
    Scenario(
        "run-cancelled",
        "reports `completed` with `canceled: true`",
        "raises that the run was cancelled",
        outcome="CensusSyncCancelled",
        plan=RunPlan(queued_seconds=0.1, working_seconds=0.2, final_status="cancelled"),
    ),
    Scenario(
        "run-failed",
        "reports `failed` with an error code, message and detail",
        "raises with Census's error code, message and detail",
        outcome="CensusSyncFailed",
        plan=RunPlan(queued_seconds=0.1, working_seconds=0.2, final_status="failed"),
    ),
    Scenario(
        "trigger-500-after-start",
        "starts a run, then answers the trigger with HTTP 500",
        "does not retry; raises that the run may have started, with the link",
        outcome="CensusTriggerOutcomeUnknown",
        trigger_faults=(Fault.after_start(Fault.status(500)),),
    ),
    Scenario(
        "trigger-read-timeout-after-start",
        "starts a run, then answers after the read timeout",
        "does not retry; raises that the run may have started",
        outcome="CensusTriggerOutcomeUnknown",
        trigger_faults=(Fault.after_start(Fault.slow(1.5)),),
        request_timeout_seconds=0.5,
    ),
    Scenario(
        "trigger-dropped-after-start",
        "starts a run, then closes the connection without answering",
        "does not retry; raises that the run may have started",
        outcome="CensusTriggerOutcomeUnknown",
        trigger_faults=(Fault.after_start(Fault.drop()),),
    ),
    Scenario(
        "trigger-503",
        "answers the trigger with HTTP 503",
        "does not retry, because a 5xx cannot prove no run started",
        outcome="CensusTriggerOutcomeUnknown",
        runs_started=0,
        trigger_faults=(Fault.status(503),),
    ),
    Scenario(
        "trigger-429",
        "answers the trigger with HTTP 429",
        "retries (a 429 starts no run), then completes with one run",
        trigger_faults=(Fault.rate_limit(retry_after=1),),
    ),
    Scenario(
        "trigger-missing-run-id",
        "answers the trigger with HTTP 200 but no `data.sync_run_id`",
        "raises that the run may have started",
        outcome="CensusTriggerOutcomeUnknown",
        runs_started=0,
        trigger_faults=(Fault.missing_data(),),
    ),
    Scenario(
        "trigger-bad-token",
        "rejects the token with HTTP 401",
        "raises an authentication error without retrying",
        outcome="CensusAuthenticationError",
        runs_started=0,
        bad_token=True,
    ),
    Scenario(
        "trigger-unknown-sync",
        "has no such sync (HTTP 404)",
        "raises that the sync does not exist, without retrying",
        outcome="CensusSyncNotFound",
        runs_started=0,
        unknown_sync=True,
    ),
    Scenario(
        "trigger-full-sync-refused",
        "refuses `force_full_sync=true` for this sync mode (HTTP 400)",
        "raises an API error with Census's message",
        outcome="CensusAPIError",
        runs_started=0,
        plan=RunPlan(refuse_full_sync=True),
        force_full_sync=True,
    ),
]


def render_page() -> str:
    """Return the reliability page in Markdown."""
    lines = [
        "# Reliability",
        "",
        "What prefect-census does when Census or the network misbehaves. Each row",
        "is a scenario that the test suite plays with the local emulator and",
        "checks, including the number of sync runs Census started; this page is",
        "generated from the same list (`tests/scenarios.py`).",
        "",
        "| scenario | Census or the network | prefect-census | outcome | runs started |",  # noqa: E501
        "| --- | --- | --- | --- | --- |",
    ]
    for scenario in SCENARIOS:
        outcome = f"`{scenario.outcome}`" if scenario.outcome else "run data returned"
        lines.append(
            f"| `{scenario.name}` | {scenario.census_does} | "
            f"{scenario.package_does} | {outcome} | {scenario.runs_started} |"
        )
    lines.append("")

    return "\n".join(lines)


if __name__ == "__main__":
    PAGE.write_text(render_page())
    print(f"Wrote {PAGE}")
