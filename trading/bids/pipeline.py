"""The pipelines of sealing and unsealing (seal/v2 over Tink streaming, trading/bids/streaming.py).

Sealing or unsealing 1 GiB costs, in CPU seconds on the project machine (2026-12 VM): SHA-256 of the ciphertext
for ct_root 0.6–0.7 (the costliest stage, but its 1 MiB segments hash independently: cthash.SegmentHasher spreads
them over the cores), writing the output file through the page cache 0.2–2 (the kernel's page allocation and copy,
the figure that swings most; past the cache with `DirectOutput`, as the CLI seals, ≈ 0.05), AES-GCM 0.1–0.3, and
reading the input with read() 0.13–0.5 — a kernel copy again, which mapping the file avoids (`file_blocks`).
Serially that is well under 1 GB/s, so each direction runs as stages on their own threads — the caller's thread
encrypts or decrypts (AES-GCM reading the mapped input), a writer thread writes in order, the hasher's threads
(one per core) hash the ciphertext's segments, several at once (sealing feeds writer and hasher side by side, see
HashingSink) — and the cores' scheduler keeps them busy (hashlib, AES-GCM and file writes release the GIL for
large buffers). With the caller's thread also writing, it was the bottleneck (≈ 1.0 CPU-s per GiB against the
hasher's 0.7) and the figures swung with the machine's load; two threads writing one file (positional writes) were
slower still. Under seal/v1 one serial SHA-256 of the ciphertext set the pace (docs/sealing.md, "Changes from
seal/v1").

Memory is bounded whatever the size: a few preallocated, page-aligned 1 MiB segment buffers, each returning to its
pool only once written (and, sealing, hashed), plus at most two mapped 4 MiB windows of the input (and
DirectOutput's one 4 MiB aligned buffer, for what is not written from a segment buffer as it is). Pure: no server imports.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import mmap
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no O_DIRECT either, so never needed
    fcntl = None  # type: ignore[assignment]

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trading.bids.cthash import Hasher, SegmentHasher
from trading.bids.streaming import (HEADER_SIZE, KEY_SIZE, SEGMENT_SIZE, TAG_SIZE, StreamCorrupt, derive_key,
                                    segment_nonce)


class OrderedWriter:
    """Writes to `dst` on a worker thread, in order, from RING pooled buffers of `size` bytes.

    `claim()` hands out a free buffer (blocking while all RING are in flight), `put(view)` queues a view of it (or
    any bytes) for writing. After its write, an item goes to `then(view, buffer)` when given — the next stage,
    which must `recycle(buffer)` — else its buffer straight back to the pool. A buffer is thus never refilled
    before it is written (and hashed), and memory stays at RING buffers. The first error of any stage is re-raised
    by claim() and close().
    """

    RING = 6

    def __init__(self, dst: BinaryIO, *, size: int = SEGMENT_SIZE, name: str = "write",
                 then: Callable[[object, mmap.mmap | None], None] | None = None) -> None:
        self.dst = dst
        self.err: BaseException | None = None
        self._then = then
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._pool: set[int] = set()
        for _ in range(self.RING):
            # Page-aligned anonymous memory rather than a bytearray: DirectOutput writes such a buffer to the
            # device as it is, without gathering it first (one copy of every byte fewer).
            buffer = mmap.mmap(-1, size)
            self._pool.add(id(buffer))
            self._free.put(buffer)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            view, buffer = item
            if self.err is None:
                try:
                    self.dst.write(view)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the producing thread
                    self.err = exc
            if self._then is not None:
                try:
                    self._then(view, buffer)  # passed on even after an error, so its buffer comes back
                except BaseException as exc:  # noqa: BLE001 - the next stage refused it: re-raised by claim()
                    if self.err is None:
                        self.err = exc
                    if buffer is not None:
                        self._free.put(buffer)
            elif buffer is not None:
                self._free.put(buffer)
            item = view = None

    def claim(self) -> mmap.mmap:
        if self.err is not None:
            raise self.err
        return self._free.get()

    def pooled(self, view) -> mmap.mmap | None:
        """The pool buffer `view` is a view of, if it is one."""
        return view.obj if isinstance(view, memoryview) and id(view.obj) in self._pool else None

    def recycle(self, buffer: mmap.mmap) -> None:
        self._free.put(buffer)

    def put(self, view) -> None:
        """Queue `view` (of a claimed buffer, or other bytes: those are not recycled) to be written."""
        self._todo.put((view, self.pooled(view)))

    def close(self) -> None:
        """Wait until everything queued is written; re-raise the first error."""
        if not self._closed:
            self._closed = True
            self._todo.put(None)
            self._thread.join()
        if self.err is not None:
            raise self.err


class HashingSink:
    """The ciphertext end of sealing (the `sink` of an EncryptingWriter), a three-stage pipeline:

        sealing thread:  encrypt segment i+k into a pooled buffer ──┬──► writer thread: write segment i+j
                                                                    └──► hasher threads: SHA-256 of segments i, i+1

    Each segment goes to an OrderedWriter and a cthash.SegmentHasher side by side, and its buffer back to the pool
    once both are done with it. Hashing is the costliest stage (≈ 0.6 CPU-s per GiB, shared by the hasher's
    threads; AES-GCM plus mapping the input ≈ 0.2, the write past the page cache ≈ 0.05 CPU-s but 0.3–0.9 s of the
    device's time per GiB on the project machine), so the hasher must never wait: fed straight by the encryptor, it
    is held back only when all RING buffers are in flight, not by each write's latency (it followed the writer
    until 2026-12, and a stalled device write starved it). No copies: segments are encrypted straight into the
    writer's RING page-aligned buffers (`claim`, given to the EncryptingWriter), which DirectOutput hands to the
    device as they are. The writer is FIFO and the hasher places each segment's digest by its position, so the file
    and `ct_root` see the same bytes in the same order. The first error of either stage is raised by claim() and
    close(); `ct_root` is set once close() has returned.
    """

    RING = OrderedWriter.RING

    def __init__(self, dst: BinaryIO, progress: Callable[[int], object] | None) -> None:
        self.n = 0
        self.progress = progress
        self._lock = threading.Lock()
        self._busy: dict[int, int] = {}  # id(buffer) → stages not yet done with it
        self._writer = OrderedWriter(dst, name="seal-write", then=lambda view, buffer: self._release(buffer))
        self._hasher = SegmentHasher(depth=self.RING, name="seal-ct-root", done=self._release)
        self.ct_root: bytes | None = None

    def _release(self, buffer: mmap.mmap | None) -> None:
        if buffer is None:  # the header is bytes of its own, not a pooled buffer
            return
        with self._lock:
            left = self._busy[id(buffer)] - 1
            if left:
                self._busy[id(buffer)] = left
                return
            del self._busy[id(buffer)]
        self._writer.recycle(buffer)

    def claim(self) -> mmap.mmap:
        """A free segment buffer for the encryptor (blocks while RING segments are still being written or hashed)."""
        return self._writer.claim()

    def __call__(self, data) -> None:
        buffer = self._writer.pooled(data)
        if buffer is not None:
            with self._lock:
                self._busy[id(buffer)] = 2
        try:
            self._hasher.feed(data, buffer)
        except BaseException:
            self._release(buffer)  # the writer never saw it: its share of the count goes too
            self._release(buffer)
            raise
        self._writer.put(data)  # the header (bytes) is written and hashed too, but not recycled
        self.n += len(data)
        if self.progress:
            self.progress(len(data))

    def close(self) -> None:
        """Wait until everything queued is written and hashed; re-raise the first error of either stage."""
        try:
            self._writer.close()
        finally:
            self.ct_root = self._hasher.close()


class HashingReader:
    """Reads (and hashes: `h`, a cthash.Hasher) the ciphertext ahead on a worker thread while the caller decrypts;
    bounded queue."""

    DEPTH = 4

    def __init__(self, src: BinaryIO, block: int = 1024 * 1024) -> None:
        self.h = Hasher()
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
    a view is only dropped (its buffer reused, its mapping unmapped) once hashed. With `done`, each view's `token`
    (its pooled buffer, say) is passed to `done(token)` once the view is hashed — even after an error, so a pool
    never runs dry. feed() raises the hasher's first error (its view and token are then left to the caller).
    """

    def __init__(self, h=None, depth: int = 4, name: str = "sha256",
                 done: Callable[[object], None] | None = None) -> None:
        self.h = hashlib.sha256() if h is None else h
        self._done = done
        self._slots = threading.Semaphore(depth)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._err: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            view, token = item
            if self._err is None:
                try:
                    self.h.update(view)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the feeding thread
                    self._err = exc
            item = view = None  # drop the reference before the slot frees: the mapping may go
            if self._done is not None:
                self._done(token)
            token = None
            self._slots.release()  # released even after an error, so feed() never blocks forever

    def feed(self, view, token=None) -> None:
        if self._err is not None:
            raise self._err
        self._slots.acquire()
        self._todo.put((view, token))

    def close(self) -> bytes:
        """Wait until everything fed is hashed; the digest, or the hasher's error."""
        if not self._closed:
            self._closed = True
            self._todo.put(None)
            self._thread.join()
        if self._err is not None:
            raise self._err
        return self.h.digest()


