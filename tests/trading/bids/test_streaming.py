"""seal/v2 payload format = Tink AES-GCM-HKDF streaming (AES256_GCM_HKDF_1MB), checked against the tink package."""
from __future__ import annotations

import io
import os

import pytest
from tink import cleartext_keyset_handle, streaming_aead
from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

from trading.bids import streaming as S

streaming_aead.register()

SIZES = [0, 1, S.FIRST_PLAIN_SEGMENT - 1, S.FIRST_PLAIN_SEGMENT, S.FIRST_PLAIN_SEGMENT + 1,
         S.FIRST_PLAIN_SEGMENT + S.PLAIN_SEGMENT, 2 * S.SEGMENT_SIZE + 12345]


def tink_primitive(dek: bytes) -> streaming_aead.StreamingAead:
    """A Tink keyset holding the raw DEK as an AesGcmHkdfStreamingKey with AES256_GCM_HKDF_1MB parameters."""
    key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(version=0, key_value=dek)
    key.params.ciphertext_segment_size = 1024 * 1024
    key.params.derived_key_size = 32
    key.params.hkdf_hash_type = common_pb2.SHA256
    keyset = tink_pb2.Keyset(primary_key_id=1)
    k = keyset.key.add()
    k.key_data.type_url = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"
    k.key_data.value = key.SerializeToString()
    k.key_data.key_material_type = tink_pb2.KeyData.SYMMETRIC
    k.status = tink_pb2.ENABLED
    k.key_id = 1
    k.output_prefix_type = tink_pb2.RAW
    return cleartext_keyset_handle.from_keyset(keyset).primitive(streaming_aead.StreamingAead)


class _Keep(io.BytesIO):
    def close(self) -> None:  # tink closes its destination; keep the bytes readable
        pass


@pytest.mark.parametrize("size", SIZES)
def test_tenderhall_ciphertext_decrypts_with_tink(size: int) -> None:
    dek, ad, pt = os.urandom(32), b"tenderhall/seal/v2" + os.urandom(48), os.urandom(size)
    out = io.BytesIO()
    assert S.encrypt_stream(dek, ad, io.BytesIO(pt), out) == size
    ct = out.getvalue()
    assert len(ct) == S.ciphertext_size(size)
    with tink_primitive(dek).new_decrypting_stream(io.BytesIO(ct), ad) as d:
        assert d.read() == pt


@pytest.mark.parametrize("size", SIZES)
def test_tink_ciphertext_decrypts_with_tenderhall(size: int) -> None:
    dek, ad, pt = os.urandom(32), os.urandom(48), os.urandom(size)
    dst = _Keep()
    with tink_primitive(dek).new_encrypting_stream(dst, ad) as s:
        s.write(pt)
    out = io.BytesIO()
    assert S.decrypt_stream(dek, ad, io.BytesIO(dst.getvalue()), out) == size
    assert out.getvalue() == pt


@pytest.mark.parametrize("chunk", [99_991, S.FIRST_PLAIN_SEGMENT, S.FIRST_PLAIN_SEGMENT + 1, S.SEGMENT_SIZE,
                                   3 * S.SEGMENT_SIZE + 7])
def test_writer_in_any_chunks_matches_size_formula_and_tink(chunk: int) -> None:
    dek, ad = os.urandom(32), b"ad"
    pt = os.urandom(3 * S.SEGMENT_SIZE + 5)
    out = io.BytesIO()
    with S.EncryptingWriter(dek, ad, out.write) as w:
        for i in range(0, len(pt), chunk):
            w.write(pt[i:i + chunk])
    with tink_primitive(dek).new_decrypting_stream(io.BytesIO(out.getvalue()), ad) as d:
        assert d.read() == pt
    assert len(out.getvalue()) == S.ciphertext_size(len(pt))
    back = io.BytesIO()
    S.decrypt_stream(dek, ad, io.BytesIO(out.getvalue()), back)
    assert back.getvalue() == pt


def _sealed(size: int = S.SEGMENT_SIZE + 10) -> tuple[bytes, bytes, bytes]:
    dek, ad = os.urandom(32), b"ad"
    out = io.BytesIO()
    S.encrypt_stream(dek, ad, io.BytesIO(os.urandom(size)), out)
    return dek, ad, out.getvalue()


def test_decrypt_refuses_wrong_associated_data() -> None:
    dek, _, ct = _sealed()
    with pytest.raises(S.StreamCorrupt):
        S.decrypt_stream(dek, b"other", io.BytesIO(ct), io.BytesIO())


def test_decrypt_refuses_wrong_key() -> None:
    _, ad, ct = _sealed()
    with pytest.raises(S.StreamCorrupt):
        S.decrypt_stream(os.urandom(32), ad, io.BytesIO(ct), io.BytesIO())


def test_decrypt_refuses_truncation_at_segment_boundary() -> None:
    dek, ad, ct = _sealed()
    # Dropping the whole last segment leaves a full first segment without its last-segment flag.
    with pytest.raises(S.StreamCorrupt):
        S.decrypt_stream(dek, ad, io.BytesIO(ct[:S.SEGMENT_SIZE]), io.BytesIO())


def test_decrypt_refuses_flipped_bit() -> None:
    dek, ad, ct = _sealed()
    bad = bytearray(ct)
    bad[S.SEGMENT_SIZE + 3] ^= 1
    with pytest.raises(S.StreamCorrupt):
        S.decrypt_stream(dek, ad, io.BytesIO(bytes(bad)), io.BytesIO())


def test_decrypt_refuses_missing_header() -> None:
    with pytest.raises(S.StreamCorrupt):
        S.decrypt_stream(os.urandom(32), b"", io.BytesIO(b"\x28" + b"\x00" * 10), io.BytesIO())


@pytest.mark.parametrize("size", SIZES + [S.FIRST_PLAIN_SEGMENT + 3 * S.PLAIN_SEGMENT])
def test_writer_with_claimed_buffers_writes_the_same_bytes(size: int) -> None:
    """The `claim` path (segments encrypted into caller-provided buffers, as the sealing pipeline does) must
    produce exactly the bytes of the single-buffer path, including exact multiples of the segment size."""
    dek, ad, pt = os.urandom(32), os.urandom(48), os.urandom(size)
    salt, prefix = os.urandom(32), os.urandom(7)
    plain = io.BytesIO()
    with S.EncryptingWriter(dek, ad, plain.write, salt=salt, nonce_prefix=prefix) as w:
        w.write(pt)
    pool = [bytearray(S.SEGMENT_SIZE) for _ in range(3)]
    claimed: list[int] = []

    def claim() -> bytearray:
        claimed.append(1)
        return pool[len(claimed) % len(pool)]

    parts: list[bytes] = []
    with S.EncryptingWriter(dek, ad, lambda d: parts.append(bytes(d)), salt=salt, nonce_prefix=prefix,
                            claim=claim) as w:
        for i in range(0, size, 300_007):
            w.write(pt[i:i + 300_007])
    ct = b"".join(parts)
    assert ct == plain.getvalue()
    assert len(claimed) == len(parts) - 1  # one claimed buffer per segment, none for the header
    with tink_primitive(dek).new_decrypting_stream(io.BytesIO(ct), ad) as d:
        assert d.read() == pt
