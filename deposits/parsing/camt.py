"""ISO 20022 camt.053 (statement), camt.054 (debit/credit notification) and camt.052 (intraday report).

Streamed with lxml iterparse: only one <Ntry> is in memory at a time (each is cleared after use), so memory
stays bounded whatever the file size. Hardened: a DOCTYPE is refused (no internal or external entities,
so no XXE and no billion laughs), entities are never resolved, no network, no DTD loading, no `recover`,
libxml2's default depth/size limits stay on (`huge_tree=False`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import IO
from zoneinfo import ZoneInfo

from lxml import etree

from deposits.parsing.model import (
    ParsedFile,
    ParsedStatement,
    ParsedTxn,
    StatementInvalid,
    StatementUnsafe,
    amount_to_fen,
    bank_time,
)

_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.(\d\d)\}Document$")
_KIND = {"camt.053": "statement", "camt.054": "notification", "camt.052": "intraday"}
_BLOCKS = {"Stmt", "Ntfctn", "Rpt"}
_PROLOG_LIMIT = 4096


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def check_prolog(head: bytes) -> None:
    """Refuse a DOCTYPE (the carrier of every entity attack) before the parser sees the file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        raise StatementUnsafe("XML in UTF-16/32 is not accepted; banks send UTF-8")
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise StatementUnsafe("XML with a DOCTYPE is refused (entity expansion and external entities)")


