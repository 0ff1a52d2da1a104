"""The append path on real PostgreSQL: atomicity, no gaps, stored subtrees, proofs, checkpoints."""
import asyncio
import base64
import uuid

import msgspec
import pytest

from trading.records import Tag, append_entry, merkle
from trading.records.checkpoints import sign_checkpoint, sign_if_grown
from trading.records.keys import platform_verifier_key
from trading.records.log import Draft, append_entries
from trading.records.note import open_note, parse_checkpoint
from trading.records.services import consistency_proof, inclusion_proof, tree_root


async def _append(pool, clock, n, tender=None):
    async with pool.acquire() as c, c.transaction():
        return await append_entries(c, clock, [Draft(tag=Tag.WITNESS_NOTE_ADD, tender_id=tender, body={"i": i})
                                               for i in range(n)])


async def test_entry_rolled_back_with_its_change(pool, clock):
    async with pool.acquire() as c:
        with pytest.raises(RuntimeError):
            async with c.transaction():
                await c.execute("CREATE TEMP TABLE change_probe (x int) ON COMMIT DROP")
                await append_entry(c, clock, Tag.ACCOUNT_USER_CREATE, body={"user": "u1"})
                raise RuntimeError("the change fails after its entry was appended")
        assert await c.fetchval("SELECT count(*) FROM log_entries") == 0
        assert await c.fetchval("SELECT coalesce(max(size), 0) FROM log_head") == 0
        assert await c.fetchval("SELECT count(*) FROM log_nodes") == 0


async def test_append_refused_outside_a_transaction(pool, clock):
    async with pool.acquire() as c:
        with pytest.raises(RuntimeError):
            await append_entry(c, clock, Tag.ACCOUNT_USER_CREATE)


async def test_append_refuses_unknown_tag(conn, clock):
    with pytest.raises(ValueError):
        await append_entry(conn, clock, "made:up:tag")


async def test_entry_bytes_stored_exactly_as_hashed(conn, clock):
    a = await append_entry(conn, clock, Tag.ACCOUNT_USER_CREATE, actor="x", body={"名": "张三"})
    row = await conn.fetchrow("SELECT entry, leaf_hash FROM log_entries WHERE seq = $1", a.seq)
    assert bytes(row["entry"]) == a.entry
    assert bytes(row["leaf_hash"]) == merkle.hash_leaf(a.entry) == a.leaf_hash
    decoded = msgspec.json.decode(a.entry)
    assert decoded["seq"] == a.seq and decoded["tag"] == "account:user:create" and decoded["v"] == 1


async def test_concurrent_appenders_leave_no_gaps(pool, clock):
    await asyncio.gather(*[_append(pool, clock, 5) for _ in range(8)])
    async with pool.acquire() as c:
        seqs = [r["seq"] for r in await c.fetch("SELECT seq FROM log_entries ORDER BY seq")]
        assert seqs == list(range(40))
        leaves = [bytes(r["leaf_hash"]) for r in await c.fetch("SELECT leaf_hash FROM log_entries ORDER BY seq")]
        head = await c.fetchrow("SELECT size, root FROM log_head")
        assert head["size"] == 40 and bytes(head["root"]) == merkle.root_from_leaf_hashes(leaves)


async def test_tender_entries_chain_through_prev(pool, clock):
    t = uuid.uuid4()
    await _append(pool, clock, 2)
    first = await _append(pool, clock, 2, tender=t)
    await _append(pool, clock, 1)
    last = await _append(pool, clock, 1, tender=t)
    prevs = [msgspec.json.decode(a.entry)["prev"] for a in first + last]
    assert prevs == [None, first[0].seq, first[1].seq]


async def test_proofs_from_stored_nodes_verify_against_signed_checkpoints(pool, clock, settings):
    vkey = platform_verifier_key(settings)
    roots = {}
    for n in (1, 2, 3, 4, 7):
        await _append(pool, clock, n)
        async with pool.acquire() as c:
            cp = await sign_if_grown(c, clock, settings)
            text, _ = open_note(cp.note, [vkey])
            origin, size, root, _ = parse_checkpoint(text)
            assert origin == settings.origin and root == cp.root
            roots[size] = root
    sizes = sorted(roots)
    assert sizes == [1, 3, 6, 10, 17]
    async with pool.acquire() as c:
        for size in sizes:
            assert await tree_root(c, size) == roots[size]
            for i in range(size):
                p = await inclusion_proof(c, i, size)
                merkle.verify_inclusion(i, size, base64.b64decode(p.leaf_hash),
                                        [base64.b64decode(h) for h in p.hashes], roots[size])
        for a, b in zip(sizes, sizes[1:]):
            p = await consistency_proof(c, a, b)
            merkle.verify_consistency(a, b, [base64.b64decode(h) for h in p.hashes], roots[a], roots[b])
        # nothing new: no new checkpoint
        assert await sign_if_grown(c, clock, settings) is None


