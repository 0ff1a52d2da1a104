"""Periodic background work: the one loop every package's lifespan hook runs its task in.

A step that fails (a transient database error, say) is logged and tried again at the next interval; only
cancellation — the app shutting down — ends the loop. Timers only trigger side effects: every rule that depends on
time is also derived from the clock when read, so a late or missed step never lets anything through.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any


async def repeat(step: Callable[[], Awaitable[Any]], interval: float, *, log: logging.Logger, what: str) -> None:
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep going; the next round retries
            log.exception("%s failed; retrying in %s s", what, interval)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def background_task(coro: Coroutine[Any, Any, Any], name: str) -> AsyncIterator[asyncio.Task]:
    """Run `coro` as a task for the life of the context; cancel it and wait for it on exit."""
    task = asyncio.create_task(coro, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def periodic_hook(name: str, step: Callable[[Any], Awaitable[Any]], interval: float, *,
                  log: logging.Logger) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan hook (trading/app.py `_HOOK_MODULES`) running `step(app)` every `interval` seconds while the app
    lives; nothing runs when the settings switch background work off (tests)."""

    @contextlib.asynccontextmanager
    async def hook(app: Any) -> AsyncIterator[None]:
        if not app.state.settings.background:
            yield
            return
        async with background_task(repeat(lambda: step(app), interval, log=log, what=name), name):
            yield

    return hook
