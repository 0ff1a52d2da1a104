"""The whole seal/v2 flow through the real app with the CLI's own functions: identity keys registered and
approved, custodians' lot keys made with `custodian keygen`, publication, `bid seal` → `bid submit` → receipt →
`bid verify-receipt` (offline, then with its inclusion proof once a checkpoint covers it) → unseal by k
custodians from their key files."""
from __future__ import annotations

import io
import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from trading.accounts.schemas import Role
from trading.bids import cli, cthash, keys, seal
from trading.bids import client as api
from trading.records.keys import platform_verifier_key

PW = "correct horse battery staple"


class _As:
    """Act as a user on the shared test client."""

    def __init__(self, client, headers) -> None:
        self.client, self.headers = client, headers

    def __enter__(self):
        self.client.headers.update(self.headers)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.headers.pop("Authorization", None)


async def _draft_lot(factory, n: int = 3, k: int = 2, post_quantum: bool = False):
    from trading.blobs import blob_store
    from trading.tenders import repository as tenders_repo
    from trading.tenders import services as tenders
    from trading.tenders.schemas import BidField, LotCreate, TenderCreate

    now = factory.clock.now()
    deadline = now + timedelta(days=25)
    tenderer = await factory.org("tenderer")
    agency = await factory.org("agency")
    agency_user, _ = await factory.signed_in(Role.AGENCY, org_id=agency.id)
    custodians = [await factory.signed_in(Role.CUSTODIAN) for _ in range(n)]
    data = TenderCreate(
        code=f"TH-FLOW-{secrets.token_hex(3)}", title="某某道路改造工程施工招标", regime="bidding_law",
        procurement_type="works", region="350100", tenderer_org_id=tenderer.id, docs_from=now, docs_until=deadline,
        clarification_deadline=deadline - timedelta(days=15), bid_deadline=deadline,
        lots=[LotCreate(name="第一标段", estimated_price="1000000.00", deposit="10000.00", custodian_k=k,
                        custodian_n=n, post_quantum=post_quantum,
                        bid_fields=[BidField(name="duration_days", label="工期", type="int", required=True),
                                    BidField(name="quality", label="质量标准", type="text", required=True)])])
    async with factory.pool.acquire() as c, c.transaction():
        tender = await tenders.create_tender(c, factory.clock, data, user=agency_user)
        lot = (await tenders_repo.list_lots_for_tender(c, tender.id))[0]
        await tenders.add_document(c, factory.clock, blob_store(factory.settings), tender.id, lot_id=None,
                                   filename="招标文件.pdf", content_type="application/pdf",
                                   content=b"%PDF-1.4 tender documents", user=agency_user)
        await tenders.assign_custodians(c, factory.clock, tender.id, lot.id, [u.id for u, _ in custodians],
                                        user=agency_user)
    return tender, lot, agency_user, custodians, deadline


