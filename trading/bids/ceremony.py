"""The lot's key ceremony record (seal/v2, DESIGN.md §6) — pure, no server imports.

At publication the lot's k, n and its n custodians' HPKE public keys are fixed in a ceremony record; its
SHA-256 (`ceremony_hash`) is pinned by every bid sealed for the lot. Each custodian's public key is uploaded with
the custodian's Ed25519 identity signature over a key statement, so nobody (the platform included) can swap a key
without the custodian's signature.
"""
from __future__ import annotations

import hashlib

import msgspec

CEREMONY_VERSION = "tenderhall/ceremony/v1"
KEY_STATEMENT_PREFIX = b"tenderhall/seal/v2 lot-key\n"

# HPKE suites: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM by default; ML-KEM-768+X25519 for
# post-quantum lots.
SUITE_X25519 = "x25519-hkdf-sha256-aes256gcm"
SUITE_MLKEM768_X25519 = "mlkem768x25519-hkdf-sha256-aes256gcm"
SUITES = (SUITE_X25519, SUITE_MLKEM768_X25519)


class KeyStatement(msgspec.Struct, frozen=True):
    """What a custodian signs when uploading a lot key."""

    lot_id: str
    custodian_id: str
    x: int
    suite: str
    hpke_public_key: bytes


class CeremonyCustodian(msgspec.Struct, frozen=True):
    custodian_id: str
    x: int
    suite: str
    hpke_public_key: bytes
    signature: bytes


class CeremonyRecord(msgspec.Struct, frozen=True):
    v: str
    tender_id: str
    lot_id: str
    k: int
    n: int
    custodians: list[CeremonyCustodian]


def key_statement_bytes(lot_id: str, custodian_id: str, x: int, suite: str, public_key: bytes) -> bytes:
    """The exact bytes a custodian signs with its Ed25519 identity key."""
    stmt = KeyStatement(lot_id=str(lot_id), custodian_id=str(custodian_id), x=int(x), suite=suite,
                        hpke_public_key=public_key)
    return KEY_STATEMENT_PREFIX + msgspec.json.encode(stmt)


def validate_k_n(k: int, n: int) -> str | None:
    """None when acceptable, else the reason. k ≥ 2 so no single custodian can unseal; n ≤ 16."""
    if k < 2:
        return f"k must be at least 2 (got {k}): no single custodian may unseal alone"
    if n < k:
        return f"n must be at least k (got k={k}, n={n})"
    if n > 16:
        return f"n must be at most 16 (got {n})"
    return None


def build_ceremony(tender_id: str, lot_id: str, k: int, n: int,
                   custodians: list[CeremonyCustodian]) -> CeremonyRecord:
    problem = validate_k_n(k, n)
    if problem:
        raise ValueError(problem)
    if len(custodians) != n:
        raise ValueError(f"the lot needs {n} custodian keys, has {len(custodians)}")
    xs = sorted(c.x for c in custodians)
    if len(set(xs)) != n:
        raise ValueError("custodian x-coordinates must be distinct")
    for c in custodians:
        if c.suite not in SUITES:
            raise ValueError(f"unknown HPKE suite {c.suite!r}")
    return CeremonyRecord(v=CEREMONY_VERSION, tender_id=str(tender_id), lot_id=str(lot_id), k=k, n=n,
                          custodians=sorted(custodians, key=lambda c: c.x))


def ceremony_bytes(record: CeremonyRecord) -> bytes:
    return msgspec.json.encode(record)


def ceremony_hash(record_bytes: bytes) -> bytes:
    return hashlib.sha256(record_bytes).digest()


def decode_ceremony(data: bytes) -> CeremonyRecord:
    return msgspec.json.decode(data, type=CeremonyRecord)
