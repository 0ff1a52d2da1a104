from __future__ import annotations

import io

import pytest

from deposits import importing
from deposits.errors import FileMessageConflict, StatementInvalid, StatementUnsafe
from tests.deposits.builders import camt as _camt
from tests.deposits.builders import entry as _entry

SAMPLE_NAMES = [
    "camt053.001.02_OCA_nl_eur_reversal_batch.xml",
    "camt053.001.02_genkgo_multi_statement.xml",
    "camt053.001.04_OCA_ch_chf_isr_batch.xml",
    "camt053.001.08_genkgo_dttm_othr_acct.xml",
    "camt054.001.04_OCA_sps_eur_qrr.xml",
    "camt054.001.08_genkgo_ubs_chf_batch.xml",
    "mt940_betterplace_de_sepa_86_subfields.sta",
    "mt940_jejik_abnamro_nl_headers.sta",
    "mt940_sberbank_hu_huf_ns_tags_mojibake.sta",
    "mt942_mbank_pl_intraday.sta",
]


async def _snapshot(c):
    txns = await c.fetch("SELECT bank_id, txn_key, content_hash, amount_fen, status, reverses_id FROM bank_txns ORDER BY id")
    postings = await c.fetchval("SELECT count(*) FROM ledger_postings")
    stmts = await c.fetchval("SELECT count(*) FROM deposit_statements")
    return [tuple(r) for r in txns], postings, stmts


@pytest.mark.parametrize("name", SAMPLE_NAMES)
async def test_import_sample_twice_changes_nothing_the_second_time(pool, clock, bank, samples, name):
    async with pool.acquire() as c:
        async with c.transaction():
            first = await importing.import_path(c, clock, bank, samples / name, actor=None)
        before = await _snapshot(c)
        async with c.transaction():
            second = await importing.import_path(c, clock, bank, samples / name, actor=None)
        after = await _snapshot(c)
    assert not first.already_imported and first.transactions == first.new_transactions + first.duplicates + first.conflicts
    assert first.new_transactions > 0
    assert second.already_imported and second.new_transactions == 0
    assert before == after


async def test_import_all_samples_leaves_ledger_balanced(pool, clock, bank, samples):
    async with pool.acquire() as c:
        for name in SAMPLE_NAMES:
            async with c.transaction():
                await importing.import_path(c, clock, bank, samples / name, actor=None)
        unbalanced = await c.fetchval(
            """SELECT count(*) FROM (SELECT journal_id, currency FROM ledger_postings GROUP BY 1, 2
                HAVING sum(debit_fen) <> sum(credit_fen)) x""")
        assert unbalanced == 0
        # the PostFinance ISR batch is split into its two credits, keyed by the entry ref + index
        keys = {r["txn_key"] for r in await c.fetch("SELECT txn_key FROM bank_txns")}
        assert "ntry:20170323001234567891234567891234#0" in keys
        assert "ntry:20170323001234567891234567891234#1" in keys
        # the UBS batch whose control totals do not add up stays one entry, flagged
        row = await c.fetchrow("SELECT amount_fen, notes FROM bank_txns WHERE txn_key = 'ref:ACSR160617103200001'"
                               " OR txn_key LIKE 'ntry:ACSR160617103200001%'")
        assert row["amount_fen"] == 20000000 and row["notes"][0].startswith("batch_totals_mismatch")
        # MT942 intraday entries are kept but are not money: nothing posted for them
        info = await c.fetchval("SELECT count(*) FROM bank_txns WHERE status = 'INFO'")
        assert info == 3


async def test_import_same_credit_by_notification_then_statement_is_one_transaction(pool, clock, bank):
    note = _camt("camt.054.001.08", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "N-1", [_entry("SER-1", "100.00")])
    stmt = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("SER-1", "100.00"),
                                                                      _entry("SER-2", "50.00")])
    async with pool.acquire() as c, c.transaction():
        a = await importing.import_file(c, clock, bank, io.BytesIO(note), filename="n.xml", actor=None)
        b = await importing.import_file(c, clock, bank, io.BytesIO(stmt), filename="s.xml", actor=None)
        assert (a.new_transactions, b.new_transactions, b.duplicates) == (1, 1, 1)
        assert await c.fetchval("SELECT count(*) FROM bank_txns") == 2


