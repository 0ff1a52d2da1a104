"""C2SP signed-note and tlog-checkpoint text formats, Ed25519 (records/v1). Pure: no server imports.

Checkpoint body (C2SP tlog-checkpoint):   "<origin>\\n<tree size, decimal>\\n<base64 root hash>\\n"
Signed note (C2SP signed-note):           body ‖ "\\n" ‖ "— <key name> <base64(key id[4] ‖ Ed25519 signature[64])>\\n"
The Ed25519 signature is over the body bytes exactly (UTF-8, ending in "\\n").
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.records.keys import VerifierKey, key_id, public_bytes

EM_DASH = "\u2014"


class NoteError(ValueError):
    """The note is malformed or its signatures do not verify; the message says which."""


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    sig = key.sign(text.encode())
    blob = base64.b64encode(key_id(name, public_bytes(key)) + sig).decode()
    return f"{text}\n{EM_DASH} {name} {blob}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """(text, [(name, key id, signature)]) of a signed note; raises NoteError when malformed."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    text, sig_block = note[: cut + 1], note[cut + 2:]
    sigs: list[tuple[str, bytes, bytes]] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise NoteError(f"malformed signature line {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise NoteError(f"malformed signature line {line!r}")
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoteError(f"malformed signature line {line!r}") from exc
        if len(raw) < 5:
            raise NoteError(f"signature too short in line {line!r}")
        sigs.append((parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("the note carries no signature")
    return text, sigs


def open_note(note: str, keys: Iterable[VerifierKey | str]) -> tuple[str, list[VerifierKey]]:
    """Verify a signed note against known keys. Returns (text, keys that signed it). Raises NoteError if no
    known key signed it, or if a signature by a known key is invalid. Unknown signers are ignored."""
    known = {}
    for k in keys:
        vk = k if isinstance(k, VerifierKey) else VerifierKey(k)
        known[(vk.name, vk.key_id)] = vk
    text, sigs = split_note(note)
    verified: list[VerifierKey] = []
    for name, kid, sig in sigs:
        vk = known.get((name, kid))
        if vk is None:
            continue
        try:
            vk.public_key.verify(sig, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"invalid signature by {name}+{kid.hex()}") from exc
        verified.append(vk)
    if not verified:
        names = ", ".join(f"{n}+{k.hex()}" for n, k, _ in sigs)
        raise NoteError(f"no signature by a known key (signed by: {names})")
    return text, verified


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes, list[str]]:
    """(origin, size, root, extension lines) of a checkpoint body; raises NoteError when malformed."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("malformed checkpoint: fewer than three lines")
    origin, size_s, root_s, *ext = lines[:-1]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise NoteError(f"malformed checkpoint header {origin!r} / {size_s!r}")
    try:
        root = base64.b64decode(root_s, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("malformed checkpoint root") from exc
    if len(root) != 32 or any(not line for line in ext):
        raise NoteError("malformed checkpoint root or extension lines")
    return origin, int(size_s), root, ext
