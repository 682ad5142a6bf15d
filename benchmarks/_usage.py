"""Resource use of the current process, for the benchmark child processes.

Standard library only, because the child that runs the archived package imports
it from a virtual environment that has no copy of this checkout.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """A reading of the clock and of the CPU time used so far.

    CPU times include child processes that have ended and been waited for.
    """

    monotonic: float
    user_seconds: float
    system_seconds: float

    @classmethod
    def now(cls) -> Usage:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)

        return cls(
            monotonic=time.monotonic(),
            user_seconds=own.ru_utime + children.ru_utime,
            system_seconds=own.ru_stime + children.ru_stime,
        )


def peak_rss_kib() -> int:
    """Return the peak resident set size of this process in KiB (Linux units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measurement(start: Usage, end: Usage, **extra: object) -> dict:
    """Return the wall and CPU time between two readings, and the peak RSS."""
    return {
        "started": start.monotonic,
        "ended": end.monotonic,
        "wall_seconds": end.monotonic - start.monotonic,
        "cpu_seconds": (end.user_seconds - start.user_seconds)
        + (end.system_seconds - start.system_seconds),
        "peak_rss_kib": peak_rss_kib(),
        **extra,
    }


def read_spec() -> dict:
    """Read the JSON job description whose path is the first argument."""
    with open(sys.argv[1], encoding="utf-8") as file:
        return json.load(file)


def write_result(result: dict) -> None:
    """Write the result as JSON to the path given as the second argument."""
    with open(sys.argv[2], "w", encoding="utf-8") as file:
        json.dump(result, file)


def describe_error(exc: BaseException) -> str:
    """Return the exception's own line and the place it was raised, for the page."""
    frames = traceback.extract_tb(exc.__traceback__)
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if not frames:
        return message

    last = frames[-1]
    path = last.filename.split("site-packages/")[-1]

    return f"{message} (raised in {last.name}, {path}:{last.lineno})"
