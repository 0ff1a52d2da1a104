"""One injected clock. Everything that depends on time asks the clock it was given.

Store UTC, show Asia/Shanghai.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to: deadline rules are tested without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = when.astimezone(timezone.utc)

    def advance(self, delta: timedelta | None = None, **kw: float) -> datetime:
        self._now = self._now + (delta or timedelta(**kw))
        return self._now


def to_shanghai(when: datetime) -> datetime:
    return when.astimezone(SHANGHAI)


def show(when: datetime | None) -> str:
    """Human display in Asia/Shanghai, e.g. 2026-03-02 09:00:00 (UTC+8)."""
    if when is None:
        return ""
    return to_shanghai(when).strftime("%Y-%m-%d %H:%M:%S")
