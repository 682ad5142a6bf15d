"""HTTP replies: the normal JSON ones and those that play a `Fault`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ._plan import Fault

JSON = "application/json"

_LOAD_BALANCER_PAGE = """<!DOCTYPE html>
<html>
<head><title>{code} {phrase}</title></head>
<body>
<h1>{code} {phrase}</h1>
<p>The upstream service did not respond. Please retry your request.</p>
<hr><p>emulated load balancer</p>
</body>
</html>
"""


@dataclass(frozen=True)
class Reply:
    """An HTTP response to send, or a dropped connection when `status_code` is None."""

    status_code: int | None
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(
    status_code: int, payload: Any, headers: dict[str, str] | None = None
) -> Reply:
    body = json.dumps(payload).encode("utf-8")

    return Reply(status_code, body, JSON, headers or {})


def error_reply(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Reply:
    """Build Census's error shape, `{"status": "error", "message": ...}`."""
    return json_reply(status_code, {"status": "error", "message": message}, headers)


def fault_reply(fault: Fault, not_found_message: str) -> Reply:
    """Build the reply that plays `fault`.

    `slow` and `after_start` faults change when the normal reply is sent, so the
    request handler plays them itself.

    Args:
        fault: Fault of any kind except `slow` and `after_start`.
        not_found_message: Message of a `not_found` fault, the same as the
            endpoint sends for an id that does not exist.

    Raises:
        ValueError: The fault is `slow` or `after_start`.
    """
    kind = fault.kind
    if kind == "rate_limit":
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return error_reply(
            429, "Too many requests. Slow down and retry later.", headers
        )

    if kind == "status":
        return error_reply(fault.status_code, f"HTTP {_describe(fault.status_code)}.")

    if kind == "html":
        code = fault.status_code
        page = _LOAD_BALANCER_PAGE.format(code=code, phrase=_phrase(code))
        return Reply(code, page.encode("utf-8"), "text/html; charset=utf-8")

    if kind == "drop":
        return Reply(None)

    if kind == "not_json":
        body = b"Service restarting, try again in a few seconds.\n"
        return Reply(200, body, "text/plain; charset=utf-8")

    if kind == "not_found":
        return error_reply(404, not_found_message)

    if kind == "outer_error":
        return json_reply(
            200, {"status": "error", "message": "The request could not be processed."}
        )

    if kind == "missing_data":
        return json_reply(200, {"status": "success"})

    msg = f"the request handler plays {kind} faults itself"
    raise ValueError(msg)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def _describe(code: int) -> str:
    return f"{code} {_phrase(code)}"
