"""RFC 9162 tree: the 196 transparency-dev/merkle vectors, and our proofs against our own verifier."""
import base64
import json
from pathlib import Path

import pytest

from trading.records import merkle

# The repo root is parents[3]; shared/ sits beside the clone.
VECTORS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "vectors" / "merkle"
FILES = sorted(VECTORS.rglob("*.json"))


def b64(s: str) -> bytes:
    return base64.b64decode(s) if s else b""


def test_all_vectors_present():
    assert len(FILES) == 196


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(VECTORS)) for p in FILES])
def test_vector(path: Path):
    v = json.loads(path.read_text())
    proof = [b64(p) for p in v.get("proof") or []]
    if "leafIdx" in v:
        check = lambda: merkle.verify_inclusion(v["leafIdx"], v["treeSize"], b64(v["leafHash"]), proof,
                                                 b64(v["root"]))
    else:
        check = lambda: merkle.verify_consistency(v["size1"], v["size2"], proof, b64(v["root1"]),
                                                   b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(merkle.ProofError):
            check()
    else:
        check()


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH written out recursively, independent of Frontier."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = merkle.largest_power_of_two_below(len(leaves))
    return merkle.hash_children(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _store(n: int):
    leaves = [merkle.hash_leaf(f"entry {i}".encode()) for i in range(n)]
    nodes = {(0, i): h for i, h in enumerate(leaves)}
    f = merkle.Frontier()
    roots = [merkle.EMPTY_ROOT]
    for h in leaves:
        for level, idx, node in f.append(h):
            nodes[(level, idx)] = node
        roots.append(f.root())
    return leaves, nodes, roots


def test_frontier_roots_match_reference():
    leaves, _, roots = _store(40)
    for n in range(41):
        assert roots[n] == _reference_root(leaves[:n])


def test_generated_proofs_verify_and_refuse_wrong_leaf():
    leaves, nodes, roots = _store(37)
    fetch = lambda wanted: {k: nodes[k] for k in wanted}
    for size in range(1, 38):
        for index in range(size):
            proof = merkle.resolve(merkle.inclusion_ranges(index, size), fetch)
            merkle.verify_inclusion(index, size, leaves[index], proof, roots[size])
            other = leaves[(index + 1) % size] if size > 1 else merkle.hash_leaf(b"x")
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(index, size, other, proof, roots[size])
        for size1 in range(1, size + 1):
            proof = merkle.resolve(merkle.consistency_ranges(size1, size), fetch)
            merkle.verify_consistency(size1, size, proof, roots[size1], roots[size])
            if size1 < size:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(size1, size, proof, roots[size1 - 1] if size1 > 1 else b"x" * 32,
                                              roots[size])