async def _approved_identity(client, factory, headers, admin_headers, path: Path) -> None:
    cli.generate_identity(path, "test", PW)
    with _As(client, headers):
        key = await cli.register_identity(client, path, PW)
    assert key["status"] == "pending"
    r = await client.post(f"/api/identity-keys/{key['id']}/approve", headers=admin_headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("post_quantum", [False, True])
async def test_full_flow_seal_submit_receipt_verify_unseal(client, pool, factory, tmp_path, settings,
                                                           post_quantum: bool) -> None:
    _, admin_headers = await factory.signed_in(Role.ADMIN)
    tender, lot, agency_user, custodians, deadline = await _draft_lot(factory, post_quantum=post_quantum)
    lot_id = str(lot.id)
    # custodians: identity keys, then `custodian keygen`
    for i, (user, headers) in enumerate(custodians):
        await _approved_identity(client, factory, headers, admin_headers, tmp_path / f"c{i}.key")
        with _As(client, headers):
            seat = await cli.custodian_keygen(client, lot_id, tmp_path / f"c{i}.lot.key", tmp_path / f"c{i}.key", PW)
        assert seat["x"] == i + 1 and seat["hpke_public_key"]
    from trading.tenders import services as tenders

    async with pool.acquire() as c, c.transaction():
        await tenders.publish_tender(c, factory.clock, tender.id, user=agency_user)
    # the bidder
    org, buser, bheaders = await factory.downloader(lot.id)
    await _approved_identity(client, factory, bheaders, admin_headers, tmp_path / "bidder.key")
    attachment = tmp_path / "技术标.pdf"
    attachment.write_bytes(b"%PDF-1.7 MARKER-TECHNICAL-" + os.urandom(3_000_000))
    out = tmp_path / "mybid"
    with _As(client, bheaders):
        sealed = await cli.seal_bid(client, lot_id, out, price="987654.32", duration="365",
                                    fields={"quality": "合格"}, attachments=[attachment],
                                    key_path=tmp_path / "bidder.key", pw=PW, show_progress=False)
        accepted = await cli.submit_bid(client, out, show_progress=False, chunk=1_000_000)
        # offline: the platform's verifier key only
        r, inc = await cli.verify_receipt(None, Path(f"{out}.receipt"), platform_verifier_key(settings), out)
        assert inc is None and r.log_index == accepted["log_index"]
        r, inc = await cli.verify_receipt(client, Path(f"{out}.receipt"), name=out)
        assert inc is not None and not inc.covered
        from trading.records.checkpoints import sign_checkpoint

        async with pool.acquire() as c, c.transaction():
            await sign_checkpoint(c, factory.clock, settings)
        r, inc = await cli.verify_receipt(client, Path(f"{out}.receipt"), name=out)
        assert inc is not None and inc.covered
    # the ciphertext file itself is checked against the receipted ct_root: one byte changed is refused
    ct = tmp_path / "mybid.ct"
    original = ct.read_bytes()
    ct.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    from trading.bids.receipt import ReceiptInvalid

    with pytest.raises(ReceiptInvalid, match="not the ciphertext"):
        await cli.verify_receipt(None, Path(f"{out}.receipt"), platform_verifier_key(settings), out)
    ct.write_bytes(original)
    assert cthash.hash_file(ct) == (sealed.manifest.ct_root, sealed.manifest.ct_len)
    assert sealed.manifest.version == 1 and r.bid == sealed.manifest.bid_id.hex()
    # the opening side: two custodians open their shares from their key files; the DEK is recovered and checked
    m = seal.decode_manifest(api.read_sealed(out).manifest)
    shares = {}
    for i in (0, 2):
        hk = keys.load_hpke_key((tmp_path / f"c{i}.lot.key").read_bytes(), PW)
        shares[i + 1] = seal.custodian_open(m, str(custodians[i][0].id), hk)
    dek = seal.recover_checked_dek(m, shares)
    plain = io.BytesIO()
    with open(f"{out}.ct", "rb") as src:
        seal.unseal(m, dek, src, plain)
    form = seal.read_form(plain.getvalue())
    assert form.price_fen == 98765432 and form.duration_days == 365 and form.fields == {"quality": "合格"}
    assert form.bidder_org_id == str(org.id) and form.attachments[0].size == attachment.stat().st_size
    from trading.bids import package

    got = io.BytesIO()
    package.extract_attachment(io.BytesIO(plain.getvalue()), "技术标.pdf", got)
    assert got.getvalue() == attachment.read_bytes()


async def test_verify_receipt_refuses_receipt_for_another_bid(client, pool, factory, tmp_path, settings) -> None:
    from tests.trading.bids.conftest import make_bidder, seal_bytes, submit

    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"one")
    r1 = await submit(client, lot["lot_id"], bidder, s1, ct1)
    (tmp_path / "b.receipt").write_text(r1.json()["receipt"])
    other, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"two", version=2, previous=s1.manifest_sha256)
    api.write_sealed(tmp_path / "b", str(lot["lot_id"]), other)
    from trading.bids.receipt import ReceiptInvalid

    with pytest.raises(ReceiptInvalid):
        await cli.verify_receipt(None, tmp_path / "b.receipt", platform_verifier_key(settings), tmp_path / "b")


