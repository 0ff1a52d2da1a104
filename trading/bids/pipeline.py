"""The two-thread pipelines of sealing and unsealing (seal/v1 over Tink streaming, trading/bids/streaming.py).

Sealing or unsealing 1 GiB costs, in CPU seconds on the project machine: SHA-256 of the ciphertext 0.61 (the
slowest stage; ct_sha256 is part of the protocol), writing the output file 0.47 (page allocation included),
reading the input 0.15, AES-GCM 0.12. Serially that is ~0.75 GB/s, so each direction runs on two threads: the
caller's thread reads, encrypts or decrypts and writes; a worker hashes the ciphertext, in order. hashlib and file
reads/writes release the GIL for large buffers; AESGCM holds it, which is fine as only the caller's thread runs
it. Handing part of the writes to the worker (positional writes, balanced by its queue) was measured and dropped:
on an idle two-core machine two threads writing one file were slower (1.0–1.2 vs 1.1–1.5 GB/s sealing).

Memory is bounded by a few preallocated 1 MiB segment buffers whatever the size: a buffer returns to its pool
only once the worker is done with it, so none is overwritten early. Pure: no server imports.
"""
from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trading.bids.streaming import (HEADER_SIZE, KEY_SIZE, SEGMENT_SIZE, TAG_SIZE, StreamCorrupt, derive_key,
                                    segment_nonce)


class HashingSink:
    """The ciphertext end of sealing (the `sink` of an EncryptingWriter), on two threads:

        sealing thread:  read, encrypt segment i+1, write it ─┐
        hasher thread:   SHA-256 of segment i  ◄──────────────┘ (FIFO queue), buffer back to the free pool

    No copies: segments are encrypted straight into RING preallocated buffers (`claim`, given to the
    EncryptingWriter), and a buffer is reused only once hashed, so at most RING segments are in flight (memory
    bounded at RING MiB) and none is overwritten before it is hashed. The write is synchronous and the hasher
    reads its FIFO in order, so the file and the digest see the same bytes in the same order.
    """

    RING = 4

    def __init__(self, dst: BinaryIO, progress: Callable[[int], object] | None) -> None:
        self.dst = dst
        self.h = hashlib.sha256()
        self.n = 0
        self.progress = progress
        self._err: BaseException | None = None
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.RING):
            self._free.put(bytearray(SEGMENT_SIZE))
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._hash, name="seal-sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _hash(self) -> None:
        while (item := self._todo.get()) is not None:
            data, buffer = item
            if self._err is None:
                try:
                    self.h.update(data)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the sealing thread
                    self._err = exc
            if buffer is not None:
                self._free.put(buffer)  # recycled even after an error, so claim() never blocks forever

    def claim(self) -> bytearray:
        """A free segment buffer for the encryptor (blocks while RING segments still wait for the hasher)."""
        if self._err is not None:
            raise self._err
        return self._free.get()

    def __call__(self, data) -> None:
        # Queue the segment to the hasher first, then write it here: both only read the buffer.
        pooled = isinstance(data, memoryview) and isinstance(data.obj, bytearray)
        self._todo.put((data, data.obj if pooled else None))  # the header (bytes) is not a pool buffer
        self.dst.write(data)
        self.n += len(data)
        if self.progress:
            self.progress(len(data))

    def close(self) -> None:
        """Wait until everything queued is hashed; re-raise the hasher's error."""
        if not self._closed:
            self._closed = True
            self._todo.put(None)
            self._thread.join()
        if self._err is not None:
            raise self._err


