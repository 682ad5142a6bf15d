"""Parsing and checking of the API trigger URL from a sync's configuration page.

The URL has the form

    https://bearer:secret-token:<token>@app.getcensus.com/api/v1/syncs/<id>/trigger

Every rejection names the part that is wrong and never repeats the token.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Optional

from prefect_census._api import API_PREFIX, trigger_path
from prefect_census.exceptions import InvalidTriggerURL

CENSUS_HOSTS = ("app.getcensus.com", "app-eu.getcensus.com")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
TOKEN_PREFIX = "secret-token:"

_PATH = re.compile(re.escape(API_PREFIX) + r"/syncs/(?P<sync_id>[^/]*)/trigger")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
_PORT = re.compile(r"[0-9]{1,5}")
_SYNC_ID = re.compile(r"[1-9][0-9]{0,17}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")
_WHERE_TO_COPY = (
    "Copy the API trigger URL from the sync's configuration page in Census "
    "(https://app.getcensus.com/syncs/<sync_id>/configuration, section "
    "'Sync Triggers', tab 'API'); it looks like "
    "https://bearer:secret-token:<token>@app.getcensus.com/api/v1/syncs/<sync_id>/trigger"
)


@dataclass(frozen=True)
class TriggerURL:
    """The parts of a valid API trigger URL.

    Attributes:
        scheme: `https`, or `http` for a loopback host.
        host: The host name in lower case, IPv6 addresses without brackets.
        port: The port if the URL gave one.
        sync_id: The sync's id.
        token: The token including its `secret-token:` prefix.
    """

    scheme: str
    host: str
    port: Optional[int]
    sync_id: int
    token: str = field(repr=False)

    @property
    def base_url(self) -> str:
        """Scheme, host and port, with no userinfo."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""

        return f"{self.scheme}://{host}{port}"

    def unparse(self) -> str:
        """Return the URL in its canonical form, token included."""
        secret = urllib.parse.quote(self.token[len(TOKEN_PREFIX) :], safe="")
        scheme, rest = self.base_url.split("://", 1)

        path = API_PREFIX + trigger_path(self.sync_id)

        return f"{scheme}://bearer:{TOKEN_PREFIX}{secret}@{rest}{path}"


def parse_trigger_url(raw: object) -> TriggerURL:
    """Check an API trigger URL and return its parts.

    Surrounding whitespace is ignored and a percent-encoded userinfo is decoded.

    Raises:
        InvalidTriggerURL: The URL is not of the configuration-page form; the
            message names the part that is wrong.
    """
    if not isinstance(raw, str):
        _reject(f"The API trigger URL must be a string, not {type(raw).__name__}.")

    try:
        return _parse(raw.strip())
    except InvalidTriggerURL as exc:
        # A message quotes parts of the URL; a token pasted into the wrong part
        # must not be quoted with them.
        message = _scrub(str(exc), raw)
        raise InvalidTriggerURL(message) from None


def _scrub(message: str, raw: str) -> str:
    decoded = urllib.parse.unquote(raw)
    secrets = re.findall(r"secret-token:([^@/\s]+)", decoded, flags=re.IGNORECASE)
    userinfo = decoded.partition("://")[2].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password.lower().startswith(TOKEN_PREFIX):
        password = password[len(TOKEN_PREFIX) :]
    secrets.append(password)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            # Hosts and schemes are quoted in lower case, so match any case.
            message = re.sub(re.escape(secret), "***", message, flags=re.IGNORECASE)

    return message