async def test_custodian_keygen_refuses_after_publication(client, pool, factory, tmp_path) -> None:
    _, admin_headers = await factory.signed_in(Role.ADMIN)
    lot = await factory.published_lot()
    cust = lot["custodians"][0]
    await _approved_identity(client, factory, cust["headers"], admin_headers, tmp_path / "c.key")
    with _As(client, cust["headers"]), pytest.raises(api.ClientError) as exc:
        await cli.custodian_keygen(client, str(lot["lot_id"]), tmp_path / "lot.key", tmp_path / "c.key", PW)
    assert exc.value.code == "lot_keys_fixed"


async def test_lot_key_upload_refuses_signature_by_unapproved_key(client, pool, factory, tmp_path) -> None:
    tender, lot, _, custodians, _ = await _draft_lot(factory)
    user, headers = custodians[0]
    cli.generate_identity(tmp_path / "c.key", "c", PW)
    with _As(client, headers):
        await cli.register_identity(client, tmp_path / "c.key", PW)  # registered, never approved
        with pytest.raises(api.ClientError) as exc:
            await cli.custodian_keygen(client, str(lot.id), tmp_path / "lot.key", tmp_path / "c.key", PW)
    assert exc.value.code == "identity_key_not_approved"


async def test_lot_key_upload_refuses_wrong_suite_and_bad_signature(client, pool, factory, tmp_path) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.trading.bids.conftest import approved_key
    from trading.bids.ceremony import SUITE_MLKEM768_X25519, SUITE_X25519, key_statement_bytes

    tender, lot, _, custodians, _ = await _draft_lot(factory)
    user, headers = custodians[0]
    ident = await approved_key(pool, user.id)
    hk = seal.HpkePrivateKey.generate(SUITE_MLKEM768_X25519)
    stmt = key_statement_bytes(str(lot.id), str(user.id), 1, SUITE_MLKEM768_X25519, hk.public_bytes())
    body = {"suite": SUITE_MLKEM768_X25519, "public_key": base64.b64encode(hk.public_bytes()).decode(),
            "signature": base64.b64encode(ident.sign(stmt)).decode()}
    r = await client.put(f"/api/custodian/lots/{lot.id}/key", headers=headers, json=body)
    assert r.status_code == 422 and r.json()["code"] == "lot_key_invalid"  # the lot is not post-quantum
    hk = seal.HpkePrivateKey.generate(SUITE_X25519)
    stmt = key_statement_bytes(str(lot.id), str(user.id), 2, SUITE_X25519, hk.public_bytes())  # wrong x
    body = {"suite": SUITE_X25519, "public_key": base64.b64encode(hk.public_bytes()).decode(),
            "signature": base64.b64encode(ident.sign(stmt)).decode()}
    r = await client.put(f"/api/custodian/lots/{lot.id}/key", headers=headers, json=body)
    assert r.status_code == 422 and r.json()["code"] == "lot_key_invalid"
    body["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
    r = await client.put(f"/api/custodian/lots/{lot.id}/key", headers=headers, json=body)
    assert r.status_code == 422


async def test_lot_key_upload_refuses_non_custodian_of_lot(client, pool, factory) -> None:
    tender, lot, _, _, _ = await _draft_lot(factory)
    _, headers = await factory.signed_in(Role.CUSTODIAN)
    r = await client.put(f"/api/custodian/lots/{lot.id}/key", headers=headers,
                         json={"suite": "x25519-hkdf-sha256-aes256gcm", "public_key": "AA==", "signature": "AA=="})
    assert r.status_code == 403 and r.json()["code"] == "custodian_not_assigned"


async def test_identity_key_registration_refuses_bad_proof(client, factory) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, headers = await factory.signed_in(Role.BIDDER, org_id=(await factory.org("bidder")).id)
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    r = await client.post("/api/identity-keys", headers=headers, json={
        "public_key": base64.b64encode(pub).decode(),
        "proof": base64.b64encode(key.sign(b"someone else's statement")).decode()})
    assert r.status_code == 422 and r.json()["code"] == "identity_key_invalid"


async def test_identity_key_approval_is_admin_only(client, factory, tmp_path) -> None:
    user, headers = await factory.signed_in(Role.CUSTODIAN)
    cli.generate_identity(tmp_path / "k", "k", PW)
    with _As(client, headers):
        key = await cli.register_identity(client, tmp_path / "k", PW)
    r = await client.post(f"/api/identity-keys/{key['id']}/approve", headers=headers)
    assert r.status_code == 403
    with _As(client, headers):
        with pytest.raises(api.ClientError) as exc:
            await cli.register_identity(client, tmp_path / "k", PW)  # the same key twice
    assert exc.value.code == "identity_key_exists"


async def test_submit_resumes_an_interrupted_upload(client, pool, factory, tmp_path) -> None:
    from tests.trading.bids.conftest import make_bidder, patch_chunk, post_upload, seal_bytes

    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(2_000_000))
    out = tmp_path / "bid"
    (tmp_path / "bid.ct").write_bytes(ct)
    api.write_sealed(out, str(lot["lot_id"]), sealed)
    # a first run created the upload and sent 700,000 bytes before it was interrupted
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct[:700_000])).status_code == 204
    (tmp_path / "bid.upload").write_text(upload_id)
    sent: list[int] = []

    async def record(req) -> None:
        if req.method == "PATCH":
            sent.append(int(req.headers["Upload-Offset"]))

    client.event_hooks["request"].append(record)
    with _As(client, bidder.headers):
        accepted = await cli.submit_bid(client, out, show_progress=False, chunk=1_000_000)
    client.event_hooks["request"].clear()
    assert sent[0] == 700_000  # resumed, not restarted
    assert accepted["manifest_sha256"] == sealed.manifest_sha256.hex()
    assert not (tmp_path / "bid.upload").exists() and (tmp_path / "bid.receipt").exists()


