"""Rules of the witness record: proofs, who may read what, witness notes, documents."""
from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.accounts.schemas import Role, User
from trading.blobs import BlobStore
from trading.clock import Clock
from trading.records import merkle
from trading.records import repository as repo
from trading.records.checkpoints import Checkpoint
from trading.records.errors import (
    DocumentKindInvalid,
    ProofSizeInvalid,
    RecordDocumentNotFound,
    RecordLotNotFound,
    RecordsNotParticipant,
    RecordsSealedUntilDeadline,
    RecordTenderNotFound,
    WitnessNoteInvalid,
    WitnessNoteOutsideSession,
    WitnessNoteSignatureInvalid,
)
from trading.records.log import append_entry
from trading.records.schemas import (
    CheckpointView,
    ConsistencyProof,
    DocumentView,
    EntryView,
    InclusionProof,
    WitnessNote,
    WitnessNoteCreate,
)
from trading.records.tags import Tag
from trading.records.verify import witness_note_statement  # what a witness signs (pure)

MAX_NOTE_CHARS = 2000
WITNESS_NOTE_STATUSES = ("opening", "evaluation")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- proofs ---------------------------------------------------------------------------------------------

async def _head_size(conn: asyncpg.Connection) -> int:
    head = await repo.get_head(conn)
    return head["size"] if head else 0


async def _resolve(conn: asyncpg.Connection, ranges: list[merkle.Range]) -> list[bytes]:
    decomposed, wanted = merkle.nodes_for(ranges)
    return merkle.fold_all(decomposed, await repo.fetch_nodes(conn, wanted) if wanted else {})


async def inclusion_proof(conn: asyncpg.Connection, leaf_index: int, tree_size: int) -> InclusionProof:
    """O(log n) stored-node lookups, whatever the size of the log."""
    size = await _head_size(conn)
    if not 0 <= leaf_index < tree_size <= size:
        raise ProofSizeInvalid(f"need 0 ≤ leaf index ({leaf_index}) < tree size ({tree_size}) ≤ log size ({size})")
    hashes = await _resolve(conn, merkle.inclusion_ranges(leaf_index, tree_size))
    leaf = await repo.fetch_nodes(conn, {(0, leaf_index)})
    return InclusionProof(leaf_index=leaf_index, tree_size=tree_size, leaf_hash=b64(leaf[(0, leaf_index)]),
                          hashes=[b64(h) for h in hashes])


async def inclusion_proof_to_checkpoint(conn: asyncpg.Connection, leaf_index: int, tree_size: int | None
                                        ) -> InclusionProof:
    """The proof to `tree_size` (default: the latest checkpoint), with that checkpoint's signed note."""
    if tree_size is None:
        tree_size = await conn.fetchval("SELECT max(tree_size) FROM log_checkpoints") or 0
        if leaf_index >= tree_size:
            raise ProofSizeInvalid(f"entry {leaf_index} is not covered by a checkpoint yet; retry in a second")
    proof = await inclusion_proof(conn, leaf_index, tree_size)
    proof.checkpoint = await conn.fetchval("SELECT note FROM log_checkpoints WHERE tree_size = $1", tree_size)
    return proof


async def consistency_proof(conn: asyncpg.Connection, size1: int, size2: int) -> ConsistencyProof:
    size = await _head_size(conn)
    if not 0 < size1 <= size2 <= size:
        raise ProofSizeInvalid(f"need 0 < size1 ({size1}) ≤ size2 ({size2}) ≤ log size ({size})")
    hashes = await _resolve(conn, merkle.consistency_ranges(size1, size2))
    return ConsistencyProof(size1=size1, size2=size2, hashes=[b64(h) for h in hashes])


