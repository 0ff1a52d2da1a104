"""The sealing pipeline's building blocks: mapped file windows, the ordered background hasher and writer, and the
output file written past the page cache."""
from __future__ import annotations

import errno
import hashlib
import io
import mmap
import os
import threading
import types

try:
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]

import pytest

from trading.bids import cthash, pipeline
from trading.bids.streaming import StreamCorrupt

_G = mmap.ALLOCATIONGRANULARITY


def _file(tmp_path, size: int):
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("start", [0, 1, 40, _G - 1, _G, _G + 40])
def test_file_blocks_maps_the_rest_of_a_file_from_any_position(tmp_path, start: int) -> None:
    """Windows start at unaligned positions (the mapping is aligned down); every view stays valid after the next
    one is taken (a hashing thread may still hold it); the file ends positioned after what was yielded."""
    path, data = _file(tmp_path, 5 * _G + 123)
    window = 2 * _G + 17
    with path.open("rb", buffering=0) as f:
        f.seek(start)
        views = list(pipeline.file_blocks(f, window))
        assert f.tell() == len(data)
    assert all(len(v) <= window for v in views) and all(v.readonly for v in views)
    assert b"".join(bytes(v) for v in views) == data[start:]


def test_file_blocks_of_an_empty_file_or_at_its_end_yields_nothing(tmp_path) -> None:
    path, data = _file(tmp_path, 0)
    with path.open("rb") as f:
        assert list(pipeline.file_blocks(f)) == []
    path, data = _file(tmp_path, 10)
    with path.open("rb") as f:
        f.seek(10)
        assert list(pipeline.file_blocks(f)) == []


def test_file_blocks_reads_streams_that_cannot_be_mapped() -> None:
    data = os.urandom(3 * 1000 + 1)
    views = list(pipeline.file_blocks(io.BytesIO(data), 1000))
    assert [len(v) for v in views] == [1000, 1000, 1000, 1]
    assert b"".join(bytes(v) for v in views) == data
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        assert b"".join(bytes(v) for v in pipeline.file_blocks(pipe, 1000)) == data


def test_file_blocks_refuses_a_file_that_shrinks_while_it_is_read(tmp_path) -> None:
    """Mapping past the end of a shrunk file would kill the process with SIGBUS; it raises instead."""
    path, data = _file(tmp_path, 4 * _G)
    with path.open("rb", buffering=0) as f:
        blocks = pipeline.file_blocks(f, _G)
        assert bytes(next(blocks)) == data[:_G]
        os.truncate(path, 2 * _G)
        assert bytes(next(blocks)) == data[_G:2 * _G]
        with pytest.raises(StreamCorrupt, match="changed while it was read"):
            next(blocks)


def test_file_blocks_falls_back_to_reading_where_mmap_is_refused(tmp_path, monkeypatch) -> None:
    path, data = _file(tmp_path, 3 * _G + 5)

    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")  # what mmap gives on a file system without it

    monkeypatch.setattr(pipeline.mmap, "mmap", refuse)
    with path.open("rb", buffering=0) as f:
        f.seek(7)
        views = list(pipeline.file_blocks(f, _G))
        assert f.tell() == len(data)
    assert b"".join(bytes(v) for v in views) == data[7:]


