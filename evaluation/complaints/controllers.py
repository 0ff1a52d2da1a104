"""HTTP of complaints (投诉): the complainant files, the regulator accepts or refuses, suspends and resumes the
tender's activity, and decides; everyone reads what their role lets them see."""
from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from evaluation.complaints import services
from evaluation.complaints.schemas import (
    Complaint,
    ComplaintDecisionIn,
    ComplaintIn,
    ComplaintReviewIn,
    ComplaintSuspendIn,
    ComplaintWithdrawIn,
    Evidence,
    WithdrawalDecisionIn,
)
from trading.accounts.guards import requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.downloads import attachment_disposition
from trading.errors import Invalid
from trading.settings import Settings

regulator = requires(Role.REGULATOR)
SAFE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})


class ComplaintController(Controller):
    path = "/api/complaints"
    tags = ["complaints"]

    @post("/", guards=[requires(Role.BIDDER)], operation_id="FileComplaint", status_code=201)
    async def file(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                   data: ComplaintIn) -> Complaint:
        """投诉 within 10 days, after an objection where one is required (招标投标法实施条例 第六十条); GP: after a
        质疑, within 15 working days of its answer period (政府采购法 第五十五条)."""
        return await services.file_complaint(conn, clock, data, user=user, addr=addr)

    @get("/", guards=[signed_in], operation_id="ListComplaints")
    async def list_complaints(self, conn: asyncpg.Connection, clock: Clock, user: User) -> list[Complaint]:
        return await services.list_complaints(conn, clock, user=user)

    @get("/{complaint_id:uuid}", guards=[signed_in], operation_id="GetComplaint")
    async def get_complaint(self, conn: asyncpg.Connection, clock: Clock, user: User, complaint_id: UUID) -> Complaint:
        return await services.get_complaint(conn, clock, complaint_id, user=user)

    @post("/{complaint_id:uuid}/evidence", guards=[requires(Role.BIDDER)], operation_id="AddComplaintEvidence",
          status_code=201)
    async def add_evidence(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                           addr: str | None, complaint_id: UUID,
                           data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]) -> Evidence:
        """Multipart `file`: 证明材料 (条例 第六十条), by the complainant while the complaint is open."""
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("send the evidence as multipart field 'file'", field="file")
        return await services.add_evidence(conn, clock, blob_store(settings), complaint_id,
                                           filename=upload.filename or "evidence", content_type=upload.content_type,
                                           content=await upload.read(), user=user, addr=addr)

    @get("/{complaint_id:uuid}/evidence/{sha256:str}", guards=[signed_in], operation_id="GetComplaintEvidence")
    async def evidence(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                       complaint_id: UUID, sha256: str) -> Response[bytes]:
        ev, data = await services.evidence_file(conn, clock, blob_store(settings), complaint_id, sha256, user=user)
        # Served as a download, typed only from a short list: an uploaded file never runs as a page of the platform.
        media = ev.content_type if ev.content_type in SAFE_TYPES else "application/octet-stream"
        return Response(data, media_type=media,
                        headers={"Content-Disposition": attachment_disposition(ev.filename),
                                 "X-Content-Type-Options": "nosniff"})

    @post("/{complaint_id:uuid}/accept", guards=[regulator], operation_id="AcceptComplaint", status_code=200)
    async def accept(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     complaint_id: UUID) -> Complaint:
        return await services.accept_complaint(conn, clock, complaint_id, user=user, addr=addr)

    @post("/{complaint_id:uuid}/refuse", guards=[regulator], operation_id="RefuseComplaint", status_code=200)
    async def refuse(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, complaint_id: UUID,
                     data: ComplaintReviewIn) -> Complaint:
        return await services.refuse_complaint(conn, clock, complaint_id, data, user=user, addr=addr)

    @post("/{complaint_id:uuid}/suspend", guards=[regulator], operation_id="SuspendForComplaint", status_code=200)
    async def suspend(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, complaint_id: UUID,
                      data: ComplaintSuspendIn) -> Complaint:
        """责令暂停招标投标活动 (条例 第六十二条)."""
        return await services.suspend_tender(conn, clock, complaint_id, data, user=user, addr=addr)

    @post("/{complaint_id:uuid}/resume", guards=[regulator], operation_id="ResumeAfterComplaint", status_code=200)
    async def resume(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     complaint_id: UUID) -> Complaint:
        return await services.resume_tender(conn, clock, complaint_id, user=user, addr=addr)

    @post("/{complaint_id:uuid}/decision", guards=[regulator], operation_id="DecideComplaint", status_code=200)
    async def decide(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, complaint_id: UUID,
                     data: ComplaintDecisionIn) -> Complaint:
        """书面处理决定 (条例 第六十一条); lifts the suspension this complaint ordered."""
        return await services.decide_complaint(conn, clock, complaint_id, data, user=user, addr=addr)

    @post("/{complaint_id:uuid}/withdraw", guards=[requires(Role.BIDDER)], operation_id="WithdrawComplaint",
          status_code=200)
    async def withdraw(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                       complaint_id: UUID, data: ComplaintWithdrawIn) -> Complaint:
        """The complainant withdraws (GP, or not yet accepted: at once) or asks to (Bidding Law, accepted)."""
        return await services.withdraw_complaint(conn, clock, complaint_id, data, user=user, addr=addr)

    @post("/{complaint_id:uuid}/withdrawal", guards=[regulator], operation_id="DecideWithdrawal", status_code=200)
    async def withdrawal(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                         complaint_id: UUID, data: WithdrawalDecisionIn) -> Complaint:
        """Bidding Law: allow the withdrawal asked for, or refuse it with the clear violation found."""
        return await services.decide_withdrawal(conn, clock, complaint_id, data, user=user, addr=addr)


def _routes() -> list[Any]:
    from evaluation.complaints.pages import PAGES

    return [ComplaintController, *PAGES]


ROUTES = _routes()