async def test_import_same_key_with_other_content_is_a_conflict_not_an_overwrite(pool, clock, bank):
    one = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("SER-9", "100.00")], msg="M1")
    two = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-2", [_entry("SER-9", "999.00")], msg="M2")
    async with pool.acquire() as c, c.transaction():
        await importing.import_file(c, clock, bank, io.BytesIO(one), filename="1.xml", actor=None)
        r = await importing.import_file(c, clock, bank, io.BytesIO(two), filename="2.xml", actor=None)
        assert r.conflicts == 1 and r.new_transactions == 0
        assert await c.fetchval("SELECT amount_fen FROM bank_txns WHERE txn_key = 'ref:SER-9'") == 10000
        seen = await c.fetchrow("SELECT seen FROM deposit_txn_conflicts")
        assert seen["seen"]["amount_fen"] == 99900


async def test_import_same_message_id_with_other_content_is_refused(pool, clock, bank):
    one = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("A", "1.00")], msg="SAME")
    two = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-2", [_entry("B", "2.00")], msg="SAME")
    async with pool.acquire() as c:
        async with c.transaction():
            await importing.import_file(c, clock, bank, io.BytesIO(one), filename="1.xml", actor=None)
        with pytest.raises(FileMessageConflict):
            async with c.transaction():
                await importing.import_file(c, clock, bank, io.BytesIO(two), filename="2.xml", actor=None)
        assert await c.fetchval("SELECT count(*) FROM bank_txns") == 1


async def test_import_parse_error_halfway_leaves_nothing(pool, clock, bank):
    entries = [_entry(f"OK-{i}", "10.00") for i in range(20)] + [_entry("BAD", "12.345")]
    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", entries)
    tables = ("bank_txns", "deposit_import_files", "deposit_statements", "ledger_journals", "log_entries")
    async with pool.acquire() as c:
        before = [await c.fetchval(f"SELECT count(*) FROM {table}") for table in tables]
        with pytest.raises(StatementInvalid, match="more than two decimals"):
            async with c.transaction():
                await importing.import_file(c, clock, bank, io.BytesIO(data), filename="bad.xml", actor=None)
        assert [await c.fetchval(f"SELECT count(*) FROM {table}") for table in tables] == before
        assert before[:4] == [0, 0, 0, 0]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>&xxe;</MsgId>
