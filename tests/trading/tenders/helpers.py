"""Key material for custodians in tests: real Ed25519 identity keys and X25519 HPKE keys."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from trading.bids.ceremony import SUITE_X25519, key_statement_bytes
from trading.tenders import repository as repo

RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


async def give_keys(pool, clock, lot_id, custodian_ids, *, bad_signature_for: int | None = None,
                    skip: int = 0) -> None:
    """Register an approved identity key per custodian and upload a signed HPKE key (the last `skip` get none)."""
    async with pool.acquire() as c, c.transaction():
        rows = await repo.list_custodians_for_lot(c, lot_id)
        for i, row in enumerate(rows):
            if i >= len(rows) - skip:
                break
            identity = Ed25519PrivateKey.generate()
            await c.execute("INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                            " VALUES ($1, $2, 'approved', $3, $3)", row.custodian_id,
                            identity.public_key().public_bytes(*RAW), clock.now())
            pub = X25519PrivateKey.generate().public_key().public_bytes(*RAW)
            signer = Ed25519PrivateKey.generate() if bad_signature_for == i else identity
            sig = signer.sign(key_statement_bytes(str(lot_id), str(row.custodian_id), row.x, SUITE_X25519, pub))
            await repo.set_custodian_key(c, lot_id, row.custodian_id, suite=SUITE_X25519, public_key=pub,
                                         signature=sig, now=clock.now())
