"""Private key files for bidders and custodians, encrypted under a passphrase. Pure (no server imports).

One format for identity keys (Ed25519) and per-lot HPKE keys, a JSON file:

    {"v": "tenderhall/keyfile/v1", "kind": "identity" | "hpke", "suite": …, "label": …,
     "public_key": b64, "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": b64},
     "nonce": b64, "ciphertext": b64}

ciphertext = AES-256-GCM(key = scrypt(passphrase), nonce, raw private key, aad = the file's header fields as
msgspec JSON) — a changed header or a wrong passphrase fails authentication. Private keys never leave the
holder's machine; only public keys are uploaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from trading.bids.seal import HpkePrivateKey

KEYFILE_VERSION = "tenderhall/keyfile/v1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


class KeyFileError(ValueError):
    code = "keyfile_invalid"


class Kdf(msgspec.Struct, frozen=True):
    name: str
    n: int
    r: int
    p: int
    salt: bytes


class KeyFile(msgspec.Struct, frozen=True):
    v: str
    kind: str                 # identity | hpke
    suite: str                # ed25519 | an HPKE suite of trading.bids.ceremony
    label: str                # e.g. the lot id for an HPKE key, the username for an identity key
    public_key: bytes
    kdf: Kdf
    nonce: bytes
    ciphertext: bytes


class _Header(msgspec.Struct, frozen=True):
    v: str
    kind: str
    suite: str
    label: str
    public_key: bytes
    kdf: Kdf


def _derive(passphrase: str, kdf: Kdf) -> bytes:
    if kdf.name != "scrypt" or kdf.n > 2**20 or kdf.r > 32 or kdf.p > 16:
        raise KeyFileError("unsupported key-file KDF parameters")
    return Scrypt(salt=kdf.salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(passphrase.encode())


def encrypt_key(raw: bytes, *, kind: str, suite: str, label: str, public_key: bytes, passphrase: str,
                n: int = SCRYPT_N) -> bytes:
    if not passphrase:
        raise KeyFileError("a passphrase is required to protect the private key")
    kdf = Kdf(name="scrypt", n=n, r=SCRYPT_R, p=SCRYPT_P, salt=os.urandom(16))
    header = _Header(v=KEYFILE_VERSION, kind=kind, suite=suite, label=label, public_key=public_key, kdf=kdf)
    nonce = os.urandom(12)
    ct = AESGCM(_derive(passphrase, kdf)).encrypt(nonce, raw, msgspec.json.encode(header))
    return msgspec.json.encode(KeyFile(v=KEYFILE_VERSION, kind=kind, suite=suite, label=label,
                                       public_key=public_key, kdf=kdf, nonce=nonce, ciphertext=ct))


def read_keyfile(data: bytes) -> KeyFile:
    try:
        kf = msgspec.json.decode(data, type=KeyFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise KeyFileError(f"not a tenderhall key file: {exc}") from None
    if kf.v != KEYFILE_VERSION:
        raise KeyFileError(f"unknown key-file version {kf.v!r}")
    return kf


def decrypt_key(data: bytes, passphrase: str) -> tuple[KeyFile, bytes]:
    kf = read_keyfile(data)
    header = _Header(v=kf.v, kind=kf.kind, suite=kf.suite, label=kf.label, public_key=kf.public_key, kdf=kf.kdf)
    try:
        raw = AESGCM(_derive(passphrase, kf.kdf)).decrypt(kf.nonce, kf.ciphertext, msgspec.json.encode(header))
    except InvalidTag:
        raise KeyFileError("wrong passphrase, or the key file was altered") from None
    return kf, raw


# identity keys ---------------------------------------------------------------------------------------------

def new_identity_key(label: str, passphrase: str, *, n: int = SCRYPT_N) -> tuple[Ed25519PrivateKey, bytes]:
    """A fresh Ed25519 identity key and its encrypted key file."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    return key, encrypt_key(key.private_bytes_raw(), kind="identity", suite="ed25519", label=label,
                            public_key=public, passphrase=passphrase, n=n)


def load_identity_key(data: bytes, passphrase: str) -> Ed25519PrivateKey:
    kf, raw = decrypt_key(data, passphrase)
    if kf.kind != "identity" or kf.suite != "ed25519":
        raise KeyFileError("this key file does not hold an Ed25519 identity key")
    key = Ed25519PrivateKey.from_private_bytes(raw)
    if key.public_key().public_bytes_raw() != kf.public_key:
        raise KeyFileError("the key file's public key does not match its private key")
    return key


# HPKE lot keys ---------------------------------------------------------------------------------------------

def new_hpke_key(suite: str, label: str, passphrase: str, *, n: int = SCRYPT_N) -> tuple[HpkePrivateKey, bytes]:
    key = HpkePrivateKey.generate(suite)
    return key, encrypt_key(key.private_bytes_raw(), kind="hpke", suite=suite, label=label,
                            public_key=key.public_bytes(), passphrase=passphrase, n=n)


def load_hpke_key(data: bytes, passphrase: str) -> HpkePrivateKey:
    kf, raw = decrypt_key(data, passphrase)
    if kf.kind != "hpke":
        raise KeyFileError("this key file does not hold an HPKE lot key")
    key = HpkePrivateKey(kf.suite, raw)
    if key.public_bytes() != kf.public_key:
        raise KeyFileError("the key file's public key does not match its private key")
    return key


def write_private_file(path: Path, data: bytes) -> None:
    """Write a key file readable by its owner only; refuse to overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


IDENTITY_PROOF_PREFIX = b"tenderhall/identity-key/v1\n"


def identity_proof_bytes(user_id: str, public_key: bytes) -> bytes:
    """What a registrant signs with the new key to prove it holds it (and binds it to its account)."""
    return IDENTITY_PROOF_PREFIX + str(user_id).encode() + b"\n" + public_key
