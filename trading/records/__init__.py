"""Witness records (records/v1). Other packages call `append_entry` with a `Tag`:

    from trading.records import Tag, append_entry
"""
from trading.records.tags import Tag

__all__ = ["Appended", "Tag", "append_entry", "append_entries", "sign_checkpoint", "record_document"]


def __getattr__(name: str):
    # Lazy: the offline verifier imports this package and must not pull in the database client.
    if name in ("Appended", "append_entry", "append_entries"):
        from trading.records import log

        return getattr(log, name)
    if name == "sign_checkpoint":
        from trading.records.checkpoints import sign_checkpoint

        return sign_checkpoint
    if name == "record_document":
        from trading.records.services import record_document

        return record_document
    raise AttributeError(name)
