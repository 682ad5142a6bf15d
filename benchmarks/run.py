"""Run the benchmarks and write the benchmark page and the fan-out plot.

Full run (`make bench`), which writes docs/benchmarks.md and
docs/images/fanout.png and takes about 20 minutes:

    python -m benchmarks.run

Quick run, which checks the harness in about two minutes and writes into a
temporary directory, or into `--output`, never into docs/:

    python -m benchmarks.run --quick [--output DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from benchmarks._imports import measure_imports
from benchmarks._jobs import FanoutResult, fanout_archived, fanout_current, lag_current
from benchmarks._report import (
    Report,
    plot_fanout,
    render,
    report_from_json,
    report_to_json,
)
from benchmarks._servers import PrefectServer

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGE_NAME = "benchmarks.md"
PLOT_NAME = "fanout.png"
ARCHIVED_VENV = REPO / ".venv-census-0.2.2"
# prefect-census 0.2.2 requires only prefect>=2.13.5. Prefect 2.19.9, which pip
# picks below 2.20, fails at import with pydantic 2.14 and imports with 2.7.
ARCHIVED_REQUIREMENTS = (
    "prefect-census==0.2.2",
    "prefect>=2.13.5,<2.20",
    "pydantic<2.8",
)
DEFAULT_POLL_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes and repetitions of one benchmark run."""

    fanout_sizes: tuple[int, ...]
    run_seconds: float
    baseline_sizes: tuple[int, ...]
    baseline_interval: float
    lag_run_seconds: tuple[float, ...]
    lag_repetitions: int
    import_repetitions: int
    build_archived_venv: bool


