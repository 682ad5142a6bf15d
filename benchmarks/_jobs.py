"""Benchmark jobs: start an emulator, run one child process against it, collect.

Every job gets a fresh `CensusEmulator` in the harness process and one child
process for the contender, so the child's CPU time and peak memory are its own,
while the emulator's status request counts and finish times stay exact.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from benchmarks._servers import PrefectServer
from prefect_census.emulator import CensusEmulator, RunPlan

HERE = Path(__file__).resolve().parent
CURRENT_CHILD = HERE / "_child_current.py"
ARCHIVED_CHILD = HERE / "_child_archived.py"
# Lines of a failed child's output printed to standard error.
LOG_TAIL_LINES = 15


@dataclass
class FanoutResult:
    """One contender's fan-out over a number of syncs."""

    contender: str
    syncs: int
    wall_seconds: Optional[float] = None
    cpu_seconds: Optional[float] = None
    server_cpu_seconds: Optional[float] = None
    peak_rss_mib: Optional[float] = None
    status_requests: Optional[int] = None
    max_status_requests_per_run: Optional[int] = None
    completed_runs: Optional[int] = None
    # Where the wall time goes, from the emulator's clock: flow start to the
    # first trigger, first to last trigger, last run end to the flow's return.
    first_trigger_seconds: Optional[float] = None
    trigger_spread_seconds: Optional[float] = None
    return_after_last_end_seconds: Optional[float] = None
    extrapolated: bool = False
    error: Optional[str] = None


@dataclass
class LagResult:
    """Completion-detection lag of one contender for runs of one length."""

    contender: str
    run_seconds: float
    poll_interval: float
    lags: list[float] = field(default_factory=list)
    status_requests_per_run: list[int] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def median_lag(self) -> Optional[float]:
        return statistics.median(self.lags) if self.lags else None

    @property
    def max_lag(self) -> Optional[float]:
        return max(self.lags) if self.lags else None


