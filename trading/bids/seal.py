"""Protocol seal/v2 (DESIGN.md §6, docs/sealing.md): both directions, pure — no server imports.

Bidders run the sealing half on their own machine (`tenderhall bid seal`); custodians and the opening run the
unsealing half. Everything here works on bytes, files and `cryptography` keys; nothing needs a database.

Sealing a bid:
  DEK, bid_id  ← 32 and 16 random bytes
  ciphertext   = Tink AES-GCM-HKDF streaming (trading/bids/streaming.py) of the bid package,
                 associated data AD = "tenderhall/seal/v2" ‖ ceremony_hash ‖ bid_id
  key_commit   = HMAC-SHA256(DEK, "tenderhall/seal/v2 key-commit" ‖ bid_id)
  shares       = SLIP-39 (shamir-mnemonic split_ems) k-of-n split of the DEK; share_x = mnemonic (UTF-8)
  wrapped_x    = HPKE.seal(pk_x, share_x, info_x),
                 info_x = SHA-256("tenderhall/seal/v2 share" ‖ ceremony_hash ‖ bid_id ‖ custodian_uuid ‖ x)
  share_commit = SHA-256("tenderhall/seal/v2 share-commit" ‖ bid_id ‖ share_x)
  manifest     = msgspec JSON (exact bytes stored and signed); signature = Ed25519 over
                 "tenderhall/seal/v2 manifest\\n" ‖ manifest_bytes
Nothing readable before the opening carries a hash of the plaintext or of the bid form: a price is
low-entropy and its hash could be brute-forced.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import BinaryIO

import msgspec
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from shamir_mnemonic import shamir
from shamir_mnemonic.share import Share
from shamir_mnemonic.utils import MnemonicError

from trading.bids import ceremony as ceremony_mod
from trading.bids.ceremony import SUITE_MLKEM768_X25519, SUITE_X25519, CeremonyRecord
from trading.bids.package import read_form  # noqa: F401 - the unseal side's form reader, re-exported
from trading.bids.pipeline import HashingReader, HashingSink, decrypt_file, remaining_size
from trading.bids.streaming import EncryptingWriter, StreamCorrupt
from trading.bids.streaming import decrypt_stream as _decrypt_stream

PROTOCOL = "tenderhall/seal/v2"
AD_PREFIX = b"tenderhall/seal/v2"
KEY_COMMIT_LABEL = b"tenderhall/seal/v2 key-commit"
SHARE_INFO_LABEL = b"tenderhall/seal/v2 share"
SHARE_COMMIT_LABEL = b"tenderhall/seal/v2 share-commit"
MANIFEST_SIG_PREFIX = b"tenderhall/seal/v2 manifest\n"
WITHDRAW_SIG_PREFIX = b"tenderhall/seal/v2 withdraw\n"
DEK_SIZE = 32
BID_ID_SIZE = 16


class SealError(ValueError):
    """Base of everything the protocol refuses; `code` is stable and machine-readable."""

    code = "seal_error"


class ShareInvalid(SealError):
    code = "share_invalid"


class ShareOpenFailed(SealError):
    code = "share_open_failed"


class KeyCommitMismatch(SealError):
    code = "key_commit_mismatch"


class ManifestInvalid(SealError):
    code = "manifest_invalid"


class SignatureInvalid(SealError):
    code = "signature_invalid"


class PayloadCorrupt(SealError):
    code = "payload_corrupt"


# --- manifest ---------------------------------------------------------------------------------------------

class ShareEnvelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    custodian_id: str
    x: int
    wrapped: bytes          # HPKE enc ‖ ciphertext (single-shot, RFC 9180 base mode)
    share_commit: bytes


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: str
    tender_id: str
    lot_id: str
    ceremony_hash: bytes
    bid_id: bytes
    version: int
    previous: bytes | None          # manifest_sha256 of the version this one replaces
    bidder_org_id: str
    signer_id: str                  # the user whose identity key signs
    ct_root: bytes
    ct_len: int
    key_commit: bytes
    k: int
    shares: list[ShareEnvelope]


class Withdrawal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A bidder-signed statement withdrawing every version of its bid on a lot (招标投标法 第二十九条)."""

    v: str
    lot_id: str
    bid_id: bytes                   # bid_id of the latest version
    manifest_sha256: bytes          # of the latest version
    bidder_org_id: str
    signer_id: str


