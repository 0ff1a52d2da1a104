"""The opening's side of seal/v2: where the bids to open come from and how one bid is opened on the server.

`open_bid_files` is pure file work (no database): it runs in a worker thread while the caller holds the bid's
row lock. Every failure it reports is classified for attribution (电子招标投标办法 第三十一条): the causes it
returns are all the bidder's own (its shares, key commitment, payload or form), because shares that failed
their commitments were already set aside as the custodians' fault.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

import msgspec

from trading.bids import cthash
from trading.bids import package as bid_package
from trading.bids import seal as sealing
from trading.blobs import BlobStore

CHUNK = 1024 * 1024
SPOOL_MAX = 64 * 1024 * 1024


class OpenedFiles(msgspec.Struct, kw_only=True):
    ok: bool
    cause: str | None = None  # machine cause code when not ok
    detail: str | None = None
    dek: bytes | None = None
    form: dict[str, Any] | None = None
    price_fen: int | None = None
    duration_days: int | None = None
    attachments: list[dict[str, Any]] = []


def bid_uuid(bid_id: bytes | str | uuid.UUID) -> uuid.UUID:
    if isinstance(bid_id, uuid.UUID):
        return bid_id
    if isinstance(bid_id, (bytes, bytearray)):
        return uuid.UUID(bytes=bytes(bid_id))
    return uuid.UUID(str(bid_id))


def _hex(value: bytes | str) -> str:
    return value.hex() if isinstance(value, (bytes, bytearray)) else str(value)


def _put_derived(blobs: BlobStore, read) -> tuple[str, int]:
    """Stream a decrypted attachment into the blob store (temp file, rename); returns (sha256, size).

    Not fsynced, unlike uploads: a decrypted attachment is derived data — the fsynced ciphertext and the DEK
    logged in bid:unseal:ok re-create it byte for byte, and every read checks its hash. Waiting for the disk
    here would cost ~50 ms per 5 MiB bid and dominate the opening."""
    h = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=blobs.root / "tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            while block := read(CHUNK):
                h.update(block)
                f.write(block)
                size += len(block)
        digest = h.hexdigest()
        final = blobs.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(name, final)
        return digest, size
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _hash_only(read) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while block := read(CHUNK):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def open_bid_files(blobs: BlobStore, manifest: sealing.Manifest, shares: dict[int, bytes], *,
                   lot_id: str, store: bool = False) -> OpenedFiles:
    """Recover the DEK from good shares, check key_commit, decrypt the stored ciphertext as a stream, read
    form.json and check every attachment against its hash. Never raises for a bad bid: returns the cause.

    With store=True the attachments are also written to the blob store; the opening does that after the record
    is published (`store_attachments`), so the disk never stands between the last share and the record."""
    try:
        dek = sealing.recover_checked_dek(manifest, shares)
    except sealing.KeyCommitMismatch as exc:
        return OpenedFiles(ok=False, cause="key_commit_mismatch", detail=str(exc))
    except sealing.ShareInvalid as exc:
        # Shares consistent with the bidder's own commitments that do not recover a key: the bidder's fault.
        return OpenedFiles(ok=False, cause="shares_inconsistent", detail=str(exc))
    return decrypt_bid_files(blobs, manifest, dek, lot_id=lot_id, store=store)


def decrypt_bid_files(blobs: BlobStore, manifest: sealing.Manifest, dek: bytes, *, lot_id: str,
                      store: bool) -> OpenedFiles:
    ct_path = blobs.ciphertext_path(_hex(manifest.ct_root))
    if not ct_path.exists():
        # The platform lost the ciphertext: not the bidder's fault (treated as withdrawn by the caller).
        return OpenedFiles(ok=False, cause="ciphertext_missing", detail=f"blob {ct_path.name} is missing", dek=dek)
    # The plaintext package stays in memory up to SPOOL_MAX bytes (no disk round trip), larger ones spill to a
    # temporary file: memory stays bounded whatever the bid's size.
    if ct_path.stat().st_size != manifest.ct_len:
        return OpenedFiles(ok=False, cause="ciphertext_corrupt", dek=dek,
                           detail="the stored ciphertext's length differs from the manifest's ct_len")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX, dir=blobs.root / "tmp") as tmp:
        with ct_path.open("rb", buffering=CHUNK) as src:
            try:
                # Decrypt without re-hashing: the blob was hash-checked on upload, and only the holder of the
                # (until now secret) DEK could make another ciphertext that authenticates under it.
                sealing.decrypt_stream(dek, sealing.associated_data(manifest.ceremony_hash, manifest.bid_id),
                                       src, tmp)
            except sealing.PayloadCorrupt as exc:
                # Attribution (电子招标投标办法 第三十一条): if the stored blob is what the bidder signed, the payload
                # is the bidder's fault; if not, the platform's storage failed.
                if cthash.hash_file(ct_path)[0].hex() != _hex(manifest.ct_root):
                    return OpenedFiles(ok=False, cause="ciphertext_corrupt", dek=dek,
                                       detail="the stored ciphertext no longer matches the manifest's ct_root")
                return OpenedFiles(ok=False, cause="payload_undecryptable", detail=str(exc), dek=dek)
        tmp.seek(0)
        try:
            form = bid_package.read_form(tmp)
        except bid_package.BidFormInvalid as exc:
            return OpenedFiles(ok=False, cause="form_invalid", detail=str(exc), dek=dek)
        if form.lot_id != str(lot_id) or form.bidder_org_id != manifest.bidder_org_id:
            return OpenedFiles(ok=False, cause="form_mismatch", dek=dek,
                               detail="form.json names another lot or bidder than the signed manifest")
        attachments: list[dict[str, Any]] = []
        with zipfile.ZipFile(tmp) as zf:
            for att in form.attachments:
                try:
                    with zf.open(bid_package.ATTACHMENT_DIR + att.name) as member:
                        if store:
                            digest, size = _put_derived(blobs, member.read)
                        else:
                            digest, size = _hash_only(member.read)
                except (KeyError, zipfile.BadZipFile, OSError) as exc:
                    return OpenedFiles(ok=False, cause="attachment_missing", dek=dek,
                                       detail=f"attachment {att.name!r}: {exc}")
                if digest != att.sha256 or size != att.size:
                    return OpenedFiles(ok=False, cause="attachment_mismatch", dek=dek,
                                       detail=f"attachment {att.name!r} differs from form.json's hash")
                attachments.append({"name": att.name, "sha256": digest, "size": size})
        form_dict = msgspec.to_builtins(form)
        return OpenedFiles(ok=True, dek=dek, form=form_dict, price_fen=form.price_fen,
                           duration_days=form.duration_days, attachments=attachments)


# Causes that are the bidder's fault → revoked (撤销); anything else → withdrawn (撤回). 电子招标投标办法 第三十一条
BIDDER_FAULT = frozenset({
    "key_commit_mismatch", "shares_inconsistent", "payload_undecryptable", "form_invalid", "form_mismatch",
    "attachment_missing", "attachment_mismatch", "manifest_invalid", "signature_invalid",
})
