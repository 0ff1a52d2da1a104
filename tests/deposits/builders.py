"""Build small camt.053/054 documents for tests."""
from __future__ import annotations


def entry(ref: str, amount: str, *, account: str = "NL26VAYB8060476890", name: str = "某某建设有限公司",
           payer: str = "6222020200001234567", when: str = "2026-03-10T10:00:00+08:00", direction: str = "CRDT",
           reversal: bool = False, e2e: str | None = None) -> str:
    return f"""<Ntry><Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>
<RvslInd>{'true' if reversal else 'false'}</RvslInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><DtTm>{when}</DtTm></BookgDt><ValDt><Dt>{when[:10]}</Dt></ValDt>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>{ref}</AcctSvcrRef>{f'<EndToEndId>{e2e}</EndToEndId>' if e2e else ''}</Refs>
<Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>
<RltdPties><Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>{payer}</Id></Othr></Id></DbtrAcct>
<CdtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></CdtrAcct></RltdPties></TxDtls></NtryDtls></Ntry>"""


def camt(version: str, root: str, block: str, stmt_id: str, entries: list[str], *, msg: str | None = None,
          account: str = "1402023309000123456", balances: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}"><{root}><GrpHdr><MsgId>{msg or stmt_id + '-msg'}</MsgId>
<CreDtTm>2026-03-10T18:00:00+08:00</CreDtTm></GrpHdr><{block}><Id>{stmt_id}</Id>
<Acct><Id><Othr><Id>{account}</Id></Othr></Id></Acct>{balances}{''.join(entries)}</{block}></{root}></Document>""".encode()