async def tree_root(conn: asyncpg.Connection, tree_size: int) -> bytes:
    """The root of any past tree size, from stored complete subtrees (O(log n) lookups)."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return (await _resolve(conn, [(0, tree_size)]))[0]


def checkpoint_view(cp: Checkpoint) -> CheckpointView:
    return CheckpointView(origin=cp.origin, tree_size=cp.tree_size, root=b64(cp.root), key_id=cp.key_id.hex(),
                          note=cp.note, signed_at=cp.signed_at, reason=cp.reason)


# ---- confidentiality --------------------------------------------------------------------------------------

async def readable_tender(conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID) -> asyncpg.Record:
    """The tender, if `user` may read its record now; else a refusal that says why."""
    tender = await repo.get_tender_access(conn, tender_id)
    if tender is None:
        raise RecordTenderNotFound(f"tender {tender_id} not found")
    if user.has(Role.REGULATOR):
        return tender
    # 招标投标法 第二十二条, 电子招标投标办法 第二十一条: before the deadline nobody but the supervising
    # authority may learn who or how many have obtained the documents, paid deposits or bid.
    if clock.now() < tender["bid_deadline"]:
        raise RecordsSealedUntilDeadline("the record of this tender is sealed until its bid deadline "
                                         "(only regulators may read it before)")
    participants = {tender["tenderer_org_id"], tender["agency_org_id"], *tender["participant_orgs"]}
    if user.has(Role.WITNESS) or (user.org_id is not None and user.org_id in participants):
        return tender
    raise RecordsNotParticipant("only the tender's participants, witnesses and regulators read its record")


def entry_view(row: asyncpg.Record) -> EntryView:
    data = bytes(row["entry"])
    return EntryView(seq=row["seq"], leaf_hash=bytes(row["leaf_hash"]).hex(), entry_b64=b64(data),
                     entry=msgspec.json.decode(data), time=row["time"])


async def list_tender_entries(conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID, *,
                              after: int = -1, limit: int = 500) -> list[EntryView]:
    await readable_tender(conn, clock, user, tender_id)
    rows = await repo.list_entries_for_tender(conn, tender_id, after=after, limit=max(1, min(limit, 1000)))
    return [entry_view(r) for r in rows]


# ---- witness notes (见证记录) ----------------------------------------------------------------------------

async def _witness_signature(conn: asyncpg.Connection, user: User, lot_id: UUID, text: str, signature: str
                             ) -> dict[str, str]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        sig = base64.b64decode(signature, validate=True)
    except ValueError as exc:
        raise WitnessNoteSignatureInvalid("the signature is not base64") from exc
    statement = witness_note_statement(lot_id, text)
    for key in await repo.list_approved_identity_keys(conn, user.id):
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(sig, statement)
        except (InvalidSignature, ValueError):
            continue
        return {"signature": b64(sig), "public_key": b64(key)}
    raise WitnessNoteSignatureInvalid("the signature does not verify with any approved identity key of yours")


async def add_witness_note(conn: asyncpg.Connection, clock: Clock, user: User, lot_id: UUID,
                           data: WitnessNoteCreate, *, addr: str | None = None) -> WitnessNote:
    text = data.text.strip()
    if not text or len(text) > MAX_NOTE_CHARS or len(data.action_taken or "") > MAX_NOTE_CHARS:
        raise WitnessNoteInvalid(f"a witness note has 1 to {MAX_NOTE_CHARS} characters")
    lot = await repo.get_lot_status(conn, lot_id)
    if lot is None:
        raise RecordLotNotFound(f"lot {lot_id} not found")
    # 见证记录 (RULES §8): witnesses record what they saw during the opening and the evaluation, with the
    # stage, time, witness, anomalies, action taken and whether the supervisor was informed.
    if lot["status"] not in WITNESS_NOTE_STATUSES:
        raise WitnessNoteOutsideSession(
            f"witness notes are taken during the opening and evaluation; the lot is {lot['status']}")
    body: dict[str, Any] = {"stage": lot["status"], "text": text, "witness": user.display_name,
                            "anomaly": data.anomaly, "action_taken": data.action_taken,
                            "supervisor_informed": data.supervisor_informed}
    if data.signature:
        body.update(await _witness_signature(conn, user, lot_id, text, data.signature))
    appended = await append_entry(conn, clock, Tag.WITNESS_NOTE_ADD, actor=str(user.id), tender_id=lot["tender_id"],
                                  lot_id=lot_id, body=body, addr=addr)
    return WitnessNote(seq=appended.seq, lot_id=str(lot_id), tender_id=str(lot["tender_id"]), stage=lot["status"],
                       text=text, leaf_hash=appended.leaf_hash.hex())


# ---- documents -------------------------------------------------------------------------------------------

async def record_document(conn: asyncpg.Connection, clock: Clock, *, tender_id: Any, lot_id: Any = None,
                          kind: str, filename: str, data: bytes, actor: str | None, settings: Any = None,
                          store: BlobStore | None = None, addr: str | None = None) -> str:
    """Store a document produced for a tender (a signed PDF: opening record, evaluation report, award
    notice, witness report…) in the blob store, register it for the tender's archive and log its hash
    (`record:document:add`) in the caller's transaction. Returns the SHA-256 hex digest."""
    if not _KIND.match(kind):  # refused before a byte is stored (register_document checks it too)
        raise DocumentKindInvalid("kind is a short snake_case word, e.g. opening_record")
    if store is None:
        if settings is None:
            raise TypeError("record_document needs settings or a blob store")
        store = BlobStore(settings.blob_dir)
    digest = store.put_bytes(data)
    await register_document(conn, clock, tender_id=tender_id, lot_id=lot_id, kind=kind, filename=filename,
                            sha256=digest, size=len(data), actor=actor, addr=addr)
    return digest