def encode_manifest(m: Manifest) -> bytes:
    return msgspec.json.encode(m)


def decode_manifest(data: bytes) -> Manifest:
    try:
        m = msgspec.json.decode(data, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ManifestInvalid(f"the manifest is not a seal/v2 manifest: {exc}") from None
    problem = manifest_problem(m)
    if problem:
        raise ManifestInvalid(problem)
    return m


def manifest_problem(m: Manifest) -> str | None:
    """Structural checks any reader can make without keys. None when well formed."""
    if m.v != PROTOCOL:
        return f"unknown protocol version {m.v!r}"
    if len(m.ceremony_hash) != 32 or len(m.ct_root) != 32 or len(m.key_commit) != 32:
        return "ceremony_hash, ct_root and key_commit must be 32 bytes"
    if len(m.bid_id) != BID_ID_SIZE:
        return f"bid_id must be {BID_ID_SIZE} bytes"
    if m.version < 1 or (m.version == 1) != (m.previous is None):
        return "version 1 has no previous manifest; later versions name the one they replace"
    if m.previous is not None and len(m.previous) != 32:
        return "previous must be a 32-byte manifest hash"
    if m.ct_len < 0:
        return "ct_len must not be negative"
    xs = [s.x for s in m.shares]
    if len(set(xs)) != len(xs) or len({s.custodian_id for s in m.shares}) != len(xs):
        return "each custodian and x-coordinate must appear once"
    if not 2 <= m.k <= len(m.shares):
        return "k must be at least 2 and at most the number of shares"
    for s in m.shares:
        if not 1 <= s.x <= 16 or len(s.share_commit) != 32:
            return "share x must be 1..16 and share_commit 32 bytes"
    return None


def manifest_sha256(manifest_bytes: bytes) -> bytes:
    return hashlib.sha256(manifest_bytes).digest()


def manifest_signed_bytes(manifest_bytes: bytes) -> bytes:
    return MANIFEST_SIG_PREFIX + manifest_bytes


def sign_manifest(key: Ed25519PrivateKey, manifest_bytes: bytes) -> bytes:
    return key.sign(manifest_signed_bytes(manifest_bytes))


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_manifest_signature(public_key: bytes, manifest_bytes: bytes, signature: bytes) -> bool:
    return verify_signature(public_key, signature, manifest_signed_bytes(manifest_bytes))


def withdrawal_bytes(w: Withdrawal) -> bytes:
    return msgspec.json.encode(w)


def decode_withdrawal(data: bytes) -> Withdrawal:
    try:
        w = msgspec.json.decode(data, type=Withdrawal)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ManifestInvalid(f"not a seal/v2 withdrawal: {exc}") from None
    if w.v != PROTOCOL or len(w.bid_id) != BID_ID_SIZE or len(w.manifest_sha256) != 32:
        raise ManifestInvalid("not a seal/v2 withdrawal")
    return w


def sign_withdrawal(key: Ed25519PrivateKey, statement: bytes) -> bytes:
    return key.sign(WITHDRAW_SIG_PREFIX + statement)


def verify_withdrawal_signature(public_key: bytes, statement: bytes, signature: bytes) -> bool:
    return verify_signature(public_key, signature, WITHDRAW_SIG_PREFIX + statement)


# --- derivations ------------------------------------------------------------------------------------------

def associated_data(ceremony_hash: bytes, bid_id: bytes) -> bytes:
    if len(ceremony_hash) != 32 or len(bid_id) != BID_ID_SIZE:
        raise ValueError("ceremony_hash is 32 bytes and bid_id 16")
    return AD_PREFIX + ceremony_hash + bid_id


def key_commit(dek: bytes, bid_id: bytes) -> bytes:
    return hmac.new(dek, KEY_COMMIT_LABEL + bid_id, hashlib.sha256).digest()


def check_key_commit(dek: bytes, bid_id: bytes, commit: bytes) -> bool:
    return hmac.compare_digest(key_commit(dek, bid_id), commit)


def share_info(ceremony_hash: bytes, bid_id: bytes, custodian_id: str, x: int) -> bytes:
    """HPKE info binding a wrapped share to its lot ceremony, bid, custodian and x-coordinate."""
    return hashlib.sha256(SHARE_INFO_LABEL + ceremony_hash + bid_id + uuid.UUID(str(custodian_id)).bytes
                          + bytes([x])).digest()


def share_commit(bid_id: bytes, share: bytes) -> bytes:
    return hashlib.sha256(SHARE_COMMIT_LABEL + bid_id + share).digest()


def check_share_commit(bid_id: bytes, share: bytes, commit: bytes) -> bool:
    return hmac.compare_digest(share_commit(bid_id, share), commit)


# --- SLIP-39 k-of-n ---------------------------------------------------------------------------------------

def split_dek(dek: bytes, k: int, xs: Iterable[int]) -> dict[int, bytes]:
    """Split the DEK k-of-n with SLIP-39's split_ems (one group; member index = x − 1).

    The DEK is used as the "encrypted master secret" directly (no SLIP-39 passphrase layer): the shares'
    digest makes a wrong share fail recovery instead of yielding a wrong key. Each share is its SLIP-39
    mnemonic, UTF-8 encoded, so any SLIP-39 tool can combine released shares.
    """
    xs = sorted(set(xs))
    if len(dek) != DEK_SIZE:
        raise ValueError("the DEK must be 32 bytes")
    if not xs or xs[0] < 1 or xs[-1] > 16:
        raise ValueError("x-coordinates must be 1..16")
    if not 2 <= k <= len(xs):
        raise ValueError("need 2 ≤ k ≤ n")
    ems = shamir.EncryptedMasterSecret(identifier=secrets.randbits(15), extendable=True, iteration_exponent=0,
                                       ciphertext=dek)
    members = shamir.split_ems(1, [(k, xs[-1])], ems)[0]
    return {x: members[x - 1].mnemonic().encode() for x in xs}


def recover_dek(shares: Iterable[bytes]) -> bytes:
    """Recover the DEK from k shares (more are ignored once k distinct ones are found).

    Raises ShareInvalid when a share is malformed, shares of different splits are mixed, too few are given,
    or the combination fails SLIP-39's digest (a wrong share).
    """
    group = shamir.ShareGroup()
    try:
        for raw in shares:
            share = Share.from_mnemonic(raw.decode() if isinstance(raw, (bytes, bytearray)) else raw)
            if share in group:
                continue
            group.add(share)
            if len(group) == share.member_threshold:
                break
        if not group:
            raise ShareInvalid("no shares given")
        if len(group) < group.member_threshold():
            raise ShareInvalid(f"{len(group)} share(s) given, {group.member_threshold()} needed")
        ems = shamir.recover_ems({0: group})
    except MnemonicError as exc:
        raise ShareInvalid(f"the shares do not recover a key: {exc}") from None
    except UnicodeDecodeError:
        raise ShareInvalid("a share is not a SLIP-39 mnemonic") from None
    if len(ems.ciphertext) != DEK_SIZE:
        raise ShareInvalid("the shares recover a secret of the wrong length")
    return ems.ciphertext


# --- HPKE -------------------------------------------------------------------------------------------------

_SUITES = {
    SUITE_X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    SUITE_MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
_X25519_LEN = 32
_MLKEM768_PUB_LEN = 1184
_MLKEM768_SEED_LEN = 64


class HpkePrivateKey:
    """A custodian's per-lot HPKE private key with its suite. Raw forms:
    X25519: 32-byte private scalar / 32-byte public key;
    ML-KEM-768+X25519: 64-byte ML-KEM seed ‖ 32-byte X25519 private / 1184-byte ML-KEM key ‖ 32-byte X25519 key.
    """

    def __init__(self, suite: str, raw: bytes) -> None:
        if suite == SUITE_X25519:
            if len(raw) != _X25519_LEN:
                raise ValueError("an X25519 private key is 32 bytes")
            self._key = x25519.X25519PrivateKey.from_private_bytes(raw)
            self._public = self._key.public_key().public_bytes_raw()
        elif suite == SUITE_MLKEM768_X25519:
            if len(raw) != _MLKEM768_SEED_LEN + _X25519_LEN:
                raise ValueError("an ML-KEM-768+X25519 private key is 96 bytes")
            m = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM768_SEED_LEN])
            xk = x25519.X25519PrivateKey.from_private_bytes(raw[_MLKEM768_SEED_LEN:])
            self._key = hpke.MLKEM768X25519PrivateKey(m, xk)
            self._public = m.public_key().public_bytes_raw() + xk.public_key().public_bytes_raw()
        else:
            raise ValueError(f"unknown HPKE suite {suite!r}")
        self.suite = suite
        self._raw = raw

    @classmethod
    def generate(cls, suite: str = SUITE_X25519) -> HpkePrivateKey:
        if suite == SUITE_X25519:
            return cls(suite, x25519.X25519PrivateKey.generate().private_bytes_raw())
        if suite == SUITE_MLKEM768_X25519:
            return cls(suite, mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
                       + x25519.X25519PrivateKey.generate().private_bytes_raw())
        raise ValueError(f"unknown HPKE suite {suite!r}")

    def private_bytes_raw(self) -> bytes:
        return self._raw

    def public_bytes(self) -> bytes:
        return self._public

    def open(self, wrapped: bytes, info: bytes) -> bytes:
        return _SUITES[self.suite].decrypt(wrapped, self._key, info=info)


