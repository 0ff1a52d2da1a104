"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification (records/v1).

Pure functions, no I/O: the offline verifier uses this module as-is. leaf = SHA-256(0x00 ‖ entry),
node = SHA-256(0x01 ‖ left ‖ right), a tree of n leaves splits at the largest power of two below n.

Nodes are named (level, index): node (L, i) is the complete subtree over leaves [i·2^L, (i+1)·2^L).
Proof generation works on *ranges* of leaves; every range a proof needs decomposes into at most
log2(n) complete subtrees, which the database stores (see `Frontier` and `repository.fetch_nodes`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof does not verify (or is malformed); the message says why."""


def hash_leaf(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# ---- roots ---------------------------------------------------------------------------------------------

class Frontier:
    """The right edge of a growing tree: the complete subtrees whose sizes are the bits of `size`
    (largest first). Appending is amortised O(1) and reports the complete nodes it creates, so a store can
    persist every complete subtree (Trillian style) as the log grows. Memory is O(log n)."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a frontier of size {size} has {bin(size).count('1')} hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return the complete nodes (level, index, hash) of level ≥ 1 that it completes."""
        created: list[tuple[int, int, bytes]] = []
        h, idx, level = leaf_hash, self.size, 0
        hashes = self.hashes
        while idx & 1:
            h = _sha256(b"\x01" + hashes.pop() + h).digest()
            idx >>= 1
            level += 1
            created.append((level, idx, h))
        hashes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h

    def copy(self) -> "Frontier":
        return Frontier(self.size, list(self.hashes))


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    f = Frontier()
    for h in leaf_hashes:
        f.append(h)
    return f.root()


# ---- proofs as ranges ------------------------------------------------------------------------------------

Range = tuple[int, int]  # [start, end) of leaves


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes form the inclusion proof of leaf `index` in a tree of `size` (RFC 9162
    §2.1.3.1 PATH), in proof order (bottom up)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The subtrees of the consistency proof between sizes size1 and size2 (RFC 9162 §2.1.4.1 SUBPROOF)."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    out: list[Range] = []
    m, lo, hi, whole = size1, 0, size2, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append((lo, hi))
            break
        k = largest_power_of_two_below(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m -= k
            lo += k
            whole = False
    out.reverse()
    return out


def range_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose [start, end) into complete subtrees (level, index), left to right. For the ranges of a
    proof (aligned RFC 9162 subtrees) folding them right to left gives the range's hash."""
    nodes: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold_range(nodes: Sequence[tuple[int, int]], hashes: Mapping[tuple[int, int], bytes]) -> bytes:
    h = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        h = hash_children(hashes[node], h)
    return h


def nodes_for(ranges: Sequence[Range]) -> tuple[list[list[tuple[int, int]]], set[tuple[int, int]]]:
    """The complete subtrees each range decomposes into, and the set of all of them (to fetch at once)."""
    decomposed = [range_nodes(a, b) for a, b in ranges]
    return decomposed, {n for nodes in decomposed for n in nodes}


def fold_all(decomposed: Sequence[Sequence[tuple[int, int]]], hashes: Mapping[tuple[int, int], bytes]
             ) -> list[bytes]:
    missing = {n for nodes in decomposed for n in nodes} - set(hashes)
    if missing:
        raise LookupError(f"tree nodes missing from the store: {sorted(missing)[:5]}")
    return [fold_range(nodes, hashes) for nodes in decomposed]


def resolve(ranges: Sequence[Range], fetch: Callable[[set[tuple[int, int]]], Mapping[tuple[int, int], bytes]]
            ) -> list[bytes]:
    """Turn proof ranges into hashes, fetching every stored complete subtree needed in one call."""
    decomposed, wanted = nodes_for(ranges)
    return fold_all(decomposed, fetch(wanted) if wanted else {})


# ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2; the shape of transparency-dev/merkle's proof package) ----

def _inner_proof_size(index: int, size: int) -> int:
    return (index ^ (size - 1)).bit_length()


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = hash_children(seed, h) if (index >> i) & 1 == 0 else hash_children(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = hash_children(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = hash_children(h, seed)
    return seed


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    if index < 0 or index >= size:
        raise ProofError(f"index {index} is beyond the tree size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, not {HASH_SIZE}")
    inner = _inner_proof_size(index, size)
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, expected {inner + border}")
    h = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(h, proof[inner:])


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `leaf_hash` is leaf `index` of the tree of `size` with `root`."""
    if root_from_inclusion_proof(index, size, leaf_hash, proof) != root:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless the tree of size1/root1 is a prefix of the tree of size2/root2."""
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if size1 == 0:
            raise ProofError("consistency with an empty tree proves nothing")
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    if size1 == 0:
        raise ProofError("consistency with an empty tree proves nothing")
    if not proof:
        raise ProofError("empty consistency proof")
    inner = _inner_proof_size(size1 - 1, size2)
    border = bin((size1 - 1) >> inner).count("1")
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise ProofError(f"consistency proof has {len(proof)} hashes, expected {start + inner + border}")
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    h1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if h1 != root1:
        raise ProofError(f"consistency proof does not match the root of tree size {size1}")
    h2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if h2 != root2:
        raise ProofError(f"consistency proof does not match the root of tree size {size2}")
