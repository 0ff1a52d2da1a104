"""Receipts: C2SP signed notes by the platform key; RFC 9162 inclusion proofs."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.bids import receipt as R
from trading.records.keys import verifier_key

VECTORS = Path("/work/shared/data/vectors/merkle/inclusion")
if not VECTORS.exists():
    VECTORS = Path(__file__).resolve().parents[3] / "shared/data/vectors/merkle/inclusion"

ORIGIN = "tenderhall.test/log"


def _receipt() -> R.Receipt:
    return R.Receipt(origin=ORIGIN, lot="8d5e0b1c-1111-4222-8333-444455556666", bid="00" * 16, version=1,
                     manifest_sha256="ab" * 32, ct_root="cd" * 32, received_at="2026-03-02T01:00:00.123Z",
                     log_index=7, leaf_hash="ef" * 32)


def test_receipt_verifies_under_platform_vkey() -> None:
    key = Ed25519PrivateKey.generate()
    note = R.sign_receipt(_receipt(), key, ORIGIN)
    assert R.verify_receipt(note, verifier_key(ORIGIN, key)) == _receipt()


def test_receipt_refuses_other_key() -> None:
    note = R.sign_receipt(_receipt(), Ed25519PrivateKey.generate(), ORIGIN)
    with pytest.raises(R.ReceiptInvalid):
        R.verify_receipt(note, verifier_key(ORIGIN, Ed25519PrivateKey.generate()))


def test_receipt_refuses_altered_field() -> None:
    key = Ed25519PrivateKey.generate()
    note = R.sign_receipt(_receipt(), key, ORIGIN).replace("version 1", "version 2")
    with pytest.raises(R.ReceiptInvalid):
        R.verify_receipt(note, verifier_key(ORIGIN, key))


def _vectors():
    return sorted(p for p in VECTORS.rglob("*.json"))


@pytest.mark.skipif(not VECTORS.exists(), reason="merkle vectors not present")
def test_inclusion_vectors_all_pass() -> None:
    files = _vectors()
    assert files
    for path in files:
        v = json.loads(path.read_text())
        proof = [base64.b64decode(p) for p in (v.get("proof") or [])]
        root = base64.b64decode(v.get("root") or "")
        leaf = base64.b64decode(v.get("leafHash") or "")
        ok = R.verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof, root)
        assert ok is (not v.get("wantErr", False)), path