def hpke_public_key(suite: str, public: bytes):
    if suite == SUITE_X25519:
        if len(public) != _X25519_LEN:
            raise ValueError("an X25519 public key is 32 bytes")
        return x25519.X25519PublicKey.from_public_bytes(public)
    if suite == SUITE_MLKEM768_X25519:
        if len(public) != _MLKEM768_PUB_LEN + _X25519_LEN:
            raise ValueError("an ML-KEM-768+X25519 public key is 1216 bytes")
        return hpke.MLKEM768X25519PublicKey(mlkem.MLKEM768PublicKey.from_public_bytes(public[:_MLKEM768_PUB_LEN]),
                                            x25519.X25519PublicKey.from_public_bytes(public[_MLKEM768_PUB_LEN:]))
    raise ValueError(f"unknown HPKE suite {suite!r}")


def check_hpke_public_key(suite: str, public: bytes) -> str | None:
    try:
        hpke_public_key(suite, public)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a refusal reason
        return str(exc) or "malformed public key"
    return None


def wrap_share(suite: str, public: bytes, share: bytes, info: bytes) -> bytes:
    return _SUITES[suite].encrypt(share, hpke_public_key(suite, public), info=info)


def open_share(hpke_private_key, wrapped: bytes, info: bytes) -> bytes:
    """HPKE-open a wrapped share. Raises ShareOpenFailed when this key/info does not open it.

    `hpke_private_key` is an HpkePrivateKey, or a `cryptography` X25519PrivateKey / MLKEM768X25519PrivateKey
    (the suite follows from the key's type).
    """
    try:
        if isinstance(hpke_private_key, HpkePrivateKey):
            return hpke_private_key.open(wrapped, info)
        if isinstance(hpke_private_key, x25519.X25519PrivateKey):
            return _SUITES[SUITE_X25519].decrypt(wrapped, hpke_private_key, info=info)
        if isinstance(hpke_private_key, hpke.MLKEM768X25519PrivateKey):
            return _SUITES[SUITE_MLKEM768_X25519].decrypt(wrapped, hpke_private_key, info=info)
        raise ShareOpenFailed(f"not an HPKE private key: {type(hpke_private_key).__name__}")
    except (InvalidTag, ValueError) as exc:
        raise ShareOpenFailed(f"the share does not open with this key and context: {exc or 'bad tag'}") from None
    except Exception as exc:  # noqa: BLE001 - the rust binding raises assorted errors on malformed input
        raise ShareOpenFailed(f"the wrapped share is malformed: {exc}") from None


