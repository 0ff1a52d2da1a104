"""Witness-log benchmark (records/v1).

1. Append 100,000 entries through `append_entry` (the function every package calls) into a fresh database,
   committing every BATCH appends (a transaction per batch: realistic for imports and opening sessions),
   while the background checkpoint signer runs as in production (every 0.5 s). Also the one-entry-per-
   transaction rate (every HTTP request that changes state) on a smaller run, and `append_entries`.
2. Build a 1,000,000-entry log archive (real entries, a checkpoint signed every 5,000 entries) and verify it
   offline in a child process (`tenderhall verify`), measuring wall time and peak RSS; hashlib's SHA-256 rate
   over the same entry bytes is measured in the same run as the reference.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test /work/venv/bin/python bench/records.py
"""
from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds modules named like the packages (bench/evaluation.py): keep it off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import hashlib
import os
import resource
import secrets
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from trading import db
from trading.clock import SystemClock
from trading.records import Tag, append_entry
from trading.records.background import run_signer
from trading.records.bundle import (
    CHECKPOINTS,
    ENTRIES,
    FORMAT,
    KEYS,
    MANIFEST,
    README,
    README_TEXT,
    ArchiveWriter,
    CheckpointLine,
    Manifest,
    encode,
)
from trading.records.keys import verifier_key
from trading.records.log import ENTRY_VERSION, Draft, Entry, append_entries, format_time
from trading.records.merkle import Frontier
from trading.records.note import format_checkpoint, sign_note
from trading.settings import Settings


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