class DirectOutput:
    """A new file written past the page cache (O_DIRECT) when the file system allows it: a write-only file object.

    Sealing or unsealing 1 GiB through the page cache costs the kernel 0.2–0.6 CPU-seconds per GiB on the project
    machine (allocating and filling cache pages for a file nobody reads back soon) — as much as AES-GCM, and the
    figure that swung most between runs. With O_DIRECT the device reads the bytes from this process's memory and
    the kernel's part is a few page-table walks. O_DIRECT wants the memory, the file offset and the length aligned,
    so what is written is gathered in one page-aligned BUFFER and written a whole buffer at a time (one copy,
    ≈ 0.05 CPU-s per GiB) — except whole blocks of memory that is itself aligned (the sealing pipeline's pooled
    segment buffers) arriving at an aligned offset: those are written as they are, with no copy. The last,
    partial block is padded and the file then cut back to its length.

    Where O_DIRECT is missing or refused (Windows/macOS, tmpfs on old kernels, some network file systems), at
    open or at the first write, the file is an ordinary buffered one: same bytes, only slower. `direct` tells
    which. `fileno()` is for fsync.
    """

    BUFFER = 4 * 1024 * 1024
    ALIGN = 4096  # ≥ every device's logical block size

    def __init__(self, path, mode: int = 0o644) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        direct = getattr(os, "O_DIRECT", 0)
        self._fd = -1
        if direct:
            try:
                self._fd = os.open(path, flags | direct, mode)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        self.direct = self._fd >= 0
        if not self.direct:
            self._fd = os.open(path, flags, mode)
        self._buf = mmap.mmap(-1, self.BUFFER)  # anonymous memory: page-aligned
        self._view = memoryview(self._buf)
        self._fill = 0
        self.size = 0
        self.closed = False

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        view = memoryview(data).cast("B")
        n, pos = len(view), 0
        if self.direct and n >= self.ALIGN and not self._fill % self.ALIGN and _aligned(view, self.ALIGN):
            # Whole blocks of page-aligned memory (a pipeline's pooled segment buffer) go to the device as they
            # are, at a block-aligned file offset: what is gathered before them first, the rest gathered after.
            if self._fill:
                self._write_out(self._view[: self._fill])
                self._fill = 0
            pos = n - n % self.ALIGN
            self._write_out(view[:pos])
        while pos < n:
            take = min(self.BUFFER - self._fill, n - pos)
            self._view[self._fill: self._fill + take] = view[pos: pos + take]
            self._fill += take
            pos += take
            if self._fill == self.BUFFER:
                self._write_out(self._view)
                self._fill = 0
        self.size += n
        return n

    def _write_out(self, view: memoryview) -> None:  # at a block-aligned offset while self.direct
        done = 0
        while done < len(view):
            try:
                done += os.write(self._fd, view[done:])
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self.direct:
                    raise
                self._buffered()  # the file system took the open but not the write: write through the cache

    def _buffered(self) -> None:
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        self.direct = False

    def flush(self) -> None:
        """Everything written so far reaches the file; the file stays open for more (only whole blocks are written
        past the cache, so a partial block is written through it)."""
        if self._fill:
            if self.direct and self._fill % self.ALIGN:
                whole = self._fill - self._fill % self.ALIGN
                self._write_out(self._view[:whole])
                self._buffered()
                self._write_out(self._view[whole: self._fill])
            else:
                self._write_out(self._view[: self._fill])
            self._fill = 0

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._fill and self.direct and self._fill % self.ALIGN:
                padded = self._fill + (-self._fill) % self.ALIGN
                self._view[self._fill: padded] = bytes(padded - self._fill)
                self._write_out(self._view[:padded])
                os.ftruncate(self._fd, self.size)
                self._fill = 0
            self.flush()
        finally:
            self.closed = True
            os.close(self._fd)
            try:
                self._view.release()
                self._buf.close()
            except BufferError:  # a slice is still held (by a failed write's traceback): freed with it
                pass

    def __enter__(self) -> "DirectOutput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _aligned(view: memoryview, align: int) -> bool:
    """Whether a writable, contiguous view's memory starts on an `align` boundary (a read-only one: never asked)."""
    if view.readonly or not view.c_contiguous:
        return False
    return ctypes.addressof(ctypes.c_char.from_buffer(view)) % align == 0


