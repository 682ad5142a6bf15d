"""The `CensusCredentials` block: one sync's API trigger URL, kept secret."""

from __future__ import annotations

import logging
from typing import Any, Optional, Union

from prefect.blocks.core import Block

from prefect_census._api import CensusClient, Timeouts, history_url
from prefect_census._compat import (
    BLOCK_MODEL_CONFIG,
    Field,
    SecretStr,
    call_sync_or_async,
    trigger_url_validator,
)
from prefect_census._trigger_url import TriggerURL, parse_trigger_url
from prefect_census.exceptions import CensusAuthenticationError, CensusSyncNotFound


class CensusCredentials(Block):
    """The API trigger URL of one Census sync, stored as a secret.

    Copy the URL from the sync's configuration page in Census (section "Sync
    Triggers", tab "API"). It contains the workspace's API token, so the block
    keeps it as a secret: the Prefect UI masks it, and this package sends the
    token only in an `Authorization` header.

    Attributes:
        api_trigger: The API trigger URL,
            `https://bearer:secret-token:<token>@app.getcensus.com/api/v1/syncs/<id>/trigger`.
        request_timeout_seconds: Time limit for reading, writing and waiting
            for a connection from the pool, per request.
        connect_timeout_seconds: Time limit for opening a connection.

    Examples:
        Load a saved block and trigger its sync:

        ```python
        from prefect import flow
        from prefect_census import CensusCredentials, run_census_sync

        @flow
        def publish_accounts():
            credentials = CensusCredentials.load("accounts-to-salesforce")
            return run_census_sync(credentials)
        ```
    """

    _block_type_name = "Census Credentials"
    _block_type_slug = "census-credentials"
    _logo_url = "https://cdn.sanity.io/images/3ugk85nk/production/b2f805555c778f37f861b67c4a861908f66a6e35-700x700.png"  # noqa: E501
    _documentation_url = "https://prefect-census.readthedocs.io/en/latest/blocks/"
    _description = (
        "The API trigger URL of a Census sync, stored as a secret, for starting "
        "the sync from Prefect and following its runs."
    )
    _code_example = """```python
from prefect_census import CensusCredentials

credentials = CensusCredentials.load("BLOCK_NAME")
print(credentials.sync_id)
```"""

    api_trigger: SecretStr = Field(
        default=...,
        title="API trigger URL",
        description=(
            "The URL from the sync's configuration page in Census (Sync Triggers, "
            "API tab), starting with `https://bearer:secret-token:`."
        ),
    )
    request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        title="Request timeout (seconds)",
        description="Time limit for reading or sending one request to Census.",
    )
    connect_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        title="Connect timeout (seconds)",
        description="Time limit for opening a connection to Census.",
    )

    if BLOCK_MODEL_CONFIG is not None:
        model_config = BLOCK_MODEL_CONFIG
    else:  # pragma: no cover - the pydantic v1 API of Prefect 2 blocks

        class Config:
            validate_assignment = True

    def __init__(self, *args: Any, **data: Any) -> None:
        # Checked before pydantic validates the URL, because a pydantic error keeps
        # the rejected input, token and all, in its `errors()` and its pickle.
        if "api_trigger" in data:
            self._check_api_trigger(data["api_trigger"])
        super().__init__(*args, **data)

    @trigger_url_validator("api_trigger")
    def _check_api_trigger(cls, value: Any) -> str:
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()

        return parse_trigger_url(value).unparse()

    def _parsed(self) -> TriggerURL:
        return parse_trigger_url(self.api_trigger.get_secret_value())

    @property
    def sync_id(self) -> int:
        """The id of the sync this URL triggers."""
        return self._parsed().sync_id

    @property
    def base_url(self) -> str:
        """Scheme, host and port of the Census API, without the token."""
        return self._parsed().base_url

    @property
    def history_url(self) -> str:
        """The sync's history page in the Census UI."""
        parsed = self._parsed()

        return history_url(parsed.base_url, parsed.sync_id)

    def get_client(
        self, logger: Union[logging.Logger, logging.LoggerAdapter, None] = None
    ) -> CensusClient:
        """Return a client for this sync's requests to Census."""
        parsed = self._parsed()
        timeouts = Timeouts(
            connect=self.connect_timeout_seconds,
            read=self.request_timeout_seconds,
            write=self.request_timeout_seconds,
            pool=self.request_timeout_seconds,
        )

        return CensusClient(
            parsed.base_url,
            parsed.sync_id,
            SecretStr(parsed.token),
            timeouts=timeouts,
            logger=logger,
        )

    def check_sync(self) -> Any:
        """Ask Census about the sync without starting a run.

        Use it to test a freshly pasted URL. Sync callers get the report,
        async callers an awaitable of it.

        Returns:
            A dict with `sync_id`, `token_valid`, `sync_exists`, `label`,
            `paused` and a one-line `message`.

        Raises:
            CensusConnectionError: Census could not be reached.
        """
        return call_sync_or_async(self._check_sync())

    async def _check_sync(self) -> dict[str, Any]:
        client = self.get_client()
        report: dict[str, Any] = {
            "sync_id": client.sync_id,
            "token_valid": False,
            "sync_exists": None,
            "label": None,
            "paused": None,
        }
        try:
            sync = await client.get_sync()
        except CensusAuthenticationError:
            report["message"] = (
                f"Census rejected the token. Copy the API trigger URL again from "
                f"{client.base_url}/syncs/{client.sync_id}/configuration."
            )
            return report
        except CensusSyncNotFound:
            report.update(token_valid=True, sync_exists=False)
            report["message"] = (
                f"The token works, but Census has no sync {client.sync_id} in its "
                f"workspace."
            )
            return report

        paused = bool(sync.get("paused"))
        report.update(
            token_valid=True, sync_exists=True, label=sync.get("label"), paused=paused
        )
        report["message"] = f"Sync {client.sync_id} ({sync.get('label')}) is ready" + (
            ", but paused in Census." if paused else "."
        )

        return report

    def __repr__(self) -> str:
        return f"CensusCredentials(sync_id={self._safe_sync_id()}, api_trigger=SecretStr('**********'))"  # noqa: E501

    def _safe_sync_id(self) -> Optional[int]:
        try:
            return self.sync_id
        except Exception:
            return None
