"""HTTP API of the witness record: keys, checkpoints, proofs, entries, witness notes, archives, reports."""
from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Stream

from trading.accounts.guards import PUBLIC, requires, signed_in
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.records import repository as repo
from trading.records import services
from trading.records.archive import stream_archive
from trading.records.checkpoints import get_checkpoint, latest_checkpoint
from trading.records.errors import CheckpointNotFound
from trading.records.keys import all_verifier_keys
from trading.records.report import render_witness_report
from trading.records.schemas import (
    CheckpointView,
    ConsistencyProof,
    DocumentView,
    EntryView,
    InclusionProof,
    WitnessNote,
    WitnessNoteCreate,
)
from trading.settings import Settings

ZIP = "application/zip"


@get("/.well-known/tenderhall/log-keys", opt=PUBLIC, operation_id="LogVerifierKeys", tags=["records"],
     media_type="text/plain")
async def log_keys(conn: asyncpg.Connection, settings: Settings) -> str:
    """Every verifier key of the log (C2SP signed-note vkeys), current first, one per line."""
    keys = list(dict.fromkeys([*all_verifier_keys(settings), *await repo.list_vkeys(conn)]))
    return "\n".join(keys) + "\n"


class CheckpointController(Controller):
    path = "/api/records"
    tags = ["records"]

    @get("/checkpoint", opt=PUBLIC, operation_id="LatestCheckpoint", media_type="text/plain")
    async def latest(self, conn: asyncpg.Connection, settings: Settings) -> str:
        """The latest signed checkpoint, as a C2SP signed note (text/plain), as witnesses expect it."""
        cp = await latest_checkpoint(conn, settings.origin)
        if cp is None:
            raise CheckpointNotFound("no checkpoint has been signed yet")
        return cp.note

    @get("/checkpoints/{tree_size:int}", opt=PUBLIC, operation_id="GetCheckpoint")
    async def by_size(self, conn: asyncpg.Connection, settings: Settings, tree_size: int) -> CheckpointView:
        cp = await get_checkpoint(conn, settings.origin, tree_size)
        if cp is None:
            raise CheckpointNotFound(f"no checkpoint of size {tree_size}")
        return services.checkpoint_view(cp)

    @get("/proofs/consistency", opt=PUBLIC, operation_id="ConsistencyProof")
    async def consistency(self, conn: asyncpg.Connection, size1: int = Parameter(ge=0),
                          size2: int = Parameter(ge=0)) -> ConsistencyProof:
        return await services.consistency_proof(conn, size1, size2)

    @get("/proofs/inclusion", guards=[signed_in], operation_id="InclusionProof")
    async def inclusion(self, conn: asyncpg.Connection, index: int = Parameter(ge=0),
                        tree_size: int | None = Parameter(default=None, ge=1)) -> InclusionProof:
        """Hashes only: a leaf hash reveals nothing of its entry (random ids, microsecond times). Without
        tree_size: to the latest checkpoint, returned with it (how a receipt is upgraded to a proof)."""
        return await services.inclusion_proof_to_checkpoint(conn, index, tree_size)


class TenderRecordController(Controller):
    path = "/api/records/tenders/{tender_id:uuid}"
    tags = ["records"]

    @get("/entries", guards=[signed_in], operation_id="ListTenderEntries")
    async def entries(self, conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID,
                      after: int = Parameter(default=-1), limit: int = Parameter(default=500, ge=1, le=1000)
                      ) -> list[EntryView]:
        return await services.list_tender_entries(conn, clock, user, tender_id, after=after, limit=limit)

    @get("/documents", guards=[signed_in], operation_id="ListTenderDocuments")
    async def documents(self, conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID
                        ) -> list[DocumentView]:
        return await services.list_tender_documents(conn, clock, user, tender_id)

    @get("/archive.zip", guards=[requires(Role.REGULATOR)], operation_id="DownloadTenderArchive")
    async def archive(self, request: Request, conn: asyncpg.Connection, clock: Clock, settings: Settings,
                      user: User, tender_id: UUID) -> Stream:
        await services.readable_tender(conn, clock, user, tender_id)
        return Stream(stream_archive(request.app.state.pool, clock, settings, tender_id=tender_id), media_type=ZIP,
                      headers={"Content-Disposition": f'attachment; filename="tender-{tender_id}-records.zip"'})

    @get("/documents/{sha256:str}", guards=[signed_in], operation_id="GetTenderDocument")
    async def document(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                       tender_id: UUID, sha256: str) -> Response[bytes] | Stream:
        doc, data = await services.read_tender_document(conn, clock, settings, user, tender_id, sha256)
        if isinstance(data, bytes):
            return Response(data, media_type=doc.media_type, headers={"Content-Disposition": doc.disposition})
        return Stream(data, media_type=doc.media_type, headers={"Content-Disposition": doc.disposition})

    @get("/witness-report.pdf", guards=[signed_in], operation_id="WitnessReport")
    async def witness_report(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                             tender_id: UUID) -> Response[bytes]:
        await services.readable_tender(conn, clock, user, tender_id)
        pdf = await render_witness_report(conn, clock, settings, tender_id)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="witness-report-{tender_id}.pdf"'})

    @post("/witness-report", guards=[requires(Role.WITNESS, Role.REGULATOR)], operation_id="IssueWitnessReport",
          status_code=201)
    async def issue_witness_report(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                                   addr: str | None, tender_id: UUID) -> DocumentView:
        return await services.issue_witness_report(conn, clock, settings, user, tender_id, addr=addr)


class WitnessNoteController(Controller):
    path = "/api/records/lots/{lot_id:uuid}/witness-notes"
    tags = ["records"]

    @post("/", guards=[requires(Role.WITNESS)], operation_id="AddWitnessNote", status_code=201)
    async def add(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                  data: WitnessNoteCreate) -> WitnessNote:
        return await services.add_witness_note(conn, clock, user, lot_id, data, addr=addr)


class LogArchiveController(Controller):
    path = "/api/records"
    tags = ["records"]

    @get("/archive.zip", guards=[requires(Role.REGULATOR)], operation_id="DownloadLogArchive")
    async def archive(self, request: Request, clock: Clock, settings: Settings) -> Stream:
        """The whole log (every entry and checkpoint): regulators only."""
        return Stream(stream_archive(request.app.state.pool, clock, settings, tender_id=None), media_type=ZIP,
                      headers={"Content-Disposition": 'attachment; filename="log-records.zip"'})


def _pages() -> list:
    from trading.records.pages import PAGES

    return PAGES


ROUTES = [log_keys, CheckpointController, TenderRecordController, WitnessNoteController, LogArchiveController,
          *_pages()]