MAP_WINDOW = 4 * 1024 * 1024  # how much of a file is memory-mapped at a time
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


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
        if _POPULATE:  # Linux: the page tables are filled in one call, not one fault per 4 KiB page
            mapped = mmap.mmap(fd, end - base, flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ, offset=base)
        else:
            mapped = mmap.mmap(fd, end - base, access=mmap.ACCESS_READ, offset=base)
    except (OSError, ValueError):  # a file system without mmap: one read, into a buffer nobody else holds
        buffer = bytearray(end - pos)
        view, got = memoryview(buffer), 0
        f.seek(pos)
        while got < len(buffer):
            k = f.readinto(view[got:])
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
    """Decrypt the ct_len bytes of a Tink stream read from `src` (a regular file) into `dst`, pipelined like
    sealing; returns (plaintext size, ct_root of the ciphertext). Raises StreamCorrupt.

        unsealing thread: map the next segments, queue each to the hasher, decrypt it into a pooled buffer
        writer thread:    write the plaintext segments in order (OrderedWriter), each buffer back to the pool
        hasher threads:   SHA-256 of the ciphertext segments, several at once (SegmentHasher: at most four waiting)

    Knowing the length, each segment's size and last-segment flag follow from its position (Tink's layout), so
    nothing is read ahead to find the last one, and the ciphertext is never copied (file_blocks explains why).
    Memory: RING plaintext segments plus the mapped windows still referenced (at most two).
    """
    header = bytearray(HEADER_SIZE)
    if src.readinto(header) != HEADER_SIZE or header[0] != HEADER_SIZE:
        raise StreamCorrupt("the ciphertext header is missing or malformed")
    aead = AESGCM(derive_key(dek, bytes(header[1: 1 + KEY_SIZE]), associated_data))
    prefix = bytes(header[1 + KEY_SIZE:])
    segments = _segments(ct_len)
    hasher = SegmentHasher(depth=4, name="unseal-ct-root")
    hasher.feed(header)
    writer = OrderedWriter(dst, name="unseal-write")
    total, last = 0, len(segments) - 1
    try:
        for index, view in enumerate(_segment_views(src, segments)):
            hasher.feed(view)  # hashed on one worker while it is decrypted here and written by the other
            n = len(view)
            plain = memoryview(writer.claim())[: n - TAG_SIZE]
            try:
                aead.decrypt_into(segment_nonce(prefix, index, index == last), view, None, plain)
            except InvalidTag:
                raise StreamCorrupt(f"segment {index} fails authentication (wrong key, associated data, or "
                                     "altered/truncated ciphertext)") from None
            del view
            writer.put(plain)
            total += n - TAG_SIZE
            if progress:
                progress(n)
    finally:
        try:
            writer.close()
        finally:
            digest = hasher.close()
    return total, digest
