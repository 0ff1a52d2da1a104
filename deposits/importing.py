"""Statement import: a whole file in the caller's transaction, idempotent at file and transaction level.

File level: the same bytes (sha256) → nothing changes; the same bank message id with other bytes → refused
(FileMessageConflict) for a person to look at; a statement already seen (account + statement id + sequence +
page) is not duplicated. Transaction level: key = the bank's own serial, else the entry's AcctSvcrRef + index,
else a content hash + its occurrence in the file. The same key with the same content is a duplicate (e.g. a
camt.054 notification and then the camt.053 statement); with other content it is recorded in
deposit_txn_conflicts and shown to finance, never overwritten. A pending/INFO entry later booked is promoted.

Imports of one bank are serialised (a transaction-level advisory lock), so a batch's keys are looked up once
(one index probe per key, one statement) and the rows no earlier file or batch holds are COPYed straight into
bank_txns; only the rare keys seen before (duplicates, conflicts, promotions) go through a staging table and
the set-based conflict/promotion SQL. Memory stays bounded by one batch whatever the file size.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from datetime import datetime, time
from pathlib import Path
from typing import IO
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from deposits import refunds
from deposits import repository as repo
from deposits.errors import BankFormatNotAgreed, FileMessageConflict, FileTooLarge
from deposits.parsing import ParsedFile, ParsedStatement, ParsedTxn, parse_file
from deposits.schemas import Bank, ImportResult
from trading.clock import Clock
from trading.records import Tag, append_entry

MAX_FILE_BYTES = 1024 * 1024 * 1024
BATCH = 5000
PARSE_AHEAD_BYTES = 256 * 1024  # files from this size are parsed in a worker thread, one batch ahead

STAGED_COLUMNS = ("seq", "txn_key", "content_hash", "statement_id", "account", "direction", "amount_fen",
               "currency", "status", "reversal", "booking_date", "booked_at", "value_date", "accepted_at",
               "counted_at", "counted_precision", "payer_name", "payer_account", "payer_bank", "bank_ref",
               "entry_ref", "end_to_end_id", "instr_id", "remittance", "notes")
# a bank_txns row as COPYed: the file's constants first, then the staged columns without seq
TXN_COLUMNS = ("bank_id", "file_id", "created_at") + STAGED_COLUMNS[1:]


def file_sha256(f: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    f.seek(0)
    while block := f.read(1024 * 1024):
        h.update(block)
        size += len(block)
    f.seek(0)
    return h.hexdigest(), size


def _format_family(fmt: str) -> str:
    return fmt[:8] if fmt.startswith("camt") else fmt.split("/")[0]


def counted_time(t: ParsedTxn, basis: str, tz: ZoneInfo) -> tuple[datetime | None, str]:
    """The bank time an entry counts by against the bid deadline, and its precision.

    A bank that gives only a date is counted at the end of that day (Asia/Shanghai unless configured): a
    credit dated on the deadline day is therefore LATE for a person to confirm with the bank — never the
    reverse, where a late payment would slip in.
    """
    if basis == "booking":
        moment = t.booked_at
    elif basis == "acceptance":
        moment = t.accepted_at or t.booked_at
    elif basis == "value":
        moment = None
    else:
        raise KeyError(basis)
    if moment is not None:
        return moment, "second"
    day = t.value_date if basis == "value" else (t.booking_date or t.value_date)
    if day is None:
        return None, "day"
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz), "day"


def transaction_key(t: ParsedTxn, occurrences: dict[str, int]) -> str:
    if t.bank_ref:
        return "ref:" + t.bank_ref
    if t.entry_ref:
        return f"ntry:{t.entry_ref}#{t.detail_index}"
    digest = t.content_hash()
    n = occurrences[digest] = occurrences.get(digest, 0) + 1
    return f"hash:{digest[:40]}#{n}"


async def import_file(conn: asyncpg.Connection, clock: Clock, bank: Bank, f: IO[bytes], *, filename: str,
                      actor: UUID | None, addr: str | None = None,
                      progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one file (a seekable binary handle) in the caller's transaction."""
    sha, size = file_sha256(f)
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(f"{filename}: {size} bytes exceeds {MAX_FILE_BYTES}")
    tz = ZoneInfo(bank.timezone)
    now = clock.now()
    file_id = await repo.lock_and_insert_import_file(conn, bank_id=bank.id, sha256=sha, filename=filename,
                                                     size=size, actor=actor, now=now)
    if file_id is None:  # these bytes were imported before (or just now by a concurrent upload)
        return _already_imported(await repo.find_import_file_by_sha(conn, sha), sha)
    stmt_ids: dict[int, UUID] = {}
    parsed_stmts: dict[int, ParsedStatement] = {}
    flow: dict[int, int] = defaultdict(int)
    notes: list[str] = []
    occurrences: dict[str, int] = {}
    summary: ParsedFile | None = None
    n = 0
    conflicts = new = 0
    promoted: list[int] = []
    head = (bank.id, file_id, now)
    reversals = debits = False  # whether the follow-up queries below can find anything (saves round trips)
    # Batches are staged and merged while the next one is parsed (see _parsed_batches).
    async with aclosing(_parsed_batches(f, size, tz, bank.legacy_encoding)) as parsed:
        async for items in parsed:
            batch: list[tuple] = []
            for item in items:
                if isinstance(item, ParsedTxn):
                    if item.status == "BOOK":
                        flow[item.stmt_seq] += item.amount_fen if item.direction == "CRDT" else -item.amount_fen
                    if item.direction == "DBIT":
                        debits = True
                    if item.reversal:
                        reversals = True
                    batch.append(_row(head, item, transaction_key(item, occurrences), stmt_ids[item.stmt_seq],
                                      bank.time_basis, tz))
                    n += 1
                elif isinstance(item, ParsedStatement):
                    stmt_ids[item.seq] = await _statement(conn, clock, bank, file_id, item, notes)
                    parsed_stmts[item.seq] = item
                else:
                    summary = item
            if batch:
                merged = await repo.merge_batch(conn, batch, TXN_COLUMNS, STAGED_COLUMNS, first_seq=n - len(batch),
                                                bank_id=bank.id, file_id=file_id, now=now)
                new += merged.new
                conflicts += merged.conflicts
                promoted.extend(merged.promoted)
                if progress:
                    progress(n)
    if progress:
        progress(n)
    assert summary is not None
    family = _format_family(summary.format)
    if family not in bank.formats:
        raise BankFormatNotAgreed(f"{bank.code} is not configured to send {family} (agreed: {', '.join(bank.formats)})")
    notes.extend(summary.notes)
    for seq, st in parsed_stmts.items():
        # The statement's own arithmetic: opening + booked entries = closing; a bank file that does not add up
        # is imported (the bank booked those entries) but raised for a person.
        if st.opening_fen is None or st.closing_fen is None or st.opening_currency != st.closing_currency:
            continue
        expected = st.opening_fen + flow[seq]
        if expected != st.closing_fen:
            notes.append(f"{st.stmt_id}: balance_mismatch: opening {st.opening_fen} + entries {flow[seq]} "
                         f"= {expected} <> closing {st.closing_fen}")
            await repo.raise_issue(conn, "statement_arithmetic", f"{bank.code}:{st.account}:{st.stmt_id}:"
                                   f"{st.legal_seq or ''}:{st.page or ''}",
                                   {"file": str(file_id), "opening_fen": st.opening_fen, "entries_fen": flow[seq],
                                    "closing_fen": st.closing_fen}, now)
    # the file's row is completed, unless its bank message id was already imported with other bytes
    other = await repo.finish_import_file(conn, file_id, bank_id=bank.id, format=summary.format,
                                          msg_id=summary.msg_id, encoding=summary.encoding,
                                          statements=summary.statements, transactions=n, new=new, notes=notes)
    if other is not None:
        raise FileMessageConflict(
            f"message {summary.msg_id} was already imported from {other['filename']} ({other['sha256'][:12]}…) "
            f"with other content; a person must compare the two files", msg_id=summary.msg_id)
    if new > 10000:
        # a big file changes the table's shape at once; do not wait for autovacuum to tell the planner
        await repo.analyze_bank_txns(conn)
    if reversals or promoted:
        await repo.link_reversals(conn, file_id, promoted)
    openings = any(st.kind == "statement" and st.opening_fen is not None for st in parsed_stmts.values())
    await repo.post_import_journals(conn, bank, file_id, promoted, now, openings=openings)
    settled = await refunds.settle_from_import(conn, clock, bank, file_id, promoted) if debits or promoted else 0
    await append_entry(conn, clock, Tag.DEPOSIT_FILE_IMPORT, actor=str(actor) if actor else None, addr=addr,
                       body={"file": str(file_id), "sha256": sha, "format": summary.format, "bank": bank.code,
                             "statements": summary.statements, "transactions": n, "new": new,
                             "conflicts": conflicts, "refunds_settled": settled})
    return ImportResult(file_id=file_id, sha256=sha, format=summary.format, already_imported=False,
                        statements=summary.statements, transactions=n, new_transactions=new,
                        duplicates=n - new - conflicts, conflicts=conflicts,
                        promoted=len(promoted), refunds_settled=settled, notes=notes)


