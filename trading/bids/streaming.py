"""Tink's AES-GCM-HKDF streaming AEAD (AES256_GCM_HKDF_1MB), byte-for-byte, on `cryptography`'s AESGCM.

Pure (no server imports); memory stays at about one segment whatever the size of the stream.

Format (https://developers.google.com/tink/streaming-aead/aes_gcm_hkdf_streaming):

    ciphertext = header ‖ segment_0 ‖ segment_1 ‖ … ‖ segment_last
    header     = header_len (1 byte, = 40) ‖ salt (32 bytes) ‖ nonce_prefix (7 bytes)
    key        = HKDF-SHA256(ikm = DEK, salt = salt, info = associated_data, length = 32)
    segment_i  = AES-256-GCM(key, nonce_i, plaintext_i, aad = "") → ciphertext_i ‖ tag (16 bytes)
    nonce_i    = nonce_prefix ‖ uint32_be(i) ‖ (0x01 if last segment else 0x00)

Every ciphertext segment is 1 MiB (1,048,576 bytes) except the last, which may be shorter (never empty: an
empty plaintext is one last segment holding only its tag). The header shares the first segment's 1 MiB, so the
first segment carries 1 MiB − 40 − 16 plaintext bytes and the others 1 MiB − 16. A plaintext that fills its last
segment exactly ends there (no trailing empty segment). The associated data is not passed to GCM: it only enters
the key derivation, so a wrong associated data fails at the first segment.
"""
from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
TAG_SIZE = 16
HEADER_SIZE = 1 + KEY_SIZE + NONCE_PREFIX_SIZE  # 40
SEGMENT_SIZE = 1024 * 1024  # ciphertext segment size
PLAIN_SEGMENT = SEGMENT_SIZE - TAG_SIZE
FIRST_PLAIN_SEGMENT = PLAIN_SEGMENT - HEADER_SIZE
MAX_SEGMENTS = 2**32


class StreamCorrupt(ValueError):
    """The ciphertext is truncated, altered, or was made with another key or associated data."""


def derive_key(dek: bytes, salt: bytes, associated_data: bytes) -> bytes:
    if len(dek) != KEY_SIZE:
        raise ValueError(f"the DEK must be {KEY_SIZE} bytes")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=associated_data).derive(dek)


