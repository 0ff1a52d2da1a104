"""seal/v2 round trips: seal → custodians open shares → recover DEK → key commit → decrypt → read form."""
from __future__ import annotations

import io
import os
import threading
import uuid
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from shamir_mnemonic import combine_mnemonics
from shamir_mnemonic.shamir import ShareGroup, recover_ems
from shamir_mnemonic.share import Share

from tests.trading.bids.conftest import LocalCeremony, writer_of
from trading.bids import ceremony, cthash, package, pipeline, streaming
from trading.bids import seal as S


def _seal(cer: LocalCeremony, data: bytes, key=None, **kw):
    key = key or Ed25519PrivateKey.generate()
    dst = io.BytesIO()
    sealed = S.seal(cer.record_bytes, writer_of(data), dst, signing_key=key, bidder_org_id=str(uuid.uuid4()),
                    signer_id=str(uuid.uuid4()), expected_ceremony_hash=cer.hash, **kw)
    return sealed, dst.getvalue(), key


def _shares(cer: LocalCeremony, manifest: S.Manifest, which=(0, 1)) -> dict[int, bytes]:
    out = {}
    for i in which:
        cid, x, hk, _ = cer.custodians[i]
        out[x] = S.custodian_open(manifest, cid, hk)
    return out


@pytest.mark.parametrize("suite", [ceremony.SUITE_X25519, ceremony.SUITE_MLKEM768_X25519])
def test_seal_round_trip_with_any_k_custodians(suite: str) -> None:
    cer = LocalCeremony(k=2, n=3, suite=suite)
    data = os.urandom(1_500_000)
    sealed, ct, key = _seal(cer, data)
    m = S.decode_manifest(sealed.manifest_bytes)
    assert S.verify_manifest_signature(key.public_key().public_bytes_raw(), sealed.manifest_bytes, sealed.signature)
    assert m.ct_len == len(ct) and m.ceremony_hash == cer.hash and len(m.shares) == 3
    for pair in [(0, 1), (1, 2), (0, 2)]:
        dek = S.recover_checked_dek(m, _shares(cer, m, pair))
        out = io.BytesIO()
        assert S.unseal(m, dek, io.BytesIO(ct), out) == len(data)
        assert out.getvalue() == data


