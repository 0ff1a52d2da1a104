"""Errors of the recordings: `<Subject><Condition>`, each with its HTTP status and a stable code."""
from trading.errors import Conflict, DomainError, Invalid, NotFound


class RecordingStageUnknown(NotFound):
    code = "recording_stage_unknown"


class RecordingMediaType(DomainError):
    status = 415
    code = "recording_media_type"


class RecordingEmpty(Invalid):
    code = "recording_empty"


class RecordingTooLarge(DomainError):
    status = 413
    code = "recording_too_large"


class RecordingTooEarly(Conflict):
    code = "recording_too_early"


class RecordingMissing(Conflict):
    code = "recording_missing"