def segment_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise ValueError("stream too long for the segment counter")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def ciphertext_size(plaintext_size: int) -> int:
    """Exact ciphertext length for a plaintext length."""
    if plaintext_size <= FIRST_PLAIN_SEGMENT:
        return HEADER_SIZE + plaintext_size + TAG_SIZE
    rest = plaintext_size - FIRST_PLAIN_SEGMENT
    segments = 1 + -(-rest // PLAIN_SEGMENT)
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


class EncryptingWriter:
    """A write-only file object: what is written is encrypted segment by segment to `sink(bytes)`.

    `close()` writes the last segment; until then at most one plaintext segment is buffered. `sink` receives
    the header (bytes) then one memoryview per segment; see `claim` in __init__ for who owns its buffer.
    """

    def __init__(self, dek: bytes, associated_data: bytes, sink: Callable[[bytes], object], *,
                 salt: bytes | None = None, nonce_prefix: bytes | None = None,
                 claim: Callable[[], bytearray | mmap.mmap] | None = None) -> None:
        salt = os.urandom(KEY_SIZE) if salt is None else salt
        self._prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else nonce_prefix
        if len(salt) != KEY_SIZE or len(self._prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("bad salt or nonce prefix length")
        self._aead = AESGCM(derive_key(dek, salt, associated_data))
        self._sink = sink
        # Fixed buffers, reused for every segment: no allocation (and no page faults) per segment.
        self._buf = memoryview(bytearray(PLAIN_SEGMENT))
        self._fill = 0
        self._limit = FIRST_PLAIN_SEGMENT
        self._index = 0
        # Output buffer: by default one, reused (the sink must be done with each segment when it returns). With
        # `claim`, each segment is encrypted into a buffer `claim()` hands out (at least SEGMENT_SIZE bytes) and
        # the sink owns it afterwards: a pipelined sink can hash/write it on another thread, then recycle it.
        self._claim = claim
        self._out = bytearray(SEGMENT_SIZE) if claim is None else None
        self.closed = False
        self.plaintext_size = 0
        sink(bytes([HEADER_SIZE]) + salt + self._prefix)

    def writable(self) -> bool:
        return True

    def _emit(self, data, last: bool) -> None:
        n = len(data)
        out = memoryview(self._out if self._claim is None else self._claim())[: n + TAG_SIZE]
        self._aead.encrypt_into(segment_nonce(self._prefix, self._index, last), data, None, out)
        self._sink(out)
        self._index += 1
        self._limit = PLAIN_SEGMENT

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed EncryptingWriter")
        view = memoryview(data).cast("B")
        n = len(view)
        self.plaintext_size += n
        pos = 0
        while pos < n:
            # A full buffer is only encrypted once more data arrives: the last segment must carry the flag.
            if self._fill == self._limit:
                self._emit(self._buf[: self._fill], last=False)
                self._fill = 0
            if not self._fill and n - pos > self._limit:
                # Fast path: encrypt straight from the caller's buffer (there is more after this segment).
                limit = self._limit  # _emit moves the limit from the first segment's size to the others'
                self._emit(view[pos: pos + limit], last=False)
                pos += limit
                continue
            take = min(self._limit - self._fill, n - pos)
            self._buf[self._fill: self._fill + take] = view[pos: pos + take]
            self._fill += take
            pos += take
        return n

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self._emit(self._buf[: self._fill], last=True)
        self._fill = 0
        self.closed = True

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.closed = True


def encrypt_stream(dek: bytes, associated_data: bytes, src: BinaryIO, dst: BinaryIO,
                   progress: Callable[[int], object] | None = None) -> int:
    """Encrypt src into dst; returns the plaintext size."""
    with EncryptingWriter(dek, associated_data, dst.write) as w:
        while block := src.read(FIRST_PLAIN_SEGMENT):
            w.write(block)
            if progress:
                progress(len(block))
    return w.plaintext_size


def _read_exactly(src: BinaryIO, n: int) -> bytes:
    parts = []
    while n > 0:
        b = src.read(n)
        if not b:
            break
        parts.append(b)
        n -= len(b)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def decrypt_stream(dek: bytes, associated_data: bytes, src: BinaryIO, dst: BinaryIO,
                   progress: Callable[[int], object] | None = None) -> int:
    """Decrypt src into dst; returns the plaintext size. Raises StreamCorrupt on any alteration.

    Each segment is authenticated before it is written, but a truncated or altered stream is only known to be
    bad at its failing segment: callers that must not expose partial plaintext write to a temporary place and
    keep it only when this returns.
    """
    header = _read_exactly(src, HEADER_SIZE)
    if len(header) != HEADER_SIZE or header[0] != HEADER_SIZE:
        raise StreamCorrupt("the ciphertext header is missing or malformed")
    aead = AESGCM(derive_key(dek, header[1: 1 + KEY_SIZE], associated_data))
    prefix = header[1 + KEY_SIZE:]
    index = 0
    total = 0
    want = FIRST_PLAIN_SEGMENT + TAG_SIZE
    segment = _read_exactly(src, want)
    while True:
        if len(segment) == want:
            nxt = _read_exactly(src, PLAIN_SEGMENT + TAG_SIZE)
            last = not nxt
        else:
            nxt, last = b"", True
        if len(segment) < TAG_SIZE:
            raise StreamCorrupt(f"segment {index} is truncated")
        try:
            plain = aead.decrypt(segment_nonce(prefix, index, last), segment, None)
        except InvalidTag:
            raise StreamCorrupt(f"segment {index} fails authentication (wrong key, associated data, or "
                                "altered/truncated ciphertext)") from None
        dst.write(plain)
        total += len(plain)
        if progress:
            progress(len(segment))
        if last:
            return total
        index += 1
        want = PLAIN_SEGMENT + TAG_SIZE
        segment = nxt