async def test_seal_offline_from_a_lot_pack(client, pool, factory, tmp_path) -> None:
    """电子招标投标办法 第二十六条: prepare and encrypt offline; only the submission needs the network."""
    import msgspec

    from tests.trading.bids.conftest import submit

    _, admin_headers = await factory.signed_in(Role.ADMIN)
    lot = await factory.published_lot()
    org, user, headers = await factory.downloader(lot["lot_id"])
    await _approved_identity(client, factory, headers, admin_headers, tmp_path / "b.key")
    with _As(client, headers):
        pack = await api.fetch_pack(client, str(lot["lot_id"]))
    (tmp_path / "pack.json").write_bytes(msgspec.json.encode(pack))
    sealed = await cli.seal_bid(None, str(lot["lot_id"]), tmp_path / "bid", price="500000", duration="200",
                                key_path=tmp_path / "b.key", pw=PW, show_progress=False,
                                pack=msgspec.json.decode((tmp_path / "pack.json").read_bytes()))
    from tests.trading.bids.conftest import Bidder

    bidder = Bidder(org, user, headers, keys.load_identity_key((tmp_path / "b.key").read_bytes(), PW))
    r = await submit(client, lot["lot_id"], bidder, sealed, (tmp_path / "bid.ct").read_bytes())
    assert r.status_code == 201, r.text
    # a pack whose ceremony record was swapped is refused before anything is sealed
    bad = dict(pack)
    bad["seal_info"] = {**pack["seal_info"], "ceremony_hash": base64_of(os.urandom(32))}
    with pytest.raises(seal.ManifestInvalid):
        await cli.seal_bid(None, str(lot["lot_id"]), tmp_path / "bid2", price="1", duration="1",
                           key_path=tmp_path / "b.key", pw=PW, show_progress=False, pack=bad)


def base64_of(b: bytes) -> str:
    import base64

    return base64.b64encode(b).decode()
