"""The platform's Ed25519 log-signing key and its C2SP signed-note verifier key (records/v1).

The key is created on first use in `settings.key_dir/platform.key` (PKCS#8 PEM, mode 0600), or loaded from
`settings.signing_key_path` (created there if missing). Rotation moves the current key to
`key_dir/retired/` and creates a new one; retired keys are kept, so every old checkpoint stays verifiable:
each signature names its key id.

Verifier key (C2SP signed-note / Go `note` format): `name+hexkeyid+base64(0x01 ‖ pubkey)`, where
keyid = SHA-256(name ‖ "\\n" ‖ 0x01 ‖ pubkey)[:4]. The name is the log origin (`settings.origin`).
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_ALG = 0x01
KEY_FILE = "platform.key"
RETIRED_DIR = "retired"


def key_path(settings) -> Path:
    return Path(settings.signing_key_path) if settings.signing_key_path else Path(settings.key_dir) / KEY_FILE


def _write_new_key(path: Path) -> None:
    """Create a key file atomically with mode 0600; if another process won the race, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the file exists: never overwrite a key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _load(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_platform_key(settings) -> Ed25519PrivateKey:
    """The current platform signing key (created on first use)."""
    path = key_path(settings)
    if not path.exists():
        _write_new_key(path)
    return _load(path)


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key id: the first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ pubkey)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def verifier_key(name: str, key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = public_bytes(key)
    return f"{name}+{key_id(name, pub).hex()}+{base64.b64encode(bytes([ED25519_ALG]) + pub).decode()}"


class VerifierKey:
    """A parsed verifier key: name, 4-byte key id, Ed25519 public key."""

    __slots__ = ("name", "key_id", "public_key", "text")

    def __init__(self, text: str) -> None:
        text = text.strip()
        # Split on the first two "+" only: the base64 part may itself contain "+".
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise ValueError(f"malformed verifier key {text!r}")
        name, hexid, b64 = parts
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"malformed verifier key name in {text!r}")
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except ValueError as exc:
            raise ValueError(f"malformed verifier key {text!r}") from exc
        if len(kid) != 4 or len(raw) != 33 or raw[0] != ED25519_ALG:
            raise ValueError(f"verifier key {text!r} is not an Ed25519 note key")
        if key_id(name, raw[1:]) != kid:
            raise ValueError(f"verifier key {text!r}: key id does not match the key")
        self.name, self.key_id, self.text = name, kid, text
        self.public_key = Ed25519PublicKey.from_public_bytes(raw[1:])

    def __repr__(self) -> str:
        return f"VerifierKey({self.text!r})"


def platform_verifier_key(settings) -> str:
    """The current key's verifier key, `name+hexkeyid+base64(0x01‖pubkey)` with name = settings.origin."""
    return verifier_key(settings.origin, load_platform_key(settings))


def retired_keys(settings) -> list[Ed25519PrivateKey]:
    folder = key_path(settings).parent / RETIRED_DIR
    if not folder.is_dir():
        return []
    return [_load(p) for p in sorted(folder.glob("*.key"))]


def all_verifier_keys(settings) -> list[str]:
    """Every verifier key this platform has signed with (current first), so old checkpoints verify."""
    seen: list[str] = []
    for key in [load_platform_key(settings), *retired_keys(settings)]:
        vkey = verifier_key(settings.origin, key)
        if vkey not in seen:
            seen.append(vkey)
    return seen


def rotate_platform_key(settings) -> str:
    """Retire the current key (kept for verification) and create a new one; returns the new verifier key."""
    path = key_path(settings)
    if path.exists():
        old = _load(path)
        folder = path.parent / RETIRED_DIR
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = key_id(settings.origin, public_bytes(old)).hex()
        os.replace(path, folder / f"{kid}.key")
    return platform_verifier_key(settings)
