"""Spool files of resumable bid uploads (server side; see docs/sealing.md "Upload protocol").

Each upload streams into `blob_dir/uploads/<upload id>` at the offset the database records; the spool is moved
into the content-addressed blob store only when the upload is accepted. Hashing happens while the bytes
stream: this process keeps the running ct_root (cthash.Hasher) of each upload it received contiguously, so
finalising costs nothing; if another process (or a restart) took some chunks, finalising re-hashes the spool from
disk, its 1 MiB segments on two threads. Memory stays bounded either way.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

from trading.bids import cthash
from trading.blobs import BlobStore

_MAX_HASHERS = 4096
# upload id → (offset hashed so far, running hash). Only an optimisation: correctness never depends on it.
_hashers: OrderedDict[UUID, tuple[int, cthash.Hasher]] = OrderedDict()


class Overflow(Exception):
    """More bytes arrived than the manifest's ct_len."""


class Interrupted(Exception):
    """The client went away mid-chunk; `written` bytes of it were kept."""

    def __init__(self, written: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.written = written
        self.cause = cause


_MADE: set[Path] = set()


def _made(d: Path) -> Path:
    """`d`, created if this process has not seen it yet (a mkdir per request was ~4% of the server's CPU)."""
    if d not in _MADE:
        d.mkdir(parents=True, exist_ok=True)
        if len(_MADE) > 100_000:
            _MADE.clear()
        _MADE.add(d)
    return d


def spool_dir(store: BlobStore) -> Path:
    return _made(store.root / "uploads")


def spool_path(store: BlobStore, upload_id: UUID) -> Path:
    return spool_dir(store) / str(UUID(str(upload_id)))


def discard(store: BlobStore, upload_id: UUID) -> None:
    spool_path(store, upload_id).unlink(missing_ok=True)
    _hashers.pop(upload_id, None)


def _hasher_at(upload_id: UUID, offset: int):
    entry = _hashers.get(upload_id)
    if offset == 0:
        h = cthash.Hasher()
    elif entry is not None and entry[0] == offset:
        h = entry[1]
    else:
        return None
    return h


# Disk writes, hashing and fsync run on these threads, never on the event loop: on ext4 a write() can wait for
# a journal commit forced by another upload's fsync (measured: the event loop spent a quarter of its time
# blocked in write() during the surge), and hashlib and os.write release the GIL, so the second core works.
_IO = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tenderhall-spool")
FLUSH = 256 * 1024  # bytes gathered from the body before one trip to a thread (bounds memory per upload)


def _write_blocks(fd: int, blocks: list[bytes], h, sync: bool) -> None:
    for block in blocks:
        view = memoryview(block)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if h is not None:
            h.update(block)
    if sync:
        os.fsync(fd)


def _open_spool(path: Path, offset: int) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        # A crash between a write and its offset update may have left bytes past the recorded offset.
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


async def _open_at(path: Path, offset: int) -> int:
    """Open the spool for writing at `offset`, on an I/O thread: creating a file allocates an inode, which under a
    surge of uploads can take milliseconds (ext4 searches its groups) and must not stall the event loop."""
    job = _IO.submit(_open_spool, path, offset)
    try:
        return await asyncio.wrap_future(job)
    except asyncio.CancelledError:
        # the request went away while the thread opened the file: close it once opened
        job.add_done_callback(lambda f: None if f.cancelled() or f.exception() else os.close(f.result()))
        raise


async def receive(store: BlobStore, upload_id: UUID, offset: int, limit: int,
                  chunks: AsyncIterator[bytes]) -> int:
    """Write the request body at `offset` (never past `limit`), fsynced; return the new offset.

    Raises Overflow when the body would pass `limit`, Interrupted when the body stream fails midway (the bytes
    received so far are on disk and counted).
    """
    path = spool_path(store, upload_id)
    h = _hasher_at(upload_id, offset)
    loop = asyncio.get_running_loop()
    written = 0
    blocks: list[bytes] = []
    gathered = 0
    inflight: asyncio.Future | None = None
    fd = await _open_at(path, offset)

    async def flush(sync: bool) -> None:
        nonlocal blocks, gathered, written, inflight
        todo, n = blocks, gathered
        blocks, gathered = [], 0
        inflight = loop.run_in_executor(_IO, _write_blocks, fd, todo, h, sync)
        await inflight
        written += n

    try:
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                if offset + written + gathered + len(chunk) > limit:
                    raise Overflow(f"more than the manifest's ct_len of {limit} bytes")
                blocks.append(chunk)
                gathered += len(chunk)
                if gathered >= FLUSH:
                    await flush(False)
        except Overflow:
            raise
        except Exception as exc:  # noqa: BLE001 - a dropped connection surfaces as assorted errors
            if inflight is None or inflight.done():
                await flush(True)  # keep (durably) what arrived
            _remember(upload_id, offset + written, h)
            raise Interrupted(written, exc) from exc
        # Durable before the offset is recorded (and before any receipt).
        await flush(True)
    finally:
        if inflight is not None and not inflight.done():
            # cancelled while a thread still writes: close the file when it is done, not under its feet
            inflight.add_done_callback(lambda _f: os.close(fd))
        else:
            os.close(fd)
    _remember(upload_id, offset + written, h)
    return offset + written


def _remember(upload_id: UUID, offset: int, h) -> None:
    if h is None:
        _hashers.pop(upload_id, None)
        return
    _hashers[upload_id] = (offset, h)
    _hashers.move_to_end(upload_id)
    while len(_hashers) > _MAX_HASHERS:
        _hashers.popitem(last=False)


async def digest(store: BlobStore, upload_id: UUID, length: int) -> tuple[bytes, int]:
    """ct_root and size of the spool (the running hash when this process saw every byte)."""
    path = spool_path(store, upload_id)
    if not path.exists():
        return cthash.root(0, []), 0
    entry = _hashers.get(upload_id)
    size = path.stat().st_size
    if entry is not None and entry[0] == length == size:
        return entry[1].digest(), size
    return await asyncio.to_thread(cthash.hash_file, path)


def adopt(store: BlobStore, upload_id: UUID, digest_hex: str) -> None:
    """Move a verified spool into the blob store under its ct_root (a rename: no copy, no second read)."""
    path = spool_path(store, upload_id)
    final = store.ciphertext_path(digest_hex)
    _made(final.parent)
    try:
        os.replace(path, final)
    except FileNotFoundError:
        # Already moved by an attempt whose transaction then failed (the group acceptance retries such a
        # batch bid by bid): the store holds this very content under its hash.
        if not final.exists():
            raise
    _hashers.pop(upload_id, None)
