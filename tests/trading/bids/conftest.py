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