def test_recover_refuses_fewer_than_k_shares(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    with pytest.raises(S.ShareInvalid):
        S.recover_checked_dek(sealed.manifest, _shares(local_ceremony, sealed.manifest, (0,)))


def test_recover_dek_detects_a_wrong_share(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    shares = _shares(local_ceremony, sealed.manifest, (0, 1))
    other, _, _ = _seal(local_ceremony, b"y")
    foreign = _shares(local_ceremony, other.manifest, (1,))
    with pytest.raises(S.ShareInvalid):
        S.recover_dek([shares[1], foreign[2]])
    # A share altered in its value (checksum recomputed) fails SLIP-39's digest, not silently a wrong key.
    s = Share.from_mnemonic(shares[2].decode())
    tampered = Share(s.identifier, s.extendable, s.iteration_exponent, s.group_index, s.group_threshold,
                     s.group_count, s.index, s.member_threshold, bytes([s.value[0] ^ 1]) + s.value[1:])
    with pytest.raises(S.ShareInvalid):
        S.recover_dek([shares[1], tampered.mnemonic().encode()])


def test_share_commit_refuses_a_share_of_another_bid(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    m = sealed.manifest
    good = _shares(local_ceremony, m, (0,))[1]
    assert S.check_share_commit(m.bid_id, good, m.shares[0].share_commit)
    assert not S.check_share_commit(os.urandom(16), good, m.shares[0].share_commit)
    assert not S.check_share_commit(m.bid_id, good + b" ", m.shares[0].share_commit)


def test_recover_checked_dek_ignores_shares_failing_commitment(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    m = sealed.manifest
    shares = _shares(local_ceremony, m, (0, 1, 2))
    shares[1] = _shares(local_ceremony, _seal(local_ceremony, b"z")[0].manifest, (0,))[1]
    dek = S.recover_checked_dek(m, shares)  # x=2 and x=3 suffice
    assert S.check_key_commit(dek, m.bid_id, m.key_commit)


def test_key_commit_refuses_another_key(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    m = sealed.manifest
    dek = S.recover_checked_dek(m, _shares(local_ceremony, m))
    assert S.check_key_commit(dek, m.bid_id, m.key_commit)
    assert not S.check_key_commit(os.urandom(32), m.bid_id, m.key_commit)
    assert not S.check_key_commit(dek, os.urandom(16), m.key_commit)


def test_custodian_cannot_open_another_custodians_share(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    m = sealed.manifest
    _, _, hk0, _ = local_ceremony.custodians[0]
    env = m.shares[1]
    with pytest.raises(S.ShareOpenFailed):
        S.open_share(hk0, env.wrapped, S.share_info(m.ceremony_hash, m.bid_id, env.custodian_id, env.x))


def test_open_share_refuses_wrong_context(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    m = sealed.manifest
    cid, x, hk, _ = local_ceremony.custodians[0]
    env = m.shares[0]
    with pytest.raises(S.ShareOpenFailed):  # the info binds the bid: a share cannot be replayed for another
        S.open_share(hk, env.wrapped, S.share_info(m.ceremony_hash, os.urandom(16), cid, x))


def test_unseal_refuses_altered_ciphertext(local_ceremony: LocalCeremony) -> None:
    sealed, ct, _ = _seal(local_ceremony, os.urandom(5000))
    m = sealed.manifest
    dek = S.recover_checked_dek(m, _shares(local_ceremony, m))
    bad = bytearray(ct)
    bad[-1] ^= 1
    with pytest.raises(S.PayloadCorrupt):
        S.unseal(m, dek, io.BytesIO(bytes(bad)), io.BytesIO())
    with pytest.raises(S.PayloadCorrupt):
        S.unseal(m, dek, io.BytesIO(ct + b"extra"), io.BytesIO())


def test_seal_refuses_ceremony_not_matching_lot_hash(local_ceremony: LocalCeremony) -> None:
    with pytest.raises(S.ManifestInvalid):
        S.seal(local_ceremony.record_bytes, writer_of(b"x"), io.BytesIO(), signing_key=Ed25519PrivateKey.generate(),
               bidder_org_id=str(uuid.uuid4()), signer_id=str(uuid.uuid4()), expected_ceremony_hash=os.urandom(32))


def test_manifest_signature_refuses_other_key_and_altered_bytes(local_ceremony: LocalCeremony) -> None:
    sealed, _, key = _seal(local_ceremony, b"x")
    pub = key.public_key().public_bytes_raw()
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not S.verify_manifest_signature(other, sealed.manifest_bytes, sealed.signature)
    assert not S.verify_manifest_signature(pub, sealed.manifest_bytes + b" ", sealed.signature)


def test_decode_manifest_refuses_malformed(local_ceremony: LocalCeremony) -> None:
    sealed, _, _ = _seal(local_ceremony, b"x")
    with pytest.raises(S.ManifestInvalid):
        S.decode_manifest(b"{}")
    bad = msgspec.structs.replace(sealed.manifest, k=1)
    with pytest.raises(S.ManifestInvalid):
        S.decode_manifest(S.encode_manifest(bad))
    bad = msgspec.structs.replace(sealed.manifest, version=2)  # a replacement must name its predecessor
    with pytest.raises(S.ManifestInvalid):
        S.decode_manifest(S.encode_manifest(bad))


def test_manifest_reveals_no_hash_of_the_plaintext(local_ceremony: LocalCeremony) -> None:

    data = b'{"price_fen": 123456700}'
    sealed, _, _ = _seal(local_ceremony, data)
    assert cthash.of_bytes(data) not in sealed.manifest_bytes
    assert data not in sealed.manifest_bytes


def test_slip39_shares_round_trip_through_shamir_mnemonic(local_ceremony: LocalCeremony) -> None:
    dek = os.urandom(32)
    shares = S.split_dek(dek, 3, [1, 2, 3, 4, 5])
    assert S.recover_dek([shares[5], shares[2], shares[4]]) == dek
    group = ShareGroup()
    for x in (1, 3, 4):
        group.add(Share.from_mnemonic(shares[x].decode()))
    assert recover_ems({0: group}).ciphertext == dek
    # The shares are standard SLIP-39 mnemonics: shamir-mnemonic's own combine (with the SLIP-39 passphrase
    # layer, iteration exponent 0, empty passphrase) recovers a master secret from them.
    assert len(combine_mnemonics([shares[1].decode(), shares[2].decode(), shares[3].decode()])) == 32


def test_package_round_trip_through_seal(tmp_path: Path, local_ceremony: LocalCeremony) -> None:
    att = tmp_path / "技术标.pdf"
    att.write_bytes(os.urandom(2_100_000))
    form = package.build_form(tender_id=local_ceremony.tender_id, lot_id=local_ceremony.lot_id,
                              bidder_org_id="org", price_yuan="1234567.89", duration_days=180,
                              bid_fields=[{"name": "quality", "type": "text", "required": True}],
                              values={"quality": "合格"})
    dst = io.BytesIO()
    written = {}
    sealed = S.seal(local_ceremony.record_bytes, lambda w: written.setdefault("f", package.write_package(w, form, [att])),
                    dst, signing_key=Ed25519PrivateKey.generate(), bidder_org_id="org", signer_id=str(uuid.uuid4()))
    m = sealed.manifest
    dek = S.recover_checked_dek(m, _shares(local_ceremony, m, (2, 0)))
    plain = io.BytesIO()
    S.unseal(m, dek, io.BytesIO(dst.getvalue()), plain)
    got = S.read_form(plain.getvalue())
    assert got.price_fen == 123456789 and got.duration_days == 180 and got.fields == {"quality": "合格"}
    assert got.attachments[0].name == "技术标.pdf" and got.attachments[0].size == 2_100_000
    out = io.BytesIO()
    package.extract_attachment(io.BytesIO(plain.getvalue()), "技术标.pdf", out)
    assert out.getvalue() == att.read_bytes()


_F, _P = streaming.FIRST_PLAIN_SEGMENT, streaming.PLAIN_SEGMENT


@pytest.mark.parametrize("size", [0, 1, _F - 1, _F, _F + 1, _F + _P, _F + _P + 1,
                                  _F + (pipeline.HashingSink.RING + 3) * _P])  # more segments than pipeline buffers
def test_seal_pipeline_hashes_exactly_the_written_ciphertext(size: int, local_ceremony: LocalCeremony) -> None:
    data = os.urandom(size)
    sealed, ct, _ = _seal(local_ceremony, data)
    m = sealed.manifest
    assert m.ct_len == len(ct) == streaming.ciphertext_size(size)
    assert m.ct_root == cthash.of_bytes(ct)
    out = io.BytesIO()
    assert S.unseal(m, S.recover_checked_dek(m, _shares(local_ceremony, m)), io.BytesIO(ct), out) == size
    assert out.getvalue() == data


@pytest.mark.parametrize("size", [0, 1, _F - 1, _F, _F + 1, _F + _P, _F + _P + 1,
                                  _F + (pipeline.HashingSink.RING + 3) * _P,
                                  _F + 2 * pipeline.MAP_WINDOW // streaming.SEGMENT_SIZE * _P + 5])  # 3 windows
def test_seal_and_unseal_files_after_what_they_already_hold(size: int, tmp_path: Path,
                                                             local_ceremony: LocalCeremony) -> None:
    """Regular files take the file pipeline (unseal knows the length, reads segment by segment): the bytes land
    right after whatever the destination already held, and unsealing starts at the source's position."""
    data = os.urandom(size)
    with (tmp_path / "ct").open("wb") as dst:
        dst.write(b"prefix")
        sealed = S.seal(local_ceremony.record_bytes, writer_of(data), dst, signing_key=Ed25519PrivateKey.generate(),
                        bidder_org_id="b", signer_id="s")
        assert dst.tell() == 6 + sealed.manifest.ct_len
        dst.write(b"suffix")
    raw = (tmp_path / "ct").read_bytes()
    m = sealed.manifest
    ct = raw[6:-6]
    assert raw[:6] == b"prefix" and raw[-6:] == b"suffix"
    assert len(ct) == m.ct_len and cthash.of_bytes(ct) == m.ct_root
    (tmp_path / "ct").write_bytes(ct)
    dek = S.recover_checked_dek(m, _shares(local_ceremony, m))
    with (tmp_path / "ct").open("rb") as src, (tmp_path / "plain").open("wb") as out:
        out.write(b"head")
        assert S.unseal(m, dek, src, out) == size
        assert out.tell() == 4 + size
    assert (tmp_path / "plain").read_bytes() == b"head" + data
    with (tmp_path / "ct").open("rb") as src:  # file → stream (no positional writes)
        out = io.BytesIO()
        assert S.unseal(m, dek, src, out) == size and out.getvalue() == data


def test_unseal_file_refuses_altered_truncated_or_foreign_ciphertext(tmp_path: Path,
                                                                     local_ceremony: LocalCeremony) -> None:
    data = os.urandom(_F + 2 * _P + 7)
    sealed, ct, _ = _seal(local_ceremony, data)
    m = sealed.manifest
    dek = S.recover_checked_dek(m, _shares(local_ceremony, m))
    path = tmp_path / "ct"

    def unseal_file(blob: bytes, manifest: S.Manifest = m) -> None:
        path.write_bytes(blob)
        with path.open("rb") as src, (tmp_path / "out").open("wb") as out:
            S.unseal(manifest, dek, src, out)

    for at in (0, 40, 41, _F + 100, len(ct) - 1):  # header, first byte of a segment, a later segment, last tag
        bad = bytearray(ct)
        bad[at] ^= 1
        with pytest.raises(S.PayloadCorrupt):
            unseal_file(bytes(bad))
    with pytest.raises(S.PayloadCorrupt, match="ct_len"):
        unseal_file(ct[:-1])
    with pytest.raises(S.PayloadCorrupt, match="ct_len"):
        unseal_file(ct + b"x")
    with pytest.raises(S.PayloadCorrupt, match="ct_root"):  # decrypts, but is not what the manifest names
        unseal_file(ct, msgspec.structs.replace(m, ct_root=bytes(32)))
    assert not [t for t in threading.enumerate() if t.name == "unseal-write" or t.name.startswith("unseal-ct-root")]
    unseal_file(ct)
    assert (tmp_path / "out").read_bytes() == data


def test_seal_into_a_file_opened_for_append(tmp_path: Path, local_ceremony: LocalCeremony) -> None:
    data = os.urandom(3 * _P)
    (tmp_path / "ct").write_bytes(b"old")
    with (tmp_path / "ct").open("ab") as dst:
        sealed = S.seal(local_ceremony.record_bytes, writer_of(data), dst, signing_key=Ed25519PrivateKey.generate(),
                        bidder_org_id="b", signer_id="s")
    raw = (tmp_path / "ct").read_bytes()
    assert raw[:3] == b"old" and cthash.of_bytes(raw[3:]) == sealed.manifest.ct_root


class _FailingDst(io.BytesIO):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def write(self, data) -> int:
        if self.after == 0:
            raise OSError("disk full")
        self.after -= 1
        return super().write(data)


def test_seal_pipeline_refuses_when_the_destination_fails_and_stops_its_thread(
        local_ceremony: LocalCeremony) -> None:
    with pytest.raises(OSError, match="disk full"):
        S.seal(local_ceremony.record_bytes, writer_of(os.urandom(8 * _P)), _FailingDst(after=3),
               signing_key=Ed25519PrivateKey.generate(), bidder_org_id="b", signer_id="s")
    assert not [t for t in threading.enumerate() if t.name == "seal-write" or t.name.startswith("seal-ct-root")]


def test_unseal_file_refuses_when_the_destination_fails_and_stops_its_threads(
        tmp_path: Path, local_ceremony: LocalCeremony) -> None:
    data = os.urandom(_F + 9 * _P)  # more segments than the writer's buffers
    sealed, ct, _ = _seal(local_ceremony, data)
    m = sealed.manifest
    (tmp_path / "ct").write_bytes(ct)
    with (tmp_path / "ct").open("rb") as src, pytest.raises(OSError, match="disk full"):
        S.unseal(m, S.recover_checked_dek(m, _shares(local_ceremony, m)), src, _FailingDst(after=2))
    assert not [t for t in threading.enumerate() if t.name == "unseal-write" or t.name.startswith("unseal-ct-root")]
