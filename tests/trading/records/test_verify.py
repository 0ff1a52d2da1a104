"""The offline verifier names each way an archive can be tampered with."""
import base64
import zipfile

import msgspec
import pytest

from trading.records import Tag, append_entry, merkle
from trading.records.archive import stream_archive
from trading.records.bundle import CheckpointLine
from trading.records.keys import load_platform_key, platform_verifier_key
from trading.records.note import format_checkpoint, sign_note
from trading.records.pdf import render_table_pdf, sign_pdf
from trading.records.services import record_document
from trading.records.verify import verify_archive


@pytest.fixture
async def archive(pool, clock, settings, kit, tmp_path):
    tid, lid, *_ = await kit.tender()
    for i in range(12):
        async with pool.acquire() as c, c.transaction():
            await append_entry(c, clock, Tag.ACCOUNT_LOGIN_FAIL, body={"noise": i})
            await append_entry(c, clock, Tag.TENDER_DOCUMENT_DOWNLOAD, tender_id=tid, lot_id=lid, body={"n": i})
        if i % 4 == 3:  # several checkpoints along the way
            async with pool.acquire() as c:
                from trading.records.checkpoints import sign_if_grown
                await sign_if_grown(c, clock, settings)
    pdf = sign_pdf(render_table_pdf("开标记录", [], ["序号"], [[1]]), settings)
    async with pool.acquire() as c, c.transaction():
        await record_document(c, clock, tender_id=tid, kind="opening_record", filename="opening.pdf", data=pdf,
                              actor=None, settings=settings)
    path = tmp_path / "a.zip"
    with path.open("wb") as f:
        async for chunk in stream_archive(pool, clock, settings, tender_id=tid):
            f.write(chunk)
    return path


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    change(files)
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return dst


def _entries(files):
    return files["entries.jsonl"].decode().splitlines()


def _seq(line):
    return msgspec.json.decode(line)["seq"]


def _verify(path, settings):
    return verify_archive(path, trusted_keys=[platform_verifier_key(settings)])


def test_untouched_archive_verifies(archive, settings):
    report = _verify(archive, settings)
    assert report.ok, report.problems
    assert report.entries == 13 and report.checkpoints >= 3 and report.documents == 1


def test_altered_entry_named(archive, settings, tmp_path):
    target = {}

    def change(files):
        lines = _entries(files)
        target["seq"] = _seq(lines[5])
        lines[5] = lines[5].replace('"n":5', '"n":50')
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert report.codes() == ["entry_altered"]
    assert f"entry {target['seq']} altered" in report.problems[0].message


def test_missing_entry_named_even_with_its_proof_removed(archive, settings, tmp_path):
    target = {}

    def change(files):
        lines = _entries(files)
        target["seq"] = seq = _seq(lines[6])
        del lines[6]
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()
        proofs = [p for p in files["proofs/inclusion.jsonl"].decode().splitlines() if _seq(p) != seq]
        files["proofs/inclusion.jsonl"] = ("\n".join(proofs) + "\n").encode()
        manifest = msgspec.json.decode(files["manifest.json"])
        manifest["entries"] -= 1
        files["manifest.json"] = msgspec.json.encode(manifest)

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert report.codes() == ["entry_missing"]
    assert report.problems[0].message == f"entry {target['seq']} missing"


def test_reordered_entries_named(archive, settings, tmp_path):
    def change(files):
        lines = _entries(files)
        lines[3], lines[4] = lines[4], lines[3]
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert "entries_reordered" in report.codes() and "entry_altered" not in report.codes()