def _parse(text: str) -> TriggerURL:
    if not text:
        _reject("The API trigger URL is empty.")
    if any(character.isspace() for character in text):
        _reject("The API trigger URL contains whitespace inside it.")

    scheme, separator, rest = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        _reject("The API trigger URL has no scheme; it must start with https://.")
    scheme = scheme.lower()
    if scheme not in ("https", "http"):
        _reject(f"The API trigger URL's scheme must be https, not {_quote(scheme)}.")

    authority, _, path_and_more = rest.partition("/")
    path_and_more = "/" + path_and_more if path_and_more or rest.endswith("/") else ""
    userinfo, at, host_and_port = authority.rpartition("@")
    if not at:
        _reject(
            "The API trigger URL has no credentials before the host; it must "
            "start with https://bearer:secret-token:<token>@."
        )

    # The credentials come first, so a message about the host is never the
    # first sign of a token pasted in the wrong place.
    token = _parse_userinfo(userinfo)
    host, port = _split_host(host_and_port)
    if host in CENSUS_HOSTS:
        if scheme != "https":
            _reject(f"Census hosts are reached over https, not {scheme}.")
        if port not in (None, 443):
            _reject(
                f"The Census host {host} is reached on the default port, not {port}."
            )
        port = None
    elif host not in LOOPBACK_HOSTS:
        _reject(
            f"The API trigger URL's host {_quote(host)} is not a Census host; expected "
            f"app.getcensus.com or app-eu.getcensus.com (or a loopback host for a "
            f"local emulator)."
        )

    sync_id = _parse_path(path_and_more)

    return TriggerURL(scheme=scheme, host=host, port=port, sync_id=sync_id, token=token)


def _reject(problem: str) -> None:
    raise InvalidTriggerURL(f"{problem} {_WHERE_TO_COPY}.")


def _quote(part: str) -> str:
    """Return `part` quoted for a message, cut short if it is long."""
    if len(part) > 60:
        part = part[:57] + "..."

    return repr(part)


def _split_host(host_and_port: str) -> tuple[str, Optional[int]]:
    if not host_and_port:
        _reject("The API trigger URL has no host.")

    if host_and_port.startswith("["):
        host, bracket, port_text = host_and_port[1:].partition("]")
        if not bracket:
            _reject("The API trigger URL's IPv6 host is not closed with ].")
        if port_text and not port_text.startswith(":"):
            _reject("The API trigger URL's IPv6 host must be followed by :port or /.")
        port_text = port_text[1:]
    else:
        host, _, port_text = host_and_port.partition(":")

    port: Optional[int] = None
    if port_text:
        if not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536:
            _reject(
                f"The API trigger URL's port {_quote(port_text)} is not a number "
                f"from 1 to 65535."
            )
        port = int(port_text)

    # One trailing dot names the same host; `removesuffix` needs Python 3.9.
    host = host.lower().removesuffix(".")

    return host, port


def _parse_userinfo(userinfo: str) -> str:
    decoded = urllib.parse.unquote(userinfo)
    user, colon, password = decoded.partition(":")
    if user.lower() != "bearer" or not colon:
        _reject(
            "The API trigger URL's credentials must be "
            "bearer:secret-token:<token>; the user name is not 'bearer'."
        )
    if not password.startswith(TOKEN_PREFIX):
        _reject(
            "The token in the API trigger URL must start with 'secret-token:'; "
            "copy the whole URL, not the token alone."
        )

    secret = password[len(TOKEN_PREFIX) :]
    if not secret:
        _reject("The API trigger URL has an empty token after 'secret-token:'.")
    if not _TOKEN.fullmatch(secret):
        _reject(
            "The token in the API trigger URL contains characters a token cannot have."
        )

    return TOKEN_PREFIX + secret


def _parse_path(path_and_more: str) -> int:
    path, question, query = path_and_more.partition("?")
    path, hash_mark, fragment = path.partition("#")
    if question or hash_mark:
        _reject("The API trigger URL must not have a query string or a fragment.")

    match = _PATH.fullmatch(path)
    if match is None:
        _reject(
            f"The API trigger URL's path must be /api/v1/syncs/<sync_id>/trigger, "
            f"not {_quote(path or '(empty)')}."
        )

    sync_id = match.group("sync_id")
    if not sync_id:
        _reject("The API trigger URL has no sync id between /syncs/ and /trigger.")
    if not _SYNC_ID.fullmatch(sync_id):
        _reject(
            f"The sync id {_quote(sync_id)} in the API trigger URL is not a positive "
            f"whole number."
        )

    return int(sync_id)
