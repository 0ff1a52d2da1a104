"""All deposit SQL ($n parameters). Functions named get_ (raises), find_ (None), list_, insert_, lock_."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from deposits.errors import BankNotFound, LotNotFound, RequirementNotFound
from deposits.parsing import ParsedStatement
from deposits.schemas import Bank, BasicAccount

# ---------------------------------------------------------------- banks

_BANK_COLS = ("id, code, name, cnaps_code, bic, main_account, main_account_name, currency, formats, "
              "legacy_encoding, time_basis, timezone, virtual_prefix, active")


def _bank(row: asyncpg.Record) -> Bank:
    return Bank(**dict(row))


async def insert_bank(conn: asyncpg.Connection, data: dict[str, Any], now: datetime) -> Bank:
    row = await conn.fetchrow(
        f"""INSERT INTO deposit_banks (code, name, cnaps_code, bic, main_account, main_account_name, currency,
                formats, legacy_encoding, time_basis, timezone, virtual_prefix, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {_BANK_COLS}""",
        data["code"], data["name"], data["cnaps_code"], data["bic"], data["main_account"],
        data["main_account_name"], data["currency"], data["formats"], data["legacy_encoding"],
        data["time_basis"], data["timezone"], data["virtual_prefix"], now)
    return _bank(row)


async def find_bank_by_code(conn: asyncpg.Connection, code: str) -> Bank | None:
    row = await conn.fetchrow(f"SELECT {_BANK_COLS} FROM deposit_banks WHERE code = $1", code)
    return _bank(row) if row else None


async def get_bank_by_code(conn: asyncpg.Connection, code: str) -> Bank:
    bank = await find_bank_by_code(conn, code)
    if bank is None:
        raise BankNotFound(f"no receiving bank {code!r} is configured")
    return bank


async def get_bank(conn: asyncpg.Connection, bank_id: UUID) -> Bank:
    row = await conn.fetchrow(f"SELECT {_BANK_COLS} FROM deposit_banks WHERE id = $1", bank_id)
    if row is None:
        raise BankNotFound(f"no receiving bank {bank_id}")
    return _bank(row)


async def list_banks(conn: asyncpg.Connection, active_only: bool = True) -> list[Bank]:
    rows = await conn.fetch(f"SELECT {_BANK_COLS} FROM deposit_banks WHERE active OR NOT $1 ORDER BY code",
                            active_only)
    return [_bank(r) for r in rows]


# ---------------------------------------------------------------- lots, requirements, accounts

async def get_lot(conn: asyncpg.Connection, lot_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT l.id, l.tender_id, l.number, l.name, l.deposit_fen, l.status, t.status AS tender_status,
                  t.bid_deadline, t.regime, t.must_tender, t.code AS tender_code, t.title AS tender_title,
                  t.agency_org_id, t.tenderer_org_id
             FROM lots l JOIN tenders t ON t.id = l.tender_id WHERE l.id = $1""", lot_id)
    if row is None:
        raise LotNotFound(f"no lot {lot_id}")
    return row


async def has_downloaded(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM document_downloads WHERE lot_id = $1 AND org_id = $2",
                                    lot_id, org_id))


async def upsert_requirement(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID, amount_fen: int,
                             now: datetime) -> UUID:
    return await conn.fetchval(
        """INSERT INTO deposit_requirements (lot_id, org_id, amount_fen, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (lot_id, org_id) DO UPDATE SET amount_fen = deposit_requirements.amount_fen
           RETURNING id""", lot_id, org_id, amount_fen, now)


async def find_requirement(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM deposit_requirements WHERE lot_id = $1 AND org_id = $2",
                               lot_id, org_id)