class _Reader:
    """Paths are local names ("RltdPties/Dbtr/Nm"). An entry is flattened once into {path: first text} (plus
    "path@Ccy" attributes and lists for repeated remittance lines), so each field is a dict lookup."""

    def __init__(self, ns: str, tz: ZoneInfo) -> None:
        self.ns = ns
        self.tz = tz
        self._q: dict[str, str] = {}

    def q(self, path: str) -> str:
        found = self._q.get(path)
        if found is None:
            found = self._q[path] = "/".join(f"{{{self.ns}}}{p}" for p in path.split("/"))
        return found

    def etext(self, el, path: str) -> str | None:
        value = el.findtext(self.q(path))
        if value is None:
            return None
        value = value.strip()
        return value or None

    def when(self, flat: dict, path: str) -> tuple[date | None, datetime | None]:
        """(date, datetime) of a DateAndDateTimeChoice (Dt or DtTm)."""
        d = flat.get(path + "/Dt")
        if d:
            return _date(d, path), None
        dt = flat.get(path + "/DtTm")
        if dt:
            moment = self.datetime(dt, path)
            return moment.astimezone(self.tz).date(), moment
        return None, None

    def datetime(self, text: str, where: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise StatementInvalid(f"{where}: {text!r} is not an ISO date-time") from exc
        return bank_time(moment, self.tz, where, text)  # naive: a bank's local time, in its configured zone

    @staticmethod
    def account(flat: dict, path: str) -> str | None:
        return flat.get(path + "/Id/IBAN") or flat.get(path + "/Id/Othr/Id")

    @staticmethod
    def party_name(flat: dict, path: str) -> str | None:
        # v02–v04: Dbtr/Nm; v08: Dbtr/Pty/Nm (Party40Choice)
        return flat.get(path + "/Nm") or flat.get(path + "/Pty/Nm")


_REPEATED = frozenset({"RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref", "RmtInf/Strd/AddtlRmtInf", "AddtlTxInf"})


def _flatten(el) -> tuple[dict, list[dict]]:
    """One walk over the subtree → ({path: first text}, [the same for each NtryDtls/TxDtls]).

    The walk is lxml's own depth-first iterator (one C iterator, no Python recursion, no getparent): each
    element's number of children (`len`) says when the walk climbs back, so the path of every element is known
    without asking the tree. An entry's TxDtls are flattened into their own dicts in the same walk (paths
    relative to the TxDtls); a pruned subtree is walked past, not read. Document order: the first of equal
    paths and the order of repeated ones are the document's."""
    flat: dict = {}
    details: list[dict] = []
    names = _NAMES
    stack: list = []  # (prefix, target, children left) of the elements above the current one
    push = stack.append
    pop = stack.pop
    prefix: str | None = ""  # None: inside a subtree that is not read
    target = flat
    left = len(el)
    nodes = el.iter()
    next(nodes)  # el itself
    for child in nodes:
        while not left:
            prefix, target, left = pop()
        left -= 1
        tag = child.tag
        name = names.get(tag)
        if name is None:
            if type(tag) is not str:
                continue  # an entity reference (entities are never resolved); it has no children
            name = tag[tag.find("}") + 1:]
            if len(names) < 4096:
                names[tag] = name
        n = len(child)
        if prefix is None:
            if n:
                push((None, target, left))
                left = n
            continue
        if prefix is _DETAILS_ONLY:  # children of an NtryDtls that (wrongly) has text: only its TxDtls count
            sub = None
            if name == "TxDtls":
                sub = {}
                details.append(sub)
            if n:
                push((prefix, target, left))
                prefix, target, left = ("", sub, n) if sub is not None else (None, target, n)
            continue
        detail = name == "TxDtls" and target is flat  # the entry's own walk never reads into a TxDtls
        text = child.text
        # ISO 20022 has no mixed content: an element with text is a leaf, one without is a container.
        if text and (text := text.strip()):
            path = prefix + name
            if path in target:
                if path in _REPEATED:
                    target[path + "[]"].append(text)
            else:
                target[path] = text
                if path in _REPEATED:
                    target[path + "[]"] = [text]
                if name == "Amt" or name == "TtlAmt":
                    target[path + "@Ccy"] = child.get("Ccy")
            if detail and prefix == "NtryDtls/":
                sub = {}
                details.append(sub)
                if n:
                    push((prefix, target, left))
                    prefix, target, left = "", sub, n
            elif n:
                push((prefix, target, left))
                prefix, left = (_DETAILS_ONLY if name == "NtryDtls" and prefix == "" and target is flat
                                else None), n
        elif detail:
            if prefix == "NtryDtls/":
                sub = {}
                details.append(sub)
                if n:
                    push((prefix, target, left))
                    prefix, target, left = "", sub, n
            elif n:
                push((prefix, target, left))
                prefix, left = None, n
        elif n:
            push((prefix, target, left))
            prefix, left = (prefix + name + "/" if name not in _PRUNE else None), n
    return flat, details


_DETAILS_ONLY = "\x00"
_NAMES: dict[str, str] = {}  # "{namespace}Tag" → "Tag" (bounded: a hostile file cannot grow it without end)


# Subtrees no deposit rule reads (addresses, bank codes, charges): not walked.
_PRUNE = frozenset({"PstlAdr", "BkTxCd", "Chrgs", "Tax", "RltdPric", "RltdQties", "FinInstrmId", "Purp",
                    "RltdRmtInf", "CorpActn", "SfkpgAcct", "CshDpst", "CardTx", "AddtlDataSetActn", "TechInptChanl",
                    "Intrst", "Ctct", "CtctDtls", "PrvtId"})


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise StatementInvalid(f"{where}: {text!r} is not a date") from exc


def parse_camt(f: IO[bytes], *, tz: ZoneInfo, own_accounts: frozenset[str] = frozenset()) -> Iterator:
    head = f.read(_PROLOG_LIMIT)
    check_prolog(head)
    f.seek(0)
    events = etree.iterparse(
        f, events=("start", "end"),
        tag=("{*}Document", "{*}GrpHdr", "{*}Stmt", "{*}Ntfctn", "{*}Rpt", "{*}Ntry"),
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )
    summary: ParsedFile | None = None
    r: _Reader | None = None
    stmt: ParsedStatement | None = None
    stmt_seq = -1
    entry_index = 0
    n_txns = 0
    try:
        for event, el in events:
            tag = el.tag
            name = _NAMES.get(tag)
            if name is None:
                name = _local(tag)
                if len(_NAMES) < 4096:
                    _NAMES[tag] = name
            if summary is None:
                if el.getroottree().docinfo.doctype:
                    raise StatementUnsafe("XML with a DOCTYPE is refused (entity expansion and external entities)")
                m = _NS.match(el.tag)
                if event != "start" or name != "Document" or not m:
                    raise StatementInvalid(f"not an ISO 20022 camt.052/053/054 document (root {el.tag!r})")
                summary = ParsedFile(format=f"{m.group(1)}.001.{m.group(2)}")
                r = _Reader(el.tag[1:].partition("}")[0], tz)
                kind = _KIND[m.group(1)]
                continue
            assert r is not None
            if event == "start":
                if name in _BLOCKS:
                    stmt_seq += 1
                    stmt = None
                    entry_index = 0
                elif name == "Ntry" and stmt is None:
                    stmt = _statement(r, el.getparent(), stmt_seq, kind)
                    yield stmt
                continue
            if name == "GrpHdr":
                summary.msg_id = r.etext(el, "MsgId")
                created = r.etext(el, "CreDtTm")
                summary.created_at = r.datetime(created, "GrpHdr/CreDtTm") if created else None
                if not summary.msg_id:
                    raise StatementInvalid("GrpHdr/MsgId is missing")
            elif name == "Ntry":
                assert stmt is not None
                for txn in _entry(r, el, stmt, entry_index):
                    n_txns += 1
                    yield txn
                entry_index += 1
                el.clear(keep_tail=False)
                parent = el.getparent()
                prev = el.getprevious()
                while prev is not None and _local(prev.tag) == "Ntry":
                    parent.remove(prev)
                    prev = el.getprevious()
            elif name in _BLOCKS:
                if stmt is None:
                    stmt = _statement(r, el, stmt_seq, kind)
                    yield stmt
                el.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        raise StatementInvalid(f"XML is not well-formed: {exc.msg} (line {exc.lineno})") from exc
    if summary is None:
        raise StatementInvalid("empty file")
    summary.statements = stmt_seq + 1
    summary.transactions = n_txns
    if summary.statements == 0:
        raise StatementInvalid(f"{summary.format}: no Stmt/Ntfctn/Rpt block")
    yield summary


def _statement(r: _Reader, block, seq: int, kind: str) -> ParsedStatement:
    stmt_id = r.etext(block, "Id")
    account = (r.etext(block, "Acct/Id/IBAN") or r.etext(block, "Acct/Id/Othr/Id"))
    if not stmt_id:
        raise StatementInvalid(f"statement {seq + 1}: Id is missing")
    if not account:
        raise StatementInvalid(f"statement {stmt_id}: Acct/Id is missing")
    created = r.etext(block, "CreDtTm")
    st = ParsedStatement(
        seq=seq, kind=kind, stmt_id=stmt_id, account=account, currency=r.etext(block, "Acct/Ccy"),
        legal_seq=r.etext(block, "LglSeqNb") or r.etext(block, "ElctrncSeqNb"),
        page=r.etext(block, "StmtPgntn/PgNb") or r.etext(block, "NtfctnPgntn/PgNb") or r.etext(block, "RptPgntn/PgNb"),
        created_at=r.datetime(created, f"statement {stmt_id}/CreDtTm") if created else None,
    )
    for bal in block.iterfind(r.q("Bal")):
        code = r.etext(bal, "Tp/CdOrPrtry/Cd") or r.etext(bal, "Tp/CdOrPrtry/Prtry")
        amt = bal.find(r.q("Amt"))
        if amt is None:
            raise StatementInvalid(f"statement {stmt_id}: balance {code} without Amt")
        fen = amount_to_fen(amt.text, f"statement {stmt_id} balance {code}")
        if r.etext(bal, "CdtDbtInd") == "DBIT":
            fen = -fen
        when, _ = r.when(_flatten(bal)[0], "Dt")
        ccy = amt.get("Ccy")
        if code in ("OPBD", "PRCD"):
            st.opening_fen, st.opening_date, st.opening_currency = fen, when, ccy
        elif code == "CLBD":
            st.closing_fen, st.closing_date, st.closing_currency = fen, when, ccy
    if st.opening_currency and st.closing_currency and st.opening_currency != st.closing_currency:
        st.notes.append(f"balances_in_different_currencies:{st.opening_currency}/{st.closing_currency}")
    return st


_REMITTANCE_KEYS = tuple(p + "[]" for p in ("RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref", "RmtInf/Strd/AddtlRmtInf",
                                             "AddtlTxInf"))


def _remittance(flat: dict) -> str:
    parts: list[str] = []
    for key in _REMITTANCE_KEYS:
        if key in flat:
            parts.extend(flat[key])
    return " | ".join(parts)


def _entry(r: _Reader, ntry, stmt: ParsedStatement, index: int) -> list[ParsedTxn]:
    where = f"statement {stmt.stmt_id} entry {index + 1}"
    f, details = _flatten(ntry)
    if "Amt" not in f:
        raise StatementInvalid(f"{where}: Amt is missing")
    amount = amount_to_fen(f["Amt"], where)
    currency = f.get("Amt@Ccy") or stmt.currency
    if not currency:
        raise StatementInvalid(f"{where}: Amt has no Ccy")
    direction = f.get("CdtDbtInd")
    if direction not in ("CRDT", "DBIT"):
        raise StatementInvalid(f"{where}: CdtDbtInd {direction!r} is neither CRDT nor DBIT")
    status = f.get("Sts/Cd") or f.get("Sts") or "BOOK"
    if status not in ("BOOK", "PDNG", "INFO", "FUTR"):
        raise StatementInvalid(f"{where}: status {status!r} is unknown")
    if status == "FUTR":
        status = "PDNG"
    reversal = (f.get("RvslInd") or "false").lower() == "true"
    booking_date, booked_at = r.when(f, "BookgDt")
    value_date, _ = r.when(f, "ValDt")
    entry_ref = f.get("AcctSvcrRef")
    notes: list[str] = []
    base = dict(stmt_seq=stmt.seq, entry_index=index, direction=direction, currency=currency, status=status,
                reversal=reversal, booking_date=booking_date, booked_at=booked_at, value_date=value_date,
                entry_ref=entry_ref)
    split = len(details) > 1
    if split:
        # A batch is split only when its parts add up to the booked entry; otherwise the entry stays whole
        # (the bank booked that amount) and is flagged for a person.
        declared = f.get("NtryDtls/Btch/NbOfTxs")
        sums: list[int] = []
        same_ccy = True
        for tx in details:
            key = "Amt" if "Amt" in tx else ("AmtDtls/TxAmt/Amt" if "AmtDtls/TxAmt/Amt" in tx else None)
            if key is None:
                split = False
                break
            same_ccy &= (tx.get(key + "@Ccy") or currency) == currency
            sums.append(amount_to_fen(tx[key], where))
            tx_dir = tx.get("CdtDbtInd")
            if tx_dir and tx_dir != direction:
                same_ccy = False
        if split and (not same_ccy or sum(sums) != amount or (declared and int(declared) != len(details))):
            split = False
            notes.append(f"batch_totals_mismatch:entry={amount},details={sum(sums)},"
                         f"declared={declared},found={len(details)}")
        if split:
            parts = [_detail(r, tx, stmt, base, i, sums[i], where) for i, tx in enumerate(details)]
            refs = [p.bank_ref for p in parts]
            if None in refs or len(set(refs)) != len(refs):
                # Parts that share a reference (a PostFinance ISR batch) are keyed by the entry's ref + index.
                for p in parts:
                    if p.bank_ref:
                        p.notes.append(f"shared_detail_ref:{p.bank_ref}")
                    p.bank_ref = None
            return parts
    # An unsplit batch names no single payer: its parties stay empty rather than borrowed from one part.
    tx = details[0] if details and not notes else None
    txn = _detail(r, tx, stmt, base, 0, amount, where) if tx is not None else \
        ParsedTxn(account=stmt.account, detail_index=0, amount_fen=amount, **base)
    if tx is not None and len(details) == 1 and "Amt" in tx:
        if amount_to_fen(tx["Amt"], where) != amount or tx.get("Amt@Ccy") != currency:
            txn.notes.append(f"detail_amount_differs:{tx['Amt']} {tx.get('Amt@Ccy')}")
    if not txn.remittance:
        txn.remittance = f.get("AddtlNtryInf") or ""
    txn.notes.extend(notes)
    return [txn]


def _detail(r: _Reader, tx: dict, stmt: ParsedStatement, base: dict, detail_index: int, amount_fen: int,
            where: str) -> ParsedTxn:
    # A reversal repeats the parties of the transaction it reverses: a reversed credit still names the
    # original payer as Dbtr. Fall back to the entry's own direction when that side is empty.
    credit = (base["direction"] == "CRDT") != base["reversal"]
    other = "Dbtr" if credit else "Cdtr"
    own = "Cdtr" if credit else "Dbtr"
    if base["reversal"] and not (r.party_name(tx, f"RltdPties/{other}") or r.account(tx, f"RltdPties/{other}Acct")):
        other, own = own, other
    accepted = tx.get("RltdDts/AccptncDtTm")
    agent = f"RltdAgts/{other}Agt/FinInstnId/"
    return ParsedTxn(
        **base,
        detail_index=detail_index,
        amount_fen=amount_fen,
        account=r.account(tx, f"RltdPties/{own}Acct") or stmt.account,
        payer_name=r.party_name(tx, f"RltdPties/{other}"),
        payer_account=r.account(tx, f"RltdPties/{other}Acct"),
        payer_bank=tx.get(agent + "BICFI") or tx.get(agent + "BIC") or tx.get(agent + "ClrSysMmbId/MmbId"),
        bank_ref=tx.get("Refs/AcctSvcrRef"),
        end_to_end_id=tx.get("Refs/EndToEndId"),
        instr_id=tx.get("Refs/InstrId"),
        accepted_at=r.datetime(accepted, where + " AccptncDtTm") if accepted else None,
        remittance=_remittance(tx),
    )


def combine(day: date, tz: ZoneInfo, end_of_day: bool) -> datetime:
    return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0), tzinfo=tz)