class _GatedHash:
    """A hash whose update waits for a gate, to hold the hasher thread."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.h = hashlib.sha256()

    def update(self, data) -> None:
        self.gate.wait(10)
        self.h.update(data)

    def digest(self) -> bytes:
        return self.h.digest()


def test_ordered_hasher_holds_back_a_producer_beyond_its_depth_and_hashes_in_order() -> None:
    gated = _GatedHash()
    hasher = pipeline.OrderedHasher(gated, depth=2)
    blocks = [os.urandom(1000) for _ in range(5)]
    fed: list[int] = []

    def produce() -> None:
        for i, b in enumerate(blocks):
            hasher.feed(memoryview(b))
            fed.append(i)

    t = threading.Thread(target=produce)
    t.start()
    t.join(0.3)
    assert fed == [0, 1]  # the third waits: two views are still unhashed
    gated.gate.set()
    t.join(5)
    assert fed == [0, 1, 2, 3, 4]
    assert hasher.close() == hashlib.sha256(b"".join(blocks)).digest()


def test_ordered_hasher_reports_its_error_to_the_producer() -> None:
    class Broken:
        def update(self, data) -> None:
            raise RuntimeError("hash failed")

    hasher = pipeline.OrderedHasher(Broken(), depth=1)
    hasher.feed(b"x")
    with pytest.raises(RuntimeError, match="hash failed"):
        for _ in range(100):  # the worker fails on the first view; a later feed or close reports it
            hasher.feed(b"y")
    with pytest.raises(RuntimeError, match="hash failed"):
        hasher.close()


def test_ordered_writer_writes_in_order_from_recycled_buffers() -> None:
    out = io.BytesIO()
    writer = pipeline.OrderedWriter(out, size=64)
    parts = [os.urandom(64) for _ in range(5 * pipeline.OrderedWriter.RING)]
    buffers = set()
    writer.put(b"head")  # other bytes are written but not recycled
    for p in parts:
        buffer = writer.claim()
        buffers.add(id(buffer))
        buffer[:] = p
        writer.put(memoryview(buffer))
    writer.close()
    assert out.getvalue() == b"head" + b"".join(parts)
    assert len(buffers) <= pipeline.OrderedWriter.RING  # no buffer is made beyond the pool


def test_ordered_writer_reports_a_failed_write_and_keeps_handing_out_buffers_until_then() -> None:
    class Full(io.BytesIO):
        def write(self, data) -> int:
            raise OSError("disk full")

    writer = pipeline.OrderedWriter(Full(), size=8)
    writer.put(memoryview(writer.claim()))
    with pytest.raises(OSError, match="disk full"):
        for _ in range(100):  # never blocks: failed items still return their buffer
            writer.put(memoryview(writer.claim()))
    with pytest.raises(OSError, match="disk full"):
        writer.close()


MiB = cthash.SEGMENT


def _fill_sink(sink, segments: int) -> bytes:
    """What the EncryptingWriter does: the header, then each segment encrypted into a claimed buffer. Whole
    1 MiB buffers after a 6-byte header, so every hashed segment but the first is cut from two buffers."""
    sink(b"header")
    expected = [b"header"]
    for i in range(segments):
        buffer = sink.claim()
        buffer[:] = bytes([i % 256]) * MiB
        sink(memoryview(buffer))
        expected.append(bytes([i % 256]) * MiB)
    return b"".join(expected)


def test_hashing_sink_writes_and_hashes_the_same_bytes_in_order_from_its_pool() -> None:
    out = io.BytesIO()
    sink = pipeline.HashingSink(out, progress=None)
    expected = _fill_sink(sink, 3 * pipeline.HashingSink.RING)
    sink.close()
    assert out.getvalue() == expected and sink.n == len(expected)
    assert sink.ct_root == cthash.of_bytes(expected)


class _Slow:
    """A file or a hash whose every call takes a while: the other stage runs ahead of it."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def write(self, data) -> int:
        threading.Event().wait(0.002)
        return self.inner.write(data)

    def update(self, data) -> None:
        threading.Event().wait(0.002)
        self.inner.update(bytes(data))  # a copy, so a buffer refilled too early would show in the digest

    def digest(self) -> bytes:
        return self.inner.digest()


@pytest.mark.parametrize("slow", ["write", "hash"])
def test_hashing_sink_reuses_a_buffer_only_once_both_stages_are_done_with_it(slow: str, monkeypatch) -> None:
    """Whichever stage lags, no segment buffer is refilled before the file and the digest have taken its bytes."""
    out = io.BytesIO()
    if slow == "hash":
        real = hashlib.sha256
        monkeypatch.setattr(cthash, "hashlib", types.SimpleNamespace(sha256=lambda *a: _Slow(real(*a))))
    sink = pipeline.HashingSink(_Slow(out) if slow == "write" else out, progress=None)
    expected = _fill_sink(sink, 3 * pipeline.HashingSink.RING)
    sink.close()
    monkeypatch.undo()
    assert out.getvalue() == expected
    assert sink.ct_root == cthash.of_bytes(expected)