</GrpHdr></BkToCstmrStmt></Document>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>&lol4;</MsgId>
</GrpHdr></BkToCstmrStmt></Document>"""


@pytest.mark.parametrize("attack", [XXE, LAUGHS, b"<?xml version='1.0'?>\n<!-- x -->\n" + XXE.split(b"?>", 1)[1]],
                         ids=["external_entity", "billion_laughs", "doctype_after_comment"])
async def test_import_xml_attack_is_refused(pool, clock, bank, attack):
    async with pool.acquire() as c:
        with pytest.raises(StatementUnsafe):
            async with c.transaction():
                await importing.import_file(c, clock, bank, io.BytesIO(attack), filename="evil.xml", actor=None)
        assert await c.fetchval("SELECT count(*) FROM deposit_import_files") == 0


@pytest.fixture(params=["copy", "insert"])
def small_batches(monkeypatch, request):
    """Batches of 4 parsed one batch ahead in the worker thread, as a 200,000-entry statement is; merged by
    lookup + COPY (a big file's batches) or by one INSERT per batch (a notification's few rows)."""
    from deposits import repository

    monkeypatch.setattr(importing, "BATCH", 4)
    monkeypatch.setattr(importing, "PARSE_AHEAD_BYTES", 0)
    monkeypatch.setattr(repository, "SMALL_BATCH", 0 if request.param == "copy" else 32)


async def test_import_parse_error_in_a_later_batch_leaves_nothing(pool, clock, bank, small_batches):
    entries = [_entry(f"OK-{i}", "10.00") for i in range(20)] + [_entry("BAD", "12.345")]
    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", entries)
    tables = ("bank_txns", "deposit_import_files", "deposit_statements", "ledger_journals", "deposit_txn_conflicts")
    async with pool.acquire() as c:
        with pytest.raises(StatementInvalid, match="more than two decimals"):
            async with c.transaction():
                await importing.import_file(c, clock, bank, io.BytesIO(data), filename="bad.xml", actor=None)
        assert [await c.fetchval(f"SELECT count(*) FROM {table}") for table in tables] == [0, 0, 0, 0, 0]


async def test_import_in_batches_keeps_file_order_duplicates_and_conflicts(pool, clock, bank, small_batches):
    # SER-1 first with 100.00; the same key later in another batch: once identical (a duplicate), once with
    # another amount (a conflict, never an overwrite)
    entries = ([_entry("SER-1", "100.00")] + [_entry(f"K-{i}", "10.00") for i in range(5)] + [_entry("SER-1", "100.00")]
               + [_entry(f"L-{i}", "10.00") for i in range(3)] + [_entry("SER-1", "999.00")])
    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", entries)
    async with pool.acquire() as c, c.transaction():
        r = await importing.import_file(c, clock, bank, io.BytesIO(data), filename="s.xml", actor=None)
        assert (r.transactions, r.new_transactions, r.duplicates, r.conflicts) == (11, 9, 1, 1)
        keys = [k for (k,) in await c.fetch("SELECT txn_key FROM bank_txns ORDER BY id")]
        assert keys == ["ref:SER-1"] + [f"ref:K-{i}" for i in range(5)] + [f"ref:L-{i}" for i in range(3)]
        assert await c.fetchval("SELECT amount_fen FROM bank_txns WHERE txn_key = 'ref:SER-1'") == 10000
        assert await c.fetchval("SELECT seen->>'amount_fen' FROM deposit_txn_conflicts") == "99900"


async def test_import_second_file_mixes_new_duplicate_and_conflicting_keys_in_one_batch(pool, clock, bank,
                                                                                       small_batches):
    # the fast path COPYs only keys nobody holds; a batch mixing new keys with a duplicate and a conflict of
    # an earlier file still records the conflict and never overwrites
    one = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("A-1", "10.00"), _entry("A-2", "20.00")],
                msg="M1")
    two = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-2",
                [_entry("B-1", "1.00"), _entry("A-1", "10.00"), _entry("A-2", "25.00"), _entry("B-2", "2.00"),
                 _entry("B-2", "2.00")], msg="M2")
    async with pool.acquire() as c, c.transaction():
        await importing.import_file(c, clock, bank, io.BytesIO(one), filename="1.xml", actor=None)
        r = await importing.import_file(c, clock, bank, io.BytesIO(two), filename="2.xml", actor=None)
        assert (r.transactions, r.new_transactions, r.duplicates, r.conflicts) == (5, 2, 2, 1)
        rows = await c.fetch("SELECT txn_key, amount_fen FROM bank_txns ORDER BY id")
        assert [(x["txn_key"], x["amount_fen"]) for x in rows] == [
            ("ref:A-1", 1000), ("ref:A-2", 2000), ("ref:B-1", 100), ("ref:B-2", 200)]
        assert await c.fetchval("SELECT seen->>'amount_fen' FROM deposit_txn_conflicts") == "2500"
        # the ledger took only the new money of the second file
        assert await c.fetchval(
            "SELECT sum(debit_fen) FROM ledger_postings WHERE account LIKE 'bank:%'") == 1000 + 2000 + 100 + 200


async def test_import_concurrent_files_of_one_bank_are_serialised_not_duplicated(pool, clock, bank):
    import asyncio

    one = _camt("camt.054.001.08", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "N-1", [_entry("C-1", "10.00")])
    two = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("C-1", "10.00"), _entry("C-2", "5.00")])
    first_in = asyncio.Event()

    async def slow_first():
        async with pool.acquire() as c, c.transaction():
            r = await importing.import_file(c, clock, bank, io.BytesIO(one), filename="1.xml", actor=None)
            first_in.set()
            await asyncio.sleep(0.3)  # still uncommitted while the second import starts
            return r

    async def second():
        await first_in.wait()
        async with pool.acquire() as c, c.transaction():
            return await importing.import_file(c, clock, bank, io.BytesIO(two), filename="2.xml", actor=None)

    a, b = await asyncio.gather(slow_first(), second())
    assert (a.new_transactions, b.new_transactions, b.duplicates, b.conflicts) == (1, 1, 1, 0)
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM bank_txns") == 2


async def test_bank_txns_references_are_enforced_by_the_database(pool, clock, bank):
    import asyncpg

    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("R-1", "10.00")])
    async with pool.acquire() as c:
        async with c.transaction():
            await importing.import_file(c, clock, bank, io.BytesIO(data), filename="1.xml", actor=None)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with c.transaction():
                await c.execute(
                    """INSERT INTO bank_txns (bank_id, txn_key, content_hash, file_id, statement_id, account, direction,
                           amount_fen, currency, status, created_at)
                       SELECT bank_id, 'x', 'x', gen_random_uuid(), statement_id, account, direction, amount_fen,
                              currency, status, created_at FROM bank_txns LIMIT 1""")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with c.transaction():
                await c.execute("UPDATE bank_txns SET statement_id = gen_random_uuid()")
        # a file and a bank referenced by nothing but a bank transaction (no statement, no account) stay
        async with c.transaction():
            file2 = await c.fetchval(
                """INSERT INTO deposit_import_files (bank_id, sha256, format, filename, size, encoding, statements,
                       transactions, new_transactions, imported_at)
                   VALUES ($1, 'f2', 'camt.053.001.08', 'f2.xml', 1, 'utf-8', 0, 1, 1, now()) RETURNING id""", bank.id)
            bank2 = await c.fetchval(
                """INSERT INTO deposit_banks (code, name, cnaps_code, main_account, main_account_name, formats,
                       virtual_prefix, created_at)
                   VALUES ('b2', 'b2', '102391000099', '99', 'x', '{camt.053}', '9559', now()) RETURNING id""")
            await c.execute(
                """INSERT INTO bank_txns (bank_id, txn_key, content_hash, file_id, statement_id, account, direction,
                       amount_fen, currency, status, created_at)
                   SELECT $1, 'y', 'y', $2, statement_id, account, direction, amount_fen, currency, status, created_at
                     FROM bank_txns LIMIT 1""", bank2, file2)
        for table, key in (("deposit_import_files", file2), ("deposit_banks", bank2)):
            with pytest.raises(asyncpg.ForeignKeyViolationError, match="referenced by bank transactions"):
                async with c.transaction():
                    await c.execute(f"DELETE FROM {table} WHERE id = $1", key)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="referenced by bank transactions"):
            async with c.transaction():
                await c.execute("DELETE FROM deposit_statements")
        assert await c.fetchval("SELECT count(*) FROM bank_txns") == 2


async def test_import_same_file_uploaded_twice_at_once_is_imported_once(pool, clock, bank):
    import asyncio

    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1", [_entry("D-1", "10.00"), _entry("D-2", "5.00")])
    first_in = asyncio.Event()

    async def slow_first():
        async with pool.acquire() as c, c.transaction():
            r = await importing.import_file(c, clock, bank, io.BytesIO(data), filename="1.xml", actor=None)
            first_in.set()
            await asyncio.sleep(0.3)
            return r

    async def second():
        await first_in.wait()
        async with pool.acquire() as c, c.transaction():
            return await importing.import_file(c, clock, bank, io.BytesIO(data), filename="again.xml", actor=None)

    a, b = await asyncio.gather(slow_first(), second())
    assert not a.already_imported and a.new_transactions == 2
    assert b.already_imported and b.file_id == a.file_id and b.new_transactions == 0
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM bank_txns") == 2
        assert await c.fetchval("SELECT count(*) FROM deposit_import_files") == 1


@pytest.mark.parametrize("small", [0, 32], ids=["copy", "insert"])
async def test_import_same_key_twice_in_one_batch_keeps_the_first(pool, clock, bank, monkeypatch, small):
    from deposits import repository

    monkeypatch.setattr(repository, "SMALL_BATCH", small)
    data = _camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1",
                 [_entry("E-1", "10.00"), _entry("E-1", "10.00"), _entry("E-1", "11.00"), _entry("E-2", "1.00")])
    async with pool.acquire() as c, c.transaction():
        r = await importing.import_file(c, clock, bank, io.BytesIO(data), filename="s.xml", actor=None)
        assert (r.new_transactions, r.duplicates, r.conflicts) == (2, 1, 1)
        rows = await c.fetch("SELECT txn_key, amount_fen, notes FROM bank_txns ORDER BY id")
        assert [(x["txn_key"], x["amount_fen"]) for x in rows] == [("ref:E-1", 1000), ("ref:E-2", 100)]
        assert await c.fetchval("SELECT seen->>'amount_fen' FROM deposit_txn_conflicts") == "1100"
