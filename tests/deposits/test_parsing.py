from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest

from deposits import importing
from deposits.parsing import ParsedTxn, StatementInvalid, parse_file

TZ = ZoneInfo("Asia/Shanghai")
CSV_HEADER = ("statement_id,account,serial,direction,amount,currency,status,booked_at,value_date,payer_name,"
              "payer_account,payer_bank,end_to_end_id,remittance\n")


def _parse(data: bytes) -> list:
    return list(parse_file(io.BytesIO(data), tz=TZ))


def test_csv_gb18030_with_chinese_names_parses():
    row = "S1,95580000000001,SER1,CRDT,10000.00,CNY,BOOK,2026-03-10T10:00:00,2026-03-10,福州某某建设有限公司," \
          "6222020200001234567,中国银行,,投标保证金\n"
    items = _parse((CSV_HEADER + row).encode("gb18030"))
    txn = next(i for i in items if isinstance(i, ParsedTxn))
    assert txn.payer_name == "福州某某建设有限公司" and txn.amount_fen == 1_000_000
    assert txn.booked_at.utcoffset().total_seconds() == 8 * 3600   # naive = the bank's zone
    assert items[-1].encoding == "gb18030"


def test_csv_with_bom_utf8_parses():
    row = "S1,A1,SER1,RCRDT,1.5,CNY,BOOK,,2026-03-10,x,1,,,\n"
    items = _parse(b"\xef\xbb\xbf" + (CSV_HEADER + row).encode())
    txn = next(i for i in items if isinstance(i, ParsedTxn))
    assert txn.reversal and txn.direction == "DBIT" and txn.amount_fen == 150


@pytest.mark.parametrize("header,row,reason", [
    (CSV_HEADER.replace("remittance", "memo"), "S1,A,1,CRDT,1,CNY,BOOK,,,,,,,\n", "header"),
    (CSV_HEADER, "S1,A,1,CREDIT,1,CNY,BOOK,,,,,,,\n", "direction"),
    (CSV_HEADER, "S1,A,1,CRDT,-1,CNY,BOOK,,,,,,,\n", "amount"),
    (CSV_HEADER, "S1,A,1,CRDT,1,CNY,BOOK,,,,\n", "fields"),
    (CSV_HEADER, "S1,A,1,CRDT,1,CNY,BOOK,yesterday,,,,,,\n", "booked_at"),
])
def test_csv_broken_is_refused_with_the_reason(header, row, reason):
    with pytest.raises(StatementInvalid, match=reason):
        _parse((header + row).encode())


def test_mt940_gb18030_decodes_chinese_payer():
    text = (":20:STMT1\r\n:25:95580000000001\r\n:28C:1/1\r\n:60F:C260310CNY0,00\r\n"
            ":61:2603100310C10000,00NTRFNONREF//SER-GB-1\r\n:86:付款人:福州某某建设有限公司;付款人账号:6222020200001234567;\r\n"
            ":62F:C260310CNY10000,00\r\n-\r\n")
    items = _parse(text.encode("gb18030"))
    txn = next(i for i in items if isinstance(i, ParsedTxn))
    assert txn.payer_name == "福州某某建设有限公司" and txn.payer_account == "6222020200001234567"
    assert txn.bank_ref == "SER-GB-1" and items[-1].encoding == "gb18030"


def test_mt940_bytes_neither_utf8_nor_gb18030_are_refused_with_offset():
    data = b":20:X\r\n:25:1\r\n:28C:1\r\n:60F:C260310CNY0,00\r\n:86:\x80\xff\r\n"
    with pytest.raises(StatementInvalid, match="offset"):
        _parse(data)


def test_unknown_format_is_refused():
    with pytest.raises(StatementInvalid, match="unknown statement format"):
        _parse(b"hello world")


