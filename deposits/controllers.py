"""Deposit HTTP API (pages in pages.py). Roles are fixed: `admin` is finance, `regulator` reads."""
from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from deposits import importing, ledger, refunds, services, views
from deposits import repository as repo
from deposits.errors import GuaranteeInvalid
from deposits.pages import PAGE_ROUTES
from deposits.reconcile import run_matching
from deposits.schemas import (
    AccountRequest,
    Bank,
    BankCreate,
    BasicAccount,
    BasicAccountCreate,
    FlagDecisionCreate,
    Guarantee,
    ImportResult,
    LotDeposits,
    MyDeposit,
    RetentionCreate,
    VirtualAccount,
)
from trading.accounts.guards import requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.errors import Invalid, NotFound
from trading.settings import Settings

finance = requires(Role.ADMIN)
finance_or_regulator = requires(Role.ADMIN, Role.REGULATOR)
bidder = requires(Role.BIDDER)


class RateCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: str
    effective_from: date
    annual_rate: str
    source: str
    day_count: int = 360


class BankController(Controller):
    path = "/api/deposits/banks"
    tags = ["deposits"]

    @post("/", guards=[finance], operation_id="ConfigureDepositBank")
    async def configure(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                        data: BankCreate) -> Bank:
        return await services.configure_bank(conn, clock, data, actor=user, addr=addr)

    @get("/", guards=[signed_in], operation_id="ListDepositBanks")
    async def list_banks(self, conn: asyncpg.Connection) -> list[Bank]:
        return await repo.list_banks(conn)


