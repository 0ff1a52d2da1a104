"""Share releases (seal/v2 opening) — pure, no server imports: the custodian's client and the server share it.

A custodian releases its shares for a lot in one signed statement: the exact bytes below, signed with the
custodian's Ed25519 identity key over `RELEASE_PREFIX ‖ statement`. The statement names the opening:session:start
entry (by the SHA-256 of its bytes) it answers, so a release cannot be replayed against another list of bids.
"""
from __future__ import annotations

import hashlib

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RELEASE_VERSION = "tenderhall/seal/v2 release"
RELEASE_PREFIX = b"tenderhall/seal/v2 share-release\n"
MAX_SHARES = 10_000


class ReleasedShare(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bid_id: str
    manifest_sha256: str
    share: bytes


class ShareRelease(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: str
    lot_id: str
    custodian_id: str
    x: int
    start_entry_sha256: str
    released_at: str  # the custodian's own clock, ISO 8601 UTC
    shares: list[ReleasedShare]


def release_bytes(release: ShareRelease) -> bytes:
    return msgspec.json.encode(release)


def decode_release(data: bytes) -> ShareRelease:
    release = msgspec.json.decode(data, type=ShareRelease)
    if release.v != RELEASE_VERSION:
        raise ValueError(f"unknown release version {release.v!r}")
    if len(release.shares) > MAX_SHARES:
        raise ValueError("too many shares in one release")
    return release


def sign_release(key: Ed25519PrivateKey, statement: bytes) -> bytes:
    return key.sign(RELEASE_PREFIX + statement)


def verify_release(public_key: bytes, statement: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, RELEASE_PREFIX + statement)
    except (InvalidSignature, ValueError):
        return False
    return True


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