def test_camt_wrong_root_is_refused():
    with pytest.raises(StatementInvalid, match="not an ISO 20022"):
        _parse(b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>')


async def test_pending_entry_later_booked_is_promoted_not_duplicated(pool, clock, bank):
    pending = CSV_HEADER + "S1,95580000000001,SER-P,CRDT,10.00,CNY,PDNG,2026-03-10T10:00:00+08:00,2026-03-10,x,1,,,\n"
    booked = CSV_HEADER + "S2,95580000000001,SER-P,CRDT,10.00,CNY,BOOK,2026-03-10T11:00:00+08:00,2026-03-10,x,1,,,\n"
    async with pool.acquire() as c, c.transaction():
        await importing.import_file(c, clock, bank, io.BytesIO(pending.encode()), filename="p.csv", actor=None)
        assert await c.fetchval("SELECT count(*) FROM ledger_journals") == 0   # pending is not money
        r = await importing.import_file(c, clock, bank, io.BytesIO(booked.encode()), filename="b.csv", actor=None)
        assert r.promoted == 1 and r.new_transactions == 0
        row = await c.fetchrow("SELECT status, counted_at FROM bank_txns")
        assert row["status"] == "BOOK" and row["counted_at"].hour == 3
        assert await c.fetchval("SELECT count(*) FROM ledger_journals WHERE kind = 'import'") == 1


async def test_cli_import_twice_reports_already_imported(bank, database_url, samples, tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATABASE_URL=database_url, TENDERHALL_DATA_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "trading.cli", "deposits", "import", str(samples / "mt942_mbank_pl_intraday.sta"),
           "--bank", "icbc"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "3 new" in first.stderr
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "already imported" in second.stderr
    bad = subprocess.run([*cmd[:-1], "nosuchbank"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "bank_not_found" in bad.stderr


CAMT_WALK = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>W1</MsgId></GrpHdr>
<Stmt><Id>S1</Id><Acct><Id><Othr><Id>1402</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
<Ntry><Amt Ccy="CNY">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-01</Dt></BookgDt>
  <!-- a comment --><AcctSvcrRef> E1 </AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd></Domn></BkTxCd>
  <NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
    <TxDtls><Refs><AcctSvcrRef>R1</AcctSvcrRef><EndToEndId>E2E1</EndToEndId></Refs><Amt Ccy="CNY">10.00</Amt>
      <RltdPties><Dbtr><Nm>Alpha &amp; Co</Nm><PstlAdr><Nm>not the payer</Nm></PstlAdr></Dbtr>
      <DbtrAcct><Id><Othr><Id>111</Id></Othr></Id></DbtrAcct><CdtrAcct><Id><Othr><Id>9558001</Id></Othr></Id></CdtrAcct>
      </RltdPties><RmtInf><Ustrd>line1</Ustrd><Ustrd>line2</Ustrd></RmtInf>
      <RltdAgts><DbtrAgt><FinInstnId><BICFI>BKCHCNBJ</BICFI></FinInstnId></DbtrAgt></RltdAgts></TxDtls>
    <TxDtls><Refs><AcctSvcrRef>R2</AcctSvcrRef></Refs><AmtDtls><TxAmt><Amt Ccy="CNY">20.00</Amt></TxAmt></AmtDtls>
      <RltdPties><Dbtr><Pty><Nm>Beta</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>DE99</IBAN></Id></DbtrAcct></RltdPties>
      <AddtlTxInf>info a</AddtlTxInf><AddtlTxInf>info b</AddtlTxInf></TxDtls>
  </NtryDtls></Ntry>
<Ntry><Amt Ccy="CNY">7.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><ValDt><Dt>2026-03-02</Dt></ValDt><NtryDtls>
  <TxDtls><Amt Ccy="CNY">3.00</Amt><RltdPties><Dbtr><Nm>P1</Nm></Dbtr></RltdPties></TxDtls>
  <TxDtls><Amt Ccy="CNY">3.00</Amt><RltdPties><Dbtr><Nm>P2</Nm></Dbtr></RltdPties></TxDtls></NtryDtls>
  <AddtlNtryInf>entry info</AddtlNtryInf></Ntry>
</Stmt></BkToCstmrStmt></Document>"""


def test_camt_entry_walk_reads_each_batch_part_and_skips_unread_subtrees():
    txns = [i for i in _parse(CAMT_WALK.encode()) if isinstance(i, ParsedTxn)]
    first, second, unsplit = txns
    assert (first.amount_fen, first.payer_name, first.payer_account, first.account) == (1000, "Alpha & Co", "111",
                                                                                         "9558001")
    assert (first.bank_ref, first.end_to_end_id, first.payer_bank, first.remittance) == ("R1", "E2E1", "BKCHCNBJ",
                                                                                         "line1 | line2")
    assert (second.amount_fen, second.payer_name, second.payer_account, second.account) == (2000, "Beta", "DE99",
                                                                                             "1402")
    assert second.remittance == "info a | info b" and first.entry_ref == second.entry_ref == "E1"
    # parts that do not add up to the entry: the entry stays whole, with no payer borrowed from a part
    assert unsplit.amount_fen == 700 and unsplit.payer_name is None and unsplit.remittance == "entry info"
    assert unsplit.notes[0].startswith("batch_totals_mismatch:entry=700,details=600")
