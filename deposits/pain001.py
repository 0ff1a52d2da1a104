"""ISO 20022 pain.001.001.09 (customer credit transfer initiation) for refunds, one file per bank.

InstrId = EndToEndId = the refund's business reference, fixed when the refund is created and never re-issued:
if the bank times out, the operator asks the bank about that reference — a second file for the same refund is
never produced (deposits/refunds.py exports each refund once).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from lxml import etree

from trading.money import fen_to_yuan

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"


def _sub(parent, tag: str, text: str | None = None, **attrs: str):
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def _path(parent, path: str, text: str, **attrs: str):
    parts = path.split("/")
    el = parent
    for p in parts[:-1]:
        el = _sub(el, p)
    return _sub(el, parts[-1], text, **attrs)


def build(*, msg_id: str, created_at: datetime, execution_date: date, initiator: str, bank: Any,
          refunds: list[dict[str, Any]]) -> bytes:
    total = sum(r["total_fen"] for r in refunds)
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    init = _sub(root, "CstmrCdtTrfInitn")
    hdr = _sub(init, "GrpHdr")
    _sub(hdr, "MsgId", msg_id)
    _sub(hdr, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _sub(hdr, "NbOfTxs", str(len(refunds)))
    _sub(hdr, "CtrlSum", fen_to_yuan(total))
    _path(hdr, "InitgPty/Nm", initiator[:140])
    pmt = _sub(init, "PmtInf")
    _sub(pmt, "PmtInfId", msg_id)
    _sub(pmt, "PmtMtd", "TRF")
    _sub(pmt, "NbOfTxs", str(len(refunds)))
    _sub(pmt, "CtrlSum", fen_to_yuan(total))
    _path(pmt, "ReqdExctnDt/Dt", execution_date.isoformat())
    _path(pmt, "Dbtr/Nm", bank.main_account_name[:140])
    _path(pmt, "DbtrAcct/Id/Othr/Id", bank.main_account)
    agt = _path(pmt, "DbtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Prtry", "CNAPS").getparent().getparent()
    _sub(agt, "MmbId", bank.cnaps_code)
    for r in refunds:
        tx = _sub(pmt, "CdtTrfTxInf")
        pid = _sub(tx, "PmtId")
        _sub(pid, "InstrId", r["business_ref"])
        _sub(pid, "EndToEndId", r["business_ref"])
        _path(tx, "Amt/InstdAmt", fen_to_yuan(r["total_fen"]), Ccy=r["currency"])
        if r.get("payee_bank"):
            _path(tx, "CdtrAgt/FinInstnId/Nm", r["payee_bank"][:140])
        _path(tx, "Cdtr/Nm", r["payee_name"][:140])
        _path(tx, "CdtrAcct/Id/Othr/Id", r["payee_account"])
        _path(tx, "RmtInf/Ustrd", r["remittance"][:140])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
