"""Counting days the way the law counts them (RULES.md G2) — the one date module.

- The start day is not counted (政府采购货物和服务招标投标管理办法 第八十五条; 民法典 第二百零一条).
- A period whose last day is not a working day (a weekend that is not a make-up working day, or a statutory
  holiday) ends on the next working day (87号令 第八十五条; 民法典 第二百零三条).
- "以上/以下/内" include the number: a minimum of N days is met when the period end is on or before the event.
- The Bidding Law counts calendar days (日); government procurement counts working days (工作日) where its
  articles say so. Which unit a rule uses is a per-regime setting (trading/tenders/rules.py).

The holiday calendar is data (trading/data/holidays_cn.json: 放假 and 调休上班 days per year, from the State
Council notices). Point TENDERHALL_HOLIDAYS at another JSON file of the same shape to update it without a
release. Dates are Asia/Shanghai calendar dates.
"""
from __future__ import annotations

import json
import os
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from trading.clock import SHANGHAI

Unit = Literal["calendar", "working"]


class HolidayCalendar:
    def __init__(self, holidays: set[date], workdays: set[date], years: set[int]) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)  # 调休: weekend days that are working days
        self.years = frozenset(years)

    @classmethod
    def from_json(cls, data: dict) -> "HolidayCalendar":
        holidays: set[date] = set()
        workdays: set[date] = set()
        years: set[int] = set()
        for year, spec in data["years"].items():
            years.add(int(year))
            holidays.update(date.fromisoformat(d) for d in spec.get("holidays", []))
            workdays.update(date.fromisoformat(d) for d in spec.get("workdays", []))
        both = holidays & workdays
        if both:
            raise ValueError(f"dates both holiday and working day: {sorted(both)}")
        return cls(holidays, workdays, years)

    def covers(self, day: date) -> bool:
        """True when the official schedule of day's year is loaded (otherwise only weekends are known)."""
        return day.year in self.years

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """day itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_calendar_days(self, start: date, n: int) -> date:
        """End of a period of n days beginning after `start` (start not counted); rolls off a rest day."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self.next_working_day(start + timedelta(days=n))

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start not counted)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def add_days(self, start: date, n: int, unit: Unit) -> date:
        return self.add_working_days(start, n) if unit == "working" else self.add_calendar_days(start, n)

    def subtract_days(self, end: date, n: int, unit: Unit) -> date:
        """The last day that still leaves n days (of `unit`) before `end` (counting backwards, `end` not
        counted): for "at least n days before the deadline". No roll-off: a backward count has no last day to move."""
        if unit == "working":
            day = end
            count = 0
            while count < n:
                if self.is_working_day(day):
                    count += 1
                day -= timedelta(days=1)
            return day
        return end - timedelta(days=n)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: start not counted, end counted."""
        if end <= start:
            return 0
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=i)))

    def days_between(self, start: date, end: date, unit: Unit) -> int:
        return self.working_days_between(start, end) if unit == "working" else max(0, (end - start).days)


def load_calendar(path: str | Path | None = None) -> HolidayCalendar:
    if path is not None:
        return HolidayCalendar.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    text = (resources.files("trading") / "data" / "holidays_cn.json").read_text(encoding="utf-8")
    return HolidayCalendar.from_json(json.loads(text))


@lru_cache(maxsize=1)
def calendar() -> HolidayCalendar:
    """The platform calendar: TENDERHALL_HOLIDAYS if set, else the shipped data file."""
    return load_calendar(os.environ.get("TENDERHALL_HOLIDAYS") or None)


# How far from now a time given to the platform may lie. Procedures run in weeks or months, so a time decades
# away is a typing error; and one near year 1 or 9999 cannot even be shown in Asia/Shanghai (+08:00 runs past
# datetime's range: an OverflowError, i.e. a 500, wherever it is counted or displayed).
HORIZON = timedelta(days=3653)  # ten years


def within_horizon(when: datetime, now: datetime) -> bool:
    """True when the aware instant `when` lies within HORIZON of `now`, before or after. Safe for any `when`:
    subtracting aware datetimes yields a timedelta, never a datetime out of range."""
    return abs(when - now) <= HORIZON


def local_date(when: datetime) -> date:
    """The Asia/Shanghai calendar date of an instant."""
    if when.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return when.astimezone(SHANGHAI).date()


def start_of_day(day: date) -> datetime:
    """00:00 Asia/Shanghai of `day`, as an aware datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)


def period_end(start: datetime, n: int, unit: Unit, cal: HolidayCalendar | None = None) -> date:
    """Last day of a period of n days/working days that starts with the instant `start` (its day not counted)."""
    return (cal or calendar()).add_days(local_date(start), n, unit)


def meets_minimum(start: datetime, end: datetime, n: int, unit: Unit, cal: HolidayCalendar | None = None) -> bool:
    """True when at least n days (of `unit`) run from `start` to `end`: the period that starts the day after
    `start` has run out by `end`'s day. E.g. documents from 2026-03-02, bids due 2026-03-22 → 20 days: met."""
    return local_date(end) >= period_end(start, n, unit, cal)


def latest_start_for(end: datetime, n: int, unit: Unit, cal: HolidayCalendar | None = None) -> date:
    """The last day on which something may happen and still leave n days before `end`."""
    return (cal or calendar()).subtract_days(local_date(end), n, unit)
