"""Errors of the records package."""
from __future__ import annotations

from trading.errors import Conflict, Forbidden, Invalid, NotFound


class RecordTenderNotFound(NotFound):
    code = "record_tender_not_found"


class RecordLotNotFound(NotFound):
    code = "record_lot_not_found"


class RecordEntryNotFound(NotFound):
    code = "record_entry_not_found"


class RecordsSealedUntilDeadline(Forbidden):
    code = "records_sealed_until_deadline"


class RecordsNotParticipant(Forbidden):
    code = "records_not_participant"


class ProofSizeInvalid(Invalid):
    code = "proof_size_invalid"


class CheckpointNotFound(NotFound):
    code = "checkpoint_not_found"


class WitnessNoteOutsideSession(Conflict):
    code = "witness_note_outside_session"


class WitnessNoteInvalid(Invalid):
    code = "witness_note_invalid"


class DocumentKindInvalid(Invalid):
    code = "document_kind_invalid"


class WitnessNoteSignatureInvalid(Invalid):
    code = "witness_note_signature_invalid"


class RecordDocumentNotFound(NotFound):
    code = "record_document_not_found"
