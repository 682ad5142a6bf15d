"""The poll schedule, and the checks on poll intervals and time limits."""

from __future__ import annotations

import itertools
import logging

import pytest

from prefect_census._waiting import (
    DEFAULT_MAX_WAIT_SECONDS,
    check_max_wait,
    check_poll_interval,
    poll_delays,
)

LOGGER = logging.getLogger("prefect_census.test")


def test_schedule_at_default_interval():
    """Every 5 s for a minute, then doubling up to 60 s, which it keeps."""
    delays = list(itertools.islice(poll_delays(60), 18))

    assert delays == [5.0] * 12 + [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]


def test_schedule_at_minimum_interval():
    """An interval of 5 s polls every 5 s from the start."""
    assert list(itertools.islice(poll_delays(5), 4)) == [5.0] * 4


def test_schedule_caps_at_interval():
    """No pause exceeds the configured interval."""
    delays = list(itertools.islice(poll_delays(15), 16))

    assert delays == [5.0] * 12 + [10.0, 15.0, 15.0, 15.0]


def test_schedule_never_below_five_seconds():
    """No two scheduled checks are closer than 5 s, whatever the interval."""
    for interval in (5, 7.5, 60, 3600):
        assert min(itertools.islice(poll_delays(interval), 40)) == 5.0


def test_interval_below_floor_raised(caplog):
    """An interval under 5 s becomes 5 s, with a WARNING saying so."""
    caplog.set_level(logging.WARNING)

    assert check_poll_interval(2, LOGGER) == 5.0
    assert caplog.record_tuples == [
        (
            "prefect_census.test",
            logging.WARNING,
            "poll_status_every_n_seconds=2 is below the minimum of 5 s; "
            "polling every 5 s instead.",
        )
    ]


def test_interval_kept_when_valid(caplog):
    """A valid interval is kept without a warning."""
    assert check_poll_interval(30, LOGGER) == 30.0
    assert caplog.records == []


@pytest.mark.parametrize(
    "value", [0, -1, -0.5, float("nan"), float("inf"), "60", None, True]
)
def test_interval_rejected(value):
    """Zero, negative, infinite and non-numeric intervals are rejected."""
    with pytest.raises(ValueError) as caught:
        check_poll_interval(value, LOGGER)

    assert str(caught.value) == (
        f"poll_status_every_n_seconds must be a positive number of seconds, "
        f"not {value!r}."
    )


def test_time_limit_none_means_no_limit():
    """None disables the time limit."""
    assert check_max_wait(None) is None


def test_time_limit_default_is_twelve_hours():
    """The default time limit is finite: twelve hours."""
    assert DEFAULT_MAX_WAIT_SECONDS == 43200.0


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), "1h", False])
def test_time_limit_rejected(value):
    """Zero, negative, infinite and non-numeric time limits are rejected."""
    with pytest.raises(ValueError) as caught:
        check_max_wait(value)

    assert str(caught.value) == (
        f"max_wait_seconds must be a positive number of seconds, or None for no "
        f"time limit, not {value!r}."
    )
