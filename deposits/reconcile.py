"""Running the matcher against the database: load inputs, match (pure), store the diff, move money in the
ledger between suspense and each bidder's deposit liability, freeze states at the deadline.

Matching is independent between lots (the collusion rule compares bidders of one lot), so the run walks the
lots in chunks and the unidentified credits in pages: memory stays bounded by the largest chunk, whatever the
number of transactions.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from deposits import repository as repo
from deposits.matching import (
    RULE_VERSION,
    BasicAccountIn,
    RequirementIn,
    RequirementResult,
    TxnIn,
    TxnResult,
    diff,
    match,
)
from trading.clock import Clock
from trading.records import Tag, append_entry

REQUIREMENTS_PER_CHUNK = 2000   # whole lots per chunk; a chunk holds about this many bidders
UNKNOWN_PAGE = 20000
FRESH_PER_STATEMENT = 5000  # new results (and their history rows) written per statement

_TXN_COLS = """t.id, t.account, t.direction, t.amount_fen, t.currency, t.status, t.reversal, t.reverses_id,
               t.counted_at, t.counted_precision, t.value_date, t.payer_name, t.payer_account, t.notes,
               b.code AS bank_code, m.txn_id AS cur_txn, m.requirement_id AS cur_req, m.counts AS cur_counts,
               m.flags AS cur_flags, m.detail AS cur_detail"""
# each transaction with its current result (if any), so the diff needs no second round trip
_TXN_FROM = "bank_txns t JOIN deposit_banks b ON b.id = t.bank_id LEFT JOIN deposit_matches m ON m.txn_id = t.id"


def _txn(r: asyncpg.Record) -> TxnIn:
    return TxnIn(id=r["id"], account=r["account"], direction=r["direction"], amount_fen=r["amount_fen"],
                 currency=r["currency"], status=r["status"], reversal=r["reversal"], reverses_id=r["reverses_id"],
                 counted_at=r["counted_at"], counted_precision=r["counted_precision"], value_date=r["value_date"],
                 payer_name=r["payer_name"], payer_account=r["payer_account"], notes=tuple(r["notes"]))


def _current(rows: list[asyncpg.Record]) -> dict[int, TxnResult]:
    """The stored results of these transaction rows (_TXN_COLS)."""
    return {r["id"]: TxnResult(txn_id=r["id"], requirement_id=r["cur_req"], counts=r["cur_counts"],
                               flags=tuple(r["cur_flags"]), detail=r["cur_detail"])
            for r in rows if r["cur_txn"] is not None}


def _meta(rows: list[asyncpg.Record]) -> dict[int, tuple]:
    return {r["id"]: (r["bank_code"], r["currency"], r["status"], r["amount_fen"], r["direction"]) for r in rows}


async def load_inputs(conn: asyncpg.Connection, lot_ids: list[UUID] | None = None,
                      requirement_ids: list[UUID] | None = None
                      ) -> tuple[list[TxnIn], dict[int, tuple], list[RequirementIn]]:
    """Requirements of these lots (or these requirements), and every credit or reversal to their accounts."""
    txns, meta, reqs, _, _ = await _load_chunk(conn, lot_ids, requirement_ids)
    return txns, meta, reqs


async def _load_chunk(conn: asyncpg.Connection, lot_ids: list[UUID] | None = None,
                      requirement_ids: list[UUID] | None = None, file_id: UUID | None = None
                      ) -> tuple[list[TxnIn], dict[int, tuple], list[RequirementIn], dict[int, TxnResult],
                                 dict[tuple[UUID, str], Any]]:
    """load_inputs (of these lots, these requirements, or the requirements one file can change), with the
    current result of each transaction and the current flags of each requirement (for the diff)."""
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
        return [], {}, [], {}, {}
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
    return [_txn(r) for r in rows], _meta(rows), reqs, _current(rows), flags


def _location(result: TxnResult | None, bank_code: str, currency: str) -> str:
    if result is not None and result.requirement_id is not None:
        return f"deposit:{result.requirement_id}"
    return repo.suspense_account(bank_code, currency)


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
    if file_id is not None:
        chunks: list[dict[str, Any]] = [{"file_id": file_id}]
    else:
        chunks = []
        current: list[UUID] = []
        size = 0
        for r in await conn.fetch("SELECT lot_id, count(*) AS n FROM deposit_requirements GROUP BY 1 ORDER BY 1"):
            if current and size + r["n"] > REQUIREMENTS_PER_CHUNK:
                chunks.append({"lot_ids": current})
                current, size = [], 0
            current.append(r["lot_id"])
            size += r["n"]
        if current:
            chunks.append({"lot_ids": current})

    async def store(results: dict[int, TxnResult], req_results: dict[UUID, RequirementResult],
                    meta: dict[int, tuple], current: dict[int, TxnResult], reqs: list[RequirementIn],
                    flags: dict[tuple[UUID, str], Any]) -> None:
        nonlocal part, total, frozen
        changes = diff(current, results)
        part += 1
        await _persist(conn, run_id, part, rule_version, changes, meta, now)
        await _store_requirement_flags(conn, run_id, req_results, flags)
        frozen |= await freeze_due(conn, clock, req_results, rule_version,
                                   deadlines=[r.deadline for r in reqs])
        total += len(changes)
        changed.extend(changes[:200 - len(changed)])

    chunks = [c for c in chunks if c.get("requirement_ids") != []]
    if len(chunks) == 1:
        txns, meta, reqs, current, flags = await _load_chunk(conn, **chunks[0])
        await store(*match(txns, reqs, rule_version), meta, current, reqs, flags)
    elif chunks:
        # Lots are independent: chunk k is matched (pure Python) in a worker thread while chunk k-1's results
        # are written, so PostgreSQL and the matcher work at the same time. Chunks are stored in order. Loading
        # chunk k before chunk k-1 is stored reads the same inputs: a transaction's requirement follows from its
        # (or its reversed original's, same) account, and virtual accounts are never reassigned, so no result
        # moves between lots and chunk k-1's writes touch nothing chunk k reads.
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deposits-match") as worker:
            stored_before: tuple | None = None
            for chunk in chunks:
                txns, meta, reqs, current, flags = await _load_chunk(conn, **chunk)
                matching = loop.run_in_executor(worker, match, txns, reqs, rule_version)
                try:
                    if stored_before is not None:
                        await store(*stored_before)
                finally:
                    results, req_results = await matching
                stored_before = (results, req_results, meta, current, reqs, flags)
            await store(*stored_before)
    last = 0
    while True:  # credits to no virtual account (suspense), in pages
        scope = "t.file_id = $3" if file_id is not None else "$3::uuid IS NULL"
        rows = await conn.fetch(
            f"""SELECT {_TXN_COLS} FROM {_TXN_FROM}
                 WHERE {scope} AND t.id > $1 AND (t.direction = 'CRDT' OR t.reversal)
                   AND NOT EXISTS (SELECT 1 FROM virtual_accounts v WHERE v.number = t.account)
                 ORDER BY t.id LIMIT $2""", last, UNKNOWN_PAGE, file_id)
        if not rows:
            break
        last = rows[-1]["id"]
        results, _ = match([_txn(r) for r in rows], [], rule_version)
        meta = _meta(rows)
        changes = diff(_current(rows), results)
        part += 1
        await _persist(conn, run_id, part, rule_version, changes, meta, now)
        total += len(changes)
        changed.extend(changes[:200 - len(changed)])
        if len(rows) < UNKNOWN_PAGE:
            break  # the last page: no need to ask for an empty one
    await conn.execute("UPDATE deposit_match_runs SET changed = $2 WHERE id = $1", run_id, total)
    await append_entry(conn, clock, Tag.DEPOSIT_MATCH_RUN, actor=str(actor) if actor else None, addr=addr,
                       body={"run": run_id, "rule_version": rule_version, "changed": total,
                             "frozen_lots": sorted(frozen)})
    return {"run": run_id, "rule_version": rule_version, "changed": total, "frozen_lots": sorted(frozen),
            "diff": [{"txn": new.txn_id, "before": msgspec.to_builtins(old) if old else None,
                      "after": msgspec.to_builtins(new)} for old, new in changed]}


async def _persist(conn: asyncpg.Connection, run_id: int, part: int, rule_version: str,
                   changes: list[tuple[TxnResult | None, TxnResult]], meta: dict[int, tuple], now: datetime) -> None:
    if not changes:
        return
    enc = msgspec.json.Encoder()
    # A transaction without a stored result (all of them on a first run, the new one on a notification):
    # inserted with its history row in one statement, no staging table, no ON CONFLICT. run_matching holds
    # the matching lock and has just read the current results, so no row for these transactions exists.
    fresh_all = [new for old, new in changes if old is None]
    for at in range(0, len(fresh_all), FRESH_PER_STATEMENT):  # slices: the statement's arguments stay small
        fresh = fresh_all[at:at + FRESH_PER_STATEMENT]
        await conn.execute(
            """WITH u AS (
                   SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::boolean[], $4::text[], $5::text[])
                          AS u(txn_id, requirement_id, counts, flags, detail)),
               m AS (
                   INSERT INTO deposit_matches (txn_id, requirement_id, counts, flags, detail, run_id, rule_version)
                   SELECT txn_id, requirement_id, counts, string_to_array(flags, ','), detail::jsonb, $6, $7 FROM u)
               INSERT INTO deposit_match_history (run_id, txn_id, before, after)
               SELECT $6, txn_id, NULL, jsonb_build_object('requirement_id', requirement_id, 'counts', counts,
                      'flags', string_to_array(flags, ','), 'detail', detail::jsonb) FROM u""",
            [r.txn_id for r in fresh], [r.requirement_id for r in fresh], [r.counts for r in fresh],
            [",".join(r.flags) for r in fresh], [enc.encode(r.detail).decode() for r in fresh], run_id, rule_version)
    redone = [(old, new) for old, new in changes if old is not None]
    if redone:
        # emptied with DELETE, not TRUNCATE (which rewrites the relation and its catalog rows, ~3 ms per call)
        await conn.execute("""CREATE TEMP TABLE IF NOT EXISTS deposit_match_tmp (txn_id bigint, requirement_id uuid,
                counts boolean, flags text[], detail text, before text) ON COMMIT DELETE ROWS;
            DELETE FROM deposit_match_tmp""")
        await conn.copy_records_to_table("deposit_match_tmp", records=[
            (new.txn_id, new.requirement_id, new.counts, list(new.flags), enc.encode(new.detail).decode(),
             enc.encode(old).decode()) for old, new in redone],
            columns=("txn_id", "requirement_id", "counts", "flags", "detail", "before"))
        await conn.execute(
            """UPDATE deposit_matches m SET requirement_id = t.requirement_id, counts = t.counts, flags = t.flags,
                      detail = t.detail::jsonb, run_id = $1, rule_version = $2
                 FROM deposit_match_tmp t WHERE m.txn_id = t.txn_id""", run_id, rule_version)
        await conn.execute(
            """INSERT INTO deposit_match_history (run_id, txn_id, before, after)
               SELECT $1, txn_id, before::jsonb, jsonb_build_object('requirement_id', requirement_id,
                      'counts', counts, 'flags', flags, 'detail', detail::jsonb) FROM deposit_match_tmp""", run_id)
    await _move_money(conn, f"match:{run_id}:{part}", changes, meta, now)


async def _move_money(conn: asyncpg.Connection, key: str, changes: list[tuple[TxnResult | None, TxnResult]],
                      meta: dict[int, tuple], now: datetime) -> None:
    """Booked money follows its match: suspense ⇄ deposit:{requirement}. One journal per chunk of a run."""
    lines: list[tuple[str, str, int, int | None]] = []
    suspense: dict[tuple[str, str], int] = defaultdict(int)
    for old, new in changes:
        bank_code, currency, status, amount_fen, direction = meta[new.txn_id]
        if status != "BOOK":
            continue
        src = _location(old, bank_code, currency)
        dst = _location(new, bank_code, currency)
        if src == dst:
            continue
        # a credit is a liability: leaving src is a debit there, arriving in dst a credit; a debit the reverse
        amount = amount_fen if direction == "CRDT" else -amount_fen
        for acct, signed in ((src, amount), (dst, -amount)):
            if acct.startswith("suspense:"):
                suspense[(acct, currency)] += signed
            else:
                lines.append((acct, currency, signed, new.txn_id))
    lines.extend((acct, ccy, v, None) for (acct, ccy), v in suspense.items() if v)
    if not lines:
        return
    lines = [line for line in lines if line[2] != 0]
    if len(lines) <= 500:  # a notification's few lines: journal and postings in one statement
        await conn.execute(
            """WITH j AS (INSERT INTO ledger_journals (idem_key, kind, booked_on, memo, created_at)
                          VALUES ($1, 'match', NULL, 'allocation by matching run', $2) RETURNING id)
               INSERT INTO ledger_postings (journal_id, account, currency, debit_fen, credit_fen, txn_id)
               SELECT j.id, u.* FROM j, unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) u""",
            key, now, [a for a, _, _, _ in lines], [c for _, c, _, _ in lines], [max(v, 0) for _, _, v, _ in lines],
            [max(-v, 0) for _, _, v, _ in lines], [t for _, _, _, t in lines])
        return
    jid = await conn.fetchval(
        """INSERT INTO ledger_journals (idem_key, kind, booked_on, memo, created_at)
           VALUES ($1, 'match', NULL, 'allocation by matching run', $2) RETURNING id""", key, now)
    await conn.copy_records_to_table(
        "ledger_postings", columns=("journal_id", "account", "currency", "debit_fen", "credit_fen", "txn_id"),
        records=[(jid, a, c, max(v, 0), max(-v, 0), t) for a, c, v, t in lines if v != 0])


async def _store_requirement_flags(conn: asyncpg.Connection, run_id: int,
                                   req_results: dict[UUID, RequirementResult],
                                   current: dict[tuple[UUID, str], Any]) -> None:
    """current: the stored flags of these requirements, (requirement, flag) → detail (loaded with them)."""
    wanted = {(rid, f): d for rid, rr in req_results.items() for f, d in rr.flags.items()}
    gone = [k for k in current if k not in wanted]
    if gone:
        await conn.execute(
            """DELETE FROM deposit_requirement_flags f USING unnest($1::uuid[], $2::text[]) AS g(r, flag)
                WHERE f.requirement_id = g.r AND f.flag = g.flag""", [g[0] for g in gone], [g[1] for g in gone])
    upd = [(rid, f, d) for (rid, f), d in wanted.items() if current.get((rid, f)) != d]
    if upd:
        enc = msgspec.json.Encoder()
        await conn.execute(
            """INSERT INTO deposit_requirement_flags (requirement_id, flag, detail, run_id)
               SELECT r, flag, detail::jsonb, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(r, flag, detail)
               ON CONFLICT (requirement_id, flag) DO UPDATE SET detail = EXCLUDED.detail, run_id = EXCLUDED.run_id""",
            [u[0] for u in upd], [u[1] for u in upd], [enc.encode(u[2]).decode() for u in upd], run_id)


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
