"""The custodian's side of the opening (`tenderhall custodian unseal`) — runs on the custodian's own machine.

Pure (no server imports): the client fetches the lot's opening bundle, checks it by itself, opens only the
envelopes of the bids it has checked, and sends one signed release. What it checks before opening anything:

1. its own clock is past the deadline — it never releases before (招标投标法 第三十四条, 电子招标投标办法 第二十七条);
2. the lot:deadline:pass entry is for this lot and not dated before the deadline;
3. the opening:session:start entry is for this lot, comes after the deadline entry, and lists exactly the
   manifests sent, each with its bid_id;
4. every manifest is for this lot and ceremony, signed-for before the deadline (a bid:seal:accept entry naming
   it precedes the deadline entry), neither withdrawn nor replaced by a later accepted version, and at most one
   per bidder (the latest non-withdrawn version per bidder, DESIGN §6).
A failed check refuses the whole release: the server's list is wrong, so nothing is opened.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.bids import seal as sealing
from trading.opening.release import RELEASE_VERSION, ReleasedShare, ShareRelease, release_bytes, sign_release
from trading.opening.schemas import OpeningBundle

DEADLINE_TAG = "lot:deadline:pass"
START_TAG = "opening:session:start"
ACCEPT_TAG = "bid:seal:accept"
WITHDRAW_TAG = "bid:seal:withdraw"


class BundleRefused(ValueError):
    """The bundle fails a check: the custodian releases nothing."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Entry(msgspec.Struct):
    seq: int
    time: str
    tag: str
    lot: str | None = None
    body: dict[str, Any] = {}


def _entry(data: bytes) -> _Entry:
    return msgspec.json.decode(data, type=_Entry)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _strings(value: Any) -> set[str]:
    """Every string inside an entry body (hashes and ids), whatever the field names."""
    if isinstance(value, str):
        return {value.lower()}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def _check_in_log(bundle: OpeningBundle, entries: list[tuple[int, bytes]], log_key: str) -> list[str]:
    """Every entry the decision rests on is in the log the platform signed (RFC 9162 inclusion proofs)."""
    import base64

    from trading.bids.client import verify_checkpoint
    from trading.bids.receipt import ReceiptInvalid, verify_inclusion

    if not bundle.checkpoint:
        return ["no signed checkpoint covers the opening's start entry yet; retry in a few seconds"]
    try:
        size, root = verify_checkpoint(bundle.checkpoint, log_key)
    except (ReceiptInvalid, ValueError) as exc:
        return [f"the checkpoint is not signed by the platform's log key: {exc}"]
    problems = []
    for seq, data in entries:
        proof = [base64.b64decode(h) for h in bundle.proofs.get(str(seq), [])]
        leaf = hashlib.sha256(b"\x00" + data).digest()
        if not verify_inclusion(leaf, seq, size, proof, root):
            problems.append(f"log entry {seq} is not in the signed log (inclusion proof fails)")
    return problems


def check_bundle(bundle: OpeningBundle, *, lot_id: str, now: datetime, log_key: str | None = None
                 ) -> list[tuple[sealing.Manifest, str]]:
    """Check the bundle; return [(manifest, manifest_sha256 hex)] to open, or raise BundleRefused.

    With `log_key` (the platform's C2SP verifier key, obtained independently) the deadline, start and bid entries
    must also be proven included in a checkpoint signed by it."""
    problems: list[str] = []
    deadline = _when(bundle.deadline)
    if bundle.lot_id != lot_id:
        raise BundleRefused([f"the bundle is for lot {bundle.lot_id}, not {lot_id}"])
    # 招标投标法 第三十四条: by the custodian's own clock, never before the deadline.
    if now < deadline:
        raise BundleRefused([f"the deadline {deadline.isoformat()} has not passed by this machine's clock "
                             f"({now.isoformat()}); nothing is released before it"])
    try:
        dl = _entry(bundle.deadline_entry)
        start = _entry(bundle.start_entry)
        bid_entries = [_entry(e) for e in bundle.bid_entries]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleRefused([f"a log entry is malformed: {exc}"]) from None
    if dl.tag != DEADLINE_TAG or dl.lot != lot_id:
        problems.append("the deadline entry is not this lot's lot:deadline:pass")
    elif _when(dl.time) < deadline:
        problems.append("the deadline entry is dated before the deadline")
    if log_key:
        problems += _check_in_log(bundle, [(dl.seq, bundle.deadline_entry), (start.seq, bundle.start_entry),
                                           *((e.seq, d) for e, d in zip(bid_entries, bundle.bid_entries))], log_key)
    if start.tag != START_TAG or start.lot != lot_id:
        problems.append("the start entry is not this lot's opening:session:start")
    if start.seq <= dl.seq or start.body.get("deadline_seq") != dl.seq:
        problems.append("the start entry does not follow this deadline entry")
    listed = {str(m.get("manifest_sha256")): str(m.get("bid_id")) for m in start.body.get("manifests", [])}
    manifests: list[tuple[sealing.Manifest, str]] = []
    for data in bundle.manifests:
        try:
            m = sealing.decode_manifest(data)
        except sealing.ManifestInvalid as exc:
            problems.append(f"a manifest is malformed: {exc}")
            continue
        manifests.append((m, hashlib.sha256(data).hexdigest()))
    sent = {sha for _, sha in manifests}
    if sent != set(listed):
        problems.append(f"the start entry lists {len(listed)} manifest(s), the bundle sends {len(sent)} "
                        "that differ from them")
    before = [e for e in bid_entries if e.seq < dl.seq]
    accepted = set().union(*(_strings(e.body) for e in before if e.tag == ACCEPT_TAG)) if before else set()
    withdrawn = set().union(*(_strings(e.body) for e in before if e.tag == WITHDRAW_TAG)) if before else set()
    # Replacements: every version accepted before the deadline names the version it replaces (signed by the
    # bidder inside its manifest), so a replaced version cannot be passed off as the latest.
    replaced: set[str] = set()
    for data in bundle.accepted_manifests:
        sha = hashlib.sha256(data).hexdigest()
        if sha not in accepted:
            problems.append(f"manifest {sha[:12]} is offered as accepted but no accept entry names it")
            continue
        try:
            prev = sealing.decode_manifest(data).previous
        except sealing.ManifestInvalid as exc:
            problems.append(f"an accepted manifest is malformed: {exc}")
            continue
        if prev is not None:
            replaced.add(prev.hex())
    offered = {hashlib.sha256(d).hexdigest() for d in bundle.accepted_manifests}
    accept_hashes = {str(e.body.get("manifest_sha256")).lower() for e in before if e.tag == ACCEPT_TAG}
    if accept_hashes - offered:
        problems.append(f"{len(accept_hashes - offered)} accepted version(s) are missing from the bundle")
    bidders: set[str] = set()
    for m, sha in manifests:
        bid_hex = m.bid_id.hex()
        if m.lot_id != lot_id:
            problems.append(f"manifest {sha[:12]} is for another lot")
        if bundle.ceremony_hash and m.ceremony_hash.hex() != bundle.ceremony_hash:
            problems.append(f"manifest {sha[:12]} pins another ceremony")
        if sha not in accepted:
            problems.append(f"manifest {sha[:12]} has no bid:seal:accept entry before the deadline")
        if sha in withdrawn or bid_hex in withdrawn:
            problems.append(f"manifest {sha[:12]} was withdrawn before the deadline")
        if sha in replaced:
            problems.append(f"manifest {sha[:12]} was replaced by a later version")
        if m.bidder_org_id in bidders:
            problems.append(f"two manifests of bidder {m.bidder_org_id} are on the list")
        bidders.add(m.bidder_org_id)
    if problems:
        raise BundleRefused(problems)
    return manifests