async def bench_append(server: str, n: int, batch: int, single: int) -> None:
    name = f"th_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = _with_db(server, name)
    tmp = Path(tempfile.mkdtemp(prefix="th-bench-"))
    settings = Settings(database_url=url, data_dir=tmp)
    clock = SystemClock()
    pool = await db.create_pool(url, min_size=2, max_size=4)
    try:
        async with pool.acquire() as c:
            await db.upgrade(c)
        signer = asyncio.create_task(run_signer(pool, clock, settings))
        tenders = [uuid.uuid4() for _ in range(50)]
        body = {"bid_id": secrets.token_hex(16), "manifest_sha256": secrets.token_hex(32)}

        async with pool.acquire() as c:
            t0 = time.perf_counter()
            for start in range(0, n, batch):
                async with c.transaction():
                    for i in range(start, min(n, start + batch)):
                        await append_entry(c, clock, Tag.TENDER_DOCUMENT_DOWNLOAD, actor="bench",
                                           tender_id=tenders[i % 50], body=body, addr="10.0.0.1")
            dt = time.perf_counter() - t0
        print(f"append_entry, {batch} per transaction: {n:,} entries in {dt:.1f} s = {n / dt:,.0f} entries/s")

        async with pool.acquire() as c:
            t0 = time.perf_counter()
            for i in range(single):
                async with c.transaction():
                    await append_entry(c, clock, Tag.TENDER_DOCUMENT_DOWNLOAD, actor="bench",
                                       tender_id=tenders[i % 50], body=body)
            dt = time.perf_counter() - t0
        print(f"append_entry, 1 per transaction: {single:,} entries in {dt:.1f} s = {single / dt:,.0f} entries/s")

        async with pool.acquire() as c:
            t0 = time.perf_counter()
            m = n // 2
            for start in range(0, m, 1000):
                async with c.transaction():
                    await append_entries(c, clock, [Draft(tag=Tag.TENDER_DOCUMENT_DOWNLOAD, actor="bench",
                                                          tender_id=tenders[i % 50], body=body)
                                                    for i in range(start, min(m, start + 1000))])
            dt = time.perf_counter() - t0
        print(f"append_entries, 1000 per call: {m:,} entries in {dt:.1f} s = {m / dt:,.0f} entries/s")
        await asyncio.sleep(1.2)
        signer.cancel()
        async with pool.acquire() as c:
            cps = await c.fetchval("SELECT count(*) FROM log_checkpoints")
            size = await c.fetchval("SELECT size FROM log_head")
            last = await c.fetchval("SELECT max(tree_size) FROM log_checkpoints")
            nodes = await c.fetchval("SELECT count(*) FROM log_nodes")
        print(f"checkpoints signed meanwhile by the background signer: {cps} (last covers {last:,} of {size:,});"
              f" stored subtree nodes: {nodes:,}")
    finally:
        await pool.close()
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def build_archive(path: Path, n: int, every: int) -> list[bytes]:
    """A log archive of n real entries; returns nothing big (entries are streamed to the file)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    origin = "bench.tenderhall/log"
    key = Ed25519PrivateKey.generate()
    w = ArchiveWriter(compresslevel=1)
    frontier = Frontier()
    notes: list[bytes] = []
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    tenders = [str(uuid.uuid4()) for _ in range(1000)]
    last: dict[str, int] = {}
    with path.open("wb") as f:
        w.add(README, README_TEXT.encode())
        w.add(MANIFEST, encode(Manifest(format=FORMAT, kind="log", origin=origin, tree_size=n, entries=n,
                                        generated_at="2026-03-02T00:00:00Z")))
        w.add(KEYS, (verifier_key(origin, key) + "\n").encode())
        f.write(w.drain())
        w.begin(ENTRIES)
        for seq in range(n):
            t = tenders[seq % 1000]
            e = Entry(v=ENTRY_VERSION, origin=origin, seq=seq, prev=last.get(t), time=format_time(
                start + timedelta(milliseconds=seq)), tag="bid:seal:accept", tender=t, lot=t, actor=t, addr="10.0.0.1",
                body={"bid_id": f"{seq:032x}", "manifest_sha256": hashlib.sha256(seq.to_bytes(8, "big")).hexdigest()})
            last[t] = seq
            data = encode(e)
            frontier.append(hashlib.sha256(b"\x00" + data).digest())
            w.write(data + b"\n")
            if frontier.size % every == 0 or frontier.size == n:
                note = sign_note(format_checkpoint(origin, frontier.size, frontier.root()), origin, key)
                notes.append(encode(CheckpointLine(frontier.size, note)) + b"\n")
            if w.pending > 1 << 20:
                f.write(w.drain())
        w.end()
        w.add(CHECKPOINTS, b"".join(notes))
        f.write(w.close())
    return []


def sha256_reference(path: Path) -> tuple[float, float, int]:
    """hashlib over the same entry bytes: per-entry leaf hashes (what the verifier must do) and bulk MB/s."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        data = z.read(ENTRIES)
    lines = data.split(b"\n")[:-1]
    sha = hashlib.sha256
    t0 = time.perf_counter()
    for line in lines:
        sha(b"\x00" + line).digest()
    per_entry = time.perf_counter() - t0
    t0 = time.perf_counter()
    sha(data).digest()
    bulk = time.perf_counter() - t0
    return per_entry, len(data) / bulk / 1e6, len(data)


def bench_verify(n: int, every: int) -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-") as d:
        path = Path(d) / "log.zip"
        t0 = time.perf_counter()
        build_archive(path, n, every)
        print(f"built a {n:,}-entry log archive ({path.stat().st_size / 1e6:.0f} MB, {n // every} checkpoints) "
              f"in {time.perf_counter() - t0:.1f} s")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "trading.cli", "verify", str(path), "-q"], capture_output=True,
                             text=True)
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"tenderhall verify: {dt:.1f} s wall, peak RSS {max(peak, before) / 1024:.0f} MB, "
              f"exit {out.returncode}: {out.stdout.strip().splitlines()[0]}")
        per_entry, mbps, size = sha256_reference(path)
        print(f"reference, hashlib SHA-256 over the same bytes: leaf hashes of {n:,} entries in {per_entry:.2f} s "
              f"({n / per_entry:,.0f}/s); bulk {size / 1e6:.0f} MB at {mbps:,.0f} MB/s")
        print(f"verifier time / bare leaf hashing time: {dt / per_entry:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--single", type=int, default=5_000)
    ap.add_argument("--archive-entries", type=int, default=1_000_000)
    ap.add_argument("--skip-append", action="store_true")
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if not args.skip_append:
        asyncio.run(bench_append(server, args.entries, args.batch, args.single))
    if not args.skip_verify:
        bench_verify(args.archive_entries, 5_000)


if __name__ == "__main__":
    main()
