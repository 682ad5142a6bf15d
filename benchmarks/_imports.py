"""Import time that `import prefect_census` adds to what the package builds on."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

BASE_IMPORTS = (
    "from prefect import flow, task; "
    "from prefect.blocks.core import Block; "
    "import httpx"
)
PACKAGE_IMPORT = "import prefect_census"
MARKER = "-- prefect_census starts here --"
TIMED_SCRIPT = """\
import time
started = time.perf_counter()
{imports}
print(time.perf_counter() - started)
"""


@dataclass
class ImportResult:
    """Import times in seconds from fresh interpreters, one entry per run."""

    base: list[float] = field(default_factory=list)
    with_package: list[float] = field(default_factory=list)
    # (module, self microseconds) from `-X importtime`, largest first.
    heaviest_modules: list[tuple[str, int]] = field(default_factory=list)
    package_cumulative_us: int | None = None

    @property
    def added_seconds(self) -> float:
        """Median with the package minus median of the base imports alone."""
        return statistics.median(self.with_package) - statistics.median(self.base)


def _time_once(imports: str, env: dict[str, str], workdir: str) -> float:
    script = TIMED_SCRIPT.format(imports=imports)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )

    return float(completed.stdout.strip().splitlines()[-1])


def _heaviest_modules(env: dict[str, str], workdir: str, count: int) -> ImportResult:
    """Read `-X importtime` for the modules `import prefect_census` loads itself."""
    script = f"{BASE_IMPORTS}; import sys; sys.stderr.write({MARKER!r} + '\\n'); "
    script += PACKAGE_IMPORT
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = completed.stderr.split(MARKER, 1)[1].splitlines()

    result = ImportResult()
    modules = []
    for line in lines:
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        module = name.strip()
        modules.append((module, int(self_us)))
        if module == "prefect_census":
            result.package_cumulative_us = int(cumulative_us)
    result.heaviest_modules = sorted(modules, key=lambda item: -item[1])[:count]

    return result


def measure_imports(repetitions: int, prefect_home: str) -> ImportResult:
    """Time the base imports and the base plus the package, alternating runs."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PREFECT_HOME"] = prefect_home
    with tempfile.TemporaryDirectory(prefix="census-bench-imports-") as workdir:
        result = _heaviest_modules(env, workdir, count=6)
        both = f"{BASE_IMPORTS}; {PACKAGE_IMPORT}"
        # One untimed run of each fills the file system cache.
        _time_once(BASE_IMPORTS, env, workdir)
        _time_once(both, env, workdir)
        for _ in range(repetitions):
            result.base.append(_time_once(BASE_IMPORTS, env, workdir))
            result.with_package.append(_time_once(both, env, workdir))

    return result
