"""Business-time arithmetic for SLA clocks: working hours per weekday, a time zone, holidays.

Pure functions over a `BusinessHours` value, so they are tested with fixed instants and no
database; `cases.models.BusinessCalendar.business_hours()` builds the value from the
catalogue that admins edit.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

# A calendar without a single working hour in a year is a mistake, not a long wait.
SEARCH_DAYS = 366


@dataclass(frozen=True)
class BusinessHours:
    """When the clock runs: `hours[weekday]` (Monday is 0) lists (start, end) local times."""

    tz: ZoneInfo
    hours: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: Container[date] = field(default_factory=frozenset)


@cache
def german_holidays(state: str = "") -> Container[date]:
    """Public holidays in Germany, or in one German state (e.g. "BY"), for any year.

    One calendar per state and process: the holidays of a year are computed on first use
    (about a millisecond) and never change, and every new case with an SLA asks.
    """
    return holiday_calendars.country_holidays("DE", subdiv=state or None)


def working_intervals(
    calendar: BusinessHours, start: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals from `start` on, in order, as aware datetimes (the first clipped)."""
    local = start.astimezone(calendar.tz)
    day = local.date()
    for _ in range(SEARCH_DAYS):
        if day not in calendar.holidays:
            for opens, closes in calendar.hours.get(day.weekday(), ()):
                begin = datetime.combine(day, opens, tzinfo=calendar.tz)
                end = datetime.combine(day, closes, tzinfo=calendar.tz)
                if end > local:
                    yield max(begin, local), end
        day += timedelta(days=1)


def deadline_after(calendar: BusinessHours, start: datetime, minutes: float) -> datetime:
    """The instant when `minutes` of working time have passed since `start`."""
    remaining = timedelta(minutes=minutes)
    for begin, end in working_intervals(calendar, start):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise ValueError("The calendar has no working hours within a year.")


def business_time_between(calendar: BusinessHours, start: datetime, end: datetime) -> timedelta:
    """Working time between two instants (zero when `end` is not after `start`)."""
    total = timedelta()
    end = end.astimezone(calendar.tz)
    if end <= start:
        return total
    for begin, close in working_intervals(calendar, start):
        if begin >= end:
            break
        total += min(close, end) - begin
    return total


def deadline_moved(
    calendar: BusinessHours, due: datetime, paused_at: datetime, now: datetime
) -> datetime:
    """`due` after a pause from `paused_at` to `now`: the working time left at the pause is
    counted again from `now`."""
    left = business_time_between(calendar, paused_at, due)
    return deadline_after(calendar, now, left.total_seconds() / 60)
