"""HTTP of the tenders package: public announcements, the agency's tender work, bidders obtaining documents."""
from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, patch, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter

from trading.accounts.guards import PUBLIC, requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.downloads import attachment_disposition
from trading.settings import Settings
from trading.tenders import services
from trading.tenders.listing import listing_cache
from trading.tenders.pages import PAGE_ROUTES
from trading.tenders.schemas import (
    AgencyTenderItem,
    AmendmentCreate,
    Cancellation,
    CustodianAssign,
    Document,
    Download,
    LotView,
    Notice,
    Objection,
    ObjectionAnswer,
    ObjectionCreate,
    OverdueObjection,
    TenderCreate,
    TenderPage,
    TenderUpdate,
    TenderView,
)

agency_only = requires(Role.AGENCY)
bidder_only = requires(Role.BIDDER)


class PublicTenderController(Controller):
    path = "/api/tenders"
    tags = ["tenders"]

    @get("/", opt=PUBLIC, operation_id="ListTenders")
    async def list_tenders(
        self, state: State, clock: Clock, q: str | None = None, region: str | None = None,
        procurement_type: Annotated[str | None, Parameter(query="type")] = None, status: str | None = None,
        page: int = 1, page_size: int = 20,
    ) -> TenderPage:
        """Published tenders, newest first; keyword (title/code), region prefix, type and status filters."""
        return await listing_cache(state).page(state.pool, clock, q=q, region=region,
                                               procurement_type=procurement_type, status=status, page=page,
                                               page_size=page_size)

    @post("/", guards=[agency_only], operation_id="CreateTender")
    async def create(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     data: TenderCreate) -> TenderView:
        tender = await services.create_tender(conn, clock, data, user=user, addr=addr)
        return await services.tender_view(conn, clock, tender.id, user)

    @patch("/{tender_id:uuid}", guards=[agency_only], operation_id="UpdateDraftTender")
    async def update_draft(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                           tender_id: UUID, data: TenderUpdate) -> TenderView:
        """Edit a draft; a published tender changes only by amendment."""
        await services.update_draft(conn, clock, tender_id, data, user=user, addr=addr)
        return await services.tender_view(conn, clock, tender_id, user)

    @get("/{tender_id:uuid}", opt=PUBLIC, operation_id="GetTender")
    async def get_tender(self, conn: asyncpg.Connection, clock: Clock, maybe_user: User | None,
                         tender_id: UUID) -> TenderView:
        """The announcement with lots, timeline, documents and amendment history (drafts: their agency only)."""
        return await services.tender_view(conn, clock, tender_id, maybe_user)


