"""Pure fixtures for the sealing library: a lot ceremony with custodians holding HPKE keys."""
from __future__ import annotations

import io
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.bids import ceremony
from trading.bids.seal import HpkePrivateKey


class LocalCeremony:
    """A ceremony record built locally (no server): custodians' identity and HPKE keys in memory."""

    def __init__(self, k: int = 2, n: int = 3, suite: str = ceremony.SUITE_X25519) -> None:
        self.tender_id = str(uuid.uuid4())
        self.lot_id = str(uuid.uuid4())
        self.custodians = []
        entries = []
        for x in range(1, n + 1):
            cid = str(uuid.uuid4())
            ident = Ed25519PrivateKey.generate()
            hk = HpkePrivateKey.generate(suite)
            sig = ident.sign(ceremony.key_statement_bytes(self.lot_id, cid, x, suite, hk.public_bytes()))
            entries.append(ceremony.CeremonyCustodian(custodian_id=cid, x=x, suite=suite,
                                                      hpke_public_key=hk.public_bytes(), signature=sig))
            self.custodians.append((cid, x, hk, ident))
        self.record = ceremony.build_ceremony(self.tender_id, self.lot_id, k, n, entries)
        self.record_bytes = ceremony.ceremony_bytes(self.record)
        self.hash = ceremony.ceremony_hash(self.record_bytes)


@pytest.fixture
def local_ceremony() -> LocalCeremony:
    return LocalCeremony()


def writer_of(data: bytes):
    def produce(w) -> None:
        src = io.BytesIO(data)
        while block := src.read(300_000):
            w.write(block)
    return produce


# --- server-side helpers ----------------------------------------------------------------------------------

class Bidder:
    def __init__(self, org, user, headers, key: Ed25519PrivateKey) -> None:
        self.org, self.user, self.headers, self.key = org, user, headers, key


async def approved_key(pool, user_id, key: Ed25519PrivateKey | None = None, now=None) -> Ed25519PrivateKey:
    """Give a user an approved identity key (the HTTP registration/approval path has its own tests)."""
    from datetime import datetime, timezone

    key = key or Ed25519PrivateKey.generate()
    async with pool.acquire() as c:
        await c.execute("INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                        " VALUES ($1, $2, 'approved', $3, $3)", user_id, key.public_key().public_bytes_raw(),
                        now or datetime.now(timezone.utc))
    return key


async def make_bidder(factory, lot_id) -> Bidder:
    org, user, headers = await factory.downloader(lot_id)
    return Bidder(org, user, headers, await approved_key(factory.pool, user.id))


async def ceremony_of(pool, lot_id) -> tuple[bytes, bytes]:
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT ceremony_record, ceremony_hash FROM lots WHERE id = $1", lot_id)
    return bytes(row["ceremony_record"]), bytes(row["ceremony_hash"])


async def seal_bytes(pool, lot_id, bidder: Bidder, data: bytes, *, version: int = 1, previous: bytes | None = None):
    """(Sealed, ciphertext) of `data` for the lot, signed by the bidder."""
    from trading.bids import seal

    record, _ = await ceremony_of(pool, lot_id)
    dst = io.BytesIO()
    sealed = seal.seal(record, writer_of(data), dst, signing_key=bidder.key, bidder_org_id=str(bidder.org.id),
                       signer_id=str(bidder.user.id), version=version, previous=previous)
    return sealed, dst.getvalue()


async def post_upload(client, lot_id, bidder: Bidder, sealed, signature: bytes | None = None):
    import base64

    return await client.post(f"/api/lots/{lot_id}/bids/uploads", headers=bidder.headers, json={
        "manifest": base64.b64encode(sealed.manifest_bytes).decode(),
        "signature": base64.b64encode(signature or sealed.signature).decode()})


async def patch_chunk(client, upload_id, bidder: Bidder, offset: int, data: bytes):
    return await client.patch(f"/api/bids/uploads/{upload_id}", content=data, headers={
        **bidder.headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})


async def submit(client, lot_id, bidder: Bidder, sealed, ct: bytes, chunk: int = 1 << 20):
    """The whole HTTP flow; returns the finalize response."""
    r = await post_upload(client, lot_id, bidder, sealed)
    assert r.status_code == 201, r.text
    upload_id = r.json()["upload_id"]
    for off in range(0, len(ct), chunk):
        p = await patch_chunk(client, upload_id, bidder, off, ct[off:off + chunk])
        assert p.status_code == 204, p.text
    return await client.post(f"/api/bids/uploads/{upload_id}/finalize", headers=bidder.headers)


@pytest.fixture
async def lot(factory):
    return await factory.published_lot()


async def at(factory, when, *bidders: Bidder) -> None:
    """Move the clock (tokens last a day: sign the bidders in again at the new time)."""
    factory.clock.set(when)
    for b in bidders:
        b.headers = {"Authorization": f"Bearer {await factory.token(b.user)}"}