async def test_sign_checkpoint_in_transaction_covers_the_new_entry(conn, clock, settings):
    a = await append_entry(conn, clock, Tag.OPENING_DEADLINE_PASS, body={})
    cp = await sign_checkpoint(conn, clock, settings, reason="deadline")
    assert cp.tree_size == a.seq + 1 and cp.reason == "deadline"
    open_note(cp.note, [platform_verifier_key(settings)])


async def _assert_log_sound(pool):
    """Seqs gap-free, head root = RFC 9162 root of all leaves, every stored node equals its recomputation."""
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT seq, entry, leaf_hash FROM log_entries ORDER BY seq")
        assert [r["seq"] for r in rows] == list(range(len(rows)))
        leaves = [merkle.hash_leaf(bytes(r["entry"])) for r in rows]
        assert leaves == [bytes(r["leaf_hash"]) for r in rows]
        head = await c.fetchrow("SELECT size, root FROM log_head")
        assert head["size"] == len(rows) and bytes(head["root"]) == merkle.root_from_leaf_hashes(leaves)
        expected = {}
        f = merkle.Frontier()
        for h in leaves:
            for level, idx, node in f.append(h):
                expected[(level, idx)] = node
        stored = {(r["level"], r["idx"]): bytes(r["hash"]) for r in await c.fetch("SELECT * FROM log_nodes")}
        assert stored == expected
        prev_of = {}
        for r in rows:
            e = msgspec.json.decode(bytes(r["entry"]))
            if e["tender"]:
                assert e["prev"] == prev_of.get(e["tender"])
                prev_of[e["tender"]] = e["seq"]


async def test_remembered_head_survives_other_writers_and_rollbacks(pool, clock):
    t = uuid.uuid4()
    async with pool.acquire() as a, pool.acquire() as b:
        async with a.transaction():
            await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
        async with b.transaction():  # a's remembered head is now stale
            await append_entry(b, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
        async with a.transaction():
            x = await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
        assert x.seq == 2 and msgspec.json.decode(x.entry)["prev"] == 1
        with pytest.raises(RuntimeError):  # a remembers an append that is rolled back
            async with a.transaction():
                await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
                raise RuntimeError("rolled back")
        async with b.transaction():  # same size as a's phantom head, different content
            await append_entry(b, clock, Tag.ACCOUNT_LOGIN_FAIL)
        async with a.transaction():
            y = await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
            async with a.transaction():  # a savepoint that commits
                await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
            try:  # a savepoint rolled back after its append
                async with a.transaction():
                    await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, tender_id=t)
                    raise RuntimeError("savepoint rolled back")
            except RuntimeError:
                pass
            z = await append_entry(a, clock, Tag.WITNESS_NOTE_ADD, lot_id=None, tender_id=t)
        assert y.seq == 4 and z.seq == 6
    await _assert_log_sound(pool)


async def test_many_interleaved_writers_keep_the_tree_sound(pool, clock):
    tenders = [uuid.uuid4() for _ in range(3)]

    async def writer(k):
        async with pool.acquire() as c:
            for i in range(6):
                async with c.transaction():
                    await append_entry(c, clock, Tag.WITNESS_NOTE_ADD, tender_id=tenders[(k + i) % 3])
                    if (k + i) % 4 == 0:
                        await append_entries(c, clock, [Draft(tag=Tag.ACCOUNT_LOGIN_FAIL), Draft(
                            tag=Tag.WITNESS_NOTE_ADD, tender_id=tenders[i % 3])])

    await asyncio.gather(*[writer(k) for k in range(5)])
    await _assert_log_sound(pool)


_WRITER = """
import asyncio, sys, uuid
from trading import db
from trading.clock import SystemClock
from trading.records import Tag, append_entry

async def main(url, tender):
    pool = await db.create_pool(url, min_size=2, max_size=2)
    async def one(k):
        async with pool.acquire() as c:
            for i in range(15):
                async with c.transaction():
                    await append_entry(c, SystemClock(), Tag.WITNESS_NOTE_ADD, tender_id=uuid.UUID(tender),
                                       body={"k": k, "i": i})
    await asyncio.gather(one(0), one(1))
    await pool.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_several_processes_append_without_gaps(pool, database_url):
    import sys

    t = str(uuid.uuid4())
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, database_url, t) for _ in range(3)]
    assert [await p.wait() for p in procs] == [0, 0, 0]
    await _assert_log_sound(pool)
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM log_entries WHERE tender_id = $1", uuid.UUID(t)) == 90