async def get_requirement(conn: asyncpg.Connection, requirement_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM deposit_requirements WHERE id = $1", requirement_id)
    if row is None:
        raise RequirementNotFound(f"no deposit requirement {requirement_id}")
    return row


async def list_requirements_for_lot(conn: asyncpg.Connection, lot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT r.*, o.name AS org_name, s.state, s.paid_fen, s.flags AS frozen_flags, s.frozen_at
             FROM deposit_requirements r JOIN organisations o ON o.id = r.org_id
             LEFT JOIN deposit_states s ON s.requirement_id = r.id
            WHERE r.lot_id = $1 ORDER BY o.name""", lot_id)


async def find_virtual_account(conn: asyncpg.Connection, bank_id: UUID, requirement_id: UUID) -> str | None:
    return await conn.fetchval("SELECT number FROM virtual_accounts WHERE bank_id = $1 AND requirement_id = $2",
                               bank_id, requirement_id)


async def insert_virtual_account(conn: asyncpg.Connection, number: str, bank_id: UUID, requirement_id: UUID,
                                 actor: UUID | None, now: datetime) -> bool:
    status = await conn.execute(
        """INSERT INTO virtual_accounts (number, bank_id, requirement_id, created_at, created_by)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""", number, bank_id, requirement_id, now, actor)
    return status.endswith("1")


async def list_virtual_accounts(conn: asyncpg.Connection, requirement_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT v.number, b.code AS bank_code, b.name AS bank_name, b.cnaps_code, b.main_account_name
             FROM virtual_accounts v JOIN deposit_banks b ON b.id = v.bank_id
            WHERE v.requirement_id = $1 ORDER BY v.created_at""", requirement_id)


async def overlapping_basic_account(conn: asyncpg.Connection, org_id: UUID, number: str, valid_from: date,
                                    valid_until: date | None) -> asyncpg.Record | None:
    """The organisation's registration of this account number whose period meets [valid_from, valid_until] (open
    ends: for good). Takes a transaction-scoped lock on the pair first, so two registrations of it run one after
    the other."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('basic_account:' || $1 || ':' || $2, 0))",
                       str(org_id), number)
    return await conn.fetchrow(
        """SELECT id, valid_from, valid_until FROM basic_accounts
            WHERE org_id = $1 AND account_number = $2
              AND daterange(valid_from, valid_until, '[]') && daterange($3::date, $4::date, '[]')
            ORDER BY valid_from LIMIT 1""", org_id, number, valid_from, valid_until)


async def insert_basic_account(conn: asyncpg.Connection, org_id: UUID, data: dict[str, Any], actor: UUID,
                               now: datetime) -> BasicAccount:
    row = await conn.fetchrow(
        """INSERT INTO basic_accounts (org_id, account_number, bank_name, account_name, valid_from, valid_until,
                                       created_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id, org_id, account_number, bank_name, account_name, valid_from, valid_until""",
        org_id, data["account_number"], data["bank_name"], data["account_name"], data["valid_from"],
        data["valid_until"], now, actor)
    return BasicAccount(**dict(row))


async def list_basic_accounts(conn: asyncpg.Connection, org_id: UUID) -> list[BasicAccount]:
    rows = await conn.fetch(
        """SELECT id, org_id, account_number, bank_name, account_name, valid_from, valid_until
             FROM basic_accounts WHERE org_id = $1 ORDER BY valid_from""", org_id)
    return [BasicAccount(**dict(r)) for r in rows]


async def insert_guarantee(conn: asyncpg.Connection, requirement_id: UUID, data: dict[str, Any],
                           actor: UUID, now: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO deposit_guarantees (requirement_id, issuer, number, amount_fen, valid_from, valid_until,
                evidence_sha256, evidence_name, evidence_type, registered_at, registered_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (issuer, number) DO NOTHING
           RETURNING *""",
        requirement_id, data["issuer"], data["number"], data["amount_fen"], data["valid_from"],
        data["valid_until"], data["evidence_sha256"], data["evidence_name"], data["evidence_type"], now, actor)


async def list_guarantees(conn: asyncpg.Connection, requirement_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM deposit_guarantees WHERE requirement_id = $1 ORDER BY registered_at",
                            requirement_id)


# ---------------------------------------------------------------- import

async def find_import_file_by_sha(conn: asyncpg.Connection, sha: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM deposit_import_files WHERE sha256 = $1", sha)


async def lock_and_insert_import_file(conn: asyncpg.Connection, *, bank_id: UUID, sha256: str, filename: str,
                                     size: int, actor: UUID | None, now: datetime) -> UUID | None:
    """Serialise the imports of one bank (until the transaction ends), then insert the file's row — one
    statement. None when a file with these bytes exists (imported before, or committed by a concurrent import
    while this one waited for the lock: ON CONFLICT sees it even where the statement's snapshot does not).
    The lock is what lets the merge look keys up once and COPY the rest: no other transaction can insert a key
    of this bank between the lookup and the COPY. JIT is switched off for the rest of the transaction:
    compiling the big merge/journal statements costs more than it saves."""
    return await conn.fetchval(
        """INSERT INTO deposit_import_files (bank_id, sha256, format, filename, size, encoding, statements,
                transactions, new_transactions, imported_at, imported_by)
           SELECT $1, $2, '', $3, $4, '', 0, 0, 0, $5, $6
             FROM (SELECT pg_advisory_xact_lock(hashtext('deposits:import:' || $1::uuid::text)),
                          set_config('jit', 'off', true)) l
            WHERE NOT EXISTS (SELECT 1 FROM deposit_import_files f WHERE f.sha256 = $2)
           ON CONFLICT (sha256) DO NOTHING RETURNING id""",
        bank_id, sha256, filename[:300], size, now, actor)


async def finish_import_file(conn: asyncpg.Connection, file_id: UUID, *, bank_id: UUID, format: str,
                             msg_id: str | None, encoding: str, statements: int, transactions: int, new: int,
                             notes: list[str]) -> asyncpg.Record | None:
    """Complete the file's row, in the same statement as the check of its bank message id: returns the other
    file already imported with this message id (the row is then left alone, the caller refuses the file)."""
    return await conn.fetchrow(
        """WITH other AS (
               SELECT filename, sha256 FROM deposit_import_files
                WHERE $3::text IS NOT NULL AND bank_id = $9 AND format = $2 AND msg_id = $3 AND id <> $1 LIMIT 1),
           up AS (
               UPDATE deposit_import_files SET format = $2, msg_id = $3, encoding = $4, statements = $5,
                      transactions = $6, new_transactions = $7, notes = $8
                WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM other))
           SELECT filename, sha256 FROM other""",
        file_id, format, msg_id, encoding, statements, transactions, new, notes[:200], bank_id)


async def list_import_files(conn: asyncpg.Connection, limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT f.*, b.code AS bank_code FROM deposit_import_files f JOIN deposit_banks b ON b.id = f.bank_id
            ORDER BY f.imported_at DESC LIMIT $1""", limit)


async def upsert_statement(conn: asyncpg.Connection, bank_id: UUID, file_id: UUID,
                           st: ParsedStatement) -> tuple[UUID, bool]:
    row = await conn.fetchrow(
        """INSERT INTO deposit_statements (file_id, bank_id, kind, stmt_id, account, legal_seq, page, currency,
                opening_fen, opening_date, closing_fen, closing_date, notes, position)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (bank_id, kind, account, stmt_id, legal_seq, page) DO NOTHING RETURNING id""",
        file_id, bank_id, st.kind, st.stmt_id, st.account, st.legal_seq or "", st.page or "",
        st.currency or st.closing_currency or st.opening_currency, st.opening_fen, st.opening_date,
        st.closing_fen, st.closing_date, st.notes, st.seq)
    if row is not None:
        return row["id"], True
    sid = await conn.fetchval(
        """SELECT id FROM deposit_statements WHERE bank_id = $1 AND kind = $2 AND account = $3 AND stmt_id = $4
              AND legal_seq = $5 AND page = $6""",
        bank_id, st.kind, st.account, st.stmt_id, st.legal_seq or "", st.page or "")
    return sid, False


async def get_statement(conn: asyncpg.Connection, statement_id: UUID) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM deposit_statements WHERE id = $1", statement_id)


class MergedBatch(NamedTuple):
    new: int
    conflicts: int
    promoted: list[int]


async def merge_batch(conn: asyncpg.Connection, rows: list[tuple], columns: tuple[str, ...],
                      staged_columns: tuple[str, ...], *, first_seq: int, bank_id: UUID, file_id: UUID,
                      now: datetime) -> MergedBatch:
    """Merge one batch of a file (bank_txns rows in file order, `columns`; txn_key at index 3) into bank_txns.

    The caller holds the bank's import lock (lock_and_insert_import_file). Each key is looked up once; the rows
    whose key neither an earlier file nor an earlier row of this file holds are COPYed straight into bank_txns
    (ids in file order; a batch of at most SMALL_BATCH rows is looked up and inserted in one statement). The others — the same credit seen again, or the same key with other content — are
    staged and go through the conflict and promotion SQL: a duplicate changes nothing, a conflict is recorded
    for a person and never overwrites, a pending/INFO sighting now booked is promoted. Batches are merged in
    file order, so the result is the same as merging the whole file at once."""
    if len(rows) <= SMALL_BATCH:
        inserted = await _insert_small(conn, rows, columns, bank_id=bank_id, file_id=file_id, now=now)
        new = 0
        again: list[tuple] = []
        for seq, row in enumerate(rows, first_seq):
            if row[3] in inserted:
                inserted.discard(row[3])  # this row was inserted; a later row with its key is seen again
                new += 1
            else:
                again.append((seq, *row[3:]))
    else:
        seen = {r["txn_key"] for r in await conn.fetch(
            "SELECT txn_key FROM bank_txns WHERE bank_id = $1 AND txn_key = ANY($2::text[])",
            bank_id, [r[3] for r in rows])}
        fresh = []
        again = []
        for seq, row in enumerate(rows, first_seq):
            key = row[3]
            if key in seen:
                again.append((seq, *row[3:]))
            else:
                seen.add(key)
                fresh.append(row)
        if fresh:
            await conn.copy_records_to_table("bank_txns", records=fresh, columns=columns)
        new = len(fresh)
    if not again:
        return MergedBatch(new, 0, [])
    await create_import_tmp(conn)
    await conn.copy_records_to_table("deposit_import_tmp", records=again, columns=staged_columns)
    conflicts, promoted = await _merge_staged(conn, bank_id=bank_id, file_id=file_id, now=now)
    return MergedBatch(new, conflicts, promoted)


SMALL_BATCH = 32  # a notification's few rows: looked up and inserted in one statement instead of lookup + COPY
_TXN_TYPES = {"txn_key": "text", "content_hash": "text", "statement_id": "uuid", "account": "text",
              "direction": "text", "amount_fen": "bigint", "currency": "text", "status": "text",
              "reversal": "boolean", "booking_date": "date", "booked_at": "timestamptz", "value_date": "date",
              "accepted_at": "timestamptz", "counted_at": "timestamptz", "counted_precision": "text",
              "payer_name": "text", "payer_account": "text", "payer_bank": "text", "bank_ref": "text",
              "entry_ref": "text", "end_to_end_id": "text", "instr_id": "text", "remittance": "text",
              "notes": "text"}  # notes travel as a JSON array (a ragged text[][] cannot be unnested)


async def _insert_small(conn: asyncpg.Connection, rows: list[tuple], columns: tuple[str, ...], *,
                        bank_id: UUID, file_id: UUID, now: datetime) -> set[str]:
    """Insert, in file order, the first row of each key no row of bank_txns holds yet; return the keys
    inserted. `columns` starts with bank_id, file_id, created_at (constants of the file), then _TXN_TYPES."""
    cols = columns[3:]
    firsts: dict[str, tuple] = {}
    for row in rows:
        firsts.setdefault(row[3], row)
    picked = list(firsts.values())
    enc = msgspec.json.Encoder()
    arrays = [[r[3 + i] for r in picked] for i in range(len(cols))]
    notes_at = cols.index("notes")
    arrays[notes_at] = [enc.encode(list(n)).decode() for n in arrays[notes_at]]
    unnest = ", ".join(f"${i + 4}::{_TXN_TYPES[c]}[]" for i, c in enumerate(cols))
    values = ", ".join("ARRAY(SELECT jsonb_array_elements_text(u.notes::jsonb))" if c == "notes" else f"u.{c}"
                       for c in cols)
    inserted = await conn.fetch(
        f"""INSERT INTO bank_txns ({", ".join(columns)})
            SELECT $1, $2, $3, {values}
              FROM unnest({unnest}) WITH ORDINALITY AS u({", ".join(cols)}, ord)
             WHERE NOT EXISTS (SELECT 1 FROM bank_txns x WHERE x.bank_id = $1 AND x.txn_key = u.txn_key)
             ORDER BY u.ord
            RETURNING txn_key""", bank_id, file_id, now, *arrays)
    return {r["txn_key"] for r in inserted}


async def create_import_tmp(conn: asyncpg.Connection) -> None:
    """Per-connection staging table for the rows of a batch whose key was seen before, created once and
    emptied at every commit (no catalog churn per file); emptied with DELETE, not TRUNCATE (which rewrites
    the relation files and catalog rows every time)."""
    await conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS deposit_import_tmp (
               seq integer, txn_key text, content_hash text, statement_id uuid, account text, direction text,
               amount_fen bigint, currency text, status text, reversal boolean, booking_date date,
               booked_at timestamptz, value_date date, accepted_at timestamptz, counted_at timestamptz,
               counted_precision text, payer_name text, payer_account text, payer_bank text, bank_ref text,
               entry_ref text, end_to_end_id text, instr_id text, remittance text, notes text[]
           ) ON COMMIT DELETE ROWS;
           DELETE FROM deposit_import_tmp;""")


async def _merge_staged(conn: asyncpg.Connection, *, bank_id: UUID, file_id: UUID,
                        now: datetime) -> tuple[int, list[int]]:
    """The staged rows all have a key bank_txns already holds: record conflicts (other content), promote
    pending sightings now booked. Returns (conflicts, promoted ids)."""
    # The existing row of each staged key by one index probe (LATERAL … LIMIT 1 on the unique key).
    conflicts = await conn.fetchval(
        """WITH c AS (
               SELECT b.id AS txn_id, t.content_hash, to_jsonb(t) - 'seq' AS seen
                 FROM deposit_import_tmp t
                 CROSS JOIN LATERAL (SELECT x.id, x.content_hash FROM bank_txns x
                                      WHERE x.bank_id = $1 AND x.txn_key = t.txn_key LIMIT 1) b
                WHERE b.content_hash <> t.content_hash),
           ins AS (INSERT INTO deposit_txn_conflicts (txn_id, file_id, content_hash, seen, created_at)
                   SELECT txn_id, $2, content_hash, seen, $3 FROM c ON CONFLICT (txn_id, content_hash) DO NOTHING)
           SELECT count(*) FROM c""", bank_id, file_id, now)
    # A pending/INFO sighting from an earlier file, now booked with the same content, is promoted.
    promote = await conn.fetch(
        """SELECT b.id, t.booking_date, t.booked_at, t.counted_at, t.counted_precision
             FROM deposit_import_tmp t
             CROSS JOIN LATERAL (SELECT x.id FROM bank_txns x
                                  WHERE x.bank_id = $1 AND x.txn_key = t.txn_key AND x.content_hash = t.content_hash
                                    AND x.status <> 'BOOK' AND x.file_id <> $2 LIMIT 1) b
            WHERE t.status = 'BOOK'""", bank_id, file_id)
    if not promote:
        return conflicts, []
    ids = await conn.fetch(
        """UPDATE bank_txns b SET status = 'BOOK', booking_date = u.booking_date, booked_at = u.booked_at,
                  counted_at = u.counted_at, counted_precision = u.counted_precision
             FROM unnest($1::bigint[], $2::date[], $3::timestamptz[], $4::timestamptz[], $5::text[])
                  AS u(id, booking_date, booked_at, counted_at, counted_precision)
            WHERE b.id = u.id AND b.status <> 'BOOK'
           RETURNING b.id""",
        *([r[k] for r in promote] for k in range(5)))
    return conflicts, [r["id"] for r in ids]


async def analyze_bank_txns(conn: asyncpg.Connection) -> None:
    # only the columns the deposit queries filter or join on: ANALYZE of all 29 columns costs twice as much
    await conn.execute("ANALYZE bank_txns (bank_id, txn_key, file_id, account, direction, status, reversal, "
                       "payer_account, end_to_end_id, reverses_id)")


# The transactions a file brought: the rows it inserted (their file_id) and the earlier sightings it promoted.
_FILE_TXNS = "(t.file_id = $1 OR t.id = ANY($2::bigint[]))"


async def link_reversals(conn: asyncpg.Connection, file_id: UUID, promoted: list[int]) -> int:
    """A reversal links to the latest earlier unreversed opposite entry of the same amount and account."""
    ids = await conn.fetch(
        f"""SELECT t.id FROM bank_txns t WHERE {_FILE_TXNS} AND t.reversal AND t.reverses_id IS NULL
             ORDER BY t.id""", file_id, promoted)
    linked = 0
    for r in ids:
        status = await conn.execute(
            """UPDATE bank_txns r SET reverses_id = (
                   SELECT o.id FROM bank_txns o
                    WHERE o.bank_id = r.bank_id AND o.account = r.account AND o.currency = r.currency
                      AND o.amount_fen = r.amount_fen AND o.direction <> r.direction AND NOT o.reversal
                      AND o.id <> r.id
                      AND (r.payer_account IS NULL OR o.payer_account IS NULL OR o.payer_account = r.payer_account)
                      AND NOT EXISTS (SELECT 1 FROM bank_txns x WHERE x.reverses_id = o.id)
                    ORDER BY (o.end_to_end_id IS NOT DISTINCT FROM r.end_to_end_id) DESC, o.id DESC LIMIT 1)
                WHERE r.id = $1 AND EXISTS (
                   SELECT 1 FROM bank_txns o
                    WHERE o.bank_id = r.bank_id AND o.account = r.account AND o.currency = r.currency
                      AND o.amount_fen = r.amount_fen AND o.direction <> r.direction AND NOT o.reversal
                      AND o.id <> r.id
                      AND NOT EXISTS (SELECT 1 FROM bank_txns x WHERE x.reverses_id = o.id))""", r["id"])
        linked += status.endswith("1")
    return linked


def bank_ledger_account(code: str, account: str, currency: str) -> str:
    return f"bank:{code}:{account}:{currency}"


def suspense_account(code: str, currency: str) -> str:
    return f"suspense:{code}:{currency}"


async def post_import_journals(conn: asyncpg.Connection, bank: Bank, file_id: UUID, promoted: list[int],
                               now: datetime, *, openings: bool = True) -> None:
    """openings=False when the file has no statement with an opening balance (a notification)."""
    # Opening balances: the first statement of an account brings the balance the bank already held.
    stmts = [] if not openings else await conn.fetch(
        """SELECT DISTINCT ON (account, currency) account, currency, opening_fen, opening_date
             FROM deposit_statements WHERE file_id = $1 AND kind = 'statement' AND opening_fen IS NOT NULL
              AND currency IS NOT NULL ORDER BY account, currency, opening_date, position""", file_id)
    for s in stmts:
        acct = bank_ledger_account(bank.code, s["account"], s["currency"])
        key = f"opening:{acct}"
        if await conn.fetchval("SELECT 1 FROM ledger_journals WHERE idem_key = $1", key):
            continue
        before = await conn.fetchval(
            """SELECT coalesce(sum(p.debit_fen - p.credit_fen), 0)::bigint FROM ledger_postings p
                 JOIN ledger_journals j ON j.id = p.journal_id
                WHERE p.account = $1 AND j.booked_on < $2""", acct, s["opening_date"])
        amount = s["opening_fen"] - before
        if amount == 0:
            continue
        await insert_journal(conn, key, "opening", s["opening_date"], "opening balance from the bank statement",
                             now, [(acct, s["currency"], amount, None), (suspense_account(bank.code, s["currency"]),
                                                                         s["currency"], -amount, None)])
    await conn.execute(
        f"""WITH g AS (
               -- the bank account is the statement's (a virtual sub-account is a sub-ledger of it)
               SELECT s.account, t.booking_date, t.currency,
                      sum(t.amount_fen) FILTER (WHERE t.direction = 'CRDT') AS cr,
                      sum(t.amount_fen) FILTER (WHERE t.direction = 'DBIT') AS db,
                      'import:' || $1::uuid::text || ':' || s.account || ':' || coalesce(t.booking_date::text, '-')
                          || ':' || t.currency AS idem_key
                 FROM bank_txns t JOIN deposit_statements s ON s.id = t.statement_id
                WHERE {_FILE_TXNS} AND t.status = 'BOOK' GROUP BY s.account, t.booking_date, t.currency),
           j AS (INSERT INTO ledger_journals (idem_key, kind, booked_on, memo, created_at)
                 SELECT idem_key, 'import', booking_date, 'bank statement import', $4 FROM g RETURNING id, idem_key)
           INSERT INTO ledger_postings (journal_id, account, currency, debit_fen, credit_fen)
           SELECT j.id, x.account, g.currency, x.debit, x.credit
             FROM g JOIN j USING (idem_key)
             CROSS JOIN LATERAL (VALUES
                 ('bank:' || $3 || ':' || g.account || ':' || g.currency, coalesce(g.cr, 0), 0::bigint),
                 ('suspense:' || $3 || ':' || g.currency, 0::bigint, coalesce(g.cr, 0)),
                 ('bank:' || $3 || ':' || g.account || ':' || g.currency, 0::bigint, coalesce(g.db, 0)),
                 ('suspense:' || $3 || ':' || g.currency, coalesce(g.db, 0), 0::bigint)
             ) AS x(account, debit, credit)
            WHERE x.debit > 0 OR x.credit > 0""", file_id, promoted, bank.code, now)


async def insert_journal(conn: asyncpg.Connection, key: str, kind: str, booked_on: date | None, memo: str,
                         now: datetime, lines: list[tuple[str, str, int, int | None]]) -> int | None:
    """lines: (account, currency, signed amount: + debit / − credit, txn_id). None when the key exists."""
    jid = await conn.fetchval(
        """INSERT INTO ledger_journals (idem_key, kind, booked_on, memo, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (idem_key) DO NOTHING RETURNING id""", key, kind, booked_on, memo, now)
    if jid is None:
        return None
    await conn.executemany(
        """INSERT INTO ledger_postings (journal_id, account, currency, debit_fen, credit_fen, txn_id)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(jid, a, c, max(v, 0), max(-v, 0), t) for a, c, v, t in lines if v != 0])
    return jid


async def raise_issue(conn: asyncpg.Connection, kind: str, subject: str, detail: dict[str, Any],
                      now: datetime) -> None:
    await conn.execute(
        """INSERT INTO deposit_recon_issues (kind, subject, detail, found_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (kind, subject) DO UPDATE SET detail = EXCLUDED.detail, found_at = EXCLUDED.found_at,
                                                     resolved_at = NULL""", kind, subject, detail, now)


async def resolve_issue(conn: asyncpg.Connection, kind: str, subject: str, now: datetime) -> None:
    await conn.execute("""UPDATE deposit_recon_issues SET resolved_at = $3
                           WHERE kind = $1 AND subject = $2 AND resolved_at IS NULL""", kind, subject, now)


async def list_open_issues(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM deposit_recon_issues WHERE resolved_at IS NULL ORDER BY found_at, kind")


async def list_open_conflicts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT c.*, t.txn_key, t.amount_fen, t.currency FROM deposit_txn_conflicts c
             JOIN bank_txns t ON t.id = c.txn_id WHERE c.resolved_at IS NULL ORDER BY c.created_at""")


async def account_balances(conn: asyncpg.Connection, prefix: str = "") -> dict[tuple[str, str], int]:
    rows = await conn.fetch(
        """SELECT account, currency, sum(debit_fen - credit_fen)::bigint AS balance FROM ledger_postings
            WHERE account LIKE $1 || '%' GROUP BY account, currency""", prefix)
    return {(r["account"], r["currency"]): r["balance"] for r in rows}
