"""Running the matcher against the database: load inputs, match (pure), store the diff, move money in the
ledger between suspense and each bidder's deposit liability, freeze states at the deadline.

Matching is independent between lots (the collusion rule compares bidders of one lot), so the run walks the
lots in chunks and the unidentified credits in pages. A lot with more credits than TXNS_PER_CHUNK is matched in
pages of whole requirements instead, each given the lot's collusion map (one streamed query per lot,
_LOT_PAYERS): memory stays bounded by the chunk size whatever the number of transactions (a single requirement
with more credits than that is still one page; the map holds the lot's distinct payer accounts).
"""
from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from deposits.matching import (
    RULE_VERSION,
    BasicAccountIn,
    RequirementIn,
    RequirementResult,
    TxnIn,
    TxnResult,
    diff,
    match,
    normalise_account,
)
from trading.clock import Clock
from trading.records import Tag, append_entry

REQUIREMENTS_PER_CHUNK = 2000   # whole lots per chunk; a chunk holds about this many bidders
TXNS_PER_CHUNK = 15000          # a lot with more credits is matched in pages of whole requirements
UNKNOWN_PAGE = 20000

_TXN_COLS = """t.id, t.account, t.direction, t.amount_fen, t.currency, t.status, t.reversal, t.reverses_id,
               t.counted_at, t.counted_precision, t.value_date, t.payer_name, t.payer_account, t.notes,
               b.code AS bank_code, m.txn_id AS cur_txn, m.requirement_id AS cur_req, m.counts AS cur_counts,
               m.flags AS cur_flags, m.detail AS cur_detail"""
# each transaction with its current result (if any), so the diff needs no second round trip; _inputs unpacks
# the columns in this order
_TXN_FROM = "bank_txns t JOIN deposit_banks b ON b.id = t.bank_id LEFT JOIN deposit_matches m ON m.txn_id = t.id"


def _inputs(rows: list[asyncpg.Record]) -> tuple[list[TxnIn], dict[int, tuple], dict[int, TxnResult]]:
    """The matcher's transactions, their ledger facts (bank, currency, status, amount, direction) and their
    stored results, from rows of _TXN_COLS in one pass (a record unpacked once, not read field by field)."""
    txns: list[TxnIn] = []
    meta: dict[int, tuple] = {}
    current: dict[int, TxnResult] = {}
    for (tid, account, direction, amount_fen, currency, status, reversal, reverses_id, counted_at, precision,
         value_date, payer_name, payer_account, notes, bank_code, cur_txn, cur_req, cur_counts, cur_flags,
         cur_detail) in rows:
        txns.append(TxnIn(id=tid, account=account, direction=direction, amount_fen=amount_fen, currency=currency,
                          status=status, reversal=reversal, reverses_id=reverses_id, counted_at=counted_at,
                          counted_precision=precision, value_date=value_date, payer_name=payer_name,
                          payer_account=payer_account, notes=tuple(notes)))
        meta[tid] = (bank_code, currency, status, amount_fen, direction)
        if cur_txn is not None:
            current[tid] = TxnResult(txn_id=tid, requirement_id=cur_req, counts=cur_counts, flags=tuple(cur_flags),
                                     detail=cur_detail)
    return txns, meta, current


async def load_inputs(conn: asyncpg.Connection, lot_ids: list[UUID] | None = None,
                      requirement_ids: list[UUID] | None = None
                      ) -> tuple[list[TxnIn], dict[int, tuple], list[RequirementIn]]:
    """Requirements of these lots (or these requirements), and every credit or reversal to their accounts."""
    rows, reqs, _ = await _load_chunk(conn, lot_ids, requirement_ids)
    txns, meta, _ = _inputs(rows)
    return txns, meta, reqs


