"""ct_root, seal/v2's commitment to the ciphertext: its definition, the three ways the code computes it, and the
witnesses' coreutils recipe of docs/sealing.md giving the same bytes."""
from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
import threading
import types
from pathlib import Path

import pytest

from trading.bids import cthash

MiB = cthash.SEGMENT
SIZES = [0, 1, 40, MiB - 1, MiB, MiB + 1, 3 * MiB + 5, 4 * MiB]


def _by_definition(data: bytes) -> bytes:
    """docs/sealing.md §3, written out with nothing but hashlib."""
    pieces = [data[i: i + MiB] for i in range(0, len(data), MiB)]
    return hashlib.sha256(b"tenderhall/seal/v2 ct-root\n" + struct.pack(">Q", len(data))
                          + b"".join(hashlib.sha256(p).digest() for p in pieces)).digest()


@pytest.fixture(scope="module")
def blob() -> bytes:
    return os.urandom(4 * MiB + 7)


@pytest.mark.parametrize("size", SIZES)
def test_every_way_of_computing_it_agrees_with_the_definition(size: int, blob: bytes, tmp_path: Path) -> None:
    data = blob[:size]
    expected = _by_definition(data)
    assert cthash.of_bytes(data) == expected
    rng = random.Random(size)
    h = cthash.Hasher()
    s = cthash.SegmentHasher(workers=3, depth=2)
    pos = 0
    while pos < len(data):  # chunks of every size, across and along the segment boundaries
        n = rng.choice([1, 40, 4096, MiB - 40, MiB, MiB + 3, 2 * MiB])
        h.update(data[pos: pos + n])
        s.feed(memoryview(data)[pos: pos + n])
        pos += n
    assert h.digest() == expected and h.n == size
    assert s.close() == expected and s.n == size
    (tmp_path / "ct").write_bytes(data)
    assert cthash.hash_file(tmp_path / "ct") == (expected, size)


def test_it_is_neither_a_plain_sha256_nor_blind_to_the_length_or_the_order(blob: bytes) -> None:
    a, b = blob[:MiB], blob[MiB: 2 * MiB]
    assert cthash.of_bytes(a + b) != hashlib.sha256(a + b).digest()
    assert cthash.of_bytes(a + b) != cthash.of_bytes(b + a)
    assert cthash.of_bytes(a + b) != cthash.of_bytes(a + b + b"\0")
    # the segment list alone, without the length, would make these two collide in a naive scheme
    assert cthash.of_bytes(b"") != cthash.of_bytes(b"\0")


def test_root_refuses_a_list_that_does_not_fit_the_length() -> None:
    d = hashlib.sha256(b"x").digest()
    for ct_len, digests in [(0, [d]), (MiB + 1, [d]), (MiB, [d, d]), (1, [b"short"]), (-1, [])]:
        with pytest.raises(ValueError):
            cthash.root(ct_len, digests)


@pytest.mark.parametrize("size", [0, 5, MiB, 2 * MiB + 17])
def test_the_witnesses_coreutils_recipe_gives_the_same_root(size: int, blob: bytes, tmp_path: Path) -> None:
    """The recipe docs/sealing.md gives regulators, who check a bid file with standard tools only (coreutils ≥ 8.31,
    for basenc: Debian 11 and later)."""
    path = tmp_path / "bid.ct"
    path.write_bytes(blob[:size])
    recipe = (Path(__file__).parents[3] / "docs" / "sealing.md").read_text(encoding="utf-8")
    script = recipe.split("<!-- ct-root recipe -->")[1].split("```sh")[1].split("```")[0]
    out = subprocess.run(["bash", "-c", script, "ct-root", str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == _by_definition(blob[:size]).hex()


def test_segment_hasher_hashes_segments_at_once_and_holds_back_a_producer_beyond_its_depth(monkeypatch) -> None:
    gate, inside = threading.Event(), threading.Semaphore(0)
    real = hashlib.sha256

    class Gated:
        def __init__(self, data: bytes = b"") -> None:
            self.h = real(data)

        def update(self, data) -> None:
            inside.release()
            gate.wait(10)
            self.h.update(data)

        def digest(self) -> bytes:
            return self.h.digest()

    monkeypatch.setattr(cthash, "hashlib", types.SimpleNamespace(sha256=Gated))
    hasher = cthash.SegmentHasher(workers=2, depth=3)
    fed: list[int] = []
    data = [os.urandom(MiB) for _ in range(6)]

    def produce() -> None:
        for i, d in enumerate(data):
            hasher.feed(d)
            fed.append(i)

    t = threading.Thread(target=produce)
    t.start()
    assert inside.acquire(timeout=5) and inside.acquire(timeout=5), "two segments are not hashed at once"
    t.join(0.3)
    assert fed == [0, 1, 2]  # the fourth waits: three jobs are queued or running
    gate.set()
    t.join(5)
    assert fed == list(range(6))
    digest = hasher.close()
    monkeypatch.undo()
    assert digest == _by_definition(b"".join(data))


def test_segment_hasher_gives_each_token_back_once_its_bytes_are_hashed() -> None:
    """A view cut across segments (the pipelines' pooled buffers) comes back once, after its last piece."""
    done: list[object] = []
    hasher = cthash.SegmentHasher(workers=2, depth=2, done=done.append)
    hasher.feed(b"header", "h")
    views = [os.urandom(MiB) for _ in range(5)]
    for i, v in enumerate(views):
        hasher.feed(v, i)
    root = hasher.close()
    assert sorted(done, key=str) == sorted(["h", 0, 1, 2, 3, 4], key=str)
    assert root == _by_definition(b"header" + b"".join(views))


def test_segment_hasher_reports_its_error_and_still_returns_every_token(monkeypatch) -> None:
    class Broken:
        def update(self, data) -> None:
            raise RuntimeError("hash failed")

    monkeypatch.setattr(cthash, "hashlib", types.SimpleNamespace(sha256=lambda *a: Broken()))
    done: list[object] = []
    hasher = cthash.SegmentHasher(workers=2, depth=1, done=done.append)
    with pytest.raises(RuntimeError, match="hash failed"):
        for i in range(100):  # a later feed (or close) reports the worker's failure
            hasher.feed(os.urandom(MiB), i)
    with pytest.raises(RuntimeError, match="hash failed"):
        hasher.close()
    assert len(done) == len(set(map(str, done))) >= 1


def test_hash_file_notices_a_file_that_changes_size(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ct"
    path.write_bytes(os.urandom(3 * MiB))
    real_stat = os.stat
    calls = []

    def shrinking_stat(p, *a, **kw):
        calls.append(p)
        st = real_stat(p, *a, **kw)
        if len(calls) == 1:
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                                   4 * MiB, st.st_atime, st.st_mtime, st.st_ctime))
        return st

    monkeypatch.setattr(cthash.os, "stat", shrinking_stat)
    with pytest.raises(OSError, match="changed size"):
        cthash.hash_file(path)
