"""Building tender and log archives from the database as a stream (never the whole archive in memory).

The stream reads from its own connection inside one REPEATABLE READ, READ ONLY transaction, so the archive
is one consistent snapshot however long the download takes.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg

from trading.blobs import BlobStore
from trading.clock import Clock
from trading.records import bundle, merkle
from trading.records import repository as repo
from trading.records.certs import root_certificate_pem
from trading.records.checkpoints import sign_checkpoint
from trading.records.keys import all_verifier_keys
from trading.records.services import b64

FLUSH_BYTES = 256 * 1024
PROOF_BATCH = 256


def _iso(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


async def _keys_text(conn: asyncpg.Connection, settings: Any) -> bytes:
    keys = list(dict.fromkeys([*await repo.list_vkeys(conn), *all_verifier_keys(settings)]))
    return ("\n".join(keys) + "\n").encode()


def _doc_path(sha256: str, filename: str) -> str:
    return f"{bundle.DOCUMENTS}{sha256}-{filename}"


async def _inclusion_lines(conn: asyncpg.Connection, seqs: list[int], size: int) -> list[bytes]:
    """Inclusion proofs for a batch of entries with one node fetch."""
    per_entry = [merkle.nodes_for(merkle.inclusion_ranges(s, size)) for s in seqs]
    wanted: set[tuple[int, int]] = set()
    for _, w in per_entry:
        wanted |= w
    hashes = await repo.fetch_nodes(conn, wanted) if wanted else {}
    out = []
    for seq, (decomposed, _) in zip(seqs, per_entry):
        proof = merkle.fold_all(decomposed, hashes)
        out.append(bundle.encode(bundle.InclusionLine(seq=seq, tree_size=size, hashes=[b64(h) for h in proof])))
    return out


async def _consistency_lines(conn: asyncpg.Connection, sizes: list[int]) -> AsyncIterator[bytes]:
    sizes = sorted(s for s in set(sizes) if s > 0)
    for a, b in zip(sizes, sizes[1:]):
        decomposed, wanted = merkle.nodes_for(merkle.consistency_ranges(a, b))
        proof = merkle.fold_all(decomposed, await repo.fetch_nodes(conn, wanted) if wanted else {})
        yield bundle.encode(bundle.ConsistencyLine(size1=a, size2=b, hashes=[b64(h) for h in proof]))


async def stream_archive(pool: asyncpg.Pool, clock: Clock, settings: Any, *, tender_id: UUID | None
                         ) -> AsyncIterator[bytes]:
    """Yield the ZIP bytes of a tender archive (`tender_id`) or of the whole log (`tender_id=None`).
    Access must have been checked by the caller."""
    async with pool.acquire() as conn:
        async with conn.transaction():  # the archive ends at a checkpoint that covers everything committed
            await sign_checkpoint(conn, clock, settings, reason="archive")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for chunk in _stream(conn, clock, settings, tender_id):
                yield chunk


async def _stream(conn: asyncpg.Connection, clock: Clock, settings: Any, tender_id: UUID | None
                  ) -> AsyncIterator[bytes]:
    w = bundle.ArchiveWriter()
    latest = await conn.fetchrow("SELECT tree_size FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1")
    size = latest["tree_size"] if latest else 0
    tender_info = None
    if tender_id is not None:
        t = await repo.get_tender_access(conn, tender_id)
        tender_info = {"id": str(tender_id), "code": t["code"], "title": t["title"],
                       "bid_deadline": t["bid_deadline"].isoformat()}
        count = await conn.fetchval("SELECT count(*) FROM log_entries WHERE tender_id = $1 AND seq < $2",
                                    tender_id, size)
        checkpoints = await repo.list_checkpoints_for_archive(conn, tender_id, size)
        documents = [d for d in await repo.list_documents_for_tender(conn, tender_id) if d["seq"] < size]
    else:
        count = size
        checkpoints = await repo.list_all_checkpoints(conn, size)
        documents = []
    doc_refs = [bundle.DocumentRef(path=_doc_path(d["sha256"], d["filename"]), sha256=d["sha256"], kind=d["kind"],
                                   filename=d["filename"], seq=d["seq"], size=d["size"]) for d in documents]
    manifest = bundle.Manifest(format=bundle.FORMAT, kind="tender" if tender_id else "log", origin=settings.origin,
                               tree_size=size, entries=count, generated_at=_iso(clock), tender=tender_info,
                               documents=doc_refs)
    w.add(bundle.README, bundle.README_TEXT.encode())
    w.add(bundle.MANIFEST, bundle.encode(manifest))
    w.add(bundle.KEYS, await _keys_text(conn, settings))
    w.add(bundle.ROOT_CA, root_certificate_pem(settings))
    w.add(bundle.CHECKPOINTS, b"".join(bundle.encode(bundle.CheckpointLine(tree_size=c["tree_size"], note=c["note"]))
                                       + b"\n" for c in checkpoints))
    yield w.drain()

    w.begin(bundle.CONSISTENCY)
    async for line in _consistency_lines(conn, [c["tree_size"] for c in checkpoints]):
        w.write(line + b"\n")
    w.end()

    w.begin(bundle.ENTRIES)
    seqs: list[int] = []
    if tender_id is not None:
        async for r in repo.iter_entries_for_tender(conn, tender_id):
            if r["seq"] >= size:
                break
            w.write(bytes(r["entry"]) + b"\n")
            seqs.append(r["seq"])
            if w.pending > FLUSH_BYTES:
                yield w.drain()
    else:
        async for r in repo.iter_all_entries(conn, size):
            w.write(bytes(r["entry"]) + b"\n")
            if w.pending > FLUSH_BYTES:
                yield w.drain()
    w.end()
    yield w.drain()

    if tender_id is not None:
        w.begin(bundle.INCLUSION)
        for i in range(0, len(seqs), PROOF_BATCH):
            for line in await _inclusion_lines(conn, seqs[i:i + PROOF_BATCH], size):
                w.write(line + b"\n")
            if w.pending > FLUSH_BYTES:
                yield w.drain()
        w.end()
        yield w.drain()

    store = BlobStore(settings.blob_dir)
    for ref in doc_refs:
        w.begin(ref.path)
        for block in store.iter_chunks(ref.sha256):
            w.write(block)
            if w.pending > FLUSH_BYTES:
                yield w.drain()
        w.end()
    yield w.close()
