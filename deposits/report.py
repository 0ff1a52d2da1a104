"""The reconciliation report PDF (signed with the platform's document certificate)."""
from __future__ import annotations

import asyncpg

from deposits import ledger, views
from trading.accounts.schemas import User
from trading.clock import Clock, show
from trading.money import format_yuan
from trading.records.pdf import render_table_pdf, sign_pdf_async


async def reconciliation_pdf(conn: asyncpg.Connection, clock: Clock, settings, user: User) -> bytes:
    async with conn.transaction():
        check = await ledger.check(conn, clock, actor=str(user.id))
    overview = await views.finance_overview(conn, clock, user)
    meta = [("生成时间 Generated", show(clock.now())), ("核对结果 Ledger check", "一致 OK" if check["ok"] else "不一致 MISMATCH")]
    for a in check["accounts"]:
        meta.append((a["account"], f"银行 {format_yuan(a['bank_fen'])} / 账簿 {format_yuan(a['ledger_fen'])}"
                                   f"{'' if a['ok'] else ' ≠'}"))
    for i in check["identity"]:
        meta.append((f"恒等式 {i['currency']}", f"银行 {format_yuan(i['bank_fen'])} = 负债 {format_yuan(i['liabilities_fen'])}"
                                             f"{'' if i['ok'] else ' ≠'}"))
    rows = [[str(f["txn_id"]), f["bank"], f"{f['amount']} {f['currency']}", f["payer_name"] or "", f["lot"] or "",
             f["bidder"] or "", " ".join(f["flags"]), " ".join(f["open"])] for f in overview["flags"]]
    notes = [f"未解决事项 Open issues: {len(overview['issues'])}; 冲突 Conflicts: {len(overview['conflicts'])}; "
             f"待退款 Refunds open: {len(overview['refunds'])}"]
    pdf = render_table_pdf("投标保证金对账报告 Deposit reconciliation report", meta,
                           ["流水", "银行", "金额", "付款人", "标段", "投标人", "标记", "待处理"], rows,
                           notes=notes, wide=True, col_widths=[0.06, 0.06, 0.12, 0.16, 0.16, 0.14, 0.18, 0.12])
    return await sign_pdf_async(pdf, settings, reason="投标保证金对账报告")