async def _load_chunk(conn: asyncpg.Connection, lot_ids: list[UUID] | None = None,
                      requirement_ids: list[UUID] | None = None, file_id: UUID | None = None
                      ) -> tuple[list[asyncpg.Record], list[RequirementIn], dict[tuple[UUID, str], Any]]:
    """load_inputs (of these lots, these requirements, or the requirements one file can change), with the
    current result of each transaction and the current flags of each requirement (for the diff). The
    transactions come as rows of _TXN_COLS (_inputs turns them into the matcher's; a bulk run does that in its
    worker thread)."""
    # by primary key when the requirements are named, else by lot
    if file_id is not None:
        where, arg = f"r.id IN ({_RELATED})", file_id
    elif requirement_ids is not None:
        where, arg = "r.id = ANY($1::uuid[])", requirement_ids
    else:
        where, arg = "r.lot_id = ANY($1::uuid[])", lot_ids
    req_rows = await conn.fetch(
        f"""SELECT r.id, r.lot_id, r.org_id, o.name AS org_name, r.amount_fen, t.bid_deadline,
                  (t.regime = 'bidding_law' AND t.must_tender) AS basic_rule,
                  array(SELECT v.number FROM virtual_accounts v WHERE v.requirement_id = r.id) AS accounts,
                  EXISTS (SELECT 1 FROM deposit_guarantees g WHERE g.requirement_id = r.id
                             AND g.registered_at <= t.bid_deadline AND g.amount_fen >= r.amount_fen
                             AND g.valid_from <= (t.bid_deadline AT TIME ZONE 'Asia/Shanghai')::date
                             AND g.valid_until >= (t.bid_deadline AT TIME ZONE 'Asia/Shanghai')::date)
                      AS guarantee_ok,
                  array(SELECT ROW(b.account_number, b.valid_from, b.valid_until) FROM basic_accounts b
                         WHERE b.org_id = r.org_id) AS basics,
                  (SELECT jsonb_object_agg(f.flag, f.detail) FROM deposit_requirement_flags f
                    WHERE f.requirement_id = r.id) AS flags
             FROM deposit_requirements r JOIN lots l ON l.id = r.lot_id JOIN tenders t ON t.id = l.tender_id
             JOIN organisations o ON o.id = r.org_id
            WHERE {where}""", arg)
    if not req_rows:
        return [], [], {}
    flags = {(r["id"], f): d for r in req_rows if r["flags"] for f, d in r["flags"].items()}
    waived: dict[Any, set[tuple[Any, str]]] = defaultdict(set)
    for d in await conn.fetch(
            """SELECT DISTINCT ON (coalesce(d.txn_id::text, d.requirement_id::text), d.flag)
                      d.txn_id, d.requirement_id, d.flag, d.decision, coalesce(m.requirement_id, d.requirement_id) AS req
                 FROM deposit_flag_decisions d LEFT JOIN deposit_matches m ON m.txn_id = d.txn_id
                WHERE coalesce(m.requirement_id, d.requirement_id) = ANY($1::uuid[])
                ORDER BY coalesce(d.txn_id::text, d.requirement_id::text), d.flag, d.decided_at DESC, d.id""",
            [r["id"] for r in req_rows]):
        if d["decision"] == "waive":
            waived[d["req"]].add((d["txn_id"] if d["txn_id"] is not None else d["requirement_id"], d["flag"]))
    reqs = [RequirementIn(id=r["id"], lot_id=r["lot_id"], org_id=r["org_id"], org_name=r["org_name"],
                          amount_fen=r["amount_fen"], deadline=r["bid_deadline"], basic_account_rule=r["basic_rule"],
                          basic_accounts=tuple(BasicAccountIn(*b) for b in r["basics"]),
                          virtual_accounts=tuple(r["accounts"]),
                          guarantee_ok=r["guarantee_ok"], waived=frozenset(waived.get(r["id"], ())))
            for r in req_rows]
    accounts = [a for r in reqs for a in r.virtual_accounts]
    rows = await conn.fetch(
        f"""SELECT {_TXN_COLS} FROM {_TXN_FROM}
             WHERE t.account = ANY($1::text[]) AND (t.direction = 'CRDT' OR t.reversal)""", accounts)
    return rows, reqs, flags