FULL = Settings(
    fanout_sizes=(1, 10, 100, 300),
    run_seconds=20.0,
    baseline_sizes=(1, 10),
    baseline_interval=DEFAULT_POLL_SECONDS,
    lag_run_seconds=(3.0, 30.0),
    lag_repetitions=5,
    import_repetitions=20,
    build_archived_venv=True,
)
# The baseline polls every 5 s here, its floor, so one sync takes seconds.
QUICK = Settings(
    fanout_sizes=(1, 5),
    run_seconds=2.0,
    baseline_sizes=(1,),
    baseline_interval=5.0,
    lag_run_seconds=(2.0,),
    lag_repetitions=1,
    import_repetitions=3,
    build_archived_venv=False,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def concurrent_timeout(syncs: int) -> float:
    """Return a generous time limit in seconds for a child that runs syncs at once."""
    return 600 + 2 * syncs


def sequential_timeout(settings: Settings, syncs: int) -> float:
    """Return a generous time limit in seconds for the baseline's fan-out child."""
    per_sync = settings.baseline_interval + settings.run_seconds + 30

    return 300 + syncs * per_sync


def machine_facts() -> list[tuple[str, str]]:
    import httpx
    import prefect

    cpu = "unknown"
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break

    return [
        ("CPU", cpu),
        ("Cores", str(os.cpu_count())),
        ("Memory", memory),
        ("System", f"{platform.system()} {platform.release()}"),
        (
            "Python, Prefect and httpx for prefect-census and the baseline",
            f"Python {platform.python_version()}, Prefect {prefect.__version__}, "
            f"httpx {httpx.__version__}",
        ),
    ]


def command_line() -> str:
    argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    with contextlib.suppress(ValueError):
        argv[0] = str(Path(argv[0]).relative_to(REPO))

    return shlex.join(argv)


def prepare_archived(settings: Settings, venv: Path) -> tuple[Optional[str], dict]:
    """Return the archived environment's interpreter and versions, or None.

    Builds the environment with pip when it is missing and the settings allow.
    The dictionary contains the versions, or the reason under `skipped`.
    """
    python = venv / "bin" / "python"
    if not python.exists():
        if not settings.build_archived_venv:
            return None, {"skipped": f"its environment {venv.name} does not exist"}
        log(f"building {venv.name} with {' '.join(ARCHIVED_REQUIREMENTS)}")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(python), "-m", "pip", "install", "--quiet"]
            subprocess.run([*pip, *ARCHIVED_REQUIREMENTS], check=True)
        except subprocess.CalledProcessError as exc:
            return None, {"skipped": f"building its environment failed: {exc}"}

    probe = (
        "import json, platform, httpx, prefect, pydantic, prefect_census; "
        "print(json.dumps({'python': platform.python_version(), "
        "'prefect': prefect.__version__, 'pydantic': pydantic.VERSION, "
        "'httpx': httpx.__version__, 'package': prefect_census.__version__}))"
    )
    completed = subprocess.run(
        [str(python), "-c", probe],
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        reason = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, {"skipped": f"it does not import: {reason[0]}"}

    return str(python), json.loads(completed.stdout)


def archived_note(versions: dict, ran: bool) -> str:
    if not ran:
        return f"prefect-census 0.2.2 was not run: {versions['skipped']}."

    return (
        f"prefect-census {versions['package']}, the last release on PyPI, runs in "
        f"its own environment (Python {versions['python']}, Prefect "
        f"{versions['prefect']}, pydantic {versions['pydantic']}, httpx "
        f"{versions['httpx']}) with its own Prefect server. Its flow "
        "`trigger_census_sync_run_and_wait_for_completion` runs at its defaults (a "
        "status check every 10 s, each check a task run in a subflow), one call "
        "per sync, all awaited at once with `asyncio.gather` in one async flow. "
        "The package has no setting for the API address: its client hard-codes "
        "`https://app.getcensus.com/api/v1`, so the benchmark replaces "
        "`prefect_census.client.AsyncClient` with a factory that points each new "
        "client at the emulator. Nothing else is changed. It sends the key as "
        "`Authorization: Bearer secret-token:<token>`, which the emulator accepts "
        "as Census does."
    )


def extrapolate(measured: FanoutResult, syncs: int) -> FanoutResult:
    """Scale a sequential contender's row to `syncs` syncs, linearly."""
    scale = syncs / measured.syncs

    def scaled(value: Optional[float]) -> Optional[float]:
        return None if value is None else value * scale

    return FanoutResult(
        contender=measured.contender,
        syncs=syncs,
        wall_seconds=scaled(measured.wall_seconds),
        cpu_seconds=scaled(measured.cpu_seconds),
        server_cpu_seconds=scaled(measured.server_cpu_seconds),
        status_requests=round(scale * (measured.status_requests or 0)),
        max_status_requests_per_run=measured.max_status_requests_per_run,
        extrapolated=True,
    )


def package_contenders() -> list[str]:
    """Return `map`, and `flow` when the checkout has `run_census_syncs`."""
    import prefect_census.flows

    contenders = ["map"]
    if hasattr(prefect_census.flows, "run_census_syncs"):
        contenders.append("flow")

    return contenders


def run_benchmarks(settings: Settings, quick: bool, archived_venv: Path) -> Report:
    started = time.monotonic()
    load_before = os.getloadavg()
    contenders = package_contenders()
    archived_python, versions = prepare_archived(settings, archived_venv)
    report = Report(
        quick=quick,
        command=command_line(),
        machine=machine_facts(),
        run_seconds=settings.run_seconds,
        poll_interval=DEFAULT_POLL_SECONDS,
        baseline_interval=settings.baseline_interval,
        archived_note=archived_note(versions, archived_python is not None),
    )
    if archived_python is not None:
        report.machine.append(
            (
                "Python, Prefect and httpx for prefect-census 0.2.2",
                f"Python {versions['python']}, Prefect {versions['prefect']}, "
                f"httpx {versions['httpx']}",
            )
        )

    with contextlib.ExitStack() as stack:
        root = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="census-bench-"))
        )
        current_cli = [sys.executable, "-m", "prefect"]
        package_server = PrefectServer(current_cli, root / "p3", root / "p3.log")
        # The baseline gets a server of its own, because it runs alongside the
        # other jobs and the server CPU column must not mix them.
        baseline_server = PrefectServer(
            current_cli, root / "p3-baseline", root / "p3-baseline.log"
        )
        servers = [package_server, baseline_server]
        archived_server = None
        if archived_python is not None:
            archived_cli = [str(Path(archived_python).parent / "prefect")]
            archived_server = PrefectServer(archived_cli, root / "p2", root / "p2.log")
            servers.append(archived_server)
        for server in servers:
            stack.callback(server.stop)
            server.start()
        log("waiting for the Prefect servers")
        for server in servers:
            server.wait_until_ready()

        log(f"import time, {settings.import_repetitions} repetitions of each")
        report.imports = measure_imports(settings.import_repetitions, str(root / "p3"))
        log(f"import adds {report.imports.added_seconds * 1000:.1f} ms")

        # Fan-out of this package first, with nothing else running.
        for syncs in settings.fanout_sizes:
            for contender in contenders:
                log(f"fan-out: {contender}, {syncs} syncs")
                result = fanout_current(
                    contender,
                    syncs,
                    settings.run_seconds,
                    package_server,
                    DEFAULT_POLL_SECONDS,
                    concurrent_timeout(syncs),
                )
                log(f"  {result}")
                report.fanout.append(result)

        # The baseline spends nearly all its time asleep, so it runs in the
        # background while the archived package and the lag jobs run.
        background = concurrent.futures.ThreadPoolExecutor(max_workers=3)
        stack.callback(background.shutdown)
        baseline_rows = background.submit(
            _run_baseline_fanout, settings, baseline_server
        )
        baseline_lags = [
            background.submit(
                lag_current,
                "baseline",
                run_seconds,
                settings.lag_repetitions,
                package_server,
                settings.baseline_interval,
                600,
            )
            for run_seconds in settings.lag_run_seconds
        ]

        if archived_server is not None:
            for syncs in settings.fanout_sizes:
                log(f"fan-out: prefect-census 0.2.2, {syncs} syncs")
                result = fanout_archived(
                    archived_python,
                    syncs,
                    settings.run_seconds,
                    archived_server,
                    concurrent_timeout(syncs),
                )
                log(f"  {result}")
                report.fanout.append(result)

        for run_seconds in settings.lag_run_seconds:
            log(f"lag: prefect-census, {run_seconds:g} s runs")
            result = lag_current(
                "package",
                run_seconds,
                settings.lag_repetitions,
                package_server,
                DEFAULT_POLL_SECONDS,
                600,
            )
            log(f"  {result}")
            report.lag.append(result)

        log("waiting for the baseline")
        for future in baseline_lags:
            report.lag.append(future.result())
        report.fanout.extend(baseline_rows.result())

    load_after = os.getloadavg()
    minutes = (time.monotonic() - started) / 60
    report.machine += [
        ("Load average (1, 5, 15 min) at start", _load(load_before)),
        ("Load average (1, 5, 15 min) at end", _load(load_after)),
        (
            "Date",
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        ),
        ("Duration of the run", f"{minutes:.1f} min"),
    ]
    report.notes.append(
        "The baseline's fan-out and lag jobs ran at the same time as the "
        "prefect-census 0.2.2 fan-out and the prefect-census lag jobs, because "
        "the baseline sleeps almost all the time. The prefect-census fan-out and "
        "the import timings ran with no other benchmark job running. Other work on "
        "the machine shows in the load averages above."
    )

    return report


