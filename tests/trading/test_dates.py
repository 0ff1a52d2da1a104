"""Day counting (RULES.md G2) on the PRC holiday calendar."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from trading.clock import SHANGHAI
from trading.dates import (
    HORIZON,
    HolidayCalendar,
    calendar,
    latest_start_for,
    load_calendar,
    local_date,
    meets_minimum,
    within_horizon,
)

cal = calendar()


def test_calendar_covers_2025_and_2026():
    assert cal.covers(date(2025, 6, 1)) and cal.covers(date(2026, 12, 31))
    assert not cal.covers(date(2027, 1, 4))


@pytest.mark.parametrize("day", ["2025-01-01", "2025-01-28", "2025-02-04", "2025-04-04", "2025-05-05",
                                 "2025-06-02", "2025-10-08", "2026-01-02", "2026-02-15", "2026-02-23",
                                 "2026-04-06", "2026-05-05", "2026-06-19", "2026-09-25", "2026-10-07"])
def test_statutory_holidays_are_not_working_days(day):
    d = date.fromisoformat(day)
    assert cal.is_holiday(d) and not cal.is_working_day(d)


@pytest.mark.parametrize("day", ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
                                 "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
                                 "2026-10-10"])
def test_make_up_weekend_days_are_working_days(day):
    d = date.fromisoformat(day)
    assert d.weekday() >= 5
    assert cal.is_working_day(d)


def test_start_day_is_not_counted():
    assert cal.add_calendar_days(date(2026, 3, 2), 20) == date(2026, 3, 23)  # 03-22 is a Sunday → Monday
    assert cal.add_calendar_days(date(2026, 3, 3), 20) == date(2026, 3, 23)
    assert cal.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 3)


def test_last_day_on_a_holiday_rolls_to_the_next_working_day():
    # 2026-09-18 + 15 days = 10-03 (National Day): the period ends on Thursday 10-08.
    assert cal.add_calendar_days(date(2026, 9, 18), 15) == date(2026, 10, 8)
    # ... and a Saturday that is a make-up working day ends the period right there.
    assert cal.add_calendar_days(date(2026, 9, 30), 10) == date(2026, 10, 10)


def test_working_days_skip_spring_festival_and_count_make_up_days():
    # Friday 2026-02-13 + 5 working days: Sat 02-14 (make-up), then 02-24 … 02-27.
    assert cal.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 27)) == 5


def test_meets_minimum_uses_shanghai_dates():
    start = datetime(2026, 3, 1, 17, 0, tzinfo=timezone.utc)  # 2026-03-02 01:00 in Shanghai
    assert local_date(start) == date(2026, 3, 2)
    assert meets_minimum(start, datetime(2026, 3, 23, 9, tzinfo=SHANGHAI), 20, "calendar")
    assert not meets_minimum(start, datetime(2026, 3, 20, 9, tzinfo=SHANGHAI), 20, "calendar")


def test_latest_start_counts_backwards():
    deadline = datetime(2026, 3, 27, 9, tzinfo=SHANGHAI)
    assert latest_start_for(deadline, 10, "calendar") == date(2026, 3, 17)
    # 5 working days (03-23 … 03-27) still follow Sunday 03-22; not Monday 03-23.
    assert latest_start_for(deadline, 5, "working") == date(2026, 3, 22)
    assert cal.add_working_days(date(2026, 3, 22), 5) == date(2026, 3, 27)


def test_calendar_data_is_updatable_from_a_file(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"years": {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-02"]}}}))
    custom = load_calendar(path)
    assert custom.is_holiday(date(2027, 1, 1)) and custom.is_working_day(date(2027, 1, 2))


def test_calendar_refuses_a_day_both_holiday_and_working_day():
    with pytest.raises(ValueError):
        HolidayCalendar.from_json({"years": {"2027": {"holidays": ["2027-01-02"], "workdays": ["2027-01-02"]}}})


def test_within_horizon_takes_any_instant_without_overflow():
    now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
    assert within_horizon(now + HORIZON, now) and within_horizon(now - HORIZON, now)
    assert not within_horizon(now + HORIZON + timedelta(seconds=1), now)
    # the extremes a client can send: local_date() overflows on both, the horizon check does not
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
    assert not within_horizon(far, now) and not within_horizon(early, now)
