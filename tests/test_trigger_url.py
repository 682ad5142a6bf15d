"""The rules for API trigger URLs, checked through the credentials block."""

from __future__ import annotations

import pickle

import pytest

from prefect_census import CensusCredentials, InvalidTriggerURL
from prefect_census._trigger_url import parse_trigger_url

TOKEN = "Zq8vWx3RkP0mNa7B"
GOOD = f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger"

# (URL, expected sync id, expected canonical URL) for URLs that must be accepted.
ACCEPTED = [
    pytest.param(GOOD, 42, GOOD, id="configuration-page form"),
    pytest.param(f"  {GOOD}\n", 42, GOOD, id="surrounding whitespace"),
    pytest.param(
        f"https://bearer:secret-token%3A{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        42,
        GOOD,
        id="percent-encoded colon",
    ),
    pytest.param(
        f"https://bearer%3Asecret-token%3A{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        42,
        GOOD,
        id="whole userinfo percent-encoded",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@APP.GetCensus.com/api/v1/syncs/42/trigger",
        42,
        GOOD,
        id="upper-case host",
    ),
    pytest.param(
        f"HTTPS://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        42,
        GOOD,
        id="upper-case scheme",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app-eu.getcensus.com/api/v1/syncs/7/trigger",
        7,
        f"https://bearer:secret-token:{TOKEN}@app-eu.getcensus.com/api/v1/syncs/7/trigger",
        id="EU host",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com:443/api/v1/syncs/42/trigger",
        42,
        GOOD,
        id="explicit default port",
    ),
    pytest.param(
        f"http://bearer:secret-token:{TOKEN}@127.0.0.1:8123/api/v1/syncs/3/trigger",
        3,
        f"http://bearer:secret-token:{TOKEN}@127.0.0.1:8123/api/v1/syncs/3/trigger",
        id="loopback IPv4 over http",
    ),
    pytest.param(
        f"http://bearer:secret-token:{TOKEN}@localhost:9/api/v1/syncs/3/trigger",
        3,
        f"http://bearer:secret-token:{TOKEN}@localhost:9/api/v1/syncs/3/trigger",
        id="localhost",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@[::1]:8443/api/v1/syncs/3/trigger",
        3,
        f"https://bearer:secret-token:{TOKEN}@[::1]:8443/api/v1/syncs/3/trigger",
        id="loopback IPv6 over https",
    ),
    pytest.param(
        f"https://Bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/"
        "123456789/trigger",
        123456789,
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/"
        "123456789/trigger",
        id="capitalised user name and long id",
    ),
]

# (URL, a phrase the error must contain) for URLs that must be rejected.
REJECTED = [
    pytest.param("", "is empty", id="empty"),
    pytest.param("   ", "is empty", id="only whitespace"),
    pytest.param(
        f"bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        "has no scheme",
        id="missing scheme",
    ),
    pytest.param(
        f"http://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        "reached over https, not http",
        id="http on a Census host",
    ),
    pytest.param(
        f"ftp://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        "scheme must be https, not 'ftp'",
        id="other scheme",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@example.com/api/v1/syncs/42/trigger",
        "host 'example.com' is not a Census host",
        id="other host",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com.example.net"
        "/api/v1/syncs/42/trigger",
        "host 'app.getcensus.com.example.net' is not a Census host",
        id="look-alike suffix host",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app-getcensus.com/api/v1/syncs/42/trigger",
        "host 'app-getcensus.com' is not a Census host",
        id="look-alike dashed host",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@getcensus.com/api/v1/syncs/42/trigger",
        "host 'getcensus.com' is not a Census host",
        id="bare domain",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com:8443/api/v1/syncs/42/trigger",
        "default port, not 8443",
        id="Census host on another port",
    ),
    pytest.param(
        "https://app.getcensus.com/api/v1/syncs/42/trigger",
        "no credentials before the host",
        id="missing token",
    ),
    pytest.param(
        "https://bearer:secret-token:@app.getcensus.com/api/v1/syncs/42/trigger",
        "empty token",
        id="empty token",
    ),
    pytest.param(
        f"https://bearer:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        "must start with 'secret-token:'",
        id="token without prefix",
    ),
    pytest.param(
        f"https://user:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger",
        "user name is not 'bearer'",
        id="wrong user name",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs//trigger",
        "no sync id",
        id="empty sync id",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/abc/trigger",
        "sync id 'abc' in the API trigger URL is not a positive whole number",
        id="non-numeric sync id",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/0/trigger",
        "sync id '0' in the API trigger URL is not a positive whole number",
        id="zero sync id",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/-4/trigger",
        "sync id '-4' in the API trigger URL is not a positive whole number",
        id="negative sync id",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42x/trigger",
        "sync id '42x' in the API trigger URL is not a positive whole number",
        id="sync id with trailing letters",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger/extra",
        "path must be /api/v1/syncs/<sync_id>/trigger",
        id="extra path segment",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/syncs/42/configuration",
        "path must be /api/v1/syncs/<sync_id>/trigger",
        id="configuration page instead of trigger",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v2/syncs/42/trigger",
        "path must be /api/v1/syncs/<sync_id>/trigger",
        id="other API version",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com",
        "path must be /api/v1/syncs/<sync_id>/trigger",
        id="no path",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger"
        "?force_full_sync=true",
        "must not have a query string or a fragment",
        id="query string",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/42/trigger#x",
        "must not have a query string or a fragment",
        id="fragment",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/"
        "4 2/trigger",
        "contains whitespace inside it",
        id="whitespace inside",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@/api/v1/syncs/42/trigger",
        "has no host",
        id="missing host",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@127.0.0.1:99999/api/v1/syncs/42/trigger",
        "port '99999' is not a number from 1 to 65535",
        id="port out of range",
    ),
    pytest.param(
        f"https://bearer:secret-token:{TOKEN}@app.getcensus.com/api/v1/syncs/{TOKEN}/trigger",
        "is not a positive whole number",
        id="token pasted as sync id",
    ),
]


