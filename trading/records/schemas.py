"""Structs of the records API."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class EntryView(msgspec.Struct, kw_only=True):
    seq: int
    leaf_hash: str            # hex SHA-256(0x00 ‖ entry)
    entry_b64: str            # the exact stored bytes, base64 (hash these, never a re-encoding)
    entry: dict[str, Any]     # the same bytes decoded, for reading
    time: datetime


class CheckpointView(msgspec.Struct, kw_only=True):
    origin: str
    tree_size: int
    root: str                 # base64, as in the checkpoint text
    key_id: str               # hex
    note: str                 # the signed note, exactly as signed
    signed_at: datetime
    reason: str


class InclusionProof(msgspec.Struct, kw_only=True):
    leaf_index: int
    tree_size: int
    leaf_hash: str            # base64
    hashes: list[str]         # base64, bottom up (RFC 9162 §2.1.3)
    checkpoint: str | None = None   # the signed checkpoint of tree_size, when one exists


class ConsistencyProof(msgspec.Struct, kw_only=True):
    size1: int
    size2: int
    hashes: list[str]         # base64 (RFC 9162 §2.1.4)


class WitnessNoteCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: str                              # what was witnessed, e.g. "on-site check of expert identities done"
    anomaly: bool = False                  # 异常情况
    action_taken: str | None = None        # 处理措施
    supervisor_informed: bool = False      # 是否报告监督部门
    # Optional: base64 Ed25519 signature by one of the witness's approved identity keys over
    # witness_note_statement(lot_id, text) — then the record proves the witness wrote it, not the platform.
    signature: str | None = None


class WitnessNote(msgspec.Struct, kw_only=True):
    seq: int
    lot_id: str
    tender_id: str
    stage: str
    text: str
    leaf_hash: str


class DocumentView(msgspec.Struct, kw_only=True):
    sha256: str
    kind: str
    filename: str
    size: int
    lot_id: str | None
    seq: int
    created_at: datetime
