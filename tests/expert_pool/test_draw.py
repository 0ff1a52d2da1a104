"""draw/v1 as pure functions: seed, order, selection across quotas, re-draw rule, shortfalls, replay, fairness."""
from __future__ import annotations

import copy
import hashlib
import hmac
import uuid

import pytest

from expert_pool import draw as d

IDS = sorted(str(uuid.UUID(int=i * 7919 + 12345)) for i in range(10))
R_S = bytes(range(32))
ROOT = hashlib.sha256(b"").digest()

# Chi-square critical value at p = 0.001 with 9 degrees of freedom (10 experts): a fair draw exceeds it once in
# a thousand seed sets; the seeds below are fixed, so the test is deterministic.
CHI2_9_P001 = 27.877


def test_seed_is_sha256_of_domain_rs_ra_root():
    expected = hashlib.sha256(b"tenderhall/draw/v1" + R_S + "代理机构随机数".encode() + ROOT).digest()
    assert d.seed(R_S, "代理机构随机数", ROOT) == expected


def test_seed_refuses_wrong_lengths():
    with pytest.raises(ValueError):
        d.seed(R_S[:31], "x", ROOT)
    with pytest.raises(ValueError):
        d.seed(R_S, "x", ROOT + b"\0")


def test_rank_orders_by_hmac_ascending():
    s = d.seed(R_S, "agency", ROOT)
    ranked = d.rank(s, IDS)
    keys = [hmac.new(s, e.encode(), hashlib.sha256).digest() for e in ranked]
    assert keys == sorted(keys)
    assert sorted(ranked) == IDS
    assert ranked == d.rank(s, IDS, d.hmac_key)   # the precomputed-pad keyer gives the same order


def test_hmac_keyer_equals_hmac_for_any_seed_length():
    for seed in (b"", b"k" * 32, b"k" * 64, b"k" * 65):
        keyed = d.hmac_keyer(seed)
        assert all(keyed(e) == hmac.new(seed, e.encode(), hashlib.sha256).digest() for e in IDS)


def test_select_changes_when_agency_value_changes():
    q = [d.Quota(specialty="A0103", count=3)]
    a = d.select(d.seed(R_S, "agency-one", ROOT), q, [IDS], 1)
    b = d.select(d.seed(R_S, "agency-two", ROOT), q, [IDS], 1)
    assert a[0].members != b[0].members


def test_select_skips_experts_taken_by_an_earlier_quota():
    s = d.seed(R_S, "agency", ROOT)
    quotas = [d.Quota(specialty="A01", count=3), d.Quota(specialty="A0103", count=2)]
    picks = d.select(s, quotas, [IDS, IDS], 1)
    first = set(picks[0].members + picks[0].alternates)
    assert len(first) == 4
    assert not first & set(picks[1].members + picks[1].alternates)
    assert picks[1].ranked == [e for e in d.rank(s, IDS) if e not in first]


def test_next_candidate_takes_own_alternates_then_unused_in_order():
    ranked = ["a", "b", "c", "d", "e"]
    # members a, b; alternate c (own reserve); d used by another quota
    assert d.next_candidate(ranked, {"a", "b", "c", "d"}, {"c"}) == "c"
    assert d.next_candidate(ranked, {"a", "b", "c", "d"}, set()) == "e"
    assert d.next_candidate(ranked, set(ranked), set()) is None


def test_shortfalls_name_the_quota_and_the_amount():
    quotas = [d.Quota(specialty="A0103", count=3), d.Quota(specialty="A0901", count=2)]
    short = d.shortfalls(quotas, [IDS[:5], IDS[5:7]], alternates=1)
    assert short == [{"specialty": "A0901", "needed": 3, "eligible": 2, "short": 1}]


def test_shortfalls_count_overlap_taken_by_earlier_quota():
    quotas = [d.Quota(specialty="A01", count=3), d.Quota(specialty="A0103", count=2)]
    # both quotas draw from the same 6 experts: the first may take 4 (3 + 1 alternate), leaving 2 for 3 needed
    short = d.shortfalls(quotas, [IDS[:6], IDS[:6]], alternates=1)
    assert short == [{"specialty": "A0103", "needed": 3, "eligible": 2, "short": 1}]
    assert d.shortfalls(quotas, [IDS[:7], IDS[:7]], alternates=1) == []


