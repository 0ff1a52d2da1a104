"""The offline verifier (`tenderhall verify ARCHIVE.zip`): no network, no database.

It recomputes every leaf hash from the exact entry bytes, checks every checkpoint's signature, the
consistency of successive checkpoints, every entry's inclusion proof (tender archives) or the roots
themselves (log archives, recomputed from all leaves), the per-tender chain of `prev` links, and every
document's hash and PDF signature. It returns a list of problems, each naming exactly what is wrong.

Imports: the standard library, msgspec, cryptography and the pure modules of this package (pyHanko only
when the archive holds PDFs). Nothing here needs a server.
"""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
import msgspec

from trading.records import bundle, merkle
from trading.records.keys import VerifierKey
from trading.records.note import NoteError, open_note, parse_checkpoint

DOCUMENT_TAG = "record:document:add"
WITNESS_TAG = "witness:note:add"


class Problem(msgspec.Struct, frozen=True):
    code: str
    message: str


class Report(msgspec.Struct, kw_only=True):
    problems: list[Problem] = []
    entries: int = 0
    checkpoints: int = 0
    documents: int = 0
    tree_size: int = 0
    keys_from_archive: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


class _EntryHead(msgspec.Struct):
    """The fields the verifier reads; the body stays raw (decoded only for document entries)."""

    seq: int
    origin: str = ""
    prev: int | None = None
    tag: str = ""
    tender: str | None = None
    lot: str | None = None
    body: msgspec.Raw = msgspec.Raw(b"{}")


_decode_head = msgspec.json.Decoder(_EntryHead).decode
_decode_inclusion = msgspec.json.Decoder(bundle.InclusionLine).decode
_decode_consistency = msgspec.json.Decoder(bundle.ConsistencyLine).decode
_decode_checkpoint = msgspec.json.Decoder(bundle.CheckpointLine).decode


def _lines(zf: zipfile.ZipFile, name: str) -> Iterable[bytes]:
    with zf.open(name) as raw:
        for line in io.BufferedReader(raw, 1 << 20):  # type: ignore[arg-type]
            if line.endswith(b"\n"):
                line = line[:-1]
            if line:
                yield line


def _b64list(items: list[str]) -> list[bytes]:
    return [base64.b64decode(x, validate=True) for x in items]


def _short(h: bytes) -> str:
    return base64.b64encode(h).decode()[:12] + "…"


def _check_checkpoints(zf: zipfile.ZipFile, keys: list[VerifierKey], origin: str, report: Report) -> dict[int, bytes]:
    """Valid checkpoints by size; forks, bad signatures and inconsistencies are reported."""
    roots: dict[int, bytes] = {}
    seen = 0
    for n, line in enumerate(_lines(zf, bundle.CHECKPOINTS), 1):
        seen += 1
        try:
            cp = _decode_checkpoint(line)
        except msgspec.DecodeError:
            report.add("archive_malformed", f"checkpoints.jsonl line {n} is not a checkpoint record")
            continue
        try:
            text, _ = open_note(cp.note, keys)
            cp_origin, size, root, _ = parse_checkpoint(text)
        except NoteError as exc:
            report.add("checkpoint_signature_invalid", f"checkpoint of size {cp.tree_size}: signature invalid ({exc})")
            continue
        if size != cp.tree_size:
            report.add("checkpoint_signature_invalid",
                       f"checkpoint line {n}: labelled size {cp.tree_size} but signed size {size}")
            continue
        if cp_origin != origin:
            report.add("origin_mismatch", f"checkpoint of size {size} is for origin {cp_origin!r}, not {origin!r}")
            continue
        if size in roots and roots[size] != root:
            report.add("fork", f"fork: two checkpoints of size {size} with different roots "
                               f"({_short(roots[size])} and {_short(root)})")
            continue
        roots[size] = root
    report.checkpoints = seen
    if not roots:
        report.add("checkpoint_missing", "the archive holds no valid checkpoint")
    return roots


def _check_consistency(zf: zipfile.ZipFile, roots: dict[int, bytes], report: Report, *, required: bool) -> None:
    """Successive checkpoints must be consistent. Log archives recompute every root from the leaves, which
    proves consistency directly; their proofs are checked when present but not required."""
    proofs: dict[tuple[int, int], list[str]] = {}
    if bundle.CONSISTENCY in zf.namelist():
        for line in _lines(zf, bundle.CONSISTENCY):
            p = _decode_consistency(line)
            proofs[(p.size1, p.size2)] = p.hashes
    sizes = sorted(s for s in roots if s > 0)
    for a, b in zip(sizes, sizes[1:]):
        hashes = proofs.get((a, b))
        if hashes is None:
            if not required:
                continue
            report.add("consistency_missing", f"no consistency proof between checkpoints {a} and {b}")
            continue
        try:
            merkle.verify_consistency(a, b, _b64list(hashes), roots[a], roots[b])
        except (merkle.ProofError, ValueError) as exc:
            report.add("consistency_invalid", f"checkpoints {a} and {b} are not consistent: {exc}")