# The requirements whose result can change because of file $1's transactions: those credited, and the other
# bidders of the same lot paid from the same payer accounts (the collusion rule).
_RELATED = """WITH direct AS (
               SELECT DISTINCT v.requirement_id FROM bank_txns t JOIN virtual_accounts v ON v.number = t.account
                WHERE t.file_id = $1),
           payers AS (
               SELECT DISTINCT t.payer_account, r.lot_id FROM bank_txns t
                 JOIN virtual_accounts v ON v.number = t.account
                 JOIN deposit_requirements r ON r.id = v.requirement_id
                WHERE v.requirement_id IN (SELECT requirement_id FROM direct) AND t.payer_account IS NOT NULL)
           SELECT requirement_id FROM direct
           UNION
           SELECT v.requirement_id FROM payers p
             JOIN bank_txns t ON t.payer_account = p.payer_account AND t.payer_account IS NOT NULL  -- partial index
             JOIN virtual_accounts v ON v.number = t.account
             JOIN deposit_requirements r ON r.id = v.requirement_id AND r.lot_id = p.lot_id"""


async def related_requirements(conn: asyncpg.Connection, file_id: UUID) -> list[UUID]:
    """The requirements whose result can change because of this file's transactions (_RELATED)."""
    return [r["requirement_id"] for r in await conn.fetch(_RELATED, file_id)]


async def run_matching(conn: asyncpg.Connection, clock: Clock, *, actor: UUID | None = None,
                       addr: str | None = None, rule_version: str = RULE_VERSION,
                       file_id: UUID | None = None) -> dict[str, Any]:
    """Match everything (or only what one imported file can change), store what changed, freeze requirements
    whose deadline has passed. The incremental form gives the same results as a full run for that file's
    transactions; the daily full run re-checks everything."""
    now = clock.now()
    # One matching run at a time (the lock is taken before the run row is written, same statement). No JIT for
    # the rest of the transaction: the per-requirement subqueries push the planner's estimate of the requirement
    # query past jit_above_cost, and compiling it cost ~0.5 s per chunk (more than running it).
    run_id = await conn.fetchval(
        """INSERT INTO deposit_match_runs (rule_version, started_at, actor)
           SELECT $1, $2, $3 FROM (SELECT pg_advisory_xact_lock(hashtext('deposits:match')),
                                          set_config('jit', 'off', true)) l RETURNING id""",
        rule_version, now, actor)
    changed: list[tuple[TxnResult | None, TxnResult]] = []
    total = 0
    frozen: set[str] = set()
    part = 0
    chunks = [{"file_id": file_id}] if file_id is not None else await _full_run_chunks(conn)

    async def store(prepared: _Prepared) -> None:
        nonlocal part, total, frozen
        part += 1
        await _persist(conn, run_id, part, rule_version, prepared.rows, now)
        await _store_requirement_flags(conn, run_id, prepared.flags_gone, prepared.flags_set)
        frozen |= await freeze_due(conn, clock, prepared.req_results, rule_version, deadlines=prepared.deadlines)
        total += len(prepared.changes)
        changed.extend(prepared.changes[:200 - len(changed)])

    async with aclosing(_loaded_chunks(conn, [c for c in chunks if c.get("requirement_ids") != []],
                                       file_id)) as loaded:
        await _match_chunks(loaded, store, rule_version, pipelined=file_id is None)
    await conn.execute("UPDATE deposit_match_runs SET changed = $2 WHERE id = $1", run_id, total)
    await append_entry(conn, clock, Tag.DEPOSIT_MATCH_RUN, actor=str(actor) if actor else None, addr=addr,
                       body={"run": run_id, "rule_version": rule_version, "changed": total,
                             "frozen_lots": sorted(frozen)})
    return {"run": run_id, "rule_version": rule_version, "changed": total, "frozen_lots": sorted(frozen),
            "diff": [{"txn": new.txn_id, "before": msgspec.to_builtins(old) if old else None,
                      "after": msgspec.to_builtins(new)} for old, new in changed]}


