"""HTTP API of the recordings: file one (a streamed body, no transaction held while it streams), list them. They
are read back as documents of the tender's record (`GET /api/records/tenders/{id}/documents/{sha256}`)."""
from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, put
from litestar.params import Parameter

from evaluation.recordings import services
from evaluation.recordings.errors import RecordingTooLarge
from trading.accounts.guards import requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.errors import Invalid
from trading.records.services import readable_tender
from trading.settings import Settings


class RecordingController(Controller):
    path = "/api/evaluation/lots/{lot_id:uuid}/recordings"
    tags = ["evaluation"]

    @put("/{stage:str}", guards=[requires(Role.AGENCY, Role.ADMIN)], operation_id="FileRecording", status_code=201,
         request_max_body_size=services.MAX_BYTES)
    async def file(self, request: Request, clock: Clock, settings: Settings, user: User, addr: str | None,
                   lot_id: UUID, stage: str, filename: str = Parameter(query="filename", default="")
                   ) -> services.Recording:
        """The body is the recording (Content-Type audio/* or video/*), streamed to the blob store."""
        pool = request.app.state.pool
        media = request.headers.get("content-type", "")
        async with pool.acquire() as conn:
            await services.check_upload(conn, clock, lot_id, stage, user=user, media_type=media)
        try:
            digest, size = await blob_store(settings).put_stream(request.stream(), max_size=services.MAX_BYTES)
        except Invalid as exc:
            raise RecordingTooLarge(str(exc)) from None
        async with pool.acquire() as conn, conn.transaction():
            return await services.file_recording(conn, clock, lot_id, stage, user=user, media_type=media,
                                                 filename=filename, sha256=digest, size=size, addr=addr)

    @get("/", guards=[signed_in], operation_id="ListRecordings")
    async def recordings(self, conn: asyncpg.Connection, clock: Clock, user: User, lot_id: UUID
                   ) -> list[services.Recording]:
        """Who may read the tender's record may list its recordings."""
        from trading.tenders import repository as tenders

        lot = await tenders.get_lot(conn, lot_id)
        await readable_tender(conn, clock, user, lot.tender_id)
        return await services.list_recordings(conn, lot.tender_id, lot_id)


ROUTES = [RecordingController]
