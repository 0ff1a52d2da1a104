"""The rules of the recordings (政府采购货物和服务招标投标管理办法 第三十九条: the purchaser or its agency records the
opening and the evaluation on audio and video, in full, and files the recordings with the procurement documents).

A recording is filed by the lot's agency, per stage (`opening`, `evaluation`; several files per stage are fine —
cameras split their files), once that stage has begun. Its bytes go to the blob store by SHA-256 and it is
registered as a document of the tender's record (`record:document:add`, kind `opening_recording` or
`evaluation_recording`): the regulator's archive carries it, and the offline verifier checks its hash like any
other document. For a government-procurement lot both stages must be on file before the evaluation report goes to
the purchaser (87号令 第六十八条 — the procurement file is then complete); under the Bidding Law recording is
optional (a local rule may require it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from evaluation.errors import AgencyRequired
from evaluation.recordings.errors import (
    RecordingEmpty,
    RecordingMediaType,
    RecordingMissing,
    RecordingStageUnknown,
    RecordingTooEarly,
)
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.records import repository as records_repo
from trading.records.services import register_document

STAGES = {"opening": "opening_recording", "evaluation": "evaluation_recording"}
MEDIA_PREFIXES = ("video/", "audio/")
MAX_BYTES = 64 * 1024**3  # a day of high-definition video; far past anything a trading centre records per file
# The lot statuses from which each stage has begun: the opening at the bid deadline (the lot closes by the
# clock), the evaluation when the opening session closes.
_BEGUN = {"opening": ("closed", "opening", "evaluation", "publicity", "awarded", "failed"),
          "evaluation": ("evaluation", "publicity", "awarded")}


class Recording(msgspec.Struct, kw_only=True):
    stage: str
    sha256: str
    size: int
    filename: str
    filed_at: datetime
    seq: int


def _kind(stage: str) -> str:
    kind = STAGES.get(stage)
    if kind is None:
        raise RecordingStageUnknown(f"no recording stage {stage!r}: {', '.join(STAGES)}")
    return kind


async def check_upload(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, stage: str, *, user: User,
                       media_type: str) -> Any:
    """Refuse before a byte is read: another organisation than the lot's agency, an unknown stage, a file that is
    not audio or video, a stage that has not begun. Returns the lot."""
    from trading.tenders import repository as tenders
    from trading.tenders.services import effective_status

    _kind(stage)
    lot = await tenders.get_lot(conn, lot_id)
    if not user.has(Role.ADMIN) and not (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id):
        raise AgencyRequired("only the lot's tendering agency files its recordings")
    if not media_type.lower().startswith(MEDIA_PREFIXES):
        raise RecordingMediaType(f"a recording is audio or video (audio/*, video/*), not {media_type or 'untyped'}")
    if effective_status(lot, clock.now()) not in _BEGUN[stage]:
        raise RecordingTooEarly(f"the {stage} of this lot has not begun: nothing to record yet", stage=stage)
    return lot


async def file_recording(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, stage: str, *, user: User,
                         media_type: str, filename: str, sha256: str, size: int, addr: str | None = None
                         ) -> Recording:
    """Register a recording already in the blob store (the rules are checked again in this transaction)."""
    lot = await check_upload(conn, clock, lot_id, stage, user=user, media_type=media_type)
    if size == 0:
        raise RecordingEmpty("the recording is empty")
    filename = "".join(c for c in filename if c.isprintable()).strip()[:200] or f"{stage}-recording"
    seq = await register_document(conn, clock, tender_id=lot.tender_id, lot_id=lot_id, kind=_kind(stage),
                                  filename=filename, sha256=sha256, size=size, actor=str(user.id), addr=addr)
    return Recording(stage=stage, sha256=sha256, size=size, filename=filename, filed_at=clock.now(), seq=seq)


async def list_recordings(conn: asyncpg.Connection, tender_id: UUID, lot_id: UUID) -> list[Recording]:
    stage_of = {kind: stage for stage, kind in STAGES.items()}
    return [Recording(stage=stage_of[d["kind"]], sha256=d["sha256"], size=d["size"], filename=d["filename"],
                      filed_at=d["created_at"], seq=d["seq"])
            for d in await records_repo.list_documents_for_tender(conn, tender_id)
            if d["lot_id"] == lot_id and d["kind"] in stage_of]


async def require_recordings(conn: asyncpg.Connection, lot) -> None:
    """87号令 第三十九条: a government-procurement lot's opening and evaluation are recorded and the recordings filed
    with the procurement documents; refused while a stage has none."""
    if lot.regime != "gov_procurement":
        return
    have = {r.stage for r in await list_recordings(conn, lot.tender_id, lot.id)}
    missing = [stage for stage in STAGES if stage not in have]
    if missing:
        raise RecordingMissing(
            "the audio/video recording of the " + " and the ".join(missing) + " must be filed first "
            "(政府采购货物和服务招标投标管理办法 第三十九条)", missing=missing)