def run_child(
    python: str,
    script: Path,
    spec: dict,
    env: dict[str, str],
    timeout: float,
) -> dict:
    """Run a child script with a JSON job description and return its JSON result.

    The result has an `error` key when the child failed, timed out or wrote
    nothing. The end of the child's output then goes to standard error.
    """
    with tempfile.TemporaryDirectory(prefix="census-bench-") as workdir:
        spec_path = Path(workdir, "spec.json")
        result_path = Path(workdir, "result.json")
        log_path = Path(workdir, "child.log")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")

        with open(log_path, "wb") as log:
            try:
                subprocess.run(
                    [python, str(script), str(spec_path), str(result_path)],
                    env=env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return {"error": f"timed out after {timeout:g} s"}

        if result_path.exists():
            result = json.loads(result_path.read_text(encoding="utf-8"))
        else:
            result = {"error": "the child process wrote no result"}
        if "error" in result:
            output = log_path.read_text(encoding="utf-8", errors="replace")
            tail = "\n".join(output.splitlines()[-LOG_TAIL_LINES:])
            print(f"{script.name} failed: {result['error']}\n{tail}", file=sys.stderr)

        return result


def _add_syncs(census: CensusEmulator, count: int, run_seconds: float) -> list[int]:
    plan = RunPlan(working_seconds=run_seconds)

    return [census.add_sync(plan) for _ in range(count)]


def _count_requests(census: CensusEmulator, sync_ids: list[int]) -> list[int]:
    counts = []
    for sync_id in sync_ids:
        for run_id in census.runs(sync_id):
            counts.append(census.status_request_count(run_id))

    return counts


def _completed_runs(census: CensusEmulator, sync_ids: list[int]) -> int:
    statuses = [
        census.run_data(run_id)["status"]
        for sync_id in sync_ids
        for run_id in census.runs(sync_id)
    ]

    return statuses.count("completed")


def fanout_current(
    contender: str,
    syncs: int,
    run_seconds: float,
    server: PrefectServer,
    poll_interval: float,
    timeout: float,
) -> FanoutResult:
    """Fan out `syncs` syncs with this package (`map`, `flow`) or the baseline."""
    with CensusEmulator() as census:
        sync_ids = _add_syncs(census, syncs, run_seconds)
        spec = {
            "mode": "fanout",
            "contender": contender,
            "trigger_urls": [census.trigger_url(sync_id) for sync_id in sync_ids],
            "poll_interval": poll_interval,
        }
        server_cpu = server.cpu_seconds()
        outcome = run_child(
            sys.executable, CURRENT_CHILD, spec, server.environment(), timeout
        )
        server_cpu = server.cpu_seconds() - server_cpu

        return _fanout_result(contender, syncs, outcome, census, sync_ids, server_cpu)


def fanout_archived(
    python: str,
    syncs: int,
    run_seconds: float,
    server: PrefectServer,
    timeout: float,
) -> FanoutResult:
    """Fan out `syncs` syncs with prefect-census 0.2.2 in its own environment."""
    with CensusEmulator() as census:
        sync_ids = _add_syncs(census, syncs, run_seconds)
        spec = {
            "base_url": census.base_url,
            "token": census.token,
            "sync_ids": sync_ids,
        }
        server_cpu = server.cpu_seconds()
        outcome = run_child(python, ARCHIVED_CHILD, spec, server.environment(), timeout)
        server_cpu = server.cpu_seconds() - server_cpu

        return _fanout_result("archived", syncs, outcome, census, sync_ids, server_cpu)


def _fanout_result(
    contender: str,
    syncs: int,
    outcome: dict,
    census: CensusEmulator,
    sync_ids: list[int],
    server_cpu: float,
) -> FanoutResult:
    counts = _count_requests(census, sync_ids)
    result = FanoutResult(
        contender=contender,
        syncs=syncs,
        server_cpu_seconds=server_cpu,
        status_requests=sum(counts),
        max_status_requests_per_run=max(counts, default=0),
        completed_runs=_completed_runs(census, sync_ids),
        error=outcome.get("error"),
    )
    if result.error is not None:
        return result

    result.wall_seconds = outcome["wall_seconds"]
    result.cpu_seconds = outcome["cpu_seconds"]
    result.peak_rss_mib = outcome["peak_rss_kib"] / 1024
    triggers = [
        record.at
        for record in census.requests
        if record.method == "POST" and record.path.endswith("/trigger")
    ]
    ends = [
        census.finished_at(run_id)
        for sync_id in sync_ids
        for run_id in census.runs(sync_id)
    ]
    if triggers and ends and None not in ends:
        result.first_trigger_seconds = min(triggers) - outcome["started"]
        result.trigger_spread_seconds = max(triggers) - min(triggers)
        result.return_after_last_end_seconds = outcome["ended"] - max(ends)

    return result


def lag_current(
    contender: str,
    run_seconds: float,
    repetitions: int,
    server: PrefectServer,
    poll_interval: float,
    timeout: float,
) -> LagResult:
    """Measure how long after a run finishes its single-sync flow returns.

    All repetitions run at once, each in its own thread and flow run, on syncs
    of their own.
    """
    with CensusEmulator() as census:
        sync_ids = _add_syncs(census, repetitions, run_seconds)
        spec = {
            "mode": "lag",
            "contender": contender,
            "trigger_urls": [census.trigger_url(sync_id) for sync_id in sync_ids],
            "poll_interval": poll_interval,
        }
        outcome = run_child(
            sys.executable, CURRENT_CHILD, spec, server.environment(), timeout
        )
        result = LagResult(contender, run_seconds, poll_interval)
        errors = outcome.get("errors") or []
        if "error" in outcome:
            errors.append(outcome["error"])
        if errors:
            result.error = errors[0]

        for sync_id, returned in zip(sync_ids, outcome.get("returned") or []):
            run_ids = census.runs(sync_id)
            if returned is None or not run_ids:
                continue
            finished = census.finished_at(run_ids[0])
            if finished is not None:
                result.lags.append(returned - finished)
        result.status_requests_per_run = _count_requests(census, sync_ids)

        return result
