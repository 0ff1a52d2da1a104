"""Opening fixtures: real sealed bids (seal/v2) on a lot published through the tenders services."""
from __future__ import annotations

import io
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.accounts.schemas import Role
from trading.bids import package as bid_package
from trading.bids import seal as sealing
from trading.bids.ceremony import SUITE_X25519
from trading.blobs import blob_store
from trading.opening import custodian as client
from trading.opening import repository as repo
from trading.opening import services
from trading.opening.schemas import ReleaseSubmit
from trading.records import Tag, append_entry


class Bidder(msgspec.Struct, kw_only=True):
    org: Any
    user: Any
    headers: dict
    key: Any
    key_id: UUID
    bids: list = []


class Opening:
    """A lot with sealed bids and its custodians; helpers drive the opening through the real services."""

    def __init__(self, factory, pool, clock, settings, tmp_path: Path) -> None:
        self.factory, self.pool, self.clock, self.settings, self.tmp = factory, pool, clock, settings, tmp_path
        self.lot: dict = {}

    async def setup(self, **kw) -> Opening:
        self.lot = await self.factory.published_lot(**kw)
        self.lot_id = self.lot["lot_id"]
        self.deadline = self.lot["deadline"]
        return self

    async def bidder(self) -> Bidder:
        org, user, headers = await self.factory.downloader(self.lot_id)
        key = Ed25519PrivateKey.generate()
        async with self.pool.acquire() as c, c.transaction():
            key_id = await c.fetchval(
                "INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                " VALUES ($1, $2, 'approved', $3, $3) RETURNING id", user.id, key.public_key().public_bytes_raw(),
                self.clock.now())
        return Bidder(org=org, user=user, headers=headers, key=key, key_id=key_id)

    def _seal(self, b: Bidder, price: str, *, duration: int = 180, attachment: bytes | None = None,
              version: int = 1, previous: bytes | None = None, tamper=None) -> tuple[sealing.Sealed, bytes]:
        lot = self.lot["lot"]
        form = bid_package.build_form(tender_id=str(lot.tender_id), lot_id=str(lot.id), bidder_org_id=str(b.org.id),
                                      price_yuan=price, bid_fields=lot.bid_fields, duration_days=duration)
        paths = []
        if attachment is not None:
            p = self.tmp / f"tech-{secrets.token_hex(4)}.pdf"
            p.write_bytes(attachment)
            paths.append(p)
        out = io.BytesIO()
        sealed = sealing.seal(lot.ceremony_record, lambda w: bid_package.write_package(w, form, paths), out,
                              signing_key=b.key, bidder_org_id=str(b.org.id), signer_id=str(b.user.id),
                              expected_ceremony_hash=lot.ceremony_hash, version=version, previous=previous)
        if tamper is not None:
            manifest = tamper(sealed.manifest)
            data = sealing.encode_manifest(manifest)
            sealed = sealing.Sealed(manifest=manifest, manifest_bytes=data,
                                    signature=sealing.sign_manifest(b.key, data))
        return sealed, out.getvalue()

    async def submit(self, b: Bidder, price: str = "950000.00", **kw) -> sealing.Sealed:
        """Seal on the 'bidder's machine' and store the bid as the bids service does (blob, row, log entry)."""
        from trading.bids import repository as bids_repo

        previous = b.bids[-1] if b.bids else None
        sealed, ct = self._seal(b, price, version=len(b.bids) + 1,
                                previous=previous.manifest_sha256 if previous else None, **kw)
        blob_store(self.settings).put_ciphertext(ct)
        m = sealed.manifest
        async with self.pool.acquire() as c, c.transaction():
            now = self.clock.now()
            if previous is not None:
                await bids_repo.mark_superseded(c, UUID(bytes=previous.manifest.bid_id), now)
            entry = await append_entry(c, self.clock, Tag.BID_SEAL_ACCEPT, actor=None, tender_id=m.tender_id,
                                       lot_id=self.lot_id,
                                       body={"bid_id": m.bid_id.hex(), "version": m.version,
                                             "manifest_sha256": sealed.manifest_sha256.hex(),
                                             "ct_root": m.ct_root.hex(),
                                             "previous": m.previous.hex() if m.previous else None})
            await bids_repo.insert_bid(
                c, bid_id=UUID(bytes=m.bid_id), lot_id=self.lot_id, tender_id=UUID(m.tender_id),
                bidder_org_id=b.org.id, signer_id=b.user.id, identity_key_id=b.key_id, version=m.version,
                previous=m.previous, manifest=sealed.manifest_bytes, signature=sealed.signature,
                manifest_sha256=sealed.manifest_sha256, ct_root=m.ct_root, ct_len=m.ct_len, accepted_at=now,
                accept_seq=entry.seq, receipt="test-receipt", addr=None)
        b.bids.append(sealed)
        return sealed

    async def http_submit(self, http, b: Bidder, price: str, **kw) -> dict:
        """The bidder's real path: seal locally, upload through the bids API (resumable upload + finalize)."""
        from trading.bids import client as bids_client

        previous = b.bids[-1] if b.bids else None
        sealed, ct = self._seal(b, price, version=len(b.bids) + 1,
                                previous=previous.manifest_sha256 if previous else None, **kw)
        path = self.tmp / f"bid-{secrets.token_hex(4)}.sealed"
        path.write_bytes(ct)
        http.headers["Authorization"] = f"Bearer {await self.factory.token(b.user)}"
        try:
            accepted = await bids_client.upload(http, str(self.lot_id), sealed.manifest_bytes, sealed.signature,
                                                path)
        finally:
            http.headers.pop("Authorization", None)
        b.bids.append(sealed)
        return accepted

    async def http_withdraw(self, http, b: Bidder) -> dict:
        from trading.bids import client as bids_client

        http.headers["Authorization"] = f"Bearer {await self.factory.token(b.user)}"
        try:
            return await bids_client.withdraw(http, str(self.lot_id), b.key)
        finally:
            http.headers.pop("Authorization", None)

    async def withdraw(self, b: Bidder) -> None:
        from trading.bids import repository as bids_repo

        last = b.bids[-1]
        async with self.pool.acquire() as c, c.transaction():
            await bids_repo.mark_withdrawn(c, UUID(bytes=last.manifest.bid_id), self.clock.now())
            await append_entry(c, self.clock, Tag.BID_SEAL_WITHDRAW, actor=None, tender_id=last.manifest.tender_id,
                               lot_id=self.lot_id, body={"bid_id": last.manifest.bid_id.hex(),
                                                         "manifest_sha256": last.manifest_sha256.hex()})

    def after_deadline(self, seconds: float = 1) -> None:
        self.clock.set(self.deadline + timedelta(seconds=seconds))

    async def start(self):
        async with self.pool.acquire() as c, c.transaction():
            return await services.pass_deadline(c, self.clock, self.settings, self.lot_id)

    def custodian(self, i: int) -> dict:
        return self.lot["custodians"][i]

    async def bundle(self, i: int):
        async with self.pool.acquire() as c:
            return await services.opening_bundle(c, self.lot_id, self.custodian(i)["user"])

    def log_key(self) -> str:
        """The platform's log verifier key, as a custodian would have it from the platform's publication."""
        from trading.records.keys import platform_verifier_key

        return platform_verifier_key(self.settings)

    def hpke(self, i: int) -> sealing.HpkePrivateKey:
        return sealing.HpkePrivateKey(SUITE_X25519, self.custodian(i)["hpke_private_key"].private_bytes_raw())

    async def release(self, i: int, *, mutate=None):
        """Custodian i checks the bundle, opens its envelopes locally, signs and submits its release."""
        cust = self.custodian(i)
        statement, signature, _ = client.build_release(
            await self.bundle(i), lot_id=str(self.lot_id), custodian_id=str(cust["user"].id), hpke_key=self.hpke(i),
            identity_key=cust["identity_private_key"], now=self.clock.now(), log_key=self.log_key())
        if mutate is not None:
            statement = mutate(statement)
            signature = cust["identity_private_key"].sign(b"tenderhall/seal/v2 share-release\n" + statement)
        async with self.pool.acquire() as c, c.transaction():
            return await services.release_shares(c, self.clock, self.lot_id, cust["user"],
                                                 ReleaseSubmit(statement=statement, signature=signature))

    async def unseal(self):
        return await services.run_unsealing(self.pool, self.clock, self.settings, self.lot_id)

    async def tags(self) -> list[str]:
        async with self.pool.acquire() as c:
            return [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq",
                                                    self.lot_id)]

    async def lot_status(self) -> str:
        async with self.pool.acquire() as c:
            return await c.fetchval("SELECT status FROM lots WHERE id = $1", self.lot_id)

    async def opened(self):
        async with self.pool.acquire() as c:
            return await repo.list_opened_bids(c, self.lot_id)


@pytest.fixture
async def opening(factory, pool, clock, settings, tmp_path) -> Opening:
    return await Opening(factory, pool, clock, settings, tmp_path).setup()


@pytest.fixture
def roles():
    return Role
