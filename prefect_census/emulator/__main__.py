"""Command line of the emulator: `python -m prefect_census.emulator`.

The package installs it as the `census-emulator` script.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from ._plan import RunPlan
from ._server import CensusEmulator


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="census-emulator",
        description=(
            "Serve a local emulator of the Census API v1 and print the API trigger "
            "URL of each emulated sync."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback IP address to listen on"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port; 0 picks a free one (default)"
    )
    parser.add_argument(
        "--token", help="API token without 'secret-token:'; random when omitted"
    )
    parser.add_argument(
        "--syncs", type=int, default=1, help="number of syncs to add (default: 1)"
    )
    parser.add_argument(
        "--allow-overlap",
        action="store_true",
        help="let a run start while an earlier one is unfinished, instead of "
        "ending the new run 'skipped'",
    )

    plan = parser.add_argument_group("run plan of every sync")
    defaults = RunPlan()
    plan.add_argument(
        "--queued-seconds",
        type=float,
        default=defaults.queued_seconds,
        help="seconds a run stays queued; 'inf' for ever (default: %(default)s)",
    )
    plan.add_argument(
        "--working-seconds",
        type=float,
        default=defaults.working_seconds,
        help="seconds a run stays working; 'inf' for ever (default: %(default)s)",
    )
    plan.add_argument(
        "--final-status",
        default=defaults.final_status,
        help="completed, failed, skipped, cancelled or any other status to report "
        "verbatim (default: %(default)s)",
    )
    for name in (
        "source_record_count",
        "records_processed",
        "records_updated",
        "records_failed",
        "records_invalid",
    ):
        plan.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=getattr(defaults, name),
            help=f"final {name} of a run (default: %(default)s)",
        )
    for name in ("error_code", "error_message", "error_detail"):
        plan.add_argument(
            "--" + name.replace("_", "-"), help=f"{name} of a finished run"
        )
    plan.add_argument(
        "--refuse-full-sync",
        action="store_true",
        help="reject triggers with force_full_sync=true with HTTP 400",
    )

    return parser


def _stop_on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM, then return exit status 0."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.syncs < 1:
        parser.error(f"--syncs must be 1 or more, got {args.syncs}")

    try:
        plan = RunPlan(
            queued_seconds=args.queued_seconds,
            working_seconds=args.working_seconds,
            final_status=args.final_status,
            source_record_count=args.source_record_count,
            records_processed=args.records_processed,
            records_updated=args.records_updated,
            records_failed=args.records_failed,
            records_invalid=args.records_invalid,
            error_code=args.error_code,
            error_message=args.error_message,
            error_detail=args.error_detail,
            refuse_full_sync=args.refuse_full_sync,
        )
        census = CensusEmulator(
            token=args.token,
            host=args.host,
            port=args.port,
            skip_overlapping_runs=not args.allow_overlap,
        )
    except ValueError as exc:
        parser.error(str(exc))

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with census:
            for _ in range(args.syncs):
                sync_id = census.add_sync(plan)
                print(f"sync {sync_id}: {census.trigger_url(sync_id)}", flush=True)
            print(
                f"Census emulator listening on {census.base_url}; "
                "press Ctrl-C to stop.",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass

    return 0


if __name__ == "__main__":
    sys.exit(main())