async def _full_run_chunks(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """A full run's chunks: whole lots while they are small (up to REQUIREMENTS_PER_CHUNK bidders and
    TXNS_PER_CHUNK credits together), and a lot with more credits than TXNS_PER_CHUNK in pages of whole
    requirements ({"requirement_ids", "lot_id"}: the lot's collusion map comes with each page)."""
    lots: dict[UUID, list[tuple[UUID, int]]] = defaultdict(list)
    for r in await conn.fetch(
            """SELECT r.lot_id, r.id, count(t.id) AS n FROM deposit_requirements r
                 LEFT JOIN virtual_accounts v ON v.requirement_id = r.id
                 LEFT JOIN bank_txns t ON t.account = v.number AND (t.direction = 'CRDT' OR t.reversal)
                GROUP BY r.lot_id, r.id ORDER BY r.lot_id, r.id"""):
        lots[r["lot_id"]].append((r["id"], r["n"]))
    chunks: list[dict[str, Any]] = []
    current: list[UUID] = []
    size = txns = 0
    for lot_id, reqs in lots.items():
        n = sum(k for _, k in reqs)
        if n > TXNS_PER_CHUNK:
            page: list[UUID] = []
            in_page = 0
            for rid, k in reqs:
                if page and in_page + k > TXNS_PER_CHUNK:
                    chunks.append({"requirement_ids": page, "lot_id": lot_id})
                    page, in_page = [], 0
                page.append(rid)
                in_page += k
            chunks.append({"requirement_ids": page, "lot_id": lot_id})
            continue
        if current and (size + len(reqs) > REQUIREMENTS_PER_CHUNK or txns + n > TXNS_PER_CHUNK):
            chunks.append({"lot_ids": current})
            current, size, txns = [], 0, 0
        current.append(lot_id)
        size += len(reqs)
        txns += n
    if current:
        chunks.append({"lot_ids": current})
    return chunks


# The payers of a lot's credits that the collusion rule counts (matching.match: booked credits to a bidder's
# virtual account, not reversed — a reversal is on its original's account, see repository.link_reversals).
_LOT_PAYERS = """SELECT DISTINCT r.org_id, t.payer_account
                   FROM deposit_requirements r
                   JOIN virtual_accounts v ON v.requirement_id = r.id
                   JOIN bank_txns t ON t.account = v.number
                  WHERE r.lot_id = $1 AND t.direction = 'CRDT' AND NOT t.reversal AND t.status = 'BOOK'
                    AND t.payer_account IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM bank_txns x WHERE x.reverses_id = t.id AND x.reversal)"""


async def lot_colluding(conn: asyncpg.Connection, lot_id: UUID) -> dict[tuple[UUID, str], frozenset[UUID]]:
    """(lot, normalised payer account) → the bidders it paid for, where more than one (条例 第四十条(六)); streamed,
    so memory holds the lot's distinct payer accounts, not its credits. Needs the caller's transaction."""
    payers: dict[str, set[UUID]] = defaultdict(set)
    async for r in conn.cursor(_LOT_PAYERS, lot_id, prefetch=10000):
        acct = normalise_account(r["payer_account"])
        if acct:
            payers[acct].add(r["org_id"])
    return {(lot_id, acct): frozenset(orgs) for acct, orgs in payers.items() if len(orgs) > 1}


class _Prepared(NamedTuple):
    """One chunk matched and turned into what its store writes (all pure Python, done off the event loop)."""
    changes: list[tuple[TxnResult | None, TxnResult]]
    rows: list[tuple]                           # _STAGED_CHANGES
    req_results: dict[UUID, RequirementResult]
    deadlines: list[datetime]
    flags_gone: list[tuple[UUID, str]]
    flags_set: list[tuple[UUID, str, str]]      # (requirement, flag, detail as JSON)


def _prepare(inputs: tuple, rule_version: str) -> _Prepared:
    rows, reqs, flags, colluding = inputs
    txns, meta, current = _inputs(rows)
    results, req_results = match(txns, reqs, rule_version, colluding=colluding)
    changes = diff(current, results)
    gone, upd = _requirement_flag_changes(req_results, flags)
    return _Prepared(changes, _change_rows(changes, meta), req_results, [r.deadline for r in reqs], gone, upd)


async def _match_chunks(loaded: AsyncIterator[tuple], store: Callable[[_Prepared], Awaitable[None]],
                        rule_version: str, *, pipelined: bool) -> None:
    if not pipelined:  # a notification's few rows: no thread hand-offs on the latency path
        async for inputs in loaded:
            await store(_prepare(inputs, rule_version))
        return
    # Lots are independent: chunk k is matched and its rows built (pure Python) in a worker thread while chunk
    # k-1's results are written and chunk k+1 is read, so PostgreSQL and Python work at the same time; the
    # credits to no virtual account follow as chunks of their own. Chunks are stored in order. Reading chunk
    # k+1 before chunk k is stored reads the same inputs: a transaction's requirement follows from its (or its
    # reversed original's, same) account, and virtual accounts are never reassigned, so no result moves between
    # lots and chunk k's writes touch nothing chunk k+1 reads. Memory: three chunks at most (the one being
    # written, the one matched, the one read).
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deposits-match") as worker:
        stored_before: _Prepared | None = None
        inputs = await anext(loaded, None)
        while inputs is not None:
            preparing = loop.run_in_executor(worker, _prepare, inputs, rule_version)
            try:
                if stored_before is not None:
                    await store(stored_before)
                inputs = await anext(loaded, None)
            finally:
                stored_before = await preparing
        if stored_before is not None:
            await store(stored_before)


async def _loaded_chunks(conn: asyncpg.Connection, chunks: list[dict[str, Any]], file_id: UUID | None
                         ) -> AsyncIterator[tuple]:
    """The matcher's inputs chunk by chunk (_load_chunk, plus the lot's collusion map for a page of a large lot),
    then the credits to no virtual account (suspense) of the whole bank (or of one file) in pages, each page a
    chunk without requirements."""
    map_lot: UUID | None = None
    colluding: dict[tuple[UUID, str], frozenset[UUID]] | None = None
    for chunk in chunks:
        lot_id = chunk.get("lot_id")
        if lot_id is None:
            yield (*await _load_chunk(conn, **chunk), None)
            continue
        if lot_id != map_lot:
            map_lot, colluding = lot_id, await lot_colluding(conn, lot_id)
        yield (*await _load_chunk(conn, requirement_ids=chunk["requirement_ids"]), colluding)
    scope = "t.file_id = $3" if file_id is not None else "$3::uuid IS NULL"
    last = 0
    while True:
        rows = await conn.fetch(
            f"""SELECT {_TXN_COLS} FROM {_TXN_FROM}
                 WHERE {scope} AND t.id > $1 AND (t.direction = 'CRDT' OR t.reversal)
                   AND NOT EXISTS (SELECT 1 FROM virtual_accounts v WHERE v.number = t.account)
                 ORDER BY t.id LIMIT $2""", last, UNKNOWN_PAGE, file_id)
        if not rows:
            return
        last = rows[-1]["id"]
        yield rows, [], {}, None
        if len(rows) < UNKNOWN_PAGE:
            return  # the last page: no need to ask for an empty one


# One matching chunk's changes, written set-based by one statement from a staged set `s` (below): the results
# (a transaction without a stored result is inserted — no upsert: run_matching holds the matching lock and has
# just read the current results —, a changed one updated), one history row per change, and the money that
# follows the matches: booked money moves between suspense:{bank}:{ccy} and deposit:{requirement} — a credit is
# a liability, so leaving an account is a debit there and arriving a credit; a debit the reverse —, one
# posting per transaction on a deposit account, the suspense side summed per account, all in one journal per
# chunk (created only when something moves). `booked_fen` is the signed amount when the matcher saw the
# transaction booked, else NULL (nothing moves).
_WRITE_CHANGES = """
    WITH s AS MATERIALIZED (
        SELECT txn_id, requirement_id, counts, string_to_array(flags, ',') AS flags, detail::jsonb AS detail,
               before::jsonb AS before, old_requirement_id, booked_fen, currency, bank_code
          FROM {source}),
    fresh AS (
        INSERT INTO deposit_matches (txn_id, requirement_id, counts, flags, detail, run_id, rule_version)
        SELECT txn_id, requirement_id, counts, flags, detail, $1, $2 FROM s WHERE before IS NULL),
    redone AS (
        UPDATE deposit_matches m SET requirement_id = s.requirement_id, counts = s.counts, flags = s.flags,
               detail = s.detail, run_id = $1, rule_version = $2
          FROM s WHERE s.before IS NOT NULL AND m.txn_id = s.txn_id),
    history AS (
        INSERT INTO deposit_match_history (run_id, txn_id, before, after)
        SELECT $1, txn_id, before, jsonb_build_object('requirement_id', requirement_id, 'counts', counts,
               'flags', flags, 'detail', detail) FROM s),
    moved AS (  -- src/dst NULL: suspense
        SELECT txn_id, currency, booked_fen, 'deposit:' || old_requirement_id AS src, 'deposit:' || requirement_id AS dst,
               'suspense:' || bank_code || ':' || currency AS suspense
          FROM s WHERE booked_fen IS NOT NULL AND old_requirement_id IS DISTINCT FROM requirement_id),
    posted AS (
        SELECT * FROM (
            SELECT src AS account, currency, booked_fen AS signed, txn_id FROM moved WHERE src IS NOT NULL
            UNION ALL
            SELECT dst, currency, -booked_fen, txn_id FROM moved WHERE dst IS NOT NULL
            UNION ALL
            SELECT suspense, currency, sum(CASE WHEN src IS NULL THEN booked_fen ELSE 0 END
                                           - CASE WHEN dst IS NULL THEN booked_fen ELSE 0 END), NULL
              FROM moved GROUP BY suspense, currency) l
         WHERE signed <> 0),
    journal AS (
        INSERT INTO ledger_journals (idem_key, kind, booked_on, memo, created_at)
        SELECT $3, 'match', NULL, 'allocation by matching run', $4 WHERE EXISTS (SELECT 1 FROM posted) RETURNING id)
    INSERT INTO ledger_postings (journal_id, account, currency, debit_fen, credit_fen, txn_id)
    SELECT journal.id, account, currency, greatest(signed, 0), greatest(-signed, 0), txn_id FROM journal, posted"""
_STAGED_CHANGES = ("txn_id", "requirement_id", "counts", "flags", "detail", "before", "old_requirement_id",
                   "booked_fen", "currency", "bank_code")
SMALL_WRITE = 64  # a notification's few changes travel as statement arguments; more are COPYed to the stage


def _change_rows(changes: list[tuple[TxnResult | None, TxnResult]], meta: dict[int, tuple]) -> list[tuple]:
    """The staged rows (_STAGED_CHANGES) of a chunk's changes; meta: txn id → (bank code, currency, status,
    amount, direction) as the matcher saw them."""
    enc = msgspec.json.Encoder()
    rows = []
    for old, new in changes:
        bank_code, currency, status, amount_fen, direction = meta[new.txn_id]
        rows.append((new.txn_id, new.requirement_id, new.counts, ",".join(new.flags), enc.encode(new.detail).decode(),
                     None if old is None else enc.encode(old).decode(), None if old is None else old.requirement_id,
                     None if status != "BOOK" else amount_fen if direction == "CRDT" else -amount_fen, currency,
                     bank_code))
    return rows


async def _persist(conn: asyncpg.Connection, run_id: int, part: int, rule_version: str, rows: list[tuple],
                   now: datetime) -> None:
    """Write one chunk's changes (_WRITE_CHANGES)."""
    if not rows:
        return
    head = (run_id, rule_version, f"match:{run_id}:{part}", now)
    if len(rows) <= SMALL_WRITE:
        types = ("bigint", "uuid", "boolean", "text", "text", "text", "uuid", "bigint", "text", "text")
        source = "unnest({}) AS u({})".format(", ".join(f"${i + 5}::{t}[]" for i, t in enumerate(types)),
                                            ", ".join(_STAGED_CHANGES))
        await conn.execute(_WRITE_CHANGES.format(source=source), *head, *(list(col) for col in zip(*rows)))
        return
    # The per-connection stage (no per-element argument encoding; JSON travels as text: the app's pool decodes
    # jsonb in text format, which COPY's binary rows cannot carry), created once and emptied at every commit;
    # emptied with DELETE, not TRUNCATE (which rewrites the relation and its catalog rows, ~3 ms per call).
    await conn.execute("""CREATE TEMP TABLE IF NOT EXISTS deposit_match_stage (txn_id bigint, requirement_id uuid,
            counts boolean, flags text, detail text, before text, old_requirement_id uuid, booked_fen bigint,
            currency text, bank_code text) ON COMMIT DELETE ROWS;
        DELETE FROM deposit_match_stage""")
    await conn.copy_records_to_table("deposit_match_stage", records=rows, columns=_STAGED_CHANGES)
    await conn.execute(_WRITE_CHANGES.format(source="deposit_match_stage"), *head)


def _requirement_flag_changes(req_results: dict[UUID, RequirementResult], current: dict[tuple[UUID, str], Any]
                              ) -> tuple[list[tuple[UUID, str]], list[tuple[UUID, str, str]]]:
    """current: the stored flags of these requirements, (requirement, flag) → detail (loaded with them).
    Returns the flags to delete and the flags to write (detail as JSON)."""
    wanted = {(rid, f): d for rid, rr in req_results.items() for f, d in rr.flags.items()}
    gone = [k for k in current if k not in wanted]
    enc = msgspec.json.Encoder()
    upd = [(rid, f, enc.encode(d).decode()) for (rid, f), d in wanted.items() if current.get((rid, f)) != d]
    return gone, upd


async def _store_requirement_flags(conn: asyncpg.Connection, run_id: int, gone: list[tuple[UUID, str]],
                                   upd: list[tuple[UUID, str, str]]) -> None:
    if gone:
        await conn.execute(
            """DELETE FROM deposit_requirement_flags f USING unnest($1::uuid[], $2::text[]) AS g(r, flag)
                WHERE f.requirement_id = g.r AND f.flag = g.flag""", [g[0] for g in gone], [g[1] for g in gone])
    if upd:
        await conn.execute(
            """INSERT INTO deposit_requirement_flags (requirement_id, flag, detail, run_id)
               SELECT r, flag, detail::jsonb, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(r, flag, detail)
               ON CONFLICT (requirement_id, flag) DO UPDATE SET detail = EXCLUDED.detail, run_id = EXCLUDED.run_id""",
            [u[0] for u in upd], [u[1] for u in upd], [u[2] for u in upd], run_id)


async def freeze_due(conn: asyncpg.Connection, clock: Clock, req_results: dict[UUID, RequirementResult],
                     rule_version: str = RULE_VERSION, *, deadlines: list[datetime] | None = None) -> set[str]:
    """At the deadline each requirement's state freezes (once); it feeds the opening record. `deadlines`: the
    requirements' bid deadlines when the caller has them — none passed means nothing to look up."""
    now = clock.now()
    if deadlines is not None and not any(d <= now for d in deadlines):
        return set()
    due = await conn.fetch(
        """SELECT r.id, r.lot_id, t.bid_deadline, t.id AS tender_id FROM deposit_requirements r
             JOIN lots l ON l.id = r.lot_id JOIN tenders t ON t.id = l.tender_id
            WHERE r.id = ANY($2::uuid[]) AND t.bid_deadline <= $1
              AND NOT EXISTS (SELECT 1 FROM deposit_states s WHERE s.requirement_id = r.id)""",
        now, list(req_results))
    lots: dict[UUID, list] = defaultdict(list)
    for r in due:
        lots[r["lot_id"]].append((r, req_results[r["id"]]))
    if due:
        await conn.executemany(
            """INSERT INTO deposit_states (requirement_id, state, paid_fen, flags, frozen_at, rule_version)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
            [(r["id"], rr.state, rr.paid_fen, sorted(rr.flags), r["bid_deadline"], rule_version)
             for items in lots.values() for r, rr in items])
    for lot_id, items in lots.items():
        counts: dict[str, int] = defaultdict(int)
        for _, rr in items:
            counts[rr.state] += 1
        # counts and a hash of the (requirement, state) list: the body stays small however many bidders
        lines = "\n".join(sorted(f"{r['id']}:{rr.state}:{rr.paid_fen}" for r, rr in items))
        await append_entry(conn, clock, Tag.DEPOSIT_STATE_FREEZE, lot_id=lot_id, tender_id=items[0][0]["tender_id"],
                           body={"counts": dict(counts), "states_sha256": hashlib.sha256(lines.encode()).hexdigest()})
    return {str(x) for x in lots}
