"""The bidder's and custodian's side of the bids API, over any httpx.AsyncClient (the CLI's, or a test's
AsyncTestClient). Pure: no server imports.

A sealed bid on disk is two files: `NAME.ct` (the ciphertext) and `NAME.manifest` (JSON: base64 manifest bytes
and signature, plus the lot id for convenience); a submission adds `NAME.receipt` (the signed note).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.bids import ceremony as ceremony_mod
from trading.bids import receipt as receipt_mod
from trading.bids import seal
from trading.bids.keys import identity_proof_bytes

CHUNK = 8 * 1024 * 1024
RETRIES = 5


class ClientError(Exception):
    """The server refused, with its problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = problem.get("code", "http_error")
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class SealedFiles(msgspec.Struct, frozen=True):
    lot_id: str
    manifest: bytes
    signature: bytes


def _check(resp: httpx.Response, *ok: int) -> httpx.Response:
    if resp.status_code not in (ok or (200, 201, 204)):
        try:
            problem = resp.json()
        except ValueError:
            problem = {"detail": resp.text[:500]}
        raise ClientError(resp.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
    return resp


def write_sealed(base: Path, lot_id: str, sealed: seal.Sealed) -> Path:
    path = base.with_name(base.name + ".manifest")
    path.write_bytes(msgspec.json.encode(SealedFiles(lot_id=lot_id, manifest=sealed.manifest_bytes,
                                                     signature=sealed.signature)))
    return path


def read_sealed(base: Path) -> SealedFiles:
    return msgspec.json.decode(base.with_name(base.name + ".manifest").read_bytes(), type=SealedFiles)


async def whoami(http: httpx.AsyncClient) -> dict[str, Any]:
    return _check(await http.get("/api/auth/me")).json()


async def seal_info(http: httpx.AsyncClient, lot_id: str) -> dict[str, Any]:
    return checked_seal_info(_check(await http.get(f"/api/lots/{lot_id}/seal-info")).json())


def checked_seal_info(info: dict[str, Any]) -> dict[str, Any]:
    info = dict(info)
    record = base64.b64decode(info["ceremony_record"])
    pinned = base64.b64decode(info["ceremony_hash"])
    # Never trust the server's pairing: the record must hash to the pinned ceremony hash.
    if ceremony_mod.ceremony_hash(record) != pinned:
        raise seal.ManifestInvalid("the lot's ceremony record does not match its ceremony hash")
    info["ceremony_record_bytes"] = record
    info["ceremony_hash_bytes"] = pinned
    return info


PACK_VERSION = "tenderhall/lot-pack/v1"


async def fetch_pack(http: httpx.AsyncClient, lot_id: str) -> dict[str, Any]:
    """Everything `bid seal` needs, saved for sealing offline (电子招标投标办法 第二十六条): who you are, the
    lot's published ceremony record and bid fields, and your latest version (for a replacement)."""
    me = await whoami(http)
    raw = _check(await http.get(f"/api/lots/{lot_id}/seal-info")).json()
    checked_seal_info(raw)
    return {"v": PACK_VERSION, "lot_id": lot_id, "me": {"id": me["id"], "org_id": me["org_id"]},
            "seal_info": raw, "latest": await latest_bid(http, lot_id)}


async def register_identity_key(http: httpx.AsyncClient, key: Ed25519PrivateKey) -> dict[str, Any]:
    me = await whoami(http)
    public = key.public_key().public_bytes_raw()
    proof = key.sign(identity_proof_bytes(me["id"], public))
    return _check(await http.post("/api/identity-keys", json={"public_key": base64.b64encode(public).decode(),
                                                               "proof": base64.b64encode(proof).decode()})).json()


async def upload_lot_key(http: httpx.AsyncClient, lot_id: str, identity: Ed25519PrivateKey, public_key: bytes,
                         suite: str) -> dict[str, Any]:
    seat = _check(await http.get(f"/api/custodian/lots/{lot_id}")).json()
    if seat["suite"] != suite:
        raise seal.ManifestInvalid(f"the lot requires the {seat['suite']} suite")
    statement = ceremony_mod.key_statement_bytes(lot_id, seat["custodian_id"], seat["x"], suite, public_key)
    body = {"suite": suite, "public_key": base64.b64encode(public_key).decode(),
            "signature": base64.b64encode(identity.sign(statement)).decode()}
    return _check(await http.put(f"/api/custodian/lots/{lot_id}/key", json=body)).json()


async def custodian_seat(http: httpx.AsyncClient, lot_id: str) -> dict[str, Any]:
    return _check(await http.get(f"/api/custodian/lots/{lot_id}")).json()


async def latest_bid(http: httpx.AsyncClient, lot_id: str) -> dict[str, Any] | None:
    bids = _check(await http.get(f"/api/lots/{lot_id}/bids/mine")).json()
    return bids[-1] if bids else None


async def upload(http: httpx.AsyncClient, lot_id: str, manifest: bytes, signature: bytes, ct: Path | bytes, *,
                 chunk: int = CHUNK, progress: Callable[[int], object] | None = None,
                 upload_id: str | None = None, on_created: Callable[[str], object] | None = None,
                 one_request: bool = True) -> dict[str, Any]:
    """Submit the sealed bid; returns the acceptance.

    A bid of at most `chunk` bytes goes in one request (`POST /api/lots/{lot}/bids`: manifest in Upload-Metadata,
    ciphertext as the body, receipt in the answer). A larger one, or one whose upload is being resumed
    (`upload_id`), uses the resumable protocol: create (or resume) the upload, send the ciphertext in chunks,
    finalise (always, with `one_request=False`).

    A dropped request is retried: a chunk from the offset the server reports (HEAD), so an interrupted upload
    resumes where it stopped; a submission or finalize whose answer was lost is looked up among the bidder's own
    bids (by manifest hash) before it is retried, so a bid is never submitted twice nor its receipt lost.
    """
    if one_request and upload_id is None and (len(ct) if isinstance(ct, (bytes, bytearray)) else Path(ct).stat().st_size) <= chunk:
        return await _submit_whole(http, lot_id, manifest, signature, ct, progress)
    if upload_id is None:
        body = {"manifest": base64.b64encode(manifest).decode(), "signature": base64.b64encode(signature).decode()}
        created = _check(await _retry(lambda: http.post(f"/api/lots/{lot_id}/bids/uploads", json=body)), 201).json()
        upload_id = created["upload_id"]
        if on_created:
            on_created(upload_id)
    src = io.BytesIO(ct) if isinstance(ct, (bytes, bytearray)) else None
    total = len(ct) if src is not None else Path(ct).stat().st_size  # type: ignore[arg-type]
    url = f"/api/bids/uploads/{upload_id}"
    failures = 0
    with (src if src is not None else Path(ct).open("rb")) as f:  # type: ignore[arg-type]
        offset = await upload_offset(http, upload_id)
        if progress:
            progress(offset)
        while offset < total:
            f.seek(offset)
            block = f.read(chunk)
            try:
                resp = await http.patch(url, content=block, headers={
                    "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                    "Tus-Resumable": "1.0.0"})
            except httpx.TransportError:
                failures += 1
                if failures > RETRIES:
                    raise
                offset = await upload_offset(http, upload_id)
                continue
            if resp.status_code == 409 and resp.json().get("code") == "upload_offset_mismatch":
                offset = await upload_offset(http, upload_id)
                continue
            _check(resp, 204)
            new = int(resp.headers["Upload-Offset"])
            if progress:
                progress(new - offset)
            offset = new
    digest = hashlib.sha256(manifest).hexdigest()
    for attempt in range(RETRIES + 1):
        try:
            resp = await http.post(f"{url}/finalize")
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
            resp = None
        if resp is not None and resp.status_code == 201:
            return resp.json()
        if resp is not None and resp.status_code != 404:
            _check(resp, 201)
        # the answer was lost, or the upload is gone because it was accepted: look for our bid
        if (found := await _find_mine(http, lot_id, digest)) is not None:
            return found
        if resp is not None:
            _check(resp, 201)
    raise ClientError(500, {"code": "finalize_failed", "detail": "finalize did not answer"})


async def _submit_whole(http: httpx.AsyncClient, lot_id: str, manifest: bytes, signature: bytes, ct: Path | bytes,
                        progress: Callable[[int], object] | None) -> dict[str, Any]:
    data = bytes(ct) if isinstance(ct, (bytes, bytearray)) else Path(ct).read_bytes()
    headers = {"Upload-Metadata": f"manifest {base64.b64encode(manifest).decode()},"
                                  f"signature {base64.b64encode(signature).decode()}",
               "Content-Type": "application/offset+octet-stream", "Tus-Resumable": "1.0.0"}
    digest = hashlib.sha256(manifest).hexdigest()
    lost = False
    for attempt in range(RETRIES + 1):
        try:
            resp = await http.post(f"/api/lots/{lot_id}/bids", content=data, headers=headers)
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
            lost = True
            # the answer may be lost after the bid was accepted: never submit it twice
            if (found := await _find_mine(http, lot_id, digest)) is not None:
                return found
            await asyncio.sleep(0.2 * (attempt + 1))
            continue
        if resp.status_code == 201:
            if progress:
                progress(len(data))
            return resp.json()
        if lost and resp.status_code in (409, 422):
            # refused as a repeat (bid_id used, version taken) because an earlier attempt was accepted
            if (found := await _find_mine(http, lot_id, digest)) is not None:
                return found
        _check(resp, 201)
    raise ClientError(500, {"code": "submit_failed", "detail": "the submission did not answer"})


async def _find_mine(http: httpx.AsyncClient, lot_id: str, digest: str) -> dict[str, Any] | None:
    """The bidder's own accepted bid with this manifest hash, shaped like an acceptance, if there is one."""
    mine = _check(await _retry(lambda: http.get(f"/api/lots/{lot_id}/bids/mine"))).json()
    for bid in mine:
        if bid["manifest_sha256"] == digest:
            return {**bid, "lot_id": lot_id, "received_at": bid["accepted_at"],
                    "log_index": receipt_mod.parse_receipt(bid["receipt"])[0].log_index}
    return None


async def _retry(call: Callable[[], Any]) -> httpx.Response:
    for attempt in range(RETRIES + 1):
        try:
            return await call()
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def upload_offset(http: httpx.AsyncClient, upload_id: str) -> int:
    resp = _check(await http.head(f"/api/bids/uploads/{upload_id}"), 200)
    return int(resp.headers["Upload-Offset"])


async def withdraw(http: httpx.AsyncClient, lot_id: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    me = await whoami(http)
    latest = await latest_bid(http, lot_id)
    if latest is None or latest["status"] != "active":
        raise ClientError(404, {"code": "bid_not_found", "detail": "you have no live bid on this lot"})
    statement = seal.withdrawal_bytes(seal.Withdrawal(
        v=seal.PROTOCOL, lot_id=lot_id, bid_id=bytes.fromhex(latest["bid_id"]),
        manifest_sha256=bytes.fromhex(latest["manifest_sha256"]), bidder_org_id=me["org_id"], signer_id=me["id"]))
    sig = seal.sign_withdrawal(key, statement)
    return _check(await http.post(f"/api/lots/{lot_id}/bids/withdraw", json={
        "statement": base64.b64encode(statement).decode(), "signature": base64.b64encode(sig).decode()})).json()


async def log_vkey(http: httpx.AsyncClient) -> str:
    text = _check(await http.get("/.well-known/tenderhall/log-keys")).text
    return text.strip().splitlines()[0]


class InclusionResult(msgspec.Struct, frozen=True):
    covered: bool
    tree_size: int | None = None
    detail: str = ""


def _parse_checkpoint(note: str) -> tuple[str, str, int, bytes]:
    """(signed text, origin, size, root) of a C2SP checkpoint note (signature checked by the caller)."""
    text, sep, _ = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) < 3:
        raise receipt_mod.ReceiptInvalid("malformed checkpoint")
    return text + "\n", lines[0], int(lines[1]), base64.b64decode(lines[2])


def verify_checkpoint(note: str, vkey: str) -> tuple[int, bytes]:
    """Check a checkpoint's signature with the same signed-note rules as a receipt; return (size, root)."""
    text, origin, size, root = _parse_checkpoint(note)
    name, hexid, b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(b64)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    _, _, sigs = note.partition("\n\n")
    for line in sigs.splitlines():
        parts = line[2:].split(" ") if line.startswith("\u2014 ") else []
        if len(parts) == 2 and parts[0] == name:
            blob = base64.b64decode(parts[1])
            if blob[:4] == bytes.fromhex(hexid):
                try:
                    Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], text.encode())
                except InvalidSignature:
                    raise receipt_mod.ReceiptInvalid("the checkpoint signature is invalid") from None
                if origin != name:
                    raise receipt_mod.ReceiptInvalid("the checkpoint is for another log")
                return size, root
    raise receipt_mod.ReceiptInvalid("the checkpoint carries no signature by the platform key")


async def check_inclusion(http: httpx.AsyncClient, r: receipt_mod.Receipt, vkey: str) -> InclusionResult:
    """Once a checkpoint covers the receipt's log index, verify its inclusion proof against that checkpoint."""
    resp = await http.get("/api/records/checkpoint")
    if resp.status_code == 404:
        return InclusionResult(covered=False, detail="no checkpoint signed yet")
    size, root = verify_checkpoint(_check(resp).text, vkey)
    if size <= r.log_index:
        return InclusionResult(covered=False, tree_size=size, detail="the latest checkpoint does not cover it yet")
    proof = _check(await http.get("/api/records/proofs/inclusion",
                                  params={"index": r.log_index, "tree_size": size})).json()
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    if not receipt_mod.verify_inclusion(bytes.fromhex(r.leaf_hash), r.log_index, size, hashes, root):
        raise receipt_mod.ReceiptInvalid(f"the inclusion proof of entry {r.log_index} in checkpoint {size} fails")
    return InclusionResult(covered=True, tree_size=size, detail="included")


def new_bid_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(out.name + ".ct"), out.with_name(out.name + ".manifest")


def random_name() -> str:
    return uuid.UUID(bytes=os.urandom(16)).hex[:12]