# --- sealing ----------------------------------------------------------------------------------------------

class Sealed(msgspec.Struct, frozen=True):
    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes

    @property
    def manifest_sha256(self) -> bytes:
        return manifest_sha256(self.manifest_bytes)


def seal(
    ceremony_record: bytes,
    produce: Callable[[BinaryIO], object],
    dst: BinaryIO,
    *,
    signing_key: Ed25519PrivateKey,
    bidder_org_id: str,
    signer_id: str,
    expected_ceremony_hash: bytes | None = None,
    version: int = 1,
    previous: bytes | None = None,
    progress: Callable[[int], object] | None = None,
) -> Sealed:
    """Seal the plaintext that `produce(writer)` writes into `dst`; return the signed manifest.

    `produce` streams the plaintext (e.g. `package.write_package`); memory stays at a few segments (see
    HashingSink). `dst.write` must be done with the data when it returns (any file object is): the segment
    buffers are reused. The DEK and the plaintext shares exist only inside this call.
    """
    record = ceremony_mod.decode_ceremony(ceremony_record)
    c_hash = ceremony_mod.ceremony_hash(ceremony_record)
    if expected_ceremony_hash is not None and not hmac.compare_digest(c_hash, expected_ceremony_hash):
        raise ManifestInvalid("the ceremony record does not match the lot's ceremony hash")
    _check_ceremony(record)
    dek = os.urandom(DEK_SIZE)
    bid_id = os.urandom(BID_ID_SIZE)
    sink = HashingSink(dst, progress)
    try:
        with EncryptingWriter(dek, associated_data(c_hash, bid_id), sink, claim=sink.claim) as writer:
            produce(writer)  # type: ignore[arg-type]
    finally:
        sink.close()
    shares = split_dek(dek, record.k, [c.x for c in record.custodians])
    envelopes = []
    for c in record.custodians:
        share = shares[c.x]
        envelopes.append(ShareEnvelope(
            custodian_id=c.custodian_id, x=c.x,
            wrapped=wrap_share(c.suite, c.hpke_public_key, share, share_info(c_hash, bid_id, c.custodian_id, c.x)),
            share_commit=share_commit(bid_id, share),
        ))
    manifest = Manifest(
        v=PROTOCOL, tender_id=record.tender_id, lot_id=record.lot_id, ceremony_hash=c_hash, bid_id=bid_id,
        version=version, previous=previous, bidder_org_id=str(bidder_org_id), signer_id=str(signer_id),
        ct_root=sink.ct_root, ct_len=sink.n, key_commit=key_commit(dek, bid_id), k=record.k,
        shares=envelopes,
    )
    del dek, shares
    problem = manifest_problem(manifest)
    if problem:
        raise ManifestInvalid(problem)
    data = encode_manifest(manifest)
    return Sealed(manifest=manifest, manifest_bytes=data, signature=sign_manifest(signing_key, data))


