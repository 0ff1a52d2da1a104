"""The public listing, cached per app process and validated against the database on every request.

A cached page is served only while (a) the tenders table has not changed — the listing version
(migration 0202) is read first, one primary-key row — and (b) no bid deadline has passed since it was computed
(status 'open'/'closed' is derived from the clock). So the cache never serves a stale page, several processes
need nothing from each other, and the heavy query and lot sums run only when something changed.

Concurrent requests share version checks: a request waits for the next check that STARTS after it arrived
(never one already under way), so every answer reflects the database as of some moment after the request came
in — exact — while 32 concurrent requests cost one or two reads instead of 32.

TENDERHALL_LISTING_MAX_AGE (seconds, default 0) lets an operator skip even the version check for a page
validated less than that long ago: a listing may then lag a change by at most that much (like a read replica).
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import asyncio
import os
import time

import asyncpg
import msgspec

from trading.clock import Clock
from trading.tenders import repository as repo
from trading.tenders import services
from trading.tenders.schemas import TenderPage

_FOREVER = datetime.max.replace(tzinfo=timezone.utc)


class _Entry(msgspec.Struct):
    stamp: tuple[Any, int]
    computed_at: datetime
    valid_until: datetime
    page: TenderPage
    validated: float  # time.monotonic() of the last version check


class VersionProbe:
    """Coalesces listing-version reads; each caller gets a read that started after it called."""

    def __init__(self) -> None:
        self._next: asyncio.Future | None = None
        self._task: asyncio.Task | None = None

    async def stamp(self, pool: asyncpg.Pool) -> tuple[Any, int] | None:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        fut = self._next
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(pool))
        return await asyncio.shield(fut)

    async def _run(self, pool: asyncpg.Pool) -> None:
        while self._next is not None:
            fut, self._next = self._next, None
            try:
                async with pool.acquire() as conn:
                    result = await repo.listing_stamp(conn)
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                if not fut.done():
                    fut.set_exception(exc)
                continue
            if not fut.done():
                fut.set_result(result)


class ListingCache:
    def __init__(self, max_entries: int = 512, max_age: float | None = None) -> None:
        self.max_entries = max_entries
        self.max_age = float(os.environ.get("TENDERHALL_LISTING_MAX_AGE", "0")) if max_age is None else max_age
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._probe = VersionProbe()
        # Rendered anonymous HTML per (page params, language): reused only while the cache returns the very same
        # page object it was rendered from.
        self._html: OrderedDict[tuple, tuple[TenderPage, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def page(self, pool: asyncpg.Pool, clock: Clock, **params: Any) -> TenderPage:
        key = tuple(sorted(params.items()))
        hit = self._entries.get(key)
        if hit is not None and self.max_age > 0 and time.monotonic() - hit.validated < self.max_age:
            now = clock.now()
            if hit.computed_at <= now < hit.valid_until:
                self.hits += 1
                return hit.page
        stamp = await self._probe.stamp(pool)  # read BEFORE the page: a concurrent change only invalidates
        now = clock.now()
        if hit is not None and stamp is not None and hit.stamp == stamp and hit.computed_at <= now < hit.valid_until:
            self.hits += 1
            hit.validated = time.monotonic()
            self._entries.move_to_end(key)
            return hit.page
        self.misses += 1
        # Read-only: no transaction needed, one pooled connection.
        async with pool.acquire() as conn:
            page = await services.list_public_tenders(conn, clock, **params)
            if stamp is None:
                return page
            valid_until = await repo.next_deadline_after(conn, now) or _FOREVER
        self._entries[key] = _Entry(stamp=stamp, computed_at=now, valid_until=valid_until, page=page,
                                    validated=time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return page

    def rendered(self, key: tuple, page: TenderPage) -> str | None:
        found = self._html.get(key)
        return found[1] if found is not None and found[0] is page else None

    def keep_rendered(self, key: tuple, page: TenderPage, html: str) -> None:
        self._html[key] = (page, html)
        self._html.move_to_end(key)
        while len(self._html) > self.max_entries:
            self._html.popitem(last=False)


def listing_cache(state: Any) -> ListingCache:
    cache = state.get("tender_listing_cache") if hasattr(state, "get") else None
    if cache is None:
        cache = ListingCache()
        state["tender_listing_cache"] = cache
    return cache