@pytest.mark.parametrize(("url", "sync_id", "canonical"), ACCEPTED)
def test_accepted_url_gives_sync_id(url, sync_id, canonical):
    """An accepted URL yields its sync id and is stored in canonical form."""
    credentials = CensusCredentials(api_trigger=url)

    assert credentials.sync_id == sync_id
    assert credentials.api_trigger.get_secret_value() == canonical


@pytest.mark.parametrize(("url", "phrase"), REJECTED)
def test_rejected_url_names_problem(url, phrase):
    """A rejected URL raises a ValueError that names the wrong part."""
    with pytest.raises(ValueError) as caught:
        CensusCredentials(api_trigger=url)

    assert phrase in str(caught.value)


@pytest.mark.parametrize(("url", "phrase"), REJECTED)
def test_rejected_url_hides_token(url, phrase):
    """No rejection repeats the token, not even from a misplaced part."""
    with pytest.raises(ValueError) as caught:
        CensusCredentials(api_trigger=url)

    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


@pytest.mark.parametrize(("url", "phrase"), REJECTED)
def test_rejected_url_says_where_to_copy(url, phrase):
    """Every rejection names where the right URL comes from."""
    with pytest.raises(ValueError) as caught:
        parse_trigger_url(url)

    assert "configuration page" in str(caught.value)
    assert isinstance(caught.value, InvalidTriggerURL)


def test_non_string_rejected():
    """A value that is not a string is rejected with its type named."""
    with pytest.raises(InvalidTriggerURL) as caught:
        parse_trigger_url(42)

    assert str(caught.value).startswith(
        "The API trigger URL must be a string, not int."
    )


def test_credentials_repr_hides_token():
    """The block's repr and str show the sync id and mask the URL."""
    credentials = CensusCredentials(api_trigger=GOOD)

    assert repr(credentials) == (
        "CensusCredentials(sync_id=42, api_trigger=SecretStr('**********'))"
    )
    assert TOKEN not in str(credentials)


def test_base_and_history_urls():
    """The base URL and history link come from the trigger URL's host."""
    credentials = CensusCredentials(
        api_trigger=GOOD.replace("app.getcensus.com", "app-eu.getcensus.com")
    )

    assert credentials.base_url == "https://app-eu.getcensus.com"
    assert (
        credentials.history_url == "https://app-eu.getcensus.com/syncs/42/sync-history"
    )


def test_client_repr_hides_token():
    """The HTTP client's repr names the host and sync only."""
    client = CensusCredentials(api_trigger=GOOD).get_client()

    assert (
        repr(client) == "CensusClient(base_url='https://app.getcensus.com', sync_id=42)"
    )


def test_invalid_url_error_pickles():
    """The error survives pickling, as Prefect does with failed states."""
    with pytest.raises(InvalidTriggerURL) as caught:
        parse_trigger_url("https://example.com")

    copy = pickle.loads(pickle.dumps(caught.value))

    assert str(copy) == str(caught.value)
    assert type(copy) is InvalidTriggerURL
