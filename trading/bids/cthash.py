"""`ct_root`, seal/v2's commitment to a sealed bid's ciphertext (docs/sealing.md §3). Pure, standard library only.

    seg_i   = SHA-256(ciphertext[i × 2^20 : (i + 1) × 2^20])         i = 0 … m − 1,  m = ⌈ct_len / 2^20⌉
    ct_root = SHA-256("tenderhall/seal/v2 ct-root\\n" ‖ uint64_be(ct_len) ‖ seg_0 ‖ … ‖ seg_{m−1})

A hash list over 1 MiB pieces instead of seal/v1's one SHA-256 of the whole ciphertext: SHA-256 is a serial
stream (≈ 0.6 CPU-s per GiB with SHA-NI, the slowest stage of sealing), while the pieces' hashes are independent,
so every core can take a share (`SegmentHasher`). The pieces are plain byte ranges — the last one may be shorter,
an empty ciphertext has none — so a verifier needs no knowledge of the encryption: `split -b 1M` cuts the same
pieces (they are also Tink's ciphertext segments, header in the first). `ct_len` in the root binds the length;
the label keeps the root from being mistaken for any other SHA-256 the protocol computes.
"""
from __future__ import annotations

import hashlib
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

SEGMENT = 1 << 20
LABEL = b"tenderhall/seal/v2 ct-root\n"


def segment_count(ct_len: int) -> int:
    return -(-ct_len // SEGMENT)


def root(ct_len: int, digests: Iterable[bytes]) -> bytes:
    """ct_root of a ciphertext of ct_len bytes whose segments hash to `digests`, in order."""
    digests = list(digests)
    if ct_len < 0 or len(digests) != segment_count(ct_len) or any(len(d) != 32 for d in digests):
        raise ValueError(f"{len(digests)} segment digests do not fit a ciphertext of {ct_len} bytes")
    return hashlib.sha256(LABEL + struct.pack(">Q", ct_len) + b"".join(digests)).digest()


class Hasher:
    """ct_root of bytes fed in order, on the caller's thread (`update`, `digest`, `n`: like a hashlib object)."""

    def __init__(self) -> None:
        self.n = 0
        self._digests: list[bytes] = []
        self._seg = hashlib.sha256()
        self._fill = 0

    def update(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            take = min(SEGMENT - self._fill, len(view))
            self._seg.update(view[:take])
            self._fill += take
            self.n += take
            view = view[take:]
            if self._fill == SEGMENT:
                self._digests.append(self._seg.digest())
                self._seg, self._fill = hashlib.sha256(), 0

    def digest(self) -> bytes:
        """The root of everything fed so far (feeding may go on)."""
        tail = [self._seg.digest()] if self._fill else []
        return root(self.n, self._digests + tail)


def of_bytes(data) -> bytes:
    """ct_root of bytes in memory."""
    h = Hasher()
    h.update(data)
    return h.digest()


def default_workers() -> int:
    """Hashing threads: one per core, at least two (so hashing overlaps whatever feeds it), at most four."""
    return max(2, min(4, os.cpu_count() or 2))


class SegmentHasher:
    """ct_root of the views fed to it in order, the segments hashed on `workers` threads at once (hashlib releases
    the GIL on large buffers, so with two cores two segments hash in the time of one).

    A view may hold any number of bytes: it is cut at the segment boundaries, and a segment made of several
    views (seal's 40-byte header and the first segment's ciphertext) is hashed as one job. At most `depth` jobs
    wait or run at once: a producer faster than the hashers is held back at feed(), so memory stays bounded.
    With `done`, each view's `token` (its pooled buffer, say) goes to `done(token)` once every byte of that view
    is hashed — even after an error, so a pool never runs dry. feed() and close() raise the first error.
    """

    def __init__(self, *, workers: int | None = None, depth: int = 8, name: str = "ct-root",
                 done: Callable[[object], None] | None = None) -> None:
        self.n = 0
        self.hashed = 0  # segments digested so far
        self._done = done
        self._digests: list[bytes | None] = []
        self._pieces: list[tuple[memoryview, list]] = []  # the segment being filled: (piece, its view's record)
        self._fill = 0
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(depth)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._err: BaseException | None = None
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(workers or default_workers())]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while (job := self._todo.get()) is not None:
            index, pieces = job
            if self._err is None:
                try:
                    h = hashlib.sha256()
                    for piece, _ in pieces:
                        h.update(piece)
                    piece = None
                    self._digests[index] = h.digest()
                    with self._lock:
                        self.hashed += 1
                except BaseException as exc:  # noqa: BLE001 - re-raised in the feeding thread
                    self._err = exc
            records = [record for _, record in pieces]
            job = pieces = piece = None  # drop the views before their tokens go back: a mapping may be closed then
            for record in records:
                self._unref(record)
            self._slots.release()  # released even after an error, so feed() never blocks forever

    def _unref(self, record: list) -> None:
        with self._lock:
            record[0] -= 1
            last = record[0] == 0
        if last and self._done is not None:
            self._done(record[1])

    def _submit(self) -> None:
        self._slots.acquire()
        self._digests.append(None)
        self._todo.put((len(self._digests) - 1, self._pieces))
        self._pieces, self._fill = [], 0

    def feed(self, view, token=None) -> None:
        if self._err is not None:
            raise self._err
        view = memoryview(view).cast("B")
        record = [1, token]  # [jobs still holding a piece of this view (+1 while it is being cut), token]
        try:
            while view:
                take = min(SEGMENT - self._fill, len(view))
                with self._lock:
                    record[0] += 1
                self._pieces.append((view[:take], record))
                self._fill += take
                self.n += take
                view = view[take:]
                if self._fill == SEGMENT:
                    self._submit()
        finally:
            view = None
            self._unref(record)

    def close(self) -> bytes:
        """Hash what is left, wait for the workers; the root, or the first error."""
        if not self._closed:
            self._closed = True
            if self._pieces:
                self._submit()
            for _ in self._threads:
                self._todo.put(None)
            for t in self._threads:
                t.join()
        if self._err is not None:
            raise self._err
        return root(self.n, self._digests)  # type: ignore[arg-type]


def hash_file(path: str | Path, workers: int | None = None) -> tuple[bytes, int]:
    """(ct_root, size) of a file, its segments read and hashed on `workers` threads, each with its own handle."""
    size = os.stat(path).st_size
    count = segment_count(size)
    digests: list[bytes | None] = [None] * count
    next_index = iter(range(count))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        buf = bytearray(SEGMENT)
        try:
            with open(path, "rb", buffering=0) as f:
                while not errors:
                    with lock:
                        i = next(next_index, None)
                    if i is None:
                        return
                    f.seek(i * SEGMENT)
                    want = min(SEGMENT, size - i * SEGMENT)
                    got = f.readinto(memoryview(buf)[:want])
                    if got != want:
                        raise OSError(f"{path} changed size while it was hashed")
                    digests[i] = hashlib.sha256(memoryview(buf)[:want]).digest()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, name="ct-root-file", daemon=True)
               for _ in range(min(workers or default_workers(), max(count, 1)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if os.stat(path).st_size != size:
        raise OSError(f"{path} changed size while it was hashed")
    return root(size, digests), size  # type: ignore[arg-type]