class AgencyTenderController(Controller):
    path = "/api/tenders"
    tags = ["tenders"]
    guards = [agency_only]

    @post("/{tender_id:uuid}/lots/{lot_id:uuid}/custodians", operation_id="AssignCustodians", status_code=200)
    async def assign_custodians(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                                tender_id: UUID, lot_id: UUID, data: CustodianAssign) -> dict[str, Any]:
        await services.assign_custodians(conn, clock, tender_id, lot_id, data.custodian_ids, user=user, addr=addr)
        return {"lot_id": str(lot_id), "custodians": [{"custodian_id": str(c), "x": x}
                                                      for x, c in enumerate(data.custodian_ids, start=1)]}

    @post("/{tender_id:uuid}/documents", operation_id="AddTenderDocument")
    async def add_document(
        self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User, addr: str | None,
        tender_id: UUID, data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Document:
        """Multipart: `file`, optional `lot_id` (none: the document applies to every lot)."""
        upload, lot_id = _upload(data)
        return await services.add_document(
            conn, clock, blob_store(settings), tender_id, lot_id=lot_id, filename=upload.filename or "document",
            content_type=upload.content_type, content=await upload.read(), user=user, addr=addr)

    @post("/{tender_id:uuid}/publish", operation_id="PublishTender", status_code=200)
    async def publish(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      tender_id: UUID) -> TenderView:
        await services.publish_tender(conn, clock, tender_id, user=user, addr=addr)
        return await services.tender_view(conn, clock, tender_id, user)

    @post("/{tender_id:uuid}/amendments", operation_id="AmendTender")
    async def amend(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, tender_id: UUID,
                    data: AmendmentCreate) -> TenderView:
        await services.amend_tender(conn, clock, tender_id, data, user=user, addr=addr)
        return await services.tender_view(conn, clock, tender_id, user)

    @post("/{tender_id:uuid}/cancel", operation_id="CancelTender", status_code=200)
    async def cancel(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, tender_id: UUID,
                     data: Cancellation) -> TenderView:
        await services.cancel_tender(conn, clock, tender_id, data.reason, user=user, addr=addr)
        return await services.tender_view(conn, clock, tender_id, user)

    @post("/{tender_id:uuid}/lots/{lot_id:uuid}/cancel", operation_id="CancelLot", status_code=200)
    async def cancel_lot(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                         tender_id: UUID, lot_id: UUID, data: Cancellation) -> LotView:
        lot = await services.cancel_lot(conn, clock, tender_id, lot_id, data.reason, user=user, addr=addr)
        return services.lot_view(lot, clock.now())

    @post("/{tender_id:uuid}/objections/{objection_id:uuid}/answer", operation_id="AnswerTenderObjection",
          status_code=200)
    async def answer_objection(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                               tender_id: UUID, objection_id: UUID, data: ObjectionAnswer) -> Objection:
        return await services.answer_objection(conn, clock, tender_id, objection_id, data.answer, user=user,
                                               addr=addr)


class TenderParticipationController(Controller):
    path = "/api/tenders"
    tags = ["tenders"]

    @post("/{tender_id:uuid}/lots/{lot_id:uuid}/obtain", guards=[bidder_only], operation_id="ObtainDocuments",
          status_code=200)
    async def obtain(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, tender_id: UUID,
                     lot_id: UUID) -> list[Document]:
        """领取招标文件: free, immediate, no approval; the platform records who (confidential until the deadline)."""
        return await services.obtain_documents(conn, clock, tender_id, lot_id, user=user, addr=addr)

    @get("/{tender_id:uuid}/lots/{lot_id:uuid}/documents/{document_id:uuid}",
         guards=[requires(Role.BIDDER, Role.AGENCY, Role.REGULATOR)], operation_id="DownloadTenderDocument")
    async def download(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                       addr: str | None, tender_id: UUID, lot_id: UUID, document_id: UUID) -> Response[bytes]:
        doc = await services.document_for(conn, clock, tender_id, lot_id, document_id, user=user, addr=addr)
        return Response(blob_store(settings).get_bytes(doc.sha256), media_type=doc.content_type, headers={
            "Content-Disposition": attachment_disposition(doc.filename),
            "X-Content-SHA256": doc.sha256})

    @get("/{tender_id:uuid}/lots/{lot_id:uuid}/downloads", guards=[signed_in], operation_id="ListDownloaders")
    async def downloads(self, conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID,
                        lot_id: UUID) -> list[Download]:
        """Who obtained the documents: regulators any time; agency and tenderer only after the deadline."""
        return await services.list_downloads(conn, clock, tender_id, lot_id, user=user)

    @post("/{tender_id:uuid}/objections", guards=[bidder_only], operation_id="FileTenderObjection")
    async def file_objection(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                             tender_id: UUID, data: ObjectionCreate) -> Objection:
        """异议 to the documents (条例 第二十二条): suspends the tender until the agency answers."""
        return await services.file_objection(conn, clock, tender_id, data, user=user, addr=addr)

    @get("/{tender_id:uuid}/objections", guards=[requires(Role.BIDDER, Role.AGENCY, Role.REGULATOR)],
         operation_id="ListTenderObjections")
    async def objections(self, conn: asyncpg.Connection, clock: Clock, user: User,
                         tender_id: UUID) -> list[Objection]:
        return await services.list_objections(conn, clock, tender_id, user=user)


class MyTendersController(Controller):
    path = "/api"
    tags = ["tenders"]

    @get("/bidder/tender-notices", guards=[bidder_only], operation_id="ListTenderNotices")
    async def notices(self, conn: asyncpg.Connection, user: User, limit: int = 100) -> list[Notice]:
        """Amendments, clarifications and cancellations of tenders whose documents my organisation obtained."""
        return await services.list_notices(conn, user=user, limit=limit)

    @get("/regulator/overdue-objections", guards=[requires(Role.REGULATOR)], operation_id="ListOverdueObjections")
    async def overdue_objections(self, conn: asyncpg.Connection, clock: Clock) -> list[OverdueObjection]:
        """Objections to tender documents still unanswered past their due time (条例 第二十二条: 3 days)."""
        return await services.list_overdue_objections(conn, clock)

    @get("/agency/tenders", guards=[agency_only], operation_id="ListAgencyTenders")
    async def agency_tenders(self, conn: asyncpg.Connection, clock: Clock, user: User, page: int = 1,
                             page_size: int = 50) -> list[AgencyTenderItem]:
        """My agency's tenders, drafts included, newest first."""
        return await services.list_agency_tenders(conn, clock, user=user, page=page, page_size=page_size)


def _upload(data: dict[str, Any]) -> tuple[UploadFile, UUID | None]:
    from trading.errors import Invalid

    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("send the document as multipart field 'file'", field="file")
    raw = data.get("lot_id")
    try:
        lot_id = UUID(raw) if raw else None
    except ValueError as exc:
        raise Invalid("lot_id must be a UUID", field="lot_id") from exc
    return upload, lot_id


ROUTES = [PublicTenderController, AgencyTenderController, TenderParticipationController, MyTendersController,
          *PAGE_ROUTES]
