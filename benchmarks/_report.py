"""The benchmark page: tables, the targets and their verdicts, the fan-out plot."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from benchmarks._imports import ImportResult
from benchmarks._jobs import FanoutResult, LagResult
from prefect_census._waiting import FAST_PHASE_SECONDS, MIN_POLL_SECONDS

CONTENDER_LABELS = {
    "map": "prefect-census, `.map` of the tasks",
    "flow": "prefect-census, `run_census_syncs`",
    "baseline": "Prefect 1 style baseline",
    "archived": "prefect-census 0.2.2",
    "package": "prefect-census, `run_census_sync`",
}
PACKAGE_CONTENDERS = ("map", "flow")
FANOUT_TARGET_RATIO = 1.5
FANOUT_TARGET_SYNCS = 100
LAG_TARGET_SECONDS = 5.0
IMPORT_TARGET_SECONDS = 0.050


@dataclass
class Report:
    """Everything one benchmark run measured, and how it was set up."""

    quick: bool
    command: str
    machine: list[tuple[str, str]]
    run_seconds: float
    poll_interval: float
    baseline_interval: float
    fanout: list[FanoutResult] = field(default_factory=list)
    lag: list[LagResult] = field(default_factory=list)
    imports: Optional[ImportResult] = None
    archived_note: str = ""
    notes: list[str] = field(default_factory=list)


def report_to_json(report: Report) -> str:
    """Return the measurements as JSON, so the page can be rendered again later."""
    return json.dumps(dataclasses.asdict(report), indent=1)


def report_from_json(text: str) -> Report:
    """Rebuild a `Report` from `report_to_json` output."""
    data = json.loads(text)
    data["machine"] = [tuple(pair) for pair in data["machine"]]
    data["fanout"] = [FanoutResult(**row) for row in data["fanout"]]
    data["lag"] = [LagResult(**row) for row in data["lag"]]
    if data["imports"] is not None:
        imports = data["imports"]
        imports["heaviest_modules"] = [
            tuple(pair) for pair in imports["heaviest_modules"]
        ]
        data["imports"] = ImportResult(**imports)

    return Report(**data)


def status_request_budget(run_seconds: float, interval: float) -> int:
    """Return the maximum number of status requests a run of `run_seconds` may cost.

    That is the ramp's 5 s polls that fall within the run (at most a minute's
    worth), one per configured interval after the first minute, and one more
    for the check that finds the run ended.
    """
    early = math.ceil(min(run_seconds, FAST_PHASE_SECONDS) / MIN_POLL_SECONDS)
    late = math.ceil(max(0.0, run_seconds - FAST_PHASE_SECONDS) / interval)

    return early + late + 1


def _number(value: Optional[float], digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _count(value: Optional[int]) -> str:
    return "-" if value is None else f"{value:,}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)

    return lines


def fanout_table(report: Report) -> list[str]:
    header = [
        "Syncs",
        "Contender",
        "Wall (s)",
        "CPU (s)",
        "Prefect server CPU (s)",
        "Peak RSS (MiB)",
        "Status requests",
        "Max per run",
        "Runs completed",
    ]
    rows = []
    for result in sorted(report.fanout, key=lambda item: item.syncs):
        label = CONTENDER_LABELS[result.contender]
        if result.extrapolated:
            label += " (extrapolated)"
        if result.error is not None:
            label += " (failed, see below)"
        rows.append(
            [
                str(result.syncs),
                label,
                _number(result.wall_seconds),
                _number(result.cpu_seconds),
                _number(result.server_cpu_seconds),
                _number(result.peak_rss_mib, 0),
                _count(result.status_requests),
                _count(result.max_status_requests_per_run),
                _count(result.completed_runs),
            ]
        )

    return _table(header, rows)


def breakdown_table(report: Report) -> list[str]:
    header = [
        "Syncs",
        "Contender",
        "Flow start to first trigger (s)",
        "First to last trigger (s)",
        "Last run end to flow return (s)",
    ]
    rows = [
        [
            str(result.syncs),
            CONTENDER_LABELS[result.contender],
            _number(result.first_trigger_seconds),
            _number(result.trigger_spread_seconds),
            _number(result.return_after_last_end_seconds),
        ]
        for result in sorted(report.fanout, key=lambda item: item.syncs)
        if result.contender != "baseline" and result.trigger_spread_seconds is not None
    ]

    return _table(header, rows)


def lag_table(report: Report) -> list[str]:
    header = [
        "Contender",
        "Run length (s)",
        "Poll interval (s)",
        "Repetitions",
        "Median lag (s)",
        "Max lag (s)",
        "Status requests per run (max)",
    ]
    rows = [
        [
            CONTENDER_LABELS[result.contender],
            _number(result.run_seconds, 0),
            _number(result.poll_interval, 0),
            str(len(result.lags)),
            _number(result.median_lag),
            _number(result.max_lag),
            _count(max(result.status_requests_per_run, default=None)),
        ]
        for result in report.lag
    ]

    return _table(header, rows)


def import_table(imports: ImportResult) -> list[str]:
    header = [
        "Base imports, median (ms)",
        "Base + `import prefect_census`, median (ms)",
        "Added by prefect_census (ms)",
        "Paired differences, min to max (ms)",
        "Repetitions of each",
    ]
    differences = [
        (with_package - base) * 1000
        for base, with_package in zip(imports.base, imports.with_package)
    ]
    row = [
        _number(statistics.median(imports.base) * 1000),
        _number(statistics.median(imports.with_package) * 1000),
        _number(imports.added_seconds * 1000),
        f"{_number(min(differences))} to {_number(max(differences))}",
        str(len(imports.base)),
    ]

    return _table(header, [row])


def _find(report: Report, contender: str, syncs: int) -> Optional[FanoutResult]:
    for result in report.fanout:
        if result.contender == contender and result.syncs == syncs:
            return result

    return None


def _fanout_verdicts(report: Report) -> list[list[str]]:
    rows = []
    sizes = sorted({result.syncs for result in report.fanout})
    checked = FANOUT_TARGET_SYNCS if FANOUT_TARGET_SYNCS in sizes else sizes[-1]
    cores = _machine_value(report, "Cores")
    target = (
        f"{checked} syncs of {report.run_seconds:g} s finish within "
        f"{FANOUT_TARGET_RATIO:g}x the wall time of one"
    )
    for contender in PACKAGE_CONTENDERS:
        single = _find(report, contender, 1)
        fanout = _find(report, contender, checked)
        if single is None or fanout is None:
            continue
        if single.wall_seconds is None or fanout.wall_seconds is None:
            rows.append([target, CONTENDER_LABELS[contender], "failed", "not measured"])
            continue

        ratio = fanout.wall_seconds / single.wall_seconds
        measured = f"{fanout.wall_seconds:.1f} s / {single.wall_seconds:.1f} s"
        measured += f" = {ratio:.2f}x"
        if ratio <= FANOUT_TARGET_RATIO:
            verdict = "met"
        else:
            allowed = FANOUT_TARGET_RATIO * single.wall_seconds
            cpu = (fanout.cpu_seconds or 0) + (fanout.server_cpu_seconds or 0)
            spread = _number(fanout.trigger_spread_seconds)
            late = _number(fanout.return_after_last_end_seconds)
            verdict = (
                f"missed by {fanout.wall_seconds - allowed:.1f} s. The triggers "
                f"spread over {spread} s and the flow returned {late} s after the "
                "last run ended. The flow process and the Prefect server used "
                f"{cpu:.1f} CPU s in those {fanout.wall_seconds:.1f} s on {cores} "
                "cores"
            )
        rows.append([target, CONTENDER_LABELS[contender], measured, verdict])

    return rows


def _lag_verdicts(report: Report) -> list[list[str]]:
    rows = []
    for result in report.lag:
        if result.contender != "package":
            continue
        target = (
            f"median lag <= {LAG_TARGET_SECONDS:g} s and max <= "
            f"{result.poll_interval:g} s, {result.run_seconds:g} s runs"
        )
        if result.median_lag is None:
            rows.append([target, CONTENDER_LABELS["package"], "failed", "not measured"])
            continue

        measured = f"median {result.median_lag:.1f} s, max {result.max_lag:.1f} s"
        shortfalls = []
        if result.median_lag > LAG_TARGET_SECONDS:
            shortfalls.append(
                f"median {result.median_lag - LAG_TARGET_SECONDS:.1f} s over"
            )
        if result.max_lag > result.poll_interval:
            shortfalls.append(f"max {result.max_lag - result.poll_interval:.1f} s over")
        verdict = "met" if not shortfalls else "missed: " + ", ".join(shortfalls)
        rows.append([target, CONTENDER_LABELS["package"], measured, verdict])

    return rows


def _request_verdicts(report: Report) -> list[list[str]]:
    rows = []
    cases: list[tuple[str, float, float, Optional[int]]] = []
    for result in report.fanout:
        if result.contender in PACKAGE_CONTENDERS and not result.extrapolated:
            name = f"fan-out of {result.syncs}, {CONTENDER_LABELS[result.contender]}"
            cases.append(
                (
                    name,
                    report.run_seconds,
                    report.poll_interval,
                    result.max_status_requests_per_run,
                )
            )
    for result in report.lag:
        if result.contender == "package":
            name = f"lag runs of {result.run_seconds:g} s, `run_census_sync`"
            max_requests = max(result.status_requests_per_run, default=None)
            cases.append((name, result.run_seconds, result.poll_interval, max_requests))

    for name, run_seconds, interval, max_requests in cases:
        budget = status_request_budget(run_seconds, interval)
        target = f"status requests per run <= {budget}"
        if max_requests is None:
            rows.append([target, name, "not measured", "not measured"])
            continue
        verdict = (
            "met" if max_requests <= budget else f"missed by {max_requests - budget}"
        )
        rows.append([target, name, f"max {max_requests}", verdict])

    return rows


def _import_verdict(report: Report) -> list[list[str]]:
    if report.imports is None:
        return []

    added = report.imports.added_seconds
    target = f"`import prefect_census` adds <= {IMPORT_TARGET_SECONDS * 1000:g} ms"
    measured = f"{added * 1000:.1f} ms"
    if added <= IMPORT_TARGET_SECONDS:
        verdict = "met"
    else:
        heaviest = ", ".join(
            f"`{module}` {micros / 1000:.1f} ms"
            for module, micros in report.imports.heaviest_modules[:3]
        )
        verdict = (
            f"missed by {(added - IMPORT_TARGET_SECONDS) * 1000:.1f} ms; the "
            f"heaviest modules it loads (self time): {heaviest}"
        )

    return [[target, "prefect-census", measured, verdict]]


def target_table(report: Report) -> list[str]:
    rows = (
        _fanout_verdicts(report)
        + _lag_verdicts(report)
        + _request_verdicts(report)
        + _import_verdict(report)
    )

    return _table(["Target", "Measured on", "Measured", "Verdict"], rows)


def _machine_value(report: Report, key: str) -> str:
    return dict(report.machine).get(key, "?")


def render(report: Report, plot_name: str) -> str:
    """Return the Markdown page for a benchmark run."""
    lines = ["# Benchmarks", ""]
    if report.quick:
        lines += [
            "**Quick mode**: small sizes that only check that the harness works. "
            "These numbers say nothing about performance.",
            "",
        ]
    lines += [
        "Produced by the harness in `benchmarks/` (`make bench`), all against the "
        "package's local Census emulator on 127.0.0.1. Every number below comes from "
        "the one run described here.",
        "",
        "## Machine and command",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in report.machine]
    lines += [f"- Command: `{report.command}`", ""]

    lines += [
        "## Fan-out",
        "",
        "One Prefect flow starts N syncs whose runs each take "
        f"{report.run_seconds:g} s in the emulator, and returns when every run "
        "has ended. Wall time and CPU time (user + system, including ended child "
        "processes) cover the flow call only, in a fresh child process per row. "
        "Peak RSS is that process's `ru_maxrss`, imports included. The Prefect "
        "server CPU column is the CPU time of the Prefect API server process (and "
        "its children) during the flow, background services included. Status "
        "requests are counted by the emulator.",
        "",
        f"- prefect-census runs at its defaults: poll interval "
        f"{report.poll_interval:g} s, so checks every 5 s for the first minute.",
        "- The baseline does what the Prefect 1 Census task did. It runs one sync "
        "after another, sleeps the full poll interval "
        f"({report.baseline_interval:g} s) before each status check, and opens a "
        "new connection per request (`httpx.post` and `httpx.get`, with the token "
        "as Basic auth from the URL). Rows marked extrapolated multiply the "
        "measured time per sync of its largest measured row by N.",
        f"- {report.archived_note}",
        "",
    ]
    lines += fanout_table(report)
    lines += ["", f"![Wall time against number of syncs](images/{plot_name})", ""]
    lines += [
        "Where the wall time of the concurrent contenders goes, from the "
        "emulator's records. Roughly, the wall time is the first two columns plus "
        f"the {report.run_seconds:g} s a run takes plus the last column. It is not "
        "exact, because the last trigger's run need not be the last to end.",
        "",
    ]
    lines += breakdown_table(report)
    lines += [""]

    lines += [
        "## Completion-detection lag",
        "",
        "Time from the emulator marking a run finished to the single-sync flow "
        "returning in the benchmark process (both `time.monotonic()` on the same "
        "machine). The repetitions of a row run at the same time, each as its own "
        "flow run in its own thread. prefect-census runs `run_census_sync` at its "
        "defaults; the baseline runs the Prefect 1 style flow for one sync.",
        "",
    ]
    lines += lag_table(report)
    lines += [""]

    if report.imports is not None:
        lines += [
            "## Import time",
            "",
            "Time to import `prefect.flow`, `prefect.task`, "
            "`prefect.blocks.core.Block` and `httpx` (the base), and the same plus "
            "`import prefect_census`, each timed inside a fresh interpreter with "
            "`time.perf_counter()`, the two kinds alternating. Added time is the "
            "median of the second minus the median of the first. The paired "
            "differences (each run with the package minus the base run before it) "
            "show how much the machine's other work moved single runs.",
            "",
        ]
        lines += import_table(report.imports)
        if report.imports.heaviest_modules:
            cumulative = report.imports.package_cumulative_us
            lines += [
                "",
                "Modules that `import prefect_census` loads beyond the base, by "
                "self time in one `python -X importtime` run (which adds its own "
                "overhead)"
                + (
                    f"; `prefect_census` took {cumulative / 1000:.1f} ms cumulative "
                    "there:"
                    if cumulative is not None
                    else ":"
                ),
                "",
            ]
            lines += [
                f"- `{module}`: {micros / 1000:.1f} ms"
                for module, micros in report.imports.heaviest_modules
            ]
        lines += [""]

    lines += ["## Targets", ""]
    lines += target_table(report)
    lines += [
        "",
        "The status request budget of a run of D seconds counts the ramp's 5 s "
        "polls within the run (D/5 rounded up, at most "
        f"{FAST_PHASE_SECONDS / MIN_POLL_SECONDS:g}) and one poll per configured "
        "interval after the first minute. One more covers the check that finds "
        "the run ended.",
        "",
    ]

    failures = [result for result in report.fanout if result.error] + [
        result for result in report.lag if result.error
    ]
    if report.notes or failures:
        lines += ["## Notes", ""]
        lines += [f"- {note}" for note in report.notes]
        for result in failures:
            lines += [
                "",
                f"{CONTENDER_LABELS[result.contender]} failed:",
                "",
                "```",
                *result.error.splitlines(),
                "```",
            ]
        lines += [""]

    return "\n".join(lines)


def plot_fanout(report: Report, path: Path) -> None:
    """Draw wall time against the number of syncs, one line per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for contender, label in CONTENDER_LABELS.items():
        label = label.replace("`", "")
        rows = [result for result in report.fanout if result.contender == contender]
        measured = sorted(
            (result.syncs, result.wall_seconds)
            for result in rows
            if not result.extrapolated and result.wall_seconds is not None
        )
        if not measured:
            continue
        failed = sorted(result.syncs for result in rows if result.error is not None)
        if failed:
            label += f" (failed at {', '.join(map(str, failed))})"
        line = axes.plot(*zip(*measured), marker="o", label=label)
        estimated = sorted(
            (result.syncs, result.wall_seconds)
            for result in rows
            if result.extrapolated
        )
        if estimated:
            points = [measured[-1], *estimated]
            axes.plot(
                *zip(*points),
                marker="x",
                linestyle="--",
                color=line[0].get_color(),
                label=label + " (extrapolated)",
            )

    axes.set_xscale("log")
    axes.set_yscale("log")
    sizes = sorted({result.syncs for result in report.fanout})
    axes.set_xticks(sizes)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("syncs started from one flow")
    axes.set_ylabel("wall time (s)")
    axes.set_title(f"Fan-out of Census syncs, {report.run_seconds:g} s runs")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
