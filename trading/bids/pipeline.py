"""The two-thread pipelines of sealing and unsealing (seal/v1 over Tink streaming, trading/bids/streaming.py).

Sealing or unsealing 1 GiB costs, in CPU seconds on the project machine (2026-12 VM): SHA-256 of the ciphertext
0.6–0.7 (the slowest stage; ct_sha256 is part of the protocol), writing the output file 0.45–0.5 (the kernel's
copy into the page cache), AES-GCM 0.12–0.3, and reading the input with read() 0.13–0.5 — a kernel copy again,
which mapping the file avoids (`file_blocks`). Serially that is well under 1 GB/s, so each direction runs on two
threads: the caller's thread encrypts or decrypts (AES-GCM reading the mapped input) and writes; a worker hashes
the ciphertext, in order. hashlib, AES-GCM and file writes release the GIL for large buffers. Handing part of
the writes to the worker (positional writes, balanced by its queue) was measured and dropped: on an idle
two-core machine two threads writing one file were slower (1.0–1.2 vs 1.1–1.5 GB/s sealing).

Memory is bounded whatever the size: sealing encrypts into a few preallocated 1 MiB segment buffers, a buffer
returning to its pool only once the worker has hashed it; unsealing keeps at most two mapped 8 MiB windows and
one plaintext segment. Pure: no server imports.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterator
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



class OrderedHasher:
    """SHA-256 of the views fed to it, in order, on a worker thread (hashlib releases the GIL on large buffers).

    At most `depth` views wait at a time: a producer faster than SHA-256 is held back, so memory stays bounded, and
    a view is only dropped (its buffer reused, its mapping unmapped) once hashed.
    """

    def __init__(self, h=None, depth: int = HashingSink.RING, name: str = "sha256") -> None:
        self.h = hashlib.sha256() if h is None else h
        self._slots = threading.Semaphore(depth)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._err: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (view := self._todo.get()) is not None:
            if self._err is None:
                try:
                    self.h.update(view)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the feeding thread
                    self._err = exc
            view = None  # drop the reference before the slot frees: the mapping may go
            self._slots.release()  # released even after an error, so feed() never blocks forever

    def feed(self, view) -> None:
        if self._err is not None:
            raise self._err
        self._slots.acquire()
        self._todo.put(view)

    def close(self) -> bytes:
        """Wait until everything fed is hashed; the digest, or the hasher's error."""
        if not self._closed:
            self._closed = True
            self._todo.put(None)
            self._thread.join()
        if self._err is not None:
            raise self._err
        return self.h.digest()


MAP_WINDOW = 8 * 1024 * 1024  # how much of a file is memory-mapped at a time


def _window(f: BinaryIO, pos: int, end: int) -> memoryview:
    """Bytes [pos, end) of the regular file `f`, read-only: memory-mapped (no copy), else read into a fresh buffer.

    The file's size is checked first: touching a mapped page past the end of a file that shrank would kill the
    process (SIGBUS), so a file that changed while it is read raises instead.
    """
    fd = f.fileno()
    if os.fstat(fd).st_size < end:
        raise StreamCorrupt("the file is shorter than expected (it changed while it was read)")
    base = pos - pos % mmap.ALLOCATIONGRANULARITY
    try:
        mapped = mmap.mmap(fd, end - base, access=mmap.ACCESS_READ, offset=base)
    except (OSError, ValueError):  # a file system without mmap: one read, into a buffer nobody else holds
        buffer = bytearray(end - pos)
        view, got = memoryview(buffer), 0
        os.lseek(fd, pos, os.SEEK_SET)
        while got < len(buffer):
            k = os.readv(fd, [view[got:]])
            if not k:
                raise StreamCorrupt("the file is shorter than expected (it changed while it was read)") from None
            got += k
        return view
    if hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_SEQUENTIAL)
    return memoryview(mapped)[pos - base:]


def file_blocks(f: BinaryIO, window: int = MAP_WINDOW) -> Iterator[memoryview]:
    """The rest of `f` from its position, as read-only views of at most `window` bytes; `f` ends positioned at
    the end of what was yielded.

    A regular file is memory-mapped a window at a time, so its bytes reach AES-GCM, CRC-32 or SHA-256 straight
    from the page cache instead of being copied into a user buffer by read() first — on the project machine that
    copy costs 0.13–0.5 CPU-seconds per GiB, as much as the encryption. A window is unmapped when no view of it is
    left (reference counting), so a consumer may keep a view (queued to a hashing thread, say) after taking the
    next. Any other stream is read into a fresh buffer per block. The size is taken when reading starts.
    """
    size = remaining_size(f)
    if size is None:
        while block := f.read(window):
            yield memoryview(block)
        return
    pos = f.tell()
    end = pos + size
    while pos < end:
        n = min(window, end - pos)
        view = _window(f, pos, pos + n)
        pos += n
        f.seek(pos)
        yield view


def _segment_views(src: BinaryIO, segments: list[int]) -> Iterator[memoryview]:
    """The ciphertext segments of `src` from its position, one view each, mapped a few whole segments at a time."""
    pos, i = src.tell(), 0
    while i < len(segments):
        j, end = i, pos
        while j < len(segments) and (j == i or end - pos + segments[j] <= MAP_WINDOW):
            end += segments[j]
            j += 1
        window, off = _window(src, pos, end), 0
        for n in segments[i:j]:
            yield window[off: off + n]
            off += n
        del window
        src.seek(end)
        pos, i = end, j


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
    """Decrypt the ct_len bytes of a Tink stream read from `src` (a regular file) into `dst`, pipelined over two
    threads like sealing; returns (plaintext size, SHA-256 of the ciphertext). Raises StreamCorrupt.

        unsealing thread: map the next segments, queue each to the hasher, decrypt it into one reused buffer, write
        hasher thread:    SHA-256 of the segments in order (OrderedHasher: at most RING waiting)

    Knowing the length, each segment's size and last-segment flag follow from its position (Tink's layout), so
    nothing is read ahead to find the last one, and the ciphertext is never copied (file_blocks explains why).
    Memory: one plaintext segment plus the mapped windows still referenced (at most two).
    """
    header = bytearray(HEADER_SIZE)
    if src.readinto(header) != HEADER_SIZE or header[0] != HEADER_SIZE:
        raise StreamCorrupt("the ciphertext header is missing or malformed")
    aead = AESGCM(derive_key(dek, bytes(header[1: 1 + KEY_SIZE]), associated_data))
    prefix = bytes(header[1 + KEY_SIZE:])
    segments = _segments(ct_len)
    hasher = OrderedHasher(hashlib.sha256(header), name="unseal-sha256")
    out = memoryview(bytearray(SEGMENT_SIZE))
    total, last = 0, len(segments) - 1
    try:
        for index, view in enumerate(_segment_views(src, segments)):
            hasher.feed(view)  # hashed on the worker while it is decrypted here
            n = len(view)
            plain = out[: n - TAG_SIZE]
            try:
                aead.decrypt_into(segment_nonce(prefix, index, index == last), view, None, plain)
            except InvalidTag:
                raise StreamCorrupt(f"segment {index} fails authentication (wrong key, associated data, or "
                                     "altered/truncated ciphertext)") from None
            del view
            dst.write(plain)
            total += n - TAG_SIZE
            if progress:
                progress(n)
    finally:
        digest = hasher.close()
    return total, digest
