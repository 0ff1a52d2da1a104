"""The records API over HTTP: keys, checkpoints, proofs, confidentiality, witness notes, archive, report."""
import base64
import subprocess
import sys
import zipfile

from trading.accounts.schemas import Role
from trading.records import Tag, append_entry, merkle
from trading.records.checkpoints import sign_if_grown
from trading.records.keys import platform_verifier_key
from trading.records.note import open_note
from trading.records.pdf import render_table_pdf, sign_pdf
from trading.records.services import record_document
from trading.records.verify import verify_archive


async def _bids(pool, clock, tender_id, lot_id, n):
    async with pool.acquire() as c, c.transaction():
        for i in range(n):
            await append_entry(c, clock, Tag.ACCOUNT_LOGIN_FAIL, body={"noise": i})
            # who obtained the documents is as secret as who bid (招标投标法 第二十二条)
            await append_entry(c, clock, Tag.TENDER_DOCUMENT_DOWNLOAD, tender_id=tender_id, lot_id=lot_id,
                               body={"download": f"{i:032x}"})


async def test_well_known_keys_and_checkpoint_are_public_and_verify(client, pool, clock, settings, kit):
    tid, lid, *_ = await kit.tender()
    await _bids(pool, clock, tid, lid, 3)
    async with pool.acquire() as c:
        size = (await sign_if_grown(c, clock, settings)).tree_size
    keys = (await client.get("/.well-known/tenderhall/log-keys")).text.split()
    assert keys == [platform_verifier_key(settings)]
    note = (await client.get("/api/records/checkpoint")).text
    text, _ = open_note(note, keys)
    assert text.startswith(f"{settings.origin}\n{size}\n")
    r = await client.get("/api/records/proofs/consistency", params={"size1": 2, "size2": size})
    assert r.status_code == 200 and r.json()["hashes"]
    r = await client.get("/api/records/proofs/consistency", params={"size1": 5, "size2": 60})
    assert r.status_code == 422 and r.json()["code"] == "proof_size_invalid"
    r = await client.get("/api/records/proofs/inclusion", params={"index": 0, "tree_size": size})
    assert r.status_code == 401


async def test_inclusion_proof_to_latest_checkpoint_upgrades_a_receipt(client, pool, clock, settings, factory):
    _, headers = await factory.signed_in(Role.BIDDER)
    async with pool.acquire() as c:
        async with c.transaction():
            a = await append_entry(c, clock, Tag.ACCOUNT_LOGIN_FAIL)
        r = await client.get("/api/records/proofs/inclusion", params={"index": a.seq}, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "proof_size_invalid"
        await sign_if_grown(c, clock, settings)
    r = await client.get("/api/records/proofs/inclusion", params={"index": a.seq}, headers=headers)
    assert r.status_code == 200
    p = r.json()
    text, _ = open_note(p["checkpoint"], [platform_verifier_key(settings)])
    root = base64.b64decode(text.split("\n")[2])
    merkle.verify_inclusion(a.seq, p["tree_size"], a.leaf_hash, [base64.b64decode(h) for h in p["hashes"]], root)


async def test_entries_sealed_before_deadline_except_for_regulators(client, pool, clock, kit, factory):
    tid, lid, tenderer, agency = await kit.tender()
    await _bids(pool, clock, tid, lid, 2)
    _, bidder = await factory.signed_in(Role.BIDDER, org_id=(await factory.org("bidder")).id)
    _, agent = await factory.signed_in(Role.AGENCY, org_id=agency.id)
    _, regulator = await factory.signed_in(Role.REGULATOR)
    _, public_witness = await factory.signed_in(Role.WITNESS)
    for headers in (bidder, agent, public_witness):
        r = await client.get(f"/api/records/tenders/{tid}/entries", headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "records_sealed_until_deadline"
        r = await client.get(f"/api/records/tenders/{tid}/archive.zip", headers=headers)
        assert r.status_code == 403
    r = await client.get(f"/api/records/tenders/{tid}/entries", headers=regulator)
    assert r.status_code == 200 and len(r.json()) == 2
    clock.advance(hours=2)
    r = await client.get(f"/api/records/tenders/{tid}/entries", headers=agent)
    assert r.status_code == 200
    entry = r.json()[0]
    assert merkle.hash_leaf(base64.b64decode(entry["entry_b64"])).hex() == entry["leaf_hash"]
    r = await client.get(f"/api/records/tenders/{tid}/entries", headers=bidder)
    assert r.status_code == 403 and r.json()["code"] == "records_not_participant"


async def test_witness_note_only_during_opening_or_evaluation(client, pool, clock, kit, factory):
    tid, lid, *_ = await kit.tender()
    _, witness = await factory.signed_in(Role.WITNESS)
    _, agent = await factory.signed_in(Role.AGENCY)
    body = {"text": "已现场核验评标专家身份 on-site check of expert identities done"}
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json=body, headers=witness)
    assert r.status_code == 409 and r.json()["code"] == "witness_note_outside_session"
    await kit.set_lot_status(lid, "evaluation")
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json=body, headers=agent)
    assert r.status_code == 403
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json={"text": " "}, headers=witness)
    assert r.status_code == 422
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json={**body, "extra": 1}, headers=witness)
    assert r.status_code == 400
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json=body, headers=witness)
    assert r.status_code == 201 and r.json()["stage"] == "evaluation"
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT tag, tender_id FROM log_entries WHERE seq = $1", r.json()["seq"])
    assert row["tag"] == "witness:note:add" and row["tender_id"] == tid