def verify_archive(path: str | Path, *, trusted_keys: Iterable[str] = (),
                   progress: Callable[[int, int], None] | None = None) -> Report:
    """Check an archive; `trusted_keys` (verifier keys obtained independently) override the archive's own.
    `progress(done, total)` is called now and then while entries are checked."""
    report = Report()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.add("archive_malformed", f"not a readable ZIP archive: {exc}")
        return report
    with zf:
        names = set(zf.namelist())
        for required in (bundle.MANIFEST, bundle.CHECKPOINTS, bundle.ENTRIES):
            if required not in names:
                report.add("archive_malformed", f"{required} is missing from the archive")
        if not report.ok:
            return report
        try:
            manifest = msgspec.json.decode(zf.read(bundle.MANIFEST), type=bundle.Manifest)
        except msgspec.DecodeError as exc:
            report.add("archive_malformed", f"manifest.json is malformed: {exc}")
            return report
        if manifest.format != bundle.FORMAT:
            report.add("archive_malformed", f"unknown archive format {manifest.format!r}")
            return report
        keys = _keys(zf, names, trusted_keys, report)
        if not keys:
            return report
        roots = _check_checkpoints(zf, keys, manifest.origin, report)
        _check_consistency(zf, roots, report, required=manifest.kind == "tender")
        final = max(roots) if roots else 0
        report.tree_size = final
        if roots and manifest.tree_size != final:
            report.add("manifest_mismatch", f"manifest names tree size {manifest.tree_size}, "
                                            f"the last valid checkpoint is {final}")
        logged_docs = _check_entries(zf, names, manifest, roots, final, report, progress)
        _check_documents(zf, names, manifest, logged_docs, report)
    return report


def _keys(zf: zipfile.ZipFile, names: set[str], trusted: Iterable[str], report: Report) -> list[VerifierKey]:
    texts = [t for t in trusted if t.strip()]
    if not texts:
        report.keys_from_archive = True
        if bundle.KEYS not in names:
            report.add("archive_malformed", "keys/log-keys.txt is missing and no --key was given")
            return []
        texts = [t for t in zf.read(bundle.KEYS).decode().splitlines() if t.strip()]
    keys: list[VerifierKey] = []
    for t in texts:
        try:
            keys.append(VerifierKey(t))
        except ValueError as exc:
            report.add("key_malformed", str(exc))
    return keys


def _check_entries(zf: zipfile.ZipFile, names: set[str], manifest: bundle.Manifest, roots: dict[int, bytes],
                   final: int, report: Report, progress: Callable[[int, int], None] | None) -> dict[str, int]:
    tender_kind = manifest.kind == "tender"
    proofs: dict[int, bytes] = {}
    if tender_kind:
        if bundle.INCLUSION not in names:
            report.add("proof_missing", "proofs/inclusion.jsonl is missing")
        else:
            for line in _lines(zf, bundle.INCLUSION):
                seq = _decode_inclusion(line).seq
                proofs[seq] = line
    final_root = roots.get(final)
    frontier = merkle.Frontier()
    seqs = array("q")
    prevs = array("q")
    logged_docs: dict[str, int] = {}
    total = manifest.entries
    sha256 = hashlib.sha256
    tender_id = (manifest.tender or {}).get("id") if tender_kind else None
    last_good = bound = 0
    mismatched: list[int] = []
    for n, line in enumerate(_lines(zf, bundle.ENTRIES)):
        if progress and n % 20000 == 0:
            progress(n, total)
        leaf = sha256(b"\x00" + line).digest()
        try:
            head = _decode_head(line)
        except msgspec.DecodeError:
            report.add("entry_altered", f"entry at line {n + 1} is not a valid entry (altered)")
            seqs.append(-1)
            prevs.append(-1)
            continue
        seq = head.seq
        seqs.append(seq)
        prevs.append(-1 if head.prev is None else head.prev)
        ok = True
        if tender_kind:
            if head.tender != tender_id:
                report.add("entry_foreign", f"entry {seq} belongs to tender {head.tender}, not {tender_id}")
            raw = proofs.pop(seq, None)
            if raw is None:
                report.add("proof_missing", f"entry {seq} has no inclusion proof")
                ok = False
            elif final_root is not None:
                p = _decode_inclusion(raw)
                try:
                    if p.tree_size != final:
                        raise merkle.ProofError(f"proof is for tree size {p.tree_size}, not {final}")
                    merkle.verify_inclusion(seq, final, leaf, _b64list(p.hashes), final_root)
                except (merkle.ProofError, ValueError) as exc:
                    report.add("entry_altered", f"entry {seq} altered: its bytes are not in the log at checkpoint "
                                                f"{final} ({exc})")
                    ok = False
        else:
            frontier.append(leaf)
            size = frontier.size
            if size in roots:
                if frontier.root() == roots[size]:
                    last_good = size
                else:
                    if not mismatched:
                        bound = last_good
                    mismatched.append(size)
        if head.origin != manifest.origin:
            report.add("origin_mismatch", f"entry {seq} names origin {head.origin!r}, not {manifest.origin!r}")
        if ok and head.tag == WITNESS_TAG:
            _check_witness_signature(head, report)
        if ok and head.tag == DOCUMENT_TAG:
            try:
                digest = msgspec.json.decode(head.body).get("sha256")
            except (msgspec.DecodeError, AttributeError):
                digest = None
            if isinstance(digest, str):
                logged_docs[digest] = seq
    if progress:
        progress(len(seqs), total)
    report.entries = len(seqs)
    if mismatched:
        first = mismatched[0]
        later = f"; {len(mismatched) - 1} later checkpoint(s) fail too" if len(mismatched) > 1 else ""
        report.add("root_mismatch", f"entries {bound}..{first - 1} do not hash to "
                                    f"the root of checkpoint {first}: an entry among them was altered, removed or "
                                    f"reordered{later}")
    if not tender_kind and frontier.size < final:
        report.add("entry_missing", f"the archive holds {frontier.size} entries but its last checkpoint has {final}")
    for seq in sorted(proofs):
        report.add("entry_missing", f"entry {seq} missing (its inclusion proof is in the archive)")
    _check_structure(seqs, prevs, tender_kind, report)
    if report.entries != manifest.entries:
        report.add("manifest_mismatch", f"manifest announces {manifest.entries} entries, the archive holds "
                                        f"{report.entries}")
    return logged_docs


