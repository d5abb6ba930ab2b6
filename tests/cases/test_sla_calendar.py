"""SLA business time across evenings, weekends, German public holidays and state holidays."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cases.sla import BusinessHours, business_time_between, deadline_after, german_holidays

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {day: ((time(8), time(18)),) for day in range(5)}


def office(state: str = "BE", hours=WEEKDAYS) -> BusinessHours:
    return BusinessHours(tz=BERLIN, hours=hours, holidays=german_holidays(state))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_within_one_working_day() -> None:
    assert deadline_after(office(), at("2026-11-24 09:00"), 90) == at("2026-11-24 10:30")


def test_an_evening_start_counts_from_the_next_morning() -> None:
    assert deadline_after(office(), at("2026-11-24 20:15"), 30) == at("2026-11-25 08:30")


def test_friday_evening_runs_over_the_weekend_to_monday() -> None:
    assert deadline_after(office(), at("2026-11-27 17:30"), 60) == at("2026-11-30 08:30")


def test_christmas_holidays_and_the_weekend_are_skipped() -> None:
    # Thu 24 Dec is a working day; 25 and 26 Dec are public holidays; 27 Dec is a Sunday.
    assert deadline_after(office(), at("2026-12-24 17:00"), 120) == at("2026-12-28 09:00")


@pytest.mark.parametrize(
    ("state", "expected"), [("BY", "2026-01-07 08:30"), ("BE", "2026-01-06 08:30")]
)
def test_state_holidays_depend_on_the_chosen_state(state: str, expected: str) -> None:
    # Epiphany (6 January) is a holiday in Bavaria, not in Berlin.
    assert deadline_after(office(state), at("2026-01-05 17:30"), 60) == at(expected)


def test_an_instant_given_in_utc_is_read_in_the_calendars_time_zone() -> None:
    start = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 17:30 in Berlin
    assert deadline_after(office(), start, 60) == at("2026-11-25 08:30")


def test_across_the_change_to_summer_time() -> None:
    # Clocks jump on Sunday 29 March 2026; working time is counted in local hours.
    assert deadline_after(office(), at("2026-03-27 17:00"), 120) == at("2026-03-30 09:00")


def test_split_working_hours_skip_the_lunch_break() -> None:
    split = {day: ((time(8), time(12)), (time(13), time(17))) for day in range(5)}
    assert deadline_after(office(hours=split), at("2026-11-24 11:30"), 60) == at("2026-11-24 13:30")


def test_business_time_between_counts_only_working_hours() -> None:
    elapsed = business_time_between(office(), at("2026-11-27 17:00"), at("2026-11-30 09:00"))
    assert elapsed == timedelta(hours=2)
    assert (
        business_time_between(office(), at("2026-11-30 09:00"), at("2026-11-27 17:00"))
        == timedelta()
    )


def test_business_time_between_inverts_the_deadline() -> None:
    start = at("2026-12-23 15:45")
    end = deadline_after(office("BY"), start, 1234)
    assert business_time_between(office("BY"), start, end) == timedelta(minutes=1234)


def test_a_calendar_without_hours_is_an_error() -> None:
    with pytest.raises(ValueError, match="no working hours"):
        deadline_after(office(hours={}), at("2026-11-24 09:00"), 1)


@pytest.mark.django_db
def test_policy_deadlines_use_the_calendar_admins_edit() -> None:
    from cases.models import BusinessCalendar, CaseType, Priority, SlaPolicy, WorkingHours

    calendar = BusinessCalendar.objects.create(name="Munich", german_state="BY")
    for day in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=day, opens=time(8), closes=time(18))
    policy = SlaPolicy.objects.create(
        case_type=CaseType.objects.create(name_de="Störung", name_en="Outage"),
        priority=Priority.URGENT,
        calendar=calendar,
        first_response_minutes=30,
        resolution_minutes=600,
    )
    response, resolution = policy.deadlines(at("2026-01-05 17:45"))
    assert response == at("2026-01-07 08:15")  # 6 January is a holiday in Bavaria
    assert resolution == at("2026-01-07 17:45")


@pytest.mark.django_db
def test_unknown_time_zone_is_refused() -> None:
    from django.core.exceptions import ValidationError

    from cases.models import BusinessCalendar

    with pytest.raises(ValidationError, match="Unknown time zone"):
        BusinessCalendar(name="Mars", time_zone="Mars/Olympus").full_clean()


@pytest.mark.django_db
def test_admin_edits_calendars_and_sla_policies(admin_client) -> None:
    from django.urls import reverse

    for name in ("businesscalendar", "slapolicy"):
        assert admin_client.get(reverse(f"admin:cases_{name}_add")).status_code == 200