async def test_archive_from_http_verifies_offline(client, pool, clock, settings, kit, factory, tmp_path):
    tid, lid, *_ = await kit.tender()
    other, other_lot, *_ = await kit.tender()
    await _bids(pool, clock, tid, lid, 3)
    await _bids(pool, clock, other, other_lot, 2)
    clock.advance(hours=2)
    await kit.set_lot_status(lid, "opening")
    pdf = sign_pdf(render_table_pdf("开标记录", [("项目", "测试")], ["序号", "投标人"], [[1, "甲公司"]]), settings)
    async with pool.acquire() as c, c.transaction():
        await record_document(c, clock, tender_id=tid, lot_id=lid, kind="opening_record", filename="opening.pdf",
                              data=pdf, actor=None, settings=settings)
    user, witness = await factory.signed_in(Role.WITNESS)
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json={"text": "开标现场秩序正常"}, headers=witness)
    assert r.status_code == 201
    r = await client.post(f"/api/records/tenders/{tid}/witness-report", headers=witness)
    assert r.status_code == 201 and r.json()["kind"] == "witness_report"
    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get(f"/api/records/tenders/{tid}/archive.zip", headers=regulator)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/zip")
    path = tmp_path / "tender.zip"
    path.write_bytes(r.content)
    report = verify_archive(path, trusted_keys=[platform_verifier_key(settings)])
    assert report.ok, report.problems
    assert report.entries == 3 + 1 + 1 + 1 and report.documents == 2
    with zipfile.ZipFile(path) as z:
        assert "README.txt" in z.namelist() and "如何" not in z.read("README.txt").decode()[:0]
        lines = z.read("entries.jsonl").splitlines()
    assert all(merkle.hash_leaf(line) for line in lines)
    out = subprocess.run([sys.executable, "-m", "trading.cli", "verify", str(path), "-q"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr
    # the whole-log archive verifies too (roots recomputed from every leaf)
    r = await client.get("/api/records/archive.zip", headers=regulator)
    full = tmp_path / "log.zip"
    full.write_bytes(r.content)
    report = verify_archive(full, trusted_keys=[platform_verifier_key(settings)])
    assert report.ok, report.problems


async def test_witness_report_pdf_is_signed_and_readable(client, pool, clock, settings, kit, factory, tmp_path):
    tid, lid, *_ = await kit.tender()
    await _bids(pool, clock, tid, lid, 2)
    clock.advance(hours=2)
    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get(f"/api/records/tenders/{tid}/witness-report.pdf", headers=regulator)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(r.content)
    assert "Signature is Valid" in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "见证报告" in text and "市政道路改造工程" in text and "获取招标文件" in text
    from trading.records.certs import root_certificate_pem
    from trading.records.pdf import check_pdf_signature_async

    assert (await check_pdf_signature_async(r.content, [root_certificate_pem(settings)])).ok
    altered = bytearray(r.content)
    altered[len(altered) // 4] ^= 0x20
    assert not (await check_pdf_signature_async(bytes(altered), [root_certificate_pem(settings)])).ok


async def test_signed_witness_note_verified_online_and_offline(client, pool, clock, settings, kit, factory, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.records.keys import public_bytes
    from trading.records.services import witness_note_statement

    tid, lid, *_ = await kit.tender()
    await kit.set_lot_status(lid, "opening")
    user, witness = await factory.signed_in(Role.WITNESS)
    key = Ed25519PrivateKey.generate()
    async with pool.acquire() as c:
        await c.execute("INSERT INTO identity_keys (user_id, public_key, status, registered_at)"
                        " VALUES ($1, $2, 'approved', $3)", user.id, public_bytes(key), clock.now())
    text = "已核验评标专家身份"
    good = base64.b64encode(key.sign(witness_note_statement(lid, text))).decode()
    bad = base64.b64encode(Ed25519PrivateKey.generate().sign(witness_note_statement(lid, text))).decode()
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json={"text": text, "signature": bad},
                          headers=witness)
    assert r.status_code == 422 and r.json()["code"] == "witness_note_signature_invalid"
    r = await client.post(f"/api/records/lots/{lid}/witness-notes", json={"text": text, "signature": good},
                          headers=witness)
    assert r.status_code == 201
    clock.advance(hours=2)
    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get(f"/api/records/tenders/{tid}/archive.zip", headers=regulator)
    path = tmp_path / "a.zip"
    path.write_bytes(r.content)
    report = verify_archive(path, trusted_keys=[platform_verifier_key(settings)])
    assert report.ok, report.problems


async def test_record_page_timeline_and_witness_form(client, pool, clock, settings, kit, factory):
    tid, lid, *_ = await kit.tender()
    await _bids(pool, clock, tid, lid, 1)
    _, witness = await factory.signed_in(Role.WITNESS)
    r = await client.get(f"/records/tenders/{tid}", headers=witness)
    assert r.status_code == 403 and "sealed" in r.text  # before the deadline
    clock.advance(hours=2)
    await kit.set_lot_status(lid, "evaluation")
    pdf = sign_pdf(render_table_pdf("评标报告", [], ["序号"], [[1]]), settings)
    async with pool.acquire() as c, c.transaction():
        sha = await record_document(c, clock, tender_id=tid, lot_id=lid, kind="evaluation_report",
                                    filename="评标报告.pdf", data=pdf, actor=None, settings=settings)
    r = await client.post(f"/records/lots/{lid}/witness-notes", headers=witness,
                          data={"text": "评标专家身份已现场核验", "supervisor_informed": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/records/tenders/{tid}"
    r = await client.get(f"/records/tenders/{tid}", headers=witness)
    assert r.status_code == 200 and "评标专家身份已现场核验" in r.text and "见证记录" in r.text
    assert "tender:document:download" in r.text
    r = await client.get(f"/api/records/tenders/{tid}/documents/{sha}", headers=witness)
    assert r.status_code == 200 and r.content == pdf
    r = await client.get(f"/api/records/tenders/{tid}/documents/{'0' * 64}", headers=witness)
    assert r.status_code == 404 and r.json()["code"] == "record_document_not_found"
