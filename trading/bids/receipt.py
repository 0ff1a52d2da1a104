"""Bid receipts (seal/v2): a C2SP signed note by the platform key, verifiable offline. Pure.

Note text (every line ends with "\\n"):

    tenderhall/seal/v2 receipt
    origin <log origin>
    lot <lot uuid>
    bid <bid_id, 32 hex>
    version <n>
    manifest_sha256 <64 hex>
    ct_root <64 hex>
    received_at <UTC, RFC 3339 with milliseconds, Z>
    log_index <seq of the bid:seal:accept entry>
    leaf_hash <64 hex: RFC 9162 leaf hash of that entry>

followed by a blank line and one signature line per signer: "— <name> <base64(key id (4) ‖ Ed25519 sig)>"
(C2SP signed-note; key id = SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]). Once a checkpoint covers
log_index, an RFC 9162 inclusion proof of leaf_hash against the checkpoint's root upgrades the receipt.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RECEIPT_HEADER = "tenderhall/seal/v2 receipt"
_FIELDS = ("origin", "lot", "bid", "version", "manifest_sha256", "ct_root", "received_at", "log_index",
           "leaf_hash")


class ReceiptInvalid(ValueError):
    code = "receipt_invalid"


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    origin: str
    lot: str
    bid: str
    version: int
    manifest_sha256: str
    ct_root: str
    received_at: str
    log_index: int
    leaf_hash: str


def format_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def receipt_text(r: Receipt) -> str:
    lines = [RECEIPT_HEADER] + [f"{name} {getattr(r, name)}" for name in _FIELDS]
    return "\n".join(lines) + "\n"


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def sign_receipt(r: Receipt, key: Ed25519PrivateKey, name: str) -> str:
    text = receipt_text(r)
    pub = key.public_key().public_bytes_raw()
    sig = key.sign(text.encode())
    return f"{text}\n\u2014 {name} {base64.b64encode(_key_id(name, pub) + sig).decode()}\n"


def parse_receipt(note: str) -> tuple[Receipt, str, list[tuple[str, bytes, bytes]]]:
    """(receipt, signed text, [(name, key id, signature)]). Structural checks only."""
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise ReceiptInvalid("not a signed note: no blank line before the signatures")
    text += "\n"
    lines = text.split("\n")[:-1]
    if not lines or lines[0] != RECEIPT_HEADER:
        raise ReceiptInvalid("not a tenderhall seal/v2 receipt")
    values: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key not in _FIELDS or key in values:
            raise ReceiptInvalid(f"unexpected receipt line {line!r}")
        values[key] = value
    if tuple(values) != _FIELDS:
        raise ReceiptInvalid("receipt fields missing or out of order")
    try:
        r = msgspec.convert({**values, "version": int(values["version"]), "log_index": int(values["log_index"])},
                            type=Receipt)
    except (ValueError, msgspec.ValidationError) as exc:
        raise ReceiptInvalid(f"malformed receipt: {exc}") from None
    if receipt_text(r) != text:
        raise ReceiptInvalid("the receipt text is not in canonical form")
    signatures = []
    for line in sigs.splitlines():
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise ReceiptInvalid(f"malformed signature line {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise ReceiptInvalid(f"malformed signature line {line!r}")
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise ReceiptInvalid(f"malformed signature line {line!r}") from None
        if len(raw) != 68:
            raise ReceiptInvalid("an Ed25519 note signature is 4 + 64 bytes")
        signatures.append((parts[0], raw[:4], raw[4:]))
    return r, text, signatures


def verify_receipt(note: str, vkey: str) -> Receipt:
    """Check the note's signature under the verifier key `name+hexid+base64(0x01‖pub)`; return the receipt."""
    name, hexid, b64 = _split_vkey(vkey)
    raw = base64.b64decode(b64)
    if len(raw) != 33 or raw[0] != 1:
        raise ReceiptInvalid("the verifier key is not an Ed25519 note key")
    pub = raw[1:]
    kid = bytes.fromhex(hexid)
    if _key_id(name, pub) != kid:
        raise ReceiptInvalid("the verifier key's id does not match its key")
    r, text, sigs = parse_receipt(note)
    for sig_name, sig_kid, sig in sigs:
        if sig_name == name and sig_kid == kid:
            try:
                Ed25519PublicKey.from_public_bytes(pub).verify(sig, text.encode())
            except InvalidSignature:
                raise ReceiptInvalid("the platform signature on the receipt is invalid") from None
            if r.origin != name:
                raise ReceiptInvalid("the receipt's origin is not the signing platform's")
            return r
    raise ReceiptInvalid(f"the receipt carries no signature by {name}")


def _split_vkey(vkey: str) -> tuple[str, str, str]:
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise ReceiptInvalid("malformed verifier key")
    return parts[0], parts[1], parts[2]


# RFC 9162 §2.1.3.2: verify an inclusion proof ------------------------------------------------------------

def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    if index < 0 or index >= size or len(leaf_hash) != 32 or len(root) != 32:
        return False
    if any(len(p) != 32 for p in proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
