"""The benchmark harness in quick mode, so that `make bench` keeps working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Quick mode takes about two minutes; this limit only stops a hung run.
QUICK_RUN_TIMEOUT_SECONDS = 600


def _run_harness(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.bench
def test_quick_mode_writes_page_and_plot(tmp_path):
    """Quick mode writes the page with every table and the PNG into --output."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pytest.fail("matplotlib is missing: install it with pip install -e '.[bench]'")

    docs_page = REPO / "docs" / "benchmarks.md"
    docs_before = docs_page.stat().st_mtime_ns if docs_page.exists() else None
    output = tmp_path / "out"
    output.mkdir()

    completed = _run_harness(
        "--quick",
        "--output",
        str(output),
        "--archived-venv",
        str(tmp_path / "no-such-venv"),
        timeout=QUICK_RUN_TIMEOUT_SECONDS,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    page = (output / "benchmarks.md").read_text(encoding="utf-8")
    assert "**Quick mode**" in page
    assert "## Fan-out" in page
    assert (
        "| Syncs | Contender | Wall (s) | CPU (s) | Prefect server CPU (s) "
        "| Peak RSS (MiB) | Status requests | Max per run | Runs completed |"
    ) in page
    assert "| 5 | Prefect 1 style baseline (extrapolated) |" in page
    assert "## Completion-detection lag" in page
    assert "| Contender | Run length (s) | Poll interval (s) | Repetitions " in page
    assert "## Import time" in page
    assert "| Base imports, median (ms) |" in page
    assert "## Targets" in page
    assert "| Target | Measured on | Measured | Verdict |" in page
    assert "prefect-census 0.2.2 was not run" in page
    assert "![Wall time against number of syncs](images/fanout.png)" in page
    assert "failed" not in page
    plot = (output / "images" / "fanout.png").read_bytes()
    assert plot.startswith(PNG_SIGNATURE)
    docs_after = docs_page.stat().st_mtime_ns if docs_page.exists() else None
    assert docs_after == docs_before


def test_quick_mode_rejects_docs_output():
    """Quick mode rejects docs/ as its output directory."""
    completed = _run_harness(
        "--quick", "--output", str(REPO / "docs"), timeout=QUICK_RUN_TIMEOUT_SECONDS
    )

    assert completed.returncode == 2
    assert "--quick must not overwrite docs/" in completed.stderr