def build_release(bundle: OpeningBundle, *, lot_id: str, custodian_id: str, hpke_key: sealing.HpkePrivateKey,
                  identity_key: Ed25519PrivateKey, now: datetime | None = None, log_key: str | None = None
                  ) -> tuple[bytes, bytes, list[tuple[str, str]]]:
    """Check the bundle, open this custodian's envelopes, sign one release.

    Returns (statement, signature, [(bid_id, problem)]) — a bid whose envelope does not open or whose share
    fails its commitment is left out (the server settles it from the other custodians' shares)."""
    now = now or datetime.now(timezone.utc)
    manifests = check_bundle(bundle, lot_id=lot_id, now=now, log_key=log_key)
    shares, skipped = [], []
    for m, sha in manifests:
        bid = _uuid(m.bid_id)
        try:
            share = sealing.custodian_open(m, custodian_id, hpke_key)
        except sealing.SealError as exc:
            skipped.append((bid, str(exc)))
            continue
        shares.append(ReleasedShare(bid_id=bid, manifest_sha256=sha, share=share))
    start_sha = hashlib.sha256(bundle.start_entry).hexdigest()
    release = ShareRelease(v=RELEASE_VERSION, lot_id=lot_id, custodian_id=custodian_id, x=bundle.x,
                           start_entry_sha256=start_sha,
                           released_at=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), shares=shares)
    statement = release_bytes(release)
    return statement, sign_release(identity_key, statement), skipped


def _uuid(bid_id: bytes) -> str:
    import uuid

    return str(uuid.UUID(bytes=bid_id))


async def custodian_unseal(client: Any, lot_id: str, *, identity_key: Ed25519PrivateKey,
                           hpke_key: sealing.HpkePrivateKey, now: datetime | None = None,
                           log_key: str | None = None) -> dict[str, Any]:
    """Fetch the bundle, check it, release. `client` is an httpx.AsyncClient already carrying the custodian's
    bearer token. `log_key` is the platform's verifier key as the custodian knows it; without one the key the
    server publishes is used (trust on first use — reported as `log_key_pinned: False`). Returns the server's
    answer plus the bids this custodian could not open."""
    pinned = log_key is not None
    if log_key is None:
        r = await client.get("/.well-known/tenderhall/log-keys")
        _raise_for(r)
        log_key = r.text.strip().splitlines()[0]
    me = await client.get("/api/auth/me")
    _raise_for(me)
    custodian_id = me.json()["id"]
    r = await client.get(f"/api/opening/lots/{lot_id}/bundle")
    _raise_for(r)
    bundle = msgspec.json.decode(r.content, type=OpeningBundle)
    statement, signature, skipped = build_release(bundle, lot_id=str(lot_id), custodian_id=custodian_id,
                                                  hpke_key=hpke_key, identity_key=identity_key, now=now,
                                                  log_key=log_key)
    body = msgspec.json.encode({"statement": statement, "signature": signature})
    r = await client.post(f"/api/opening/lots/{lot_id}/releases", content=body,
                          headers={"Content-Type": "application/json"})
    _raise_for(r)
    return {**r.json(), "skipped": [{"bid_id": b, "problem": p} for b, p in skipped], "log_key_pinned": pinned}


class ServerRefused(RuntimeError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


def _raise_for(r: Any) -> None:
    if r.status_code >= 400:
        try:
            p = r.json()
        except ValueError:
            p = {}
        raise ServerRefused(r.status_code, p.get("code", "http_error"), p.get("detail", r.text[:200]))
