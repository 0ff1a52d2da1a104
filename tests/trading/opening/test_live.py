"""The live hall's fan-out: NOTIFY inside the change's transaction, LISTEN in every process."""
from __future__ import annotations

import asyncio
import uuid


from trading.opening.live import HallHub, publish_hall_event, sse_messages


async def _next(queue: asyncio.Queue, timeout: float = 5.0):
    return await asyncio.wait_for(queue.get(), timeout)


async def test_hall_event_reaches_subscriber_after_commit(database_url, pool):
    hub = HallHub(database_url)
    await hub.start()
    lot = uuid.uuid4()
    try:
        async with hub.subscribe(lot) as queue:
            async with pool.acquire() as conn, conn.transaction():
                await publish_hall_event(conn, lot, "signin", org="x")
                await asyncio.sleep(0.2)
                assert queue.empty(), "an event must not be delivered before its transaction commits"
            event = await _next(queue)
            assert (event.lot, event.kind, event.data) == (str(lot), "signin", {"org": "x"})
    finally:
        await hub.stop()


async def test_hall_event_not_delivered_when_rolled_back(database_url, pool):
    hub = HallHub(database_url)
    await hub.start()
    lot = uuid.uuid4()
    try:
        async with hub.subscribe(lot) as queue:
            async with pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                await publish_hall_event(conn, lot, "shares")
                await tx.rollback()
                async with conn.transaction():
                    await publish_hall_event(conn, lot, "marker")
            assert (await _next(queue)).kind == "marker"
            assert queue.empty()
    finally:
        await hub.stop()


async def test_hall_event_only_for_its_lot(database_url, pool):
    hub = HallHub(database_url)
    await hub.start()
    mine, other = uuid.uuid4(), uuid.uuid4()
    try:
        async with hub.subscribe(mine) as queue:
            async with pool.acquire() as conn, conn.transaction():
                await publish_hall_event(conn, other, "signin")
                await publish_hall_event(conn, mine, "record")
            assert (await _next(queue)).kind == "record"
            assert queue.empty()
        assert hub.subscriber_count(mine) == 0
    finally:
        await hub.stop()


async def test_hall_hub_reconnects_and_asks_pages_to_resync(database_url, pool):
    hub = HallHub(database_url)
    await hub.start()
    lot = uuid.uuid4()
    try:
        async with hub.subscribe(lot) as queue:
            async with pool.acquire() as conn:
                # Kill the listener's backend, as a database restart or a network cut would.
                await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                   " WHERE query LIKE 'LISTEN%' AND datname = current_database()")
            assert (await _next(queue, 10)).kind == "resync"
            async with pool.acquire() as conn, conn.transaction():
                await publish_hall_event(conn, lot, "unsealed")
            assert (await _next(queue)).kind == "unsealed"
    finally:
        await hub.stop()


async def test_sse_messages_start_with_hello_then_carry_events(database_url, pool):
    hub = HallHub(database_url)
    await hub.start()
    lot = uuid.uuid4()
    try:
        stream = sse_messages(hub, lot, keepalive=0.2)
        hello = await stream.__anext__()
        assert hello.event == "hello"
        keep = await stream.__anext__()
        assert keep.comment == "keep-alive"
        async with pool.acquire() as conn, conn.transaction():
            await publish_hall_event(conn, lot, "closed", by="agency")
        msg = await asyncio.wait_for(stream.__anext__(), 5)
        while msg.event is None:
            msg = await asyncio.wait_for(stream.__anext__(), 5)
        assert msg.event == "closed" and '"by":"agency"' in msg.data
        await stream.aclose()
        assert hub.subscriber_count(lot) == 0
    finally:
        await hub.stop()