def _already_imported(existing, sha: str) -> ImportResult:
    return ImportResult(file_id=existing["id"], sha256=sha, format=existing["format"], already_imported=True,
                        statements=existing["statements"], transactions=existing["transactions"],
                        new_transactions=0, duplicates=existing["transactions"], conflicts=0,
                        notes=list(existing["notes"]))


def _row(head: tuple, t: ParsedTxn, key: str, statement_id: UUID, basis: str, tz: ZoneInfo) -> tuple:
    """One bank_txns row (TXN_COLUMNS); head = (bank id, file id, import time)."""
    counted_at, precision = counted_time(t, basis, tz)
    return (*head, key, t.content_hash(), statement_id, t.account, t.direction, t.amount_fen, t.currency, t.status,
            t.reversal, t.booking_date, t.booked_at, t.value_date, t.accepted_at, counted_at, precision,
            t.payer_name, t.payer_account, t.payer_bank, t.bank_ref, t.entry_ref, t.end_to_end_id, t.instr_id,
            t.remittance, t.notes)


async def _parsed_batches(f: IO[bytes], size: int, tz: ZoneInfo, legacy_encoding: str | None
                          ) -> AsyncIterator[list[ParsedTxn | ParsedStatement | ParsedFile]]:
    """The parsed items of a file in lists of about BATCH. A big file is parsed in a worker thread one batch
    ahead, so parsing (Python, lxml) overlaps with PostgreSQL staging and merging the previous batch; the
    thread holds at most one batch more, so memory stays bounded. A parse error surfaces at the batch where
    it occurs, and the caller's transaction then rolls back everything merged before it."""
    batches = _batched(parse_file(f, tz=tz, legacy_encoding=legacy_encoding))
    if size < PARSE_AHEAD_BYTES:  # a notification: no thread hand-offs on the latency path
        for items in batches:
            yield items
        return
    loop = asyncio.get_running_loop()
    # one dedicated thread: the generator (and lxml's parser state) stays in the thread that created it
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deposits-parse") as worker:
        pending = loop.run_in_executor(worker, next, batches, None)
        try:
            while (items := await pending) is not None:
                pending = loop.run_in_executor(worker, next, batches, None)
                yield items
        finally:
            pending.cancel()
            worker.submit(batches.close)