class BidderDepositController(Controller):
    path = "/api/deposits"
    tags = ["deposits"]
    guards = [bidder]

    @post("/lots/{lot_id:uuid}/account", operation_id="RequestDepositAccount", status_code=200)
    async def request_account(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                              lot_id: UUID, data: AccountRequest) -> VirtualAccount:
        """A virtual sub-account unique to (lot, your organisation) at the bank you pick."""
        return await services.request_account(conn, clock, lot_id, data, user=user, addr=addr)

    @get("/lots/{lot_id:uuid}/mine", operation_id="MyDeposit")
    async def mine(self, conn: asyncpg.Connection, clock: Clock, user: User, lot_id: UUID) -> MyDeposit:
        return await views.my_deposit(conn, clock, lot_id, user)

    @post("/basic-accounts", operation_id="RegisterBasicAccount")
    async def register_basic(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                             data: BasicAccountCreate) -> BasicAccount:
        return await services.register_basic_account(conn, clock, data, user=user, addr=addr)

    @get("/basic-accounts", operation_id="MyBasicAccounts")
    async def basic_accounts(self, conn: asyncpg.Connection, user: User) -> list[BasicAccount]:
        return await repo.list_basic_accounts(conn, user.org_id) if user.org_id else []

    @post("/lots/{lot_id:uuid}/guarantees", operation_id="RegisterGuarantee")
    async def register_guarantee(
        self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User, addr: str | None,
        lot_id: UUID, data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Guarantee:
        """Multipart: issuer, number, amount (yuan), valid_from, valid_until (YYYY-MM-DD), evidence (PDF/XML)."""
        f = _form(data, ("issuer", "number", "amount", "valid_from", "valid_until"))
        upload = data.get("evidence")
        if not isinstance(upload, UploadFile):
            raise GuaranteeInvalid("attach the issuer's signed PDF or XML as 'evidence'", field="evidence")
        return await services.register_guarantee(
            conn, clock, blob_store(settings), lot_id, issuer=f["issuer"], number=f["number"], amount=f["amount"],
            valid_from=_date(f["valid_from"]), valid_until=_date(f["valid_until"]),
            evidence=await upload.read(), evidence_name=upload.filename or "evidence", user=user, addr=addr)


class FinanceController(Controller):
    path = "/api/deposits"
    tags = ["deposits"]

    @post("/imports", guards=[finance], operation_id="ImportBankStatement")
    async def import_statement(
        self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportResult:
        """Multipart: `file` (camt.053/054/052, MT940/942, csv/1) and `bank` (code). Imports, then matches."""
        upload, bank_code = data.get("file"), data.get("bank")
        if not isinstance(upload, UploadFile) or not isinstance(bank_code, str):
            raise Invalid("send multipart fields 'file' and 'bank'")
        bank = await repo.get_bank_by_code(conn, bank_code)
        result = await importing.import_file(conn, clock, bank, upload.file, filename=upload.filename or "upload",
                                             actor=user.id, addr=addr)
        if not result.already_imported:
            # only what this file can change (a full run when a pending entry was booked)
            result.match = await run_matching(conn, clock, actor=user.id, addr=addr,
                                              file_id=None if result.promoted else result.file_id)
        return result

    @post("/match", guards=[finance], operation_id="RunDepositMatching", status_code=200)
    async def match(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None) -> dict[str, Any]:
        return await run_matching(conn, clock, actor=user.id, addr=addr)

    @get("/lots/{lot_id:uuid}", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)],
         operation_id="LotDeposits")
    async def lot(self, conn: asyncpg.Connection, clock: Clock, user: User, lot_id: UUID) -> LotDeposits:
        """Before the deadline: counts only (regulators see everything)."""
        return await views.lot_deposits(conn, clock, lot_id, user)

    @get("/finance", guards=[finance_or_regulator], operation_id="DepositFinanceOverview")
    async def overview(self, conn: asyncpg.Connection, clock: Clock, user: User) -> dict[str, Any]:
        return await views.finance_overview(conn, clock, user)

    @post("/flags/decisions", guards=[finance], operation_id="DecideDepositFlag")
    async def decide(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     data: FlagDecisionCreate) -> dict[str, Any]:
        return await services.decide_flag(conn, clock, data, user=user, addr=addr)

    @post("/requirements/{requirement_id:uuid}/retain", guards=[finance], operation_id="RetainDeposit",
          status_code=200)
    async def retain(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     requirement_id: UUID, data: RetentionCreate) -> dict[str, Any]:
        return await refunds.retain(conn, clock, requirement_id, reason=data.reason, article=data.article,
                                    actor=user.id, addr=addr)

    @post("/refunds/txns/{txn_id:int}", guards=[finance], operation_id="RefundCredit")
    async def refund_credit(self, conn: asyncpg.Connection, clock: Clock, user: User, txn_id: int,
                            reason: str = "unknown_account") -> dict[str, Any]:
        return {"refund": str(await refunds.refund_credit(conn, clock, txn_id, reason, actor=str(user.id)))}

    @post("/refunds/export/{bank_code:str}", guards=[finance], operation_id="ExportRefunds", status_code=200)
    async def export(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     bank_code: str) -> Response[bytes]:
        """pain.001 of every pending refund of the bank; each refund is exported once, ever."""
        out = await refunds.export(conn, clock, await repo.get_bank_by_code(conn, bank_code), actor=user.id,
                                   addr=addr)
        if out is None:
            raise NotFound("no pending refunds for this bank")
        export_id, document = out
        return Response(document, media_type="application/xml", headers={
            "Content-Disposition": f'attachment; filename="pain001-{bank_code}-{export_id}.xml"',
            "X-Export-Id": str(export_id)})

    @get("/refunds/exports/{export_id:uuid}", guards=[finance], operation_id="DownloadRefundExport")
    async def download_export(self, conn: asyncpg.Connection, export_id: UUID) -> Response[bytes]:
        """The same bytes as first exported (re-download after a timeout: never a new file)."""
        doc = await conn.fetchval("SELECT document FROM deposit_refund_exports WHERE id = $1", export_id)
        if doc is None:
            raise NotFound("no such export")
        return Response(doc, media_type="application/xml")

    @post("/rates", guards=[finance], operation_id="AddInterestRate")
    async def add_rate(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                       data: RateCreate) -> dict[str, str]:
        added = await refunds.add_rate(conn, clock, data.kind, data.effective_from, data.annual_rate, data.source,
                                       data.day_count, actor=user.id, addr=addr)
        return {"status": "recorded" if added else "already_recorded"}

    @post("/ledger/check", guards=[finance], operation_id="CheckDepositLedger", status_code=200)
    async def check(self, conn: asyncpg.Connection, clock: Clock, user: User) -> dict[str, Any]:
        return await ledger.check(conn, clock, actor=str(user.id))

    @get("/reports/reconciliation.csv", guards=[finance_or_regulator], operation_id="ReconciliationCsv")
    async def report_csv(self, conn: asyncpg.Connection, clock: Clock, user: User) -> Response[bytes]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(views.REPORT_HEADER)
        w.writerows(await views.reconciliation_rows(conn, clock, user))
        # UTF-8 with BOM so that spreadsheet software in zh-CN opens it correctly
        return Response(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="reconciliation.csv"'})

    @get("/reports/reconciliation.pdf", guards=[finance_or_regulator], operation_id="ReconciliationPdf")
    async def report_pdf(self, conn: asyncpg.Connection, clock: Clock, settings: Settings,
                         user: User) -> Response[bytes]:
        from deposits.report import reconciliation_pdf

        return Response(await reconciliation_pdf(conn, clock, settings, user), media_type="application/pdf",
                        headers={"Content-Disposition": 'attachment; filename="reconciliation.pdf"'})


def _form(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for n in names:
        v = data.get(n)
        if not isinstance(v, str) or not v.strip():
            raise Invalid(f"{n} is required", field=n)
        out[n] = v.strip()
    return out


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not a date (YYYY-MM-DD)") from exc


ROUTES = [BankController, BidderDepositController, FinanceController, *PAGE_ROUTES]
