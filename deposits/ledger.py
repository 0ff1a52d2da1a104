"""The ledger's daily check: every account's ledger balance against the bank's latest closing balance, and
bank = liabilities (deposits + suspense + clearing + retained + interest). A mismatch is raised as a
deposit_recon_issues row and shown on the finance page — never hidden or auto-corrected.

The app runs it daily by itself (deposits/background.py, from 02:00 Asia/Shanghai); `tenderhall deposits check`
runs it by hand.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from deposits import repository as repo
from trading.clock import Clock
from trading.records import Tag, append_entry


async def check(conn: asyncpg.Connection, clock: Clock, *, actor: str | None = None) -> dict[str, Any]:
    now = clock.now()
    accounts = []
    latest = await conn.fetch(
        """SELECT DISTINCT ON (s.bank_id, s.account, s.currency) s.bank_id, b.code, s.account, s.currency,
                  s.closing_fen, s.closing_date, s.stmt_id
             FROM deposit_statements s JOIN deposit_banks b ON b.id = s.bank_id
             JOIN deposit_import_files f ON f.id = s.file_id
            WHERE s.kind = 'statement' AND s.closing_fen IS NOT NULL AND s.currency IS NOT NULL
            ORDER BY s.bank_id, s.account, s.currency, s.closing_date DESC, f.imported_at DESC, s.position DESC""")
    for s in latest:
        acct = repo.bank_ledger_account(s["code"], s["account"], s["currency"])
        ledger = await conn.fetchval(
            """SELECT coalesce(sum(p.debit_fen - p.credit_fen), 0)::bigint FROM ledger_postings p
                 JOIN ledger_journals j ON j.id = p.journal_id
                WHERE p.account = $1 AND (j.booked_on IS NULL OR j.booked_on <= $2)""", acct, s["closing_date"])
        ok = ledger == s["closing_fen"]
        subject = f"{s['code']}:{s['account']}:{s['currency']}"
        row = {"account": acct, "statement": s["stmt_id"], "closing_date": s["closing_date"].isoformat()
               if s["closing_date"] else None, "bank_fen": s["closing_fen"], "ledger_fen": ledger,
               "difference_fen": ledger - s["closing_fen"], "ok": ok}
        accounts.append(row)
        if ok:
            await repo.resolve_issue(conn, "bank_balance_mismatch", subject, now)
        else:
            await repo.raise_issue(conn, "bank_balance_mismatch", subject, row, now)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in await conn.fetch(
            """SELECT split_part(account, ':', 1) AS kind, currency, sum(debit_fen - credit_fen)::bigint AS balance
                 FROM ledger_postings GROUP BY 1, 2"""):
        totals[r["currency"]][r["kind"]] = r["balance"]
    identity = []
    for ccy, kinds in sorted(totals.items()):
        bank = kinds.get("bank", 0)
        liabilities = -sum(v for k, v in kinds.items() if k != "bank")
        ok = bank == liabilities
        identity.append({"currency": ccy, "bank_fen": bank, "liabilities_fen": liabilities,
                         "by_kind": {k: -v if k != "bank" else v for k, v in sorted(kinds.items())}, "ok": ok})
        if ok:
            await repo.resolve_issue(conn, "ledger_identity", ccy, now)
        else:
            await repo.raise_issue(conn, "ledger_identity", ccy, identity[-1], now)
    unbalanced = await conn.fetch(
        """SELECT journal_id, currency FROM ledger_postings GROUP BY 1, 2 HAVING sum(debit_fen) <> sum(credit_fen)
            LIMIT 20""")
    for u in unbalanced:
        await repo.raise_issue(conn, "journal_unbalanced", str(u["journal_id"]), {"currency": u["currency"]}, now)
    ok = all(a["ok"] for a in accounts) and all(i["ok"] for i in identity) and not unbalanced
    await append_entry(conn, clock, Tag.DEPOSIT_LEDGER_CHECK, actor=actor,
                       body={"ok": ok, "accounts": len(accounts),
                             "mismatches": [a["account"] for a in accounts if not a["ok"]]})
    return {"ok": ok, "checked_at": now.isoformat(), "accounts": accounts, "identity": identity,
            "unbalanced_journals": [u["journal_id"] for u in unbalanced]}