def test_invalid_checkpoint_signature_named(archive, settings, tmp_path):
    def change(files):
        lines = files["checkpoints.jsonl"].decode().splitlines()
        cp = msgspec.json.decode(lines[0], type=CheckpointLine)
        body, sig = cp.note.rsplit(" ", 1)
        sig = ("A" if sig[10] != "A" else "B").join([sig[:10], sig[11:]])
        lines[0] = msgspec.json.encode(CheckpointLine(cp.tree_size, body + " " + sig)).decode()
        files["checkpoints.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert "checkpoint_signature_invalid" in report.codes()
    assert "signature invalid" in report.problems[0].message


def test_fork_named_when_two_roots_signed_for_one_size(archive, settings, tmp_path):
    def change(files):
        lines = files["checkpoints.jsonl"].decode().splitlines()
        cp = msgspec.json.decode(lines[0], type=CheckpointLine)
        forged = sign_note(format_checkpoint(settings.origin, cp.tree_size, merkle.hash_leaf(b"other history")),
                           settings.origin, load_platform_key(settings))
        lines.append(msgspec.json.encode(CheckpointLine(cp.tree_size, forged)).decode())
        files["checkpoints.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert "fork" in report.codes()
    assert "two checkpoints of size" in report.problems[report.codes().index("fork")].message


def test_checkpoint_by_unknown_key_refused(archive, settings, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.records.keys import verifier_key

    report = verify_archive(archive, trusted_keys=[verifier_key(settings.origin, Ed25519PrivateKey.generate())])
    assert "checkpoint_signature_invalid" in report.codes()


def test_altered_pdf_named(archive, settings, tmp_path):
    def change(files):
        name = next(n for n in files if n.startswith("documents/"))
        data = bytearray(files[name])
        data[len(data) // 3] ^= 1
        files[name] = bytes(data)

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert "document_altered" in report.codes()


def test_replaced_pdf_not_in_log_named(archive, settings, tmp_path):
    import hashlib

    def change(files):
        name = next(n for n in files if n.startswith("documents/"))
        data = bytearray(files.pop(name))
        data[len(data) // 3] ^= 1
        files[f"documents/{hashlib.sha256(bytes(data)).hexdigest()}-opening.pdf"] = bytes(data)

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert "document_not_logged" in report.codes() and "document_missing" in report.codes()


def test_cli_exits_nonzero_and_names_problem(archive, settings, tmp_path):
    import subprocess
    import sys

    def change(files):
        lines = _entries(files)
        lines[2] = lines[2].replace('"n":', '"n":1')
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()

    bad = _rewrite(archive, tmp_path / "b.zip", change)
    out = subprocess.run([sys.executable, "-m", "trading.cli", "verify", str(bad), "-q", "--key",
                          platform_verifier_key(settings)], capture_output=True, text=True)
    assert out.returncode == 1 and "FAILED" in out.stdout and "altered" in out.stdout


def test_verifier_imports_nothing_that_needs_a_server():
    import subprocess
    import sys

    code = ("import sys, trading.records.verify, trading.records.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'asyncpg', 'litestar', 'uvicorn', 'pgserver'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


async def test_forged_witness_signature_named(pool, clock, settings, kit, tmp_path):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.records.keys import public_bytes

    tid, lid, *_ = await kit.tender()
    key = Ed25519PrivateKey.generate()
    async with pool.acquire() as c, c.transaction():  # a platform inventing a note "signed" by a witness
        await append_entry(c, clock, Tag.WITNESS_NOTE_ADD, tender_id=tid, lot_id=lid, body={
            "text": "一切正常", "signature": base64.b64encode(key.sign(b"something else")).decode(),
            "public_key": base64.b64encode(public_bytes(key)).decode()})
    path = tmp_path / "w.zip"
    with path.open("wb") as f:
        async for chunk in stream_archive(pool, clock, settings, tender_id=tid):
            f.write(chunk)
    assert _verify(path, settings).codes() == ["witness_signature_invalid"]


async def test_key_rotation_keeps_old_checkpoints_verifiable(pool, clock, settings, kit, tmp_path, client):
    from trading.records.checkpoints import sign_if_grown
    from trading.records.keys import rotate_platform_key

    tid, lid, *_ = await kit.tender()
    old = platform_verifier_key(settings)
    async with pool.acquire() as c:
        async with c.transaction():
            await append_entry(c, clock, Tag.WITNESS_NOTE_ADD, tender_id=tid)
        await sign_if_grown(c, clock, settings)
        new = rotate_platform_key(settings)
        async with c.transaction():
            await append_entry(c, clock, Tag.WITNESS_NOTE_ADD, tender_id=tid)
        await sign_if_grown(c, clock, settings)
    published = (await client.get("/.well-known/tenderhall/log-keys")).text.split()
    assert new in published and old in published
    path = tmp_path / "r.zip"
    with path.open("wb") as f:
        async for chunk in stream_archive(pool, clock, settings, tender_id=tid):
            f.write(chunk)
    assert verify_archive(path, trusted_keys=[old, new]).ok
    assert "checkpoint_signature_invalid" in verify_archive(path, trusted_keys=[new]).codes()


def test_log_archive_missing_and_reordered_entries_named(tmp_path):
    """A whole-log archive (no proofs): roots are recomputed from every leaf, gaps and order checked."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "bench_records", Path(__file__).resolve().parents[3] / "bench" / "records.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    good = tmp_path / "log.zip"
    bench.build_archive(good, 40, 10)
    report = verify_archive(good)
    assert report.ok and report.entries == 40 and report.keys_from_archive

    def drop(files):
        lines = _entries(files)
        del lines[17]
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = verify_archive(_rewrite(good, tmp_path / "d.zip", drop))
    assert "entry 17 missing" in [p.message for p in report.problems] and "root_mismatch" in report.codes()
    assert "entries 10..19 do not hash to the root of checkpoint 20" in report.problems[0].message

    def swap(files):
        lines = _entries(files)
        lines[21], lines[22] = lines[22], lines[21]
        files["entries.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = verify_archive(_rewrite(good, tmp_path / "s.zip", swap))
    assert "entries_reordered" in report.codes() and "root_mismatch" in report.codes()


def test_inconsistent_checkpoints_named(archive, settings, tmp_path):
    def change(files):
        lines = files["proofs/consistency.jsonl"].decode().splitlines()
        p = msgspec.json.decode(lines[0])
        p["hashes"][0] = base64.b64encode(merkle.hash_leaf(b"another history")).decode()
        lines[0] = msgspec.json.encode(p).decode()
        files["proofs/consistency.jsonl"] = ("\n".join(lines) + "\n").encode()

    report = _verify(_rewrite(archive, tmp_path / "b.zip", change), settings)
    assert report.codes() == ["consistency_invalid"]
    assert "not consistent" in report.problems[0].message