def _check_ceremony(record: CeremonyRecord) -> None:
    problem = ceremony_mod.validate_k_n(record.k, record.n)
    if problem:
        raise ManifestInvalid(f"the lot's ceremony is unusable: {problem}")
    if len(record.custodians) != record.n:
        raise ManifestInvalid("the lot's ceremony does not list n custodian keys")
    for c in record.custodians:
        p = check_hpke_public_key(c.suite, c.hpke_public_key)
        if p:
            raise ManifestInvalid(f"custodian {c.custodian_id}: {p}")


# --- unsealing --------------------------------------------------------------------------------------------

def custodian_open(manifest: Manifest, custodian_id: str, key) -> bytes:
    """The custodian's side: open this custodian's envelope and check it against its commitment."""
    env = next((s for s in manifest.shares if s.custodian_id == str(custodian_id)), None)
    if env is None:
        raise ShareOpenFailed(f"the manifest holds no share for custodian {custodian_id}")
    share = open_share(key, env.wrapped, share_info(manifest.ceremony_hash, manifest.bid_id, env.custodian_id,
                                                     env.x))
    if not check_share_commit(manifest.bid_id, share, env.share_commit):
        raise ShareInvalid(f"the share of custodian {custodian_id} does not match its commitment")
    return share


def recover_checked_dek(manifest: Manifest, shares: dict[int, bytes]) -> bytes:
    """Shares by x → DEK, after checking each share's commitment and the key commitment.

    Shares failing their commitment are left out (the custodian's fault); the rest must recover a DEK that
    matches key_commit (else the bidder's fault: KeyCommitMismatch or ShareInvalid).
    """
    commits = {s.x: s.share_commit for s in manifest.shares}
    good = [s for x, s in sorted(shares.items()) if x in commits and check_share_commit(manifest.bid_id, s,
                                                                                             commits[x])]
    if len(good) < manifest.k:
        raise ShareInvalid(f"{len(good)} share(s) match their commitments, {manifest.k} needed")
    dek = recover_dek(good)
    if not check_key_commit(dek, manifest.bid_id, manifest.key_commit):
        raise KeyCommitMismatch("the recovered key does not match the manifest's key commitment")
    return dek