def witness_note_statement(lot_id: object, text: str) -> bytes:
    """What a witness signs (records/v1): domain tag, lot id, the note text (stripped), UTF-8."""
    return f"tenderhall/records/v1 witness-note\n{lot_id}\n{text.strip()}".encode()


def _check_witness_signature(head: _EntryHead, report: Report) -> None:
    """A signed witness note must verify with the public key it names (the witness's identity key)."""
    try:
        body = msgspec.json.decode(head.body)
        sig, key = body.get("signature"), body.get("public_key")
        if not sig:
            return
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
            base64.b64decode(sig), witness_note_statement(head.lot or "", body.get("text", "")))
    except Exception:  # noqa: BLE001 - any failure is the same finding
        report.add("witness_signature_invalid", f"entry {head.seq}: the witness's signature on the note is invalid")


def _check_structure(seqs: array, prevs: array, tender_kind: bool, report: Report) -> None:
    """Order, gaps and the per-tender prev chain (a tender's entries name their predecessor)."""
    for i in range(1, len(seqs)):
        if 0 <= seqs[i] <= seqs[i - 1]:
            report.add("entries_reordered", f"entries reordered: entry {seqs[i]} comes after entry {seqs[i - 1]}")
    if tender_kind:
        present = set(s for s in seqs if s >= 0)
        missing = sorted({p for p in prevs if p >= 0 and p not in present})
    else:  # a log prefix holds exactly 0..n-1: a bitmap, not a set, keeps a million entries in 1 MB
        top = max(seqs, default=-1)
        seen = bytearray(top + 1)
        for s in seqs:
            if s >= 0:
                seen[s] = 1
        missing = [i for i, flag in enumerate(seen) if not flag] if seen.count(0) else []
    for m in missing:
        report.add("entry_missing", f"entry {m} missing")


def _check_documents(zf: zipfile.ZipFile, names: set[str], manifest: bundle.Manifest, logged: dict[str, int],
                     report: Report) -> None:
    files = sorted(n for n in names if n.startswith(bundle.DOCUMENTS) and not n.endswith("/"))
    roots = [zf.read(bundle.ROOT_CA)] if bundle.ROOT_CA in names else []
    seen: set[str] = set()
    for name in files:
        data = zf.read(name)
        digest = hashlib.sha256(data).hexdigest()
        report.documents += 1
        claimed = name[len(bundle.DOCUMENTS):].split("-", 1)[0]
        if claimed != digest:
            report.add("document_altered", f"document {name} altered: its SHA-256 is {digest}, not {claimed}")
            continue
        seen.add(digest)
        if digest not in logged:
            report.add("document_not_logged", f"document {name}: its SHA-256 appears in no log entry")
            continue
        if data.startswith(b"%PDF"):
            if not roots:
                report.add("pdf_signature_invalid", f"document {name}: no root certificate to check its signature")
                continue
            from trading.records.pdf import check_pdf_signature  # pyHanko only when there are PDFs

            check = check_pdf_signature(data, roots)
            if not check.ok:
                report.add("pdf_signature_invalid", f"document {name} (entry {logged[digest]}): "
                                                    + "; ".join(check.problems))
    for digest, seq in sorted(logged.items(), key=lambda kv: kv[1]):
        if manifest.kind == "tender" and digest not in seen:
            report.add("document_missing", f"document {digest} logged in entry {seq} is missing from the archive")


def format_report(report: Report) -> str:
    if report.ok:
        lines = [f"OK: {report.entries} entries, {report.checkpoints} checkpoints (tree size {report.tree_size}), "
                 f"{report.documents} documents verified"]
    else:
        lines = [f"FAILED: {len(report.problems)} problem(s)"] + [f"  [{p.code}] {p.message}" for p in report.problems]
    if report.keys_from_archive:
        lines.append("note: checkpoints were checked with the keys inside the archive; compare keys/log-keys.txt "
                     "with the platform's published verifier key (or pass --key)")
    return "\n".join(lines)