def _run_baseline_fanout(settings: Settings, server: PrefectServer) -> list:
    rows = []
    for syncs in settings.baseline_sizes:
        log(f"fan-out: baseline, {syncs} syncs (background)")
        result = fanout_current(
            "baseline",
            syncs,
            settings.run_seconds,
            server,
            settings.baseline_interval,
            sequential_timeout(settings, syncs),
        )
        log(f"  {result}")
        rows.append(result)

    largest = rows[-1]
    if largest.error is None:
        for syncs in settings.fanout_sizes:
            if syncs not in settings.baseline_sizes:
                rows.append(extrapolate(largest, syncs))

    return rows


def _load(values: Sequence[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark prefect-census against its Census emulator.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes that check the harness in about two minutes; writes to "
        "--output or a temporary directory, never to docs/",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"directory for {PAGE_NAME} and images/{PLOT_NAME} "
        "(default: docs/ for a full run, a new temporary directory with --quick)",
    )
    parser.add_argument(
        "--archived-venv",
        type=Path,
        default=ARCHIVED_VENV,
        help="virtual environment with prefect-census 0.2.2; a full run builds it "
        "when missing (default: %(default)s)",
    )
    parser.add_argument(
        "--save-raw",
        type=Path,
        help="also write the measurements as JSON to this file",
    )
    parser.add_argument(
        "--from-raw",
        type=Path,
        help="measure nothing; render the page and plot from a --save-raw file",
    )
    args = parser.parse_args(argv)

    if args.quick and args.output is None:
        args.output = Path(tempfile.mkdtemp(prefix="census-bench-quick-"))
    elif args.output is None:
        args.output = DOCS
    if args.quick and args.output.resolve() == DOCS.resolve():
        parser.error("--quick must not overwrite docs/; pick another --output")

    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse_args(argv)
    settings = QUICK if args.quick else FULL
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # SIGTERM unwinds like Ctrl-C, so the Prefect servers are stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    if args.from_raw is not None:
        report = report_from_json(args.from_raw.read_text(encoding="utf-8"))
    else:
        report = run_benchmarks(settings, args.quick, args.archived_venv)
    if args.save_raw is not None:
        args.save_raw.write_text(report_to_json(report), encoding="utf-8")

    page = args.output / PAGE_NAME
    plot = args.output / "images" / PLOT_NAME
    plot_fanout(report, plot)
    page.write_text(render(report, PLOT_NAME), encoding="utf-8")
    log(f"wrote {page} and {plot}")

    return 0


if __name__ == "__main__":
    sys.exit(main())