async def register_document(conn: asyncpg.Connection, clock: Clock, *, tender_id: Any, lot_id: Any = None,
                            kind: str, filename: str, sha256: str, size: int, actor: str | None,
                            addr: str | None = None) -> int:
    """Register a document already in the blob store (streamed there: a recording of many GB) for the tender's
    archive and log its hash (`record:document:add`) in the caller's transaction. Returns the entry's seq."""
    if not _KIND.match(kind):
        raise DocumentKindInvalid("kind is a short snake_case word, e.g. opening_record")
    filename = filename.replace("/", "_").replace("\\", "_").strip() or "document"
    tender = UUID(str(tender_id))
    lot = UUID(str(lot_id)) if lot_id else None
    appended = await append_entry(conn, clock, Tag.RECORD_DOCUMENT_ADD, actor=actor, tender_id=tender, lot_id=lot,
                                  body={"sha256": sha256, "kind": kind, "filename": filename, "size": size},
                                  addr=addr)
    await repo.insert_document(conn, sha256=sha256, tender_id=tender, lot_id=lot, kind=kind, filename=filename[:200],
                               size=size, seq=appended.seq, actor=actor, now=clock.now())
    return appended.seq


async def list_tender_documents(conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID
                                ) -> list[DocumentView]:
    await readable_tender(conn, clock, user, tender_id)
    return [DocumentView(sha256=r["sha256"], kind=r["kind"], filename=r["filename"], size=r["size"],
                         lot_id=str(r["lot_id"]) if r["lot_id"] else None, seq=r["seq"], created_at=r["created_at"])
            for r in await repo.list_documents_for_tender(conn, tender_id)]


async def issue_witness_report(conn: asyncpg.Connection, clock: Clock, settings: Any, user: User, tender_id: UUID,
                               *, addr: str | None = None) -> DocumentView:
    """Render and sign the 见证报告 and register it (logged) for the tender's archive."""
    from trading.records.report import render_witness_report

    await readable_tender(conn, clock, user, tender_id)
    pdf = await render_witness_report(conn, clock, settings, tender_id)
    when = clock.now().strftime("%Y%m%dT%H%M%SZ")
    digest = await record_document(conn, clock, tender_id=tender_id, kind="witness_report",
                                   filename=f"witness-report-{when}.pdf", data=pdf, actor=str(user.id),
                                   settings=settings, addr=addr)
    docs = await list_tender_documents(conn, clock, user, tender_id)
    return next(d for d in docs if d.sha256 == digest)


class DocumentFile(msgspec.Struct, kw_only=True):
    media_type: str
    disposition: str


STREAM_FROM = 16 * 1024 * 1024  # documents larger than this (recordings) are streamed, not read into memory


async def read_tender_document(conn: asyncpg.Connection, clock: Clock, settings: Any, user: User, tender_id: UUID,
                               sha256: str) -> tuple[DocumentFile, bytes | Iterator[bytes]]:
    """A registered document of the tender (same confidentiality as its record); the hash is checked on read —
    before the first byte for a document up to STREAM_FROM (returned as bytes), while it streams for a larger one
    (an iterator that raises BlobCorrupt at its end, so a corrupt recording never arrives whole)."""
    await readable_tender(conn, clock, user, tender_id)
    doc = next((d for d in await repo.list_documents_for_tender(conn, tender_id) if d["sha256"] == sha256), None)
    if doc is None:
        raise RecordDocumentNotFound(f"no document {sha256} in the record of tender {tender_id}")
    store = BlobStore(settings.blob_dir)
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in doc["filename"])
    guessed = mimetypes.guess_type(doc["filename"])[0] or "application/octet-stream"
    if doc["size"] > STREAM_FROM:
        return DocumentFile(media_type=guessed, disposition=f'attachment; filename="{name}"'), \
            store.iter_chunks(sha256)
    data = store.get_bytes(sha256)
    media = "application/pdf" if data.startswith(b"%PDF") else guessed
    return DocumentFile(media_type=media, disposition=f'inline; filename="{name}"'), data
