"""Live opening hall: events fanned out to every app process through PostgreSQL LISTEN/NOTIFY.

`publish_hall_event` runs `pg_notify` inside the caller's transaction, so PostgreSQL delivers the event only
when the change it announces commits (and never for a rolled-back change). Each app process keeps one
listening connection (`HallHub`) and hands every notification to the server-sent-event streams of the lot it
concerns; so an event produced through one process reaches a page served by any other. Payloads are small
(kind + ids): the page refetches the hall fragment, which is rendered from the database under the viewer's
permissions — a notification never carries a document or a secret.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec

log = logging.getLogger("tenderhall.opening.live")

CHANNEL = "tenderhall_opening_hall"
MAX_PAYLOAD = 7000  # PostgreSQL's NOTIFY limit is 8000 bytes
QUEUE_SIZE = 256
KEEPALIVE_SECONDS = 15.0
RECONNECT_SECONDS = 1.0


class HallEvent(msgspec.Struct, frozen=True):
    lot: str
    kind: str
    data: dict[str, Any] = {}


async def publish_hall_event(conn: asyncpg.Connection, lot_id: Any, kind: str, **data: Any) -> None:
    """Announce `kind` for the lot's hall; delivered to listeners when the caller's transaction commits."""
    payload = msgspec.json.encode(HallEvent(lot=str(lot_id), kind=kind, data=data)).decode()
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = msgspec.json.encode(HallEvent(lot=str(lot_id), kind=kind)).decode()
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


class HallHub:
    """One LISTEN connection per process; subscribers get an asyncio.Queue of HallEvents per lot."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._subs: dict[str, set[asyncio.Queue[HallEvent]]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="hall-hub-supervisor")

    async def stop(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
        self._conn = None
        self.connected.clear()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn
        self.connected.set()

    async def _supervise(self) -> None:
        """Reconnect when the listening connection drops; tell every page to resynchronise afterwards."""
        while not self._closing:
            await asyncio.sleep(RECONNECT_SECONDS)
            if self._conn is not None and not self._conn.is_closed():
                continue
            self.connected.clear()
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("hall listener reconnect failed: %s", exc)
                continue
            for lot in list(self._subs):
                self._deliver(HallEvent(lot=lot, kind="resync"))

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = msgspec.json.decode(payload, type=HallEvent)
        except msgspec.DecodeError:
            log.warning("ignoring malformed hall notification")
            return
        self._deliver(event)

    def _deliver(self, event: HallEvent) -> None:
        for queue in list(self._subs.get(event.lot, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A slow page: drop the backlog and ask it to refetch everything once.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(HallEvent(lot=event.lot, kind="resync"))

    @contextlib.asynccontextmanager
    async def subscribe(self, lot_id: Any) -> AsyncIterator[asyncio.Queue[HallEvent]]:
        key = str(lot_id)
        queue: asyncio.Queue[HallEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subs[key].add(queue)
        try:
            yield queue
        finally:
            self._subs[key].discard(queue)
            if not self._subs[key]:
                self._subs.pop(key, None)

    def subscriber_count(self, lot_id: Any) -> int:
        return len(self._subs.get(str(lot_id), ()))


async def hall_hub(app: Any) -> HallHub:
    """The process's hub (started by the lifespan hook; started lazily if an app was built without it)."""
    hub = getattr(app.state, "hall_hub", None)
    if hub is None:
        async with app.state.setdefault("hall_hub_lock", asyncio.Lock()):
            hub = getattr(app.state, "hall_hub", None)
            if hub is None:
                hub = HallHub(app.state.database_url)
                await hub.start()
                app.state.hall_hub = hub
    return hub


async def sse_messages(hub: HallHub, lot_id: Any, *, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[Any]:
    """Server-sent events for one page: a hello, then every hall event of the lot, with keep-alive comments."""
    from litestar.response import ServerSentEventMessage

    async with hub.subscribe(lot_id) as queue:
        yield ServerSentEventMessage(event="hello", data=msgspec.json.encode({"lot": str(lot_id)}).decode())
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=keepalive)
            except asyncio.TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            yield ServerSentEventMessage(event=event.kind, data=msgspec.json.encode(event.data).decode())