def decrypt_stream(dek: bytes, aad: bytes, src: BinaryIO, dst: BinaryIO,
                   progress: Callable[[int], object] | None = None) -> int:
    """Decrypt a seal/v2 payload (Tink AES-GCM-HKDF streaming); raises PayloadCorrupt."""
    try:
        return _decrypt_stream(dek, aad, src, dst, progress)
    except StreamCorrupt as exc:
        raise PayloadCorrupt(str(exc)) from None


def unseal(manifest: Manifest, dek: bytes, src: BinaryIO, dst: BinaryIO,
           progress: Callable[[int], object] | None = None) -> int:
    """Check the ciphertext against ct_root/ct_len while decrypting it into dst; returns the plaintext size.

    A regular-file `src` takes the pipelined path (`pipeline.decrypt_file`); any other stream is read ahead and hashed
    on a worker thread (`HashingReader`). Either way nothing is trusted until the end: callers that must not
    expose partial plaintext write to a temporary place and keep it only when this returns.
    """
    size = remaining_size(src)
    if size is not None:
        if size != manifest.ct_len:
            raise PayloadCorrupt(f"the ciphertext is {size} bytes, the manifest's ct_len says {manifest.ct_len}")
        try:
            size, digest = decrypt_file(dek, associated_data(manifest.ceremony_hash, manifest.bid_id), src, dst,
                                        manifest.ct_len, progress)
        except StreamCorrupt as exc:
            raise PayloadCorrupt(str(exc)) from None
        if not hmac.compare_digest(digest, manifest.ct_root):
            raise PayloadCorrupt("the ciphertext does not match the manifest's ct_root/ct_len")
        return size
    reader = HashingReader(src)
    try:
        size = decrypt_stream(dek, associated_data(manifest.ceremony_hash, manifest.bid_id), reader,  # type: ignore[arg-type]
                              dst, progress)
        if reader.read(1):
            raise PayloadCorrupt("data follows the last segment")
    finally:
        reader.close()
    if reader.n != manifest.ct_len or not hmac.compare_digest(reader.h.digest(), manifest.ct_root):
        raise PayloadCorrupt("the ciphertext does not match the manifest's ct_root/ct_len")
    return size