class HashingReader:
    """Reads (and SHA-256s) the ciphertext ahead on a worker thread while the caller decrypts; bounded queue."""

    DEPTH = 4

    def __init__(self, src: BinaryIO, block: int = 1024 * 1024) -> None:
        self.h = hashlib.sha256()
        self.n = 0
        self._q: queue.Queue = queue.Queue(maxsize=self.DEPTH)
        self._stop = threading.Event()
        self._err: BaseException | None = None
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(target=self._run, args=(src, block), name="unseal-reader", daemon=True)
        self._thread.start()

    def _run(self, src: BinaryIO, block: int) -> None:
        try:
            while not self._stop.is_set():
                b = src.read(block)
                if not b:
                    break
                self.h.update(b)
                self.n += len(b)
                self._q.put(b)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
            self._err = exc
        self._q.put(b"")

    def read(self, size: int = -1) -> bytes:
        parts = []
        while size != 0:
            if self._pos >= len(self._buf):
                if self._eof:
                    break
                self._buf, self._pos = self._q.get(), 0
                if not self._buf:
                    self._eof = True
                    if self._err is not None:
                        raise self._err
                    break
            take = len(self._buf) - self._pos if size < 0 else min(size, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos:self._pos + take])
            self._pos += take
            if size > 0:
                size -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def remaining_size(f) -> int | None:
    """Bytes from the position of `f` to its end when it is a regular file, else None."""
    try:
        st = os.fstat(f.fileno())
        return st.st_size - f.tell() if stat.S_ISREG(st.st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None


def _segments(ct_len: int) -> list[int]:
    """The ciphertext length of each segment of a Tink stream of ct_len bytes (header included)."""
    body = ct_len - HEADER_SIZE
    if body < TAG_SIZE:
        raise StreamCorrupt("the ciphertext is shorter than its header and one tag")
    segments, full = [], SEGMENT_SIZE - HEADER_SIZE
    while body > 0:
        n = min(full, body)
        if n < TAG_SIZE:
            raise StreamCorrupt(f"segment {len(segments)} is truncated")
        segments.append(n)
        body -= n
        full = SEGMENT_SIZE
    return segments


def decrypt_file(dek: bytes, associated_data: bytes, src: BinaryIO, dst: BinaryIO, ct_len: int,
                 progress: Callable[[int], object] | None = None) -> tuple[int, bytes]:
    """Decrypt the ct_len bytes of a Tink stream read from `src` (a file) into `dst`, pipelined over two threads
    like sealing; returns (plaintext size, SHA-256 of the ciphertext). Raises StreamCorrupt.

        unsealing thread: read segment i into a pooled buffer, queue it, decrypt it into one reused buffer, write
        hasher thread:    SHA-256 of the segments in order, each buffer back to the pool once hashed

    Knowing the length, each segment's size and last-segment flag follow from its position (Tink's layout), so
    nothing is read ahead to find the last one and nothing is copied. Memory: RING + 1 segment buffers.
    """
    header = bytearray(HEADER_SIZE)
    if src.readinto(header) != HEADER_SIZE or header[0] != HEADER_SIZE:
        raise StreamCorrupt("the ciphertext header is missing or malformed")
    aead = AESGCM(derive_key(dek, bytes(header[1: 1 + KEY_SIZE]), associated_data))
    prefix = bytes(header[1 + KEY_SIZE:])
    segments = _segments(ct_len)
    h = hashlib.sha256(header)
    free: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(HashingSink.RING):
        free.put(bytearray(SEGMENT_SIZE))
    out = memoryview(bytearray(SEGMENT_SIZE))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    errors: list[BaseException] = []

    def work() -> None:
        while (item := todo.get()) is not None:
            view, buffer = item
            if not errors:
                try:
                    h.update(view)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the unsealing thread
                    errors.append(exc)
            free.put(buffer)  # recycled even after an error, so the unsealing thread never blocks forever

    worker = threading.Thread(target=work, name="unseal-sha256", daemon=True)
    worker.start()
    total = 0
    try:
        for index, n in enumerate(segments):
            if errors:
                raise errors[0]
            buffer = free.get()
            view = memoryview(buffer)[:n]
            got = 0
            while got < n:
                k = src.readinto(view[got:])
                if not k:
                    raise StreamCorrupt(f"segment {index} is truncated (the file changed while it was read)")
                got += k
            todo.put((view, buffer))  # hashed on the worker while it is decrypted here
            plain = out[: n - TAG_SIZE]
            try:
                aead.decrypt_into(segment_nonce(prefix, index, index == len(segments) - 1), view, None, plain)
            except InvalidTag:
                raise StreamCorrupt(f"segment {index} fails authentication (wrong key, associated data, or "
                                     "altered/truncated ciphertext)") from None
            dst.write(plain)
            total += n - TAG_SIZE
            if progress:
                progress(n)
    finally:
        todo.put(None)
        worker.join()
    if errors:
        raise errors[0]
    return total, h.digest()