def _batched(items: Iterator) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _statement(conn: asyncpg.Connection, clock: Clock, bank: Bank, file_id: UUID, st: ParsedStatement,
                     notes: list[str]) -> UUID:
    sid, created = await repo.upsert_statement(conn, bank.id, file_id, st)
    if not created:
        notes.append(f"statement_seen_before:{st.account}/{st.stmt_id}/{st.legal_seq or ''}/{st.page or ''}")
        old = await repo.get_statement(conn, sid)
        if (old["closing_fen"], old["opening_fen"]) != (st.closing_fen, st.opening_fen):
            await repo.raise_issue(conn, "statement_conflict", f"{bank.code}:{st.account}:{st.stmt_id}:"
                                   f"{st.legal_seq}:{st.page}",
                                   {"file": str(file_id), "before": [old["opening_fen"], old["closing_fen"]],
                                    "now": [st.opening_fen, st.closing_fen]}, clock.now())
    for note in st.notes:
        notes.append(f"{st.stmt_id}: {note}")
    return sid


async def import_path(conn: asyncpg.Connection, clock: Clock, bank: Bank, path: Path, **kw) -> ImportResult:
    with open(path, "rb") as f:
        return await import_file(conn, clock, bank, f, filename=path.name, **kw)


def result_json(result: ImportResult) -> bytes:
    return msgspec.json.encode(result)
