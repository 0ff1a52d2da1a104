"""HTTP for the opening: the agency's start/resume/close, custodians' bundle and releases, bidders' sign-in,
confirmation and objections, the record, and the hall's server-sent events."""
from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.response import ServerSentEvent

from trading.accounts.guards import requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.opening import repository as repo
from trading.opening import services
from trading.opening.live import hall_hub, sse_messages
from trading.opening.pages import PAGES, hall_view
from trading.opening.schemas import (
    ObjectionAnswer,
    ObjectionRaise,
    OpenedBid,
    OpeningBundle,
    OpeningRecord,
    OpeningSession,
    ReleaseResult,
    ReleaseSubmit,
    UnsealReport,
)
from trading.settings import Settings

agency = requires(Role.AGENCY, Role.ADMIN)
custodian = requires(Role.CUSTODIAN)
bidder = requires(Role.BIDDER)


async def _unseal_after(app, lot_id: UUID) -> None:
    state = app.state
    await services.run_unsealing(state.pool, state.clock, state.settings, lot_id)


class OpeningController(Controller):
    path = "/api/opening/lots/{lot_id:uuid}"
    tags = ["opening"]

    @get("/", guards=[signed_in], operation_id="GetOpening")
    async def get_opening(self, conn: asyncpg.Connection, lot_id: UUID) -> OpeningSession:
        return await repo.get_session(conn, lot_id)

    @post("/start", guards=[agency], operation_id="StartOpening", status_code=200)
    async def start(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                    addr: str | None, lot_id: UUID) -> OpeningSession:
        """Pass the deadline and start the opening now (idempotent; refused before the deadline)."""
        services._require_agency(user, await repo.get_lot(conn, lot_id))
        return await services.pass_deadline(conn, clock, settings, lot_id, actor=str(user.id), addr=addr)

    @get("/bundle", guards=[custodian], operation_id="GetOpeningBundle")
    async def bundle(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> OpeningBundle:
        return await services.opening_bundle(conn, lot_id, user)

    @post("/releases", guards=[custodian], operation_id="ReleaseShares", status_code=200)
    async def release(self, request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                      addr: str | None, lot_id: UUID, data: ReleaseSubmit) -> Response[ReleaseResult]:
        result = await services.release_shares(conn, clock, lot_id, user, data, addr=addr)
        return Response(result, background=BackgroundTask(_unseal_after, request.app, lot_id))

    @post("/unseal", guards=[agency], operation_id="ResumeUnsealing", status_code=200)
    async def unseal(self, request: Request, conn: asyncpg.Connection, user: User, lot_id: UUID) -> UnsealReport:
        """Settle every bid that has k good shares, expire the window, publish the record (idempotent)."""
        services._require_agency(user, await repo.get_lot(conn, lot_id))
        state = request.app.state
        return await services.run_unsealing(state.pool, state.clock, state.settings, lot_id)

    @post("/signin", guards=[bidder], operation_id="SignInOpening", status_code=200)
    async def sign_in(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      lot_id: UUID) -> dict:
        return {"signed_in": True, "new": await services.sign_in(conn, clock, lot_id, user, addr=addr)}

    @get("/record", guards=[signed_in], operation_id="GetOpeningRecord")
    async def record(self, conn: asyncpg.Connection, clock: Clock, user: User, lot_id: UUID) -> OpeningRecord:
        await hall_view(conn, clock, lot_id, user)  # participants only
        return await repo.get_record_or_fail(conn, lot_id)

    @get("/record.pdf", guards=[signed_in], operation_id="GetOpeningRecordPdf", media_type="application/pdf")
    async def record_pdf(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                         lot_id: UUID) -> Response[bytes]:
        await hall_view(conn, clock, lot_id, user)  # participants only
        record = await repo.get_record_or_fail(conn, lot_id)
        data = blob_store(settings).get_bytes(record.final_pdf_sha256 or record.pdf_sha256)
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="opening-record-{lot_id}.pdf"'})

    @post("/record/confirm", guards=[bidder], operation_id="ConfirmOpeningRecord", status_code=200)
    async def confirm(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      lot_id: UUID) -> dict:
        await services.confirm_record(conn, clock, lot_id, user, addr=addr)
        return {"confirmed": True}

    @post("/objections", guards=[bidder], operation_id="RaiseOpeningObjection", status_code=201)
    async def raise_objection(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                              lot_id: UUID, data: ObjectionRaise) -> dict:
        return {"id": str(await services.raise_objection(conn, clock, lot_id, user, data.content, addr=addr))}

    @post("/objections/{objection_id:uuid}/answer", guards=[agency], operation_id="AnswerOpeningObjection",
          status_code=200)
    async def answer(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     objection_id: UUID, data: ObjectionAnswer) -> dict:
        await services.answer_objection(conn, clock, lot_id, objection_id, user, data.answer, addr=addr)
        return {"answered": True}

    @post("/close", guards=[agency], operation_id="CloseOpening", status_code=200)
    async def close(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                    addr: str | None, lot_id: UUID) -> OpeningSession:
        return await services.close_opening(conn, clock, settings, lot_id, user, addr=addr)

    @get("/opened-bids", guards=[requires(Role.AGENCY, Role.ADMIN, Role.REGULATOR)], operation_id="ListOpenedBids")
    async def opened_bids(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> list[OpenedBid]:
        """The settled bids with their forms (evaluation reads them through `list_opened_bids`)."""
        if not user.has(Role.REGULATOR):
            services._require_agency(user, await repo.get_lot(conn, lot_id))
        await repo.get_record_or_fail(conn, lot_id)
        return await repo.list_opened_bids(conn, lot_id)

    @get("/events", guards=[signed_in], operation_id="OpeningEvents")
    async def events(self, request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                     lot_id: UUID) -> ServerSentEvent:
        """Server-sent events of the lot's hall (fed by PostgreSQL LISTEN/NOTIFY: every process sees every event)."""
        await hall_view(conn, clock, lot_id, user)  # participants only
        hub = await hall_hub(request.app)
        return ServerSentEvent(sse_messages(hub, lot_id), headers={"Cache-Control": "no-cache",
                                                                   "X-Accel-Buffering": "no"})


ROUTES = [OpeningController, *PAGES]