def _record(alternates: int = 1) -> dict:
    quotas = [d.Quota(specialty="A0103", count=3), d.Quota(specialty="A0901", count=2)]
    eligible = [IDS[:7], IDS[4:]]
    s = d.seed(R_S, "agency-value", ROOT)
    picks = d.select(s, quotas, eligible, alternates)
    return {
        "protocol": d.PROTOCOL, "alternates": alternates,
        "quotas": [{"specialty": q.specialty, "count": q.count, "eligible": ids,
                    "eligible_hash": d.quota_hash(ids).hex()} for q, ids in zip(quotas, eligible)],
        "eligible_hash": d.eligible_hash(eligible).hex(),
        "server_secret": R_S.hex(), "server_commit": d.commitment(R_S).hex(), "agency_value": "agency-value",
        "checkpoint": {"root": ROOT.hex(), "tree_size": 0}, "seed": s.hex(),
        "selection": [{"members": p.members, "alternates": p.alternates} for p in picks],
        "redraws": [], "_picks": picks,
    }


def test_replay_matches_a_faithful_record():
    record = _record()
    result = d.replay(record)
    assert result.ok, [c for c in result.checks if not c.ok]


@pytest.mark.parametrize("tamper", [
    lambda r: r.update(agency_value="agency-valuf"),
    lambda r: r.update(server_secret=bytes(32).hex()),
    lambda r: r["quotas"][0]["eligible"].pop(),
    lambda r: r["quotas"][0]["eligible"].reverse(),
    lambda r: r["selection"][0]["members"].reverse(),
    lambda r: r["selection"][1].update(alternates=[]),
    lambda r: r["checkpoint"].update(root=bytes(32).hex()),
    lambda r: r.update(protocol="tenderhall/draw/v0"),
])
def test_replay_detects_a_tampered_record(tamper):
    record = _record()
    tamper(record)
    assert not d.replay(record).ok


def test_replay_checks_the_redraw_chain():
    record = _record()
    picks = record["_picks"]
    # member of quota 0 declines: its alternate comes in; then a second decline: the next unused in order
    first = picks[0].alternates[0]
    used = {e for p in picks for e in p.members + p.alternates}
    second = d.next_candidate(picks[0].ranked, used | {first}, set())
    record["redraws"] = [{"step": 1, "quota": 0, "expert": first, "action": "bring_in"},
                         {"step": 2, "quota": 0, "expert": second, "action": "bring_in"}]
    assert d.replay(record).ok
    record["redraws"][1]["expert"] = picks[1].alternates[0]   # someone out of order
    result = d.replay(record)
    assert not result.ok
    assert [c.name for c in result.checks if not c.ok] == ["redraw[1]"]


def _chi_square(key: d.OrderKey | None, draws: int = 3000) -> tuple[float, float]:
    """(first place, membership of a 3-seat committee) chi-square statistics over fixed seeds."""
    first = dict.fromkeys(IDS, 0)
    seats = dict.fromkeys(IDS, 0)
    for i in range(draws):
        ranked = d.rank(hashlib.sha256(f"chi-square/{i}".encode()).digest(), IDS, key)
        first[ranked[0]] += 1
        for e in ranked[:3]:
            seats[e] += 1
    e1, e3 = draws / len(IDS), draws * 3 / len(IDS)
    return (sum((v - e1) ** 2 / e1 for v in first.values()), sum((v - e3) ** 2 / e3 for v in seats.values()))


def test_draw_is_unbiased_by_chi_square():
    first, seats = _chi_square(None)
    assert first < CHI2_9_P001
    assert seats < CHI2_9_P001


def test_chi_square_catches_a_biased_selector():
    # Ordering by only the top 4 bits of the HMAC and breaking ties by id favours experts whose ids sort first.
    def coarse(seed: bytes, expert_id: str) -> bytes:
        return bytes([d.hmac_key(seed, expert_id)[0] >> 4])

    first, seats = _chi_square(coarse)
    assert first > CHI2_9_P001
    assert seats > CHI2_9_P001


def test_replay_ignores_nothing_when_record_is_deep_copied():
    # the record is plain data: a JSON round trip replays the same
    import json

    record = _record()
    record.pop("_picks")
    assert d.replay(json.loads(json.dumps(copy.deepcopy(record)))).ok
