"""Spool files of resumable uploads: a dropped body keeps what arrived; hashing survives resumption."""
from __future__ import annotations

import os
import uuid

import pytest

from trading.bids import cthash, uploads
from trading.blobs import BlobStore


async def _chunks(data: bytes, size: int, fail_after: int | None = None):
    sent = 0
    for i in range(0, len(data), size):
        if fail_after is not None and sent >= fail_after:
            raise ConnectionResetError("client went away")
        yield data[i:i + size]
        sent += size


async def test_dropped_body_keeps_received_bytes_and_resumes(tmp_path) -> None:
    store = BlobStore(tmp_path)
    upload_id = uuid.uuid4()
    data = os.urandom(300_000)
    with pytest.raises(uploads.Interrupted) as exc:
        await uploads.receive(store, upload_id, 0, len(data), _chunks(data, 50_000, fail_after=100_000))
    assert exc.value.written == 100_000
    assert uploads.spool_path(store, upload_id).stat().st_size == 100_000
    new = await uploads.receive(store, upload_id, 100_000, len(data), _chunks(data[100_000:], 64_000))
    assert new == len(data)
    digest, size = await uploads.digest(store, upload_id, len(data))
    assert digest == cthash.of_bytes(data) and size == len(data)


async def test_digest_rehashes_when_another_process_took_chunks(tmp_path) -> None:
    store = BlobStore(tmp_path)
    upload_id = uuid.uuid4()
    data = os.urandom(200_000)
    await uploads.receive(store, upload_id, 0, len(data), _chunks(data[:80_000], 40_000))
    uploads._hashers.pop(upload_id)  # as if the next chunk went to another process
    await uploads.receive(store, upload_id, 80_000, len(data), _chunks(data[80_000:], 40_000))
    assert await uploads.digest(store, upload_id, len(data)) == (cthash.of_bytes(data), len(data))


async def test_receive_refuses_bytes_past_declared_length(tmp_path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(uploads.Overflow):
        await uploads.receive(store, uuid.uuid4(), 0, 10, _chunks(b"x" * 11, 4))


async def test_receive_truncates_bytes_past_recorded_offset(tmp_path) -> None:
    store = BlobStore(tmp_path)
    upload_id = uuid.uuid4()
    uploads.spool_path(store, upload_id).write_bytes(b"A" * 50)  # a crash left 50 bytes, only 20 recorded
    await uploads.receive(store, upload_id, 20, 40, _chunks(b"B" * 20, 10))
    assert uploads.spool_path(store, upload_id).read_bytes() == b"A" * 20 + b"B" * 20


async def test_stale_uploads_are_discarded_with_their_spool(client, pool, factory, settings) -> None:
    from datetime import timedelta

    from tests.trading.bids.conftest import make_bidder, patch_chunk, post_upload, seal_bytes
    from trading.bids.services import UPLOAD_TTL, discard_stale_uploads
    from trading.blobs import blob_store

    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, b"x" * 5000)
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct[:100])).status_code == 204
    store = blob_store(settings)
    assert uploads.spool_path(store, upload_id).exists()
    async with pool.acquire() as c, c.transaction():
        assert await discard_stale_uploads(c, factory.clock, store) == 0  # still fresh
    factory.clock.advance(UPLOAD_TTL + timedelta(seconds=1))
    async with pool.acquire() as c, c.transaction():
        assert await discard_stale_uploads(c, factory.clock, store) == 1
        assert await c.fetchval("SELECT count(*) FROM bid_uploads") == 0
    assert not uploads.spool_path(store, upload_id).exists()
