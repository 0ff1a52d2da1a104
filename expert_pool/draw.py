"""draw/v1: the verifiable expert draw, as pure functions (no database, no clock).

DESIGN.md §8. Everything a regulator needs to replay a draw by hand is here and in docs/drawing.md:

- eligible list of a quota: the expert ids (lower-case UUID text) sorted, joined by "\\n", UTF-8;
  `quota_hash = SHA-256(list)`; `eligible_hash = SHA-256(quota_hash_1 ‖ quota_hash_2 ‖ …)` in quota order;
- `commit = SHA-256(r_s)` with r_s 32 random bytes from the server, logged before the agency contributes;
- `seed = SHA-256("tenderhall/draw/v1" ‖ r_s ‖ UTF-8(r_a) ‖ checkpoint_root)` (r_s and the root are 32 bytes each,
  so the concatenation is unambiguous);
- within a quota, experts ordered by `HMAC-SHA256(key=seed, msg=UTF-8(expert_id))` ascending (ties, which do not
  occur in practice, by id); quotas are filled in request order, an expert taken by an earlier quota is skipped;
  the first `count` are members, the next `alternates` are alternates, and re-draws take the next in that order.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

import msgspec

PROTOCOL = "tenderhall/draw/v1"
DOMAIN = PROTOCOL.encode()
EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()   # RFC 6962 root of the empty tree

OrderKey = Callable[[bytes, str], bytes]


class Quota(msgspec.Struct, frozen=True, kw_only=True):
    specialty: str
    count: int


class QuotaPick(msgspec.Struct, frozen=True, kw_only=True):
    specialty: str
    ranked: list[str]        # the quota's eligible experts in draw order, those taken by earlier quotas removed
    members: list[str]
    alternates: list[str]


def canonical_list(ids: Sequence[str]) -> bytes:
    return "\n".join(sorted(ids)).encode()


def quota_hash(ids: Sequence[str]) -> bytes:
    return hashlib.sha256(canonical_list(ids)).digest()


def eligible_hash(lists: Sequence[Sequence[str]]) -> bytes:
    return hashlib.sha256(b"".join(quota_hash(ids) for ids in lists)).digest()


def commitment(server_secret: bytes) -> bytes:
    return hashlib.sha256(server_secret).digest()


def seed(server_secret: bytes, agency_value: str, checkpoint_root: bytes) -> bytes:
    if len(server_secret) != 32 or len(checkpoint_root) != 32:
        raise ValueError("r_s and the checkpoint root are 32 bytes each")
    return hashlib.sha256(DOMAIN + server_secret + agency_value.encode() + checkpoint_root).digest()


def hmac_key(seed_bytes: bytes, expert_id: str) -> bytes:
    return hmac.digest(seed_bytes, expert_id.encode(), "sha256")


def hmac_keyer(seed_bytes: bytes) -> Callable[[str], bytes]:
    """HMAC-SHA256(seed, ·) with the key schedule done once (RFC 2104 inner and outer pads precomputed): the same
    values as `hmac_key`, about three times faster over a large pool."""
    key = (seed_bytes if len(seed_bytes) <= 64 else hashlib.sha256(seed_bytes).digest()).ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def keyed(expert_id: str) -> bytes:
        i = inner.copy()
        i.update(expert_id.encode())
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return keyed


def rank(seed_bytes: bytes, ids: Sequence[str], key: OrderKey | None = None) -> list[str]:
    keyed = hmac_keyer(seed_bytes) if key is None else (lambda e: key(seed_bytes, e))
    return sorted(ids, key=lambda e: (keyed(e), e))


def select(seed_bytes: bytes, quotas: Sequence[Quota], eligible: Sequence[Sequence[str]], alternates: int,
           key: OrderKey | None = None) -> list[QuotaPick]:
    """The committee of a draw: per quota, members then alternates, experts used by earlier quotas skipped."""
    if len(quotas) != len(eligible):
        raise ValueError("one eligible list per quota")
    taken: set[str] = set()
    picks: list[QuotaPick] = []
    for quota, ids in zip(quotas, eligible, strict=True):
        ranked = [e for e in rank(seed_bytes, ids, key) if e not in taken]
        chosen = ranked[: quota.count + alternates]
        taken.update(chosen)
        picks.append(QuotaPick(specialty=quota.specialty, ranked=ranked, members=chosen[: quota.count],
                               alternates=chosen[quota.count:]))
    return picks


def selection_hash(selection: Sequence[dict]) -> bytes:
    """SHA-256 of the lines `i:member:<id>` then `i:alternate:<id>` per quota i, joined by "\\n" (logged at the
    reveal, so the committee is bound to the log without naming anyone)."""
    lines = []
    for i, pick in enumerate(selection):
        lines += [f"{i}:member:{e}" for e in pick["members"]]
        lines += [f"{i}:alternate:{e}" for e in pick["alternates"]]
    return hashlib.sha256("\n".join(lines).encode()).digest()


def next_candidate(ranked: Sequence[str], used: set[str], reserve: set[str] = frozenset()) -> str | None:
    """The re-draw rule: the first expert in the quota's order who is one of its own reserve alternates or has
    not been used by this draw at all (as member, alternate of another quota, or an earlier re-draw/skip)."""
    for e in ranked:
        if e in reserve or e not in used:
            return e
    return None


def shortfalls(quotas: Sequence[Quota], eligible: Sequence[Sequence[str]], alternates: int) -> list[dict]:
    """Quotas the pool cannot fill (members + alternates), with how many are missing.

    Conservative where quotas overlap: an earlier quota may take up to what it needs from the overlap first.
    """
    short: list[dict] = []
    sets = [set(ids) for ids in eligible]
    for i, quota in enumerate(quotas):
        needed = quota.count + alternates
        available = len(sets[i]) - sum(
            min(quotas[j].count + alternates, len(sets[j] & sets[i])) for j in range(i)
        )
        if available < needed:
            short.append({"specialty": quota.specialty, "needed": needed, "eligible": max(available, 0),
                          "short": needed - max(available, 0)})
    return short


# ---------------------------------------------------------------------------------------------------- replay


class Check(msgspec.Struct, frozen=True):
    name: str
    ok: bool
    detail: str = ""


class Replay(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checks: list[Check]
    committee: list[QuotaPick]


def _hex(value: str | None, name: str, size: int | None = 32) -> bytes:
    if value is None:
        raise ValueError(f"{name} is missing")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise ValueError(f"{name} must be {size} bytes")
    return raw


def replay(record: dict) -> Replay:
    """Recompute a draw from its record (DRAW.json) and say whether every logged value matches."""
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append(Check(name, bool(ok), detail))

    if record.get("protocol") != PROTOCOL:
        check("protocol", False, f"expected {PROTOCOL}, got {record.get('protocol')!r}")
        return Replay(ok=False, checks=checks, committee=[])
    try:
        r_s = _hex(record.get("server_secret"), "server_secret")
        commit = _hex(record.get("server_commit"), "server_commit")
        root = _hex(record["checkpoint"]["root"], "checkpoint root")
        logged_seed = _hex(record.get("seed"), "seed")
        r_a = record["agency_value"]
        quotas = [Quota(specialty=q["specialty"], count=int(q["count"])) for q in record["quotas"]]
        eligible = [list(q["eligible"]) for q in record["quotas"]]
        alternates = int(record["alternates"])
    except (KeyError, TypeError, ValueError) as exc:
        check("record", False, f"incomplete or malformed record: {exc}")
        return Replay(ok=False, checks=checks, committee=[])

    check("commitment", commitment(r_s) == commit, "SHA-256(server_secret) = server_commit")
    for q, ids in zip(record["quotas"], eligible, strict=True):
        sorted_ok = ids == sorted(set(ids))
        check(f"eligible[{q['specialty']}].sorted", sorted_ok, f"{len(ids)} ids, sorted and unique")
        check(f"eligible[{q['specialty']}].hash", quota_hash(ids).hex() == q.get("eligible_hash"),
              "SHA-256 of the newline-joined ids")
    check("eligible_hash", eligible_hash(eligible).hex() == record.get("eligible_hash"),
          "SHA-256 of the quota hashes in order")
    s = seed(r_s, r_a, root)
    check("seed", s == logged_seed, "SHA-256(domain ‖ r_s ‖ r_a ‖ checkpoint root)")
    picks = select(s, quotas, eligible, alternates)
    logged = record.get("selection") or []
    for i, pick in enumerate(picks):
        got = logged[i] if i < len(logged) else {}
        check(f"selection[{pick.specialty}].members", got.get("members") == pick.members,
              f"expected {pick.members}")
        check(f"selection[{pick.specialty}].alternates", got.get("alternates") == pick.alternates,
              f"expected {pick.alternates}")
    # The values the witness log holds, when the record carries its entries.
    log = record.get("log") or {}
    commit_body = ((log.get("commit") or {}).get("entry") or {}).get("body")
    if commit_body is not None:
        check("log.commit", commit_body.get("server_commit") == record.get("server_commit")
              and commit_body.get("eligible_hash") == record.get("eligible_hash")
              and commit_body.get("checkpoint_root") == record["checkpoint"]["root"],
              "the commit entry logged the same server_commit, eligible_hash and checkpoint root")
    reveal_body = ((log.get("reveal") or {}).get("entry") or {}).get("body")
    if reveal_body is not None:
        expected_sel = [{"members": p.members, "alternates": p.alternates} for p in picks]
        check("log.reveal", reveal_body.get("server_secret") == record.get("server_secret")
              and reveal_body.get("agency_value") == r_a
              and reveal_body.get("checkpoint_root") == record["checkpoint"]["root"]
              and reveal_body.get("seed") == record.get("seed")
              and reveal_body.get("selection_hash") == selection_hash(expected_sel).hex(),
              "the reveal entry logged the same r_s, r_a, checkpoint root, seed and selection hash")
    # The re-draw chain: each expert brought in (or skipped as no longer eligible) after the first selection is
    # the quota's next candidate: its own alternates first, in order, then the rest of its order.
    used = {e for p in picks for e in (*p.members, *p.alternates)}
    reserve = [set(p.alternates) for p in picks]
    for n, step in enumerate(record.get("redraws") or []):
        qi = int(step["quota"])
        expected = next_candidate(picks[qi].ranked, used, reserve[qi]) if 0 <= qi < len(picks) else None
        check(f"redraw[{n}]", step.get("expert") == expected,
              f"{step.get('action')}: expected {expected}, logged {step.get('expert')}")
        if step.get("expert"):
            used.add(step["expert"])
            if 0 <= qi < len(picks):
                reserve[qi].discard(step["expert"])
    return Replay(ok=all(c.ok for c in checks), checks=checks, committee=picks)