def test_hashing_sink_hashes_on_while_a_write_is_stalled() -> None:
    """Hashing is sealing's costliest stage: a device write that stalls must not hold it up (only a full pool may)."""
    release, writing = threading.Event(), threading.Event()

    class Stalled(io.BytesIO):
        def write(self, data) -> int:
            writing.set()
            release.wait(10)
            return super().write(data)

    out = Stalled()
    sink = pipeline.HashingSink(out, progress=None)
    # the header's write stalls and RING - 1 buffers queue behind it: with the header, RING - 1 whole 1 MiB
    # segments to hash (and 6 bytes left for close)
    expected = _fill_sink(sink, pipeline.HashingSink.RING - 1)
    assert writing.wait(5)
    for _ in range(500):
        if sink._hasher.hashed == pipeline.HashingSink.RING - 1:
            break
        threading.Event().wait(0.01)
    assert sink._hasher.hashed == pipeline.HashingSink.RING - 1, "the hasher waited for the stalled write"
    assert out.getvalue() == b""
    release.set()
    sink.close()
    assert out.getvalue() == expected and sink.ct_root == cthash.of_bytes(expected)


def _in_thread(fn) -> BaseException | None:
    """Run fn on a thread; what it raised. Fails the test instead of hanging if fn blocks."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "blocked: a buffer never came back to the pool"
    return raised[0] if raised else None


def test_hashing_sink_reports_a_failed_write_without_blocking_the_sealer() -> None:
    class Full(io.BytesIO):
        def write(self, data) -> int:
            raise OSError("disk full")

    sink = pipeline.HashingSink(Full(), progress=None)
    exc = _in_thread(lambda: _fill_sink(sink, 100))
    assert isinstance(exc, OSError) and "disk full" in str(exc)
    with pytest.raises(OSError, match="disk full"):
        sink.close()


def test_hashing_sink_reports_a_failed_hash_without_blocking_the_sealer(monkeypatch) -> None:
    class Broken:
        def update(self, data) -> None:
            raise RuntimeError("hash failed")

    # the stage beside the write fails
    monkeypatch.setattr(cthash, "hashlib", types.SimpleNamespace(sha256=lambda *a: Broken()))
    sink = pipeline.HashingSink(io.BytesIO(), progress=None)
    exc = _in_thread(lambda: _fill_sink(sink, 40))
    assert isinstance(exc, RuntimeError) and "hash failed" in str(exc)
    with pytest.raises(RuntimeError, match="hash failed"):
        sink.close()


_DIRECT = getattr(os, "O_DIRECT", 0)


def _chunks(data: bytes, sizes: list[int]):
    pos = 0
    for i in range(10**6):
        if pos >= len(data):
            return
        n = sizes[i % len(sizes)]
        yield data[pos: pos + n]
        pos += n


@pytest.mark.parametrize("size", [0, 1, 40, 4095, 4096, 4097, pipeline.DirectOutput.BUFFER,
                                  pipeline.DirectOutput.BUFFER + 40, 3 * pipeline.DirectOutput.BUFFER - 1])
def test_direct_output_writes_exactly_the_bytes_given_whatever_their_size(tmp_path, size: int) -> None:
    """Whole aligned buffers go past the page cache; the unaligned tail is padded, then the file is cut back."""
    data = os.urandom(size)
    path = tmp_path / "out.ct"
    with pipeline.DirectOutput(path) as out:
        if _DIRECT:  # what the object says is what the kernel was asked for
            assert bool(fcntl.fcntl(out.fileno(), fcntl.F_GETFL) & _DIRECT) == out.direct
        for chunk in _chunks(data, [40, 1024 * 1024, 7, 3 * 1024 * 1024 + 5]):
            assert out.write(memoryview(chunk)) == len(chunk)
    assert out.size == size
    assert path.read_bytes() == data


def test_direct_output_writes_aligned_pool_buffers_as_they_are(tmp_path, monkeypatch) -> None:
    """A pipeline's page-aligned segment buffers go to the device without being gathered (copied) first; what is
    not aligned — the header, a tail — is gathered; the file holds exactly the bytes in order."""
    if not _DIRECT:
        pytest.skip("no O_DIRECT on this platform: DirectOutput is always buffered")
    sent: list[tuple[bool, int]] = []
    real = pipeline.DirectOutput._write_out

    def spy(self, view) -> None:
        sent.append((view.obj is not self._buf, len(view)))  # True: the caller's memory, not the gather buffer
        real(self, view)

    monkeypatch.setattr(pipeline.DirectOutput, "_write_out", spy)
    seg = 1024 * 1024
    header, first = os.urandom(40), os.urandom(seg - 40)  # Tink's layout: header + first segment = one segment
    pool = [mmap.mmap(-1, seg) for _ in range(3)]
    for i, m in enumerate(pool):
        m[:] = os.urandom(seg)
    tail = memoryview(pool[2])[: 5000]
    path = tmp_path / "out.ct"
    with pipeline.DirectOutput(path) as out:
        if not out.direct:
            pytest.skip("this file system refuses O_DIRECT at open")
        out.write(header)
        out.write(first)
        out.write(memoryview(pool[0]))
        out.write(memoryview(pool[1]))
        out.write(tail)
    assert path.read_bytes() == header + first + bytes(pool[0]) + bytes(pool[1]) + bytes(tail)
    assert sent[:3] == [(False, seg), (True, seg), (True, seg)]  # gathered header + first, then the two as they are
    assert sent[3] == (True, 4096) and sent[4][0] is False  # the tail's whole block as it is, the rest gathered


def test_direct_output_flush_writes_a_partial_block_and_writing_goes_on(tmp_path) -> None:
    """flush() (before an fsync) must put everything in the file; a partial block cannot go past the cache, so
    the rest of the file is written through it."""
    a, b = os.urandom(5000), os.urandom(pipeline.DirectOutput.BUFFER + 123)
    path = tmp_path / "out.ct"
    with pipeline.DirectOutput(path) as out:
        out.write(a)
        out.flush()
        assert path.read_bytes() == a
        os.fsync(out.fileno())
        out.write(b)
    assert path.read_bytes() == a + b
    with pytest.raises(ValueError):
        out.write(b"late")


def test_direct_output_falls_back_to_the_page_cache_where_o_direct_is_refused(tmp_path, monkeypatch) -> None:
    """A file system that refuses O_DIRECT at open (EINVAL) gets an ordinary file with the same bytes."""
    if not _DIRECT:
        pytest.skip("no O_DIRECT on this platform: DirectOutput is always buffered")
    real_open = os.open

    def no_direct(path, flags, mode=0o777):
        if flags & _DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct)
    data = os.urandom(pipeline.DirectOutput.BUFFER + 4097)
    with pipeline.DirectOutput(tmp_path / "out.ct") as out:
        assert not out.direct
        out.write(data)
    assert (tmp_path / "out.ct").read_bytes() == data


def test_direct_output_falls_back_when_a_direct_write_is_refused(tmp_path, monkeypatch) -> None:
    """Some file systems take O_DIRECT at open and refuse the write (EINVAL): the write is retried through the
    cache, nothing is lost or doubled. Any other error is raised."""
    if not _DIRECT:
        pytest.skip("no O_DIRECT on this platform")
    real_write = os.write
    refused = []

    def refuse_direct(fd, data):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & _DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    data = os.urandom(2 * pipeline.DirectOutput.BUFFER + 10)
    with pipeline.DirectOutput(tmp_path / "out.ct") as out:
        if not out.direct:
            pytest.skip("this file system refuses O_DIRECT at open")
        monkeypatch.setattr(os, "write", refuse_direct)
        out.write(data)
        assert not out.direct and refused == [pipeline.DirectOutput.BUFFER]
    assert (tmp_path / "out.ct").read_bytes() == data

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    out = pipeline.DirectOutput(tmp_path / "full.ct")
    with pytest.raises(OSError) as info:
        out.write(data)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "write", real_write)
    out.close()
