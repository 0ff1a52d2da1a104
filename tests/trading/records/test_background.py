"""The checkpoint signer started from the app lifespan."""
import asyncio
import time
from types import SimpleNamespace

import msgspec

from trading.clock import SystemClock
from trading.records import Tag, append_entry
from trading.records.background import lifespan_hook
from trading.records.keys import platform_verifier_key
from trading.records.note import open_note


async def test_signer_checkpoints_within_a_second_of_new_entries(pool, settings, data_dir):
    settings = msgspec.structs.replace(settings, background=True)
    app = SimpleNamespace(state=SimpleNamespace(pool=pool, clock=SystemClock(), settings=settings))
    async with lifespan_hook(app):
        assert (data_dir / "keys" / "platform.key").exists()  # created on first start
        for round_ in range(2):
            async with pool.acquire() as c, c.transaction():
                a = await append_entry(c, SystemClock(), Tag.ACCOUNT_LOGIN_FAIL, body={"round": round_})
            start = time.monotonic()
            while time.monotonic() - start < 3:
                async with pool.acquire() as c:
                    note = await c.fetchval("SELECT note FROM log_checkpoints WHERE tree_size = $1", a.seq + 1)
                if note:
                    break
                await asyncio.sleep(0.05)
            assert note and time.monotonic() - start < 1.0
            open_note(note, [platform_verifier_key(settings)])


async def test_signer_does_nothing_when_background_is_off(pool, settings, data_dir, clock):
    app = SimpleNamespace(state=SimpleNamespace(pool=pool, clock=clock, settings=settings))
    async with lifespan_hook(app):
        async with pool.acquire() as c, c.transaction():
            await append_entry(c, clock, Tag.ACCOUNT_LOGIN_FAIL)
        await asyncio.sleep(0.8)
        async with pool.acquire() as c:
            assert await c.fetchval("SELECT count(*) FROM log_checkpoints") == 0
    assert not (data_dir / "keys").exists()
