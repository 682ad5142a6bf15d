"""Pytest plugin that provides the `census_emulator` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import CensusEmulator


@pytest.fixture
def census_emulator() -> Iterator[CensusEmulator]:
    """Yield a started `CensusEmulator` with a random token and no syncs."""
    with CensusEmulator() as census:
        yield census
