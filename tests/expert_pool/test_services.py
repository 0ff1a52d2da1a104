"""Expert pool services on real PostgreSQL: applications, review, eligibility, avoidance, the draw, re-draws."""
from __future__ import annotations

import json
from datetime import date, timedelta
from uuid import uuid4

import pytest

from expert_pool import draw as protocol
from expert_pool import repository as repo
from expert_pool import services
from expert_pool.eligibility import PoolRules
from expert_pool.errors import (
    DrawAlreadyExists,
    DrawForbidden,
    DrawPoolShort,
    DrawRequestInvalid,
    DrawStateInvalid,
    ExpertAlreadyApplied,
    ExpertApplicationInvalid,
    ExpertIneligible,
    ExpertReasonRequired,
    ExpertStatusInvalid,
    InvitationClosed,
    InvitationExpired,
    SpecialtyUnknown,
)
from expert_pool.notify import CollectingSender
from expert_pool.schemas import ConflictDeclare, Unavailability
from expert_pool.specialties import classification
from tests.conftest import credit_code
from tests.expert_pool.conftest import application, draw_request
from trading.accounts.schemas import Role

# ------------------------------------------------------------------------------------------- applications


async def test_apply_creates_a_pending_expert_and_logs_it(experts, pool):
    user, expert = await experts.applicant(specialties=["A0103", "A0901"],
                                           former=[(credit_code(), date(2025, 1, 1))])
    assert expert.status == "pending"
    assert expert.specialties == ["A0103", "A0901"]
    assert len(expert.former_employers) == 1
    async with pool.acquire() as c:
        tag = await c.fetchval("SELECT tag FROM log_entries ORDER BY seq DESC LIMIT 1")
    assert tag == "expert:application:submit"


@pytest.mark.parametrize("change,error", [
    (lambda a: setattr(a, "id_number", a.id_number[:-1] + ("0" if a.id_number[-1] != "0" else "1")),
     ExpertApplicationInvalid),
    (lambda a: setattr(a, "birth_date", date(1975, 5, 2)), ExpertApplicationInvalid),
    (lambda a: setattr(a, "specialties", ["Z9999"]), SpecialtyUnknown),
    (lambda a: setattr(a, "specialties", ["A01"]), SpecialtyUnknown),
    (lambda a: setattr(a, "employer_credit_code", "911100000000000000"), ExpertApplicationInvalid),
    (lambda a: setattr(a, "phone", "12345"), ExpertApplicationInvalid),
    (lambda a: setattr(a, "title_level", "grand"), ExpertApplicationInvalid),
    (lambda a: setattr(a, "practice_since", date(2027, 1, 1)), ExpertApplicationInvalid),
])
async def test_apply_refuses_invalid_application(factory, conn, clock, change, error):
    user = await factory.user(Role.EXPERT)
    data = application()
    change(data)
    with pytest.raises(error):
        await services.apply_expert(conn, clock, user, data)


async def test_apply_refuses_a_second_application(experts, pool, clock):
    user, _ = await experts.applicant()
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(ExpertAlreadyApplied):
            await services.apply_expert(c, clock, user, application())


async def test_approve_admits_an_eligible_applicant(experts):
    _, expert = await experts.approved()
    assert expert.status == "approved"


@pytest.mark.parametrize("kw,reason", [
    ({"since": date(2019, 1, 1)}, "experience_short"),            # 招标投标法 第三十七条: 满八年
    ({"level": "intermediate"}, "title_not_senior"),               # 高级职称或者同等专业水平
    ({"born": date(1955, 1, 1), "since": date(1980, 1, 1)}, "age_limit"),
])
async def test_approve_refuses_an_ineligible_applicant(experts, pool, clock, kw, reason):
    _, expert = await experts.applicant(**kw)
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(ExpertIneligible) as exc:
            await services.approve_expert(c, clock, expert.id, actor=await experts.admin())
    assert reason in exc.value.extra["reasons"]


async def test_reject_requires_a_reason_and_allows_reapplying(experts, pool, clock):
    user, expert = await experts.applicant()
    admin = await experts.admin()
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(ExpertReasonRequired):
            await services.reject_expert(c, clock, expert.id, reason="  ", actor=admin)
        rejected = await services.reject_expert(c, clock, expert.id, reason="职称证书不清晰", actor=admin)
    assert rejected.status == "rejected" and rejected.status_reason == "职称证书不清晰"
    async with pool.acquire() as c, c.transaction():
        again = await services.apply_expert(c, clock, user, application(specialties=["A0202"]))
    assert again.id == expert.id and again.status == "pending" and again.specialties == ["A0202"]


async def test_suspend_retire_reinstate_need_reasons_and_are_logged(experts, pool, clock):
    _, expert = await experts.approved()
    admin = await experts.admin()
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(ExpertReasonRequired):
            await services.change_expert_status(c, clock, expert.id, "suspend", reason="", actor=admin)
        s = await services.change_expert_status(c, clock, expert.id, "suspend", reason="违规", actor=admin)
        assert s.status == "suspended"
        with pytest.raises(ExpertStatusInvalid):
            await services.change_expert_status(c, clock, expert.id, "suspend", reason="again", actor=admin)
        r = await services.change_expert_status(c, clock, expert.id, "reinstate", reason="期满", actor=admin)
        assert r.status == "approved"
        t = await services.change_expert_status(c, clock, expert.id, "retire", reason="本人申请", actor=admin)
        assert t.status == "retired"
        events = await repo.list_status_events(c, expert.id)
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE tag LIKE 'expert:status:%'")]
    assert [e["status"] for e in events][-3:] == ["suspended", "approved", "retired"]
    assert [e["reason"] for e in events][-3:] == ["违规", "期满", "本人申请"]
    assert tags == ["expert:status:suspend", "expert:status:reinstate", "expert:status:retire"]


async def test_unavailability_refuses_past_dates_and_keeps_future_ones(experts, pool, clock):
    user, _ = await experts.approved()
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(ExpertApplicationInvalid):
            await services.set_unavailability(c, clock, user, Unavailability(add=[date(2026, 3, 1)]))
        days = await services.set_unavailability(c, clock, user, Unavailability(add=[date(2026, 4, 1),
                                                                                      date(2026, 4, 2)]))
        assert days == [date(2026, 4, 1), date(2026, 4, 2)]
        days = await services.set_unavailability(c, clock, user, Unavailability(remove=[date(2026, 4, 1)]))
    assert days == [date(2026, 4, 2)]


# ------------------------------------------------------------------------------------------------ drawing


@pytest.fixture
async def lot(factory):
    return await factory.published_lot()


async def _request(pool, clock, lot, rules=None, **kw):
    async with pool.acquire() as c, c.transaction():
        return await services.request_draw(c, clock, lot["agency_user"], draw_request(lot["lot_id"], clock, **kw),
                                           rules=rules or PoolRules())


async def _draw(pool, clock, lot, agency_value="agency-random-value-0001", rules=None, **kw):
    async with pool.acquire() as c, c.transaction():
        view = await services.request_draw(c, clock, lot["agency_user"], draw_request(lot["lot_id"], clock, **kw),
                                           rules=rules or PoolRules())
        return await services.contribute(c, clock, lot["agency_user"], view.id, agency_value,
                                         rules=rules or PoolRules())


async def _record(pool, draw_id):
    async with pool.acquire() as c:
        return await services.draw_record(c, draw_id)


@pytest.mark.parametrize("kw,fragment", [
    ({"quotas": (("A0103", 4),)}, "odd"),
    ({"quotas": (("A0103", 3),)}, "5 or more"),
    ({"quotas": (("A0103", 3),), "reps": 2}, "2/3"),
    ({"quotas": (("A0103", 5),), "size": 7}, "add up"),
    ({"quotas": (("A0103", 3), ("A0103", 2))}, "two quotas"),
    ({"quotas": (("A0103", 5),), "alternates": 11}, "alternates"),
])
def test_validate_refuses_a_committee_against_article_37(clock, kw, fragment):
    # 招标投标法 第三十七条: 五人以上单数, 技术、经济等方面的专家不得少于成员总数的三分之二
    with pytest.raises(DrawRequestInvalid) as exc:
        services.validate_request(draw_request(uuid4(), clock, **kw), regime="bidding_law",
                                  estimated_price_fen=100_000_00, specialties=classification())
    assert fragment in exc.value.message


def test_validate_admits_a_lawful_committee(clock):
    quotas = services.validate_request(draw_request(uuid4(), clock, quotas=(("A0103", 4), ("A0901", 2)), reps=1),
                                       regime="bidding_law", estimated_price_fen=100_000_00,
                                       specialties=classification())
    assert [q.specialty for q in quotas] == ["A0103", "A0901"]


def test_validate_refuses_gp_large_budget_below_seven(clock):
    # 政府采购货物和服务招标投标管理办法 第四十七条: 1000万元以上 → 7人以上单数
    request = draw_request(uuid4(), clock)
    with pytest.raises(DrawRequestInvalid) as exc:
        services.validate_request(request, regime="gov_procurement", estimated_price_fen=10_000_000_00,
                                  specialties=classification())
    assert "7 or more" in exc.value.message
    services.validate_request(request, regime="gov_procurement", estimated_price_fen=9_999_999_99,
                              specialties=classification())
    services.validate_request(request, regime="bidding_law", estimated_price_fen=10_000_000_00,
                              specialties=classification())


async def test_request_refuses_an_even_committee_through_the_service(lot, pool, clock):
    with pytest.raises(DrawRequestInvalid):
        await _request(pool, clock, lot, quotas=(("A0103", 4),))


async def test_request_refuses_an_evaluation_before_the_deadline_or_in_the_past(lot, experts, pool, clock):
    await experts.pool_of(5)
    with pytest.raises(DrawRequestInvalid) as exc:
        await _request(pool, clock, lot, alternates=0, evaluation_at=lot["deadline"] - timedelta(hours=1))
    assert "bid deadline" in exc.value.message
    with pytest.raises(DrawRequestInvalid):
        await _request(pool, clock, lot, alternates=0, evaluation_at=clock.now() - timedelta(minutes=1))
    view = await _request(pool, clock, lot, alternates=0, evaluation_at=lot["deadline"])
    assert view.status == "committed"


async def test_request_refuses_unknown_specialty(lot, pool, clock):
    with pytest.raises(SpecialtyUnknown):
        await _request(pool, clock, lot, quotas=(("Q0101", 5),))


async def test_request_admits_tenderer_representatives_within_a_third(lot, experts, pool, clock):
    await experts.pool_of(4)
    view = await _request(pool, clock, lot, quotas=(("A0103", 4),), reps=1, alternates=0)
    assert view.size == 5 and view.tenderer_representatives == 1


async def test_request_refuses_another_agency(lot, factory, experts, pool, clock):
    other_org = await factory.org("agency")
    other = await factory.user(Role.AGENCY, org_id=other_org.id)
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(DrawForbidden):
            await services.request_draw(c, clock, other, draw_request(lot["lot_id"], clock))


async def test_request_refuses_a_pool_that_cannot_fill_a_quota(lot, experts, pool, clock):
    await experts.pool_of(5, specialties=["A0103"])
    await experts.pool_of(1, specialties=["A0901"])
    with pytest.raises(DrawPoolShort) as exc:
        await _request(pool, clock, lot, quotas=(("A0103", 3), ("A0901", 2)), alternates=1)
    assert exc.value.extra["shortages"] == [{"specialty": "A0901", "needed": 3, "eligible": 1, "short": 2}]
    assert "A0901" in exc.value.message and "short by 2" in exc.value.message


async def test_request_refuses_a_second_draw_for_the_lot(lot, experts, pool, clock):
    await experts.pool_of(6)
    await _request(pool, clock, lot)
    with pytest.raises(DrawAlreadyExists):
        await _request(pool, clock, lot)


async def test_category_quota_matches_its_specialties(lot, experts, pool, clock):
    await experts.pool_of(3, specialties=["A0101"])
    await experts.pool_of(3, specialties=["A0102"])
    view = await _request(pool, clock, lot, quotas=(("A01", 5),))
    assert view.quotas[0].eligible == 6


# ------------------------------------------------------------------------------------------------ avoidance


async def _exclusions(pool, clock, lot, n_pool=6, **kw):
    view = await _request(pool, clock, lot, alternates=0, **kw)
    record = await _record(pool, view.id)
    return view, {e["expert_id"]: e["reasons"] for e in record["exclusions"]}


async def test_employee_of_the_tenderer_is_excluded(lot, experts, pool, clock):
    await experts.pool_of(5)
    _, now_emp = await experts.approved(employer_code=lot["tenderer_org"].credit_code)
    _, former = await experts.approved(former=[(lot["tenderer_org"].credit_code, date(2023, 6, 1))])
    _, long_ago = await experts.approved(former=[(lot["tenderer_org"].credit_code, date(2022, 6, 1))])
    view, excluded = await _exclusions(pool, clock, lot)
    assert excluded[str(now_emp.id)] == ["employee_tenderer"]
    assert excluded[str(former.id)] == ["employee_tenderer"]       # within 3 years of the evaluation date
    assert str(long_ago.id) not in excluded                         # left more than 3 years before
    assert view.exclusions == {"employee_tenderer": 2}


async def test_employee_of_the_agency_is_excluded(lot, experts, pool, clock):
    await experts.pool_of(5)
    _, staff = await experts.approved(employer_code=lot["agency_org"].credit_code)
    _, excluded = await _exclusions(pool, clock, lot)
    assert excluded == {str(staff.id): ["employee_tenderer"]}


async def test_employee_of_a_document_holder_is_excluded(lot, factory, experts, pool, clock):
    bidder, _, _ = await factory.downloader(lot["lot_id"])
    bystander = await factory.org("bidder")
    await experts.pool_of(5)
    _, emp = await experts.approved(employer_code=bidder.credit_code)
    _, former = await experts.approved(former=[(bidder.credit_code, date(2025, 12, 31))])
    _, other = await experts.approved(employer_code=bystander.credit_code)
    _, excluded = await _exclusions(pool, clock, lot)
    assert excluded == {str(emp.id): ["employee_bidder"], str(former.id): ["employee_bidder"]}
    assert str(other.id) not in excluded


async def test_unavailable_on_the_evaluation_date_is_excluded(lot, experts, pool, clock):
    await experts.pool_of(5)
    busy_user, busy = await experts.approved()
    free_user, free = await experts.approved()
    evaluation_at = clock.now() + timedelta(days=30)
    day = services.to_shanghai(evaluation_at).date()
    async with pool.acquire() as c, c.transaction():
        await services.set_unavailability(c, clock, busy_user, Unavailability(add=[day]))
        await services.set_unavailability(c, clock, free_user, Unavailability(add=[day + timedelta(days=1)]))
    _, excluded = await _exclusions(pool, clock, lot, evaluation_at=evaluation_at)
    assert excluded == {str(busy.id): ["unavailable"]}


async def test_suspended_expert_is_excluded_and_reinstated_one_is_not(lot, experts, pool, clock):
    await experts.pool_of(5)
    _, suspended = await experts.approved()
    _, reinstated = await experts.approved()
    admin = await experts.admin()
    async with pool.acquire() as c, c.transaction():
        await services.change_expert_status(c, clock, suspended.id, "suspend", reason="投诉调查中", actor=admin)
        await services.change_expert_status(c, clock, reinstated.id, "suspend", reason="投诉调查中", actor=admin)
        await services.change_expert_status(c, clock, reinstated.id, "reinstate", reason="调查结束", actor=admin)
    _, excluded = await _exclusions(pool, clock, lot)
    assert excluded == {str(suspended.id): ["suspended"]}


async def test_declared_conflict_with_a_party_is_excluded(lot, factory, experts, pool, clock):
    bidder, _, _ = await factory.downloader(lot["lot_id"])
    unrelated = await factory.org("bidder")
    await experts.pool_of(5)
    user_a, conflicted = await experts.approved()
    user_b, fine = await experts.approved()
    async with pool.acquire() as c, c.transaction():
        await services.declare_conflict(c, clock, user_a, ConflictDeclare(credit_code=bidder.credit_code,
                                                                          reason="配偶任该公司法定代表人"))
        await services.declare_conflict(c, clock, user_b, ConflictDeclare(credit_code=unrelated.credit_code,
                                                                          reason="曾合作"))
    _, excluded = await _exclusions(pool, clock, lot)
    assert excluded == {str(conflicted.id): ["conflict_declared"]}


async def test_aged_out_expert_is_excluded_at_the_draw(lot, experts, pool, clock):
    await experts.pool_of(5)
    _, old = await experts.approved(born=date(1956, 3, 20), since=date(1980, 1, 1))  # 69 today, 70 at evaluation
    _, excluded = await _exclusions(pool, clock, lot)
    assert excluded == {str(old.id): ["age_limit"]}


async def test_expert_drawn_too_often_for_the_tenderer_is_excluded(factory, experts, pool, clock):
    rules = PoolRules(tenderer_repeat_limit=2)
    pool_experts = await experts.pool_of(5)
    lots = [await factory.published_lot() for _ in range(3)]
    tenderer = lots[0]["tenderer_org"].id
    async with pool.acquire() as c:
        for other in lots[1:]:
            await c.execute("UPDATE tenders SET tenderer_org_id = $1 WHERE id = $2", tenderer, other["tender_id"])

    async def serve(lot):
        view = await _draw(pool, clock, lot, alternates=0, rules=rules)
        async with pool.acquire() as c, c.transaction():
            for m in await repo.list_members(c, view.id):
                user = next(u for u, e in pool_experts if e.id == m["expert_id"])
                await services.confirm_invitation(c, clock, user, m["id"])
        return view

    await serve(lots[0])
    # one earlier committee for this tenderer: still eligible under a limit of 2
    view = await serve(lots[1])
    assert view.exclusions == {}
    # two: everyone is excluded now — and the refusal says so
    with pytest.raises(DrawPoolShort):
        await _request(pool, clock, lots[2], alternates=0, rules=rules)
    # committees more than 12 months old do not count
    async with pool.acquire() as c:
        await c.execute("UPDATE expert_draws SET drawn_at = drawn_at - interval '400 days' WHERE lot_id = $1",
                        lots[0]["lot_id"])
    view = await _request(pool, clock, lots[2], alternates=0, rules=rules)
    assert view.quotas[0].eligible == 5


# ----------------------------------------------------------------------------------------- draw/v1 protocol


async def test_commit_is_logged_before_the_agency_contributes(lot, experts, pool, clock):
    await experts.pool_of(6)
    view = await _request(pool, clock, lot)
    assert view.status == "committed" and view.server_secret is None and view.members == []
    async with pool.acquire() as c:
        entry = await repo.log_entry(c, await c.fetchval("SELECT commit_seq FROM expert_draws WHERE id = $1",
                                                         view.id))
        r_s = await c.fetchval("SELECT server_secret FROM expert_draws WHERE id = $1", view.id)
    body = entry["entry"]["body"]
    assert body["server_commit"] == protocol.commitment(r_s).hex() == view.server_commit
    assert body["eligible_hash"] == view.eligible_hash
    assert r_s.hex() not in json.dumps(entry)


async def test_contribution_reveals_and_selects_with_the_committed_checkpoint_root(lot, experts, pool, clock, settings):
    from trading.records.checkpoints import sign_checkpoint

    await experts.pool_of(7)
    async with pool.acquire() as c, c.transaction():
        cp = await sign_checkpoint(c, clock, settings)
    view = await _request(pool, clock, lot, alternates=2)
    # a checkpoint signed after the commitment does not change the seed: the server has no choice at the reveal
    async with pool.acquire() as c, c.transaction():
        later = await sign_checkpoint(c, clock, settings)
    assert later.root != cp.root
    async with pool.acquire() as c, c.transaction():
        drawn = await services.contribute(c, clock, lot["agency_user"], view.id, "agency-typed-value")
        with pytest.raises(DrawStateInvalid):
            await services.contribute(c, clock, lot["agency_user"], view.id, "a-second-value")
    assert drawn.status == "drawn"
    assert drawn.checkpoint_root == cp.root.hex() and drawn.checkpoint_size == cp.tree_size
    r_s = bytes.fromhex(drawn.server_secret)
    assert drawn.seed == protocol.seed(r_s, "agency-typed-value", cp.root).hex()
    assert drawn.quotas[0].invited == 5 and drawn.quotas[0].alternates_left == 2


async def test_contribution_refuses_a_weak_agency_value(lot, experts, pool, clock):
    await experts.pool_of(6)
    view = await _request(pool, clock, lot)
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(DrawRequestInvalid):
            await services.contribute(c, clock, lot["agency_user"], view.id, "short")


async def test_recorded_draw_replays(lot, experts, pool, clock, tmp_path):
    from trading.cli import main

    await experts.pool_of(9, specialties=["A0103", "A0901"])
    await experts.pool_of(3, specialties=["A0901"])
    drawn = await _draw(pool, clock, lot, quotas=(("A0103", 3), ("A0901", 2)), alternates=2)
    record = await _record(pool, drawn.id)
    result = protocol.replay(record)
    assert result.ok, [c for c in result.checks if not c.ok]
    assert record["log"]["reveal"]["entry"]["body"]["seed"] == drawn.seed
    path = tmp_path / "DRAW.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert main(["experts", "replay", str(path)]) == 0
    # a record whose committee was swapped does not replay
    record["selection"][0]["members"][0], record["selection"][1]["members"][0] = (
        record["selection"][1]["members"][0], record["selection"][0]["members"][0])
    path.write_text(json.dumps(record), encoding="utf-8")
    assert main(["experts", "replay", str(path)]) == 1


# --------------------------------------------------------------------------------- invitations and re-draws


def _user_of(pool_experts, expert_id):
    return next(u for u, e in pool_experts if e.id == expert_id)


async def _members(pool, draw_id):
    async with pool.acquire() as c:
        return await repo.list_members(c, draw_id)


async def test_confirmations_complete_the_committee(lot, experts, pool, clock):
    team = await experts.pool_of(6)
    drawn = await _draw(pool, clock, lot)
    invited = [m for m in await _members(pool, drawn.id) if m["status"] == "invited"]
    assert len(invited) == 5
    async with pool.acquire() as c, c.transaction():
        for m in invited:
            await services.confirm_invitation(c, clock, _user_of(team, m["expert_id"]), m["id"])
        with pytest.raises(InvitationClosed):
            await services.confirm_invitation(c, clock, _user_of(team, invited[0]["expert_id"]), invited[0]["id"])
        committee = await services.committee_for_lot(c, lot["lot_id"])
        status = await c.fetchval("SELECT status FROM expert_draws WHERE id = $1", drawn.id)
    assert status == "complete"
    assert sorted(m.expert_id for m in committee) == sorted(m["expert_id"] for m in invited)
    assert all(m.confirmed and m.role == "technical" and m.specialty == "A0103" for m in committee)


async def test_decline_brings_in_the_alternate_then_the_next_in_order(lot, experts, pool, clock):
    team = await experts.pool_of(8)
    drawn = await _draw(pool, clock, lot, alternates=1)
    record = await _record(pool, drawn.id)
    ranked = protocol.select(bytes.fromhex(record["seed"]), [protocol.Quota(specialty="A0103", count=5)],
                             [record["quotas"][0]["eligible"]], 1)[0].ranked
    members = {str(m["expert_id"]): m for m in await _members(pool, drawn.id)}
    first_member = members[ranked[0]]
    async with pool.acquire() as c, c.transaction():
        await services.decline_invitation(c, clock, _user_of(team, first_member["expert_id"]), first_member["id"],
                                          reason="出差")
    after = {str(m["expert_id"]): m for m in await _members(pool, drawn.id)}
    assert after[ranked[5]]["status"] == "invited" and after[ranked[5]]["step"] == 1   # the alternate
    second = after[ranked[1]]
    async with pool.acquire() as c, c.transaction():
        await services.decline_invitation(c, clock, _user_of(team, second["expert_id"]), second["id"],
                                          reason="身体原因")
    after = {str(m["expert_id"]): m for m in await _members(pool, drawn.id)}
    assert after[ranked[6]]["status"] == "invited" and after[ranked[6]]["step"] == 2   # next in order
    assert after[ranked[6]]["initial_role"] is None
    record = await _record(pool, drawn.id)
    assert [r["expert"] for r in record["redraws"]] == [ranked[5], ranked[6]]
    assert protocol.replay(record).ok


async def test_decline_with_conflict_is_remembered_and_skipped(lot, experts, pool, clock):
    team = await experts.pool_of(7)
    drawn = await _draw(pool, clock, lot, alternates=1)
    member = next(m for m in await _members(pool, drawn.id) if m["status"] == "invited")
    async with pool.acquire() as c, c.transaction():
        await services.decline_invitation(c, clock, _user_of(team, member["expert_id"]), member["id"],
                                          reason="与投标人存在利害关系", conflict=True)
        n = await c.fetchval("SELECT count(*) FROM expert_conflicts WHERE lot_id = $1 AND expert_id = $2",
                             lot["lot_id"], member["expert_id"])
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE tag LIKE 'expert:invitation:%'"
                                                " ORDER BY seq")]
    assert n == 1
    assert tags[-2:] == ["expert:invitation:decline", "expert:invitation:send"]


async def test_alternate_no_longer_eligible_is_skipped_with_reasons(lot, experts, pool, clock):
    team = await experts.pool_of(7)
    drawn = await _draw(pool, clock, lot, alternates=2)
    members = await _members(pool, drawn.id)
    alternates = sorted((m for m in members if m["status"] == "alternate"), key=lambda m: m["position"])
    admin = await experts.admin()
    async with pool.acquire() as c, c.transaction():
        await services.change_expert_status(c, clock, alternates[0]["expert_id"], "suspend", reason="违规",
                                            actor=admin)
    member = next(m for m in members if m["status"] == "invited")
    async with pool.acquire() as c, c.transaction():
        await services.decline_invitation(c, clock, _user_of(team, member["expert_id"]), member["id"], reason="忙")
    after = {m["expert_id"]: m for m in await _members(pool, drawn.id)}
    assert after[alternates[0]["expert_id"]]["status"] == "skipped"
    assert after[alternates[0]["expert_id"]]["reason"] == "suspended"
    assert after[alternates[1]["expert_id"]]["status"] == "invited"
    assert protocol.replay(await _record(pool, drawn.id)).ok


async def test_timeout_by_the_clock_brings_in_the_alternate(lot, experts, pool, clock):
    team = await experts.pool_of(6)
    drawn = await _draw(pool, clock, lot, alternates=1)
    members = await _members(pool, drawn.id)
    invited = [m for m in members if m["status"] == "invited"]
    async with pool.acquire() as c, c.transaction():
        for m in invited[1:]:
            await services.confirm_invitation(c, clock, _user_of(team, m["expert_id"]), m["id"])
    clock.advance(minutes=29)
    async with pool.acquire() as c, c.transaction():
        assert (await services.sweep(c, clock, sender=CollectingSender()))["timed_out"] == 0
    clock.advance(minutes=2)
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(InvitationExpired):
            await services.confirm_invitation(c, clock, _user_of(team, invited[0]["expert_id"]), invited[0]["id"])
    async with pool.acquire() as c, c.transaction():
        result = await services.sweep(c, clock, sender=CollectingSender())
    assert result["timed_out"] == 1 and result["brought_in"] == 1
    after = {m["expert_id"]: m for m in await _members(pool, drawn.id)}
    assert after[invited[0]["expert_id"]]["status"] == "timed_out"
    alternate = next(m for m in members if m["status"] == "alternate")
    assert after[alternate["expert_id"]]["status"] == "invited"
    async with pool.acquire() as c, c.transaction():
        await services.confirm_invitation(c, clock, _user_of(team, alternate["expert_id"]), alternate["id"])
        assert await c.fetchval("SELECT status FROM expert_draws WHERE id = $1", drawn.id) == "complete"


async def test_exhausted_pool_is_reported(lot, experts, pool, clock):
    team = await experts.pool_of(5)
    drawn = await _draw(pool, clock, lot, alternates=0)
    member = (await _members(pool, drawn.id))[0]
    async with pool.acquire() as c, c.transaction():
        await services.decline_invitation(c, clock, _user_of(team, member["expert_id"]), member["id"], reason="忙")
        view = await services.draw_view(c, drawn.id, lot["agency_user"])
        tag = await c.fetchval("SELECT tag FROM log_entries ORDER BY seq DESC LIMIT 1")
    assert view.status == "short"
    assert tag == "expert:draw:exhaust"


async def test_replace_member_takes_the_next_alternate(lot, experts, pool, clock):
    team = await experts.pool_of(6)
    drawn = await _draw(pool, clock, lot, alternates=1)
    members = await _members(pool, drawn.id)
    async with pool.acquire() as c, c.transaction():
        for m in members:
            if m["status"] == "invited":
                await services.confirm_invitation(c, clock, _user_of(team, m["expert_id"]), m["id"])
    leaving = next(m for m in members if m["status"] == "invited")
    alternate = next(m for m in members if m["status"] == "alternate")
    async with pool.acquire() as c, c.transaction():
        new = await services.replace_member(c, clock, lot["lot_id"], leaving["expert_id"],
                                            reason="评标开始时申报回避", actor=lot["agency_user"])
        assert new is not None and new.expert_id == alternate["expert_id"] and not new.confirmed
        committee = await services.committee_for_lot(c, lot["lot_id"])
        assert len(committee) == 4 and leaving["expert_id"] not in {m.expert_id for m in committee}
        await services.confirm_invitation(c, clock, _user_of(team, alternate["expert_id"]), alternate["id"])
        assert len(await services.committee_for_lot(c, lot["lot_id"])) == 5
        # no one left: the next replacement reports the exhausted pool
        assert await services.replace_member(c, clock, lot["lot_id"], alternate["expert_id"], reason="回避",
                                             actor=lot["agency_user"]) is None
    assert protocol.replay(await _record(pool, drawn.id)).ok


async def test_outbox_is_delivered_by_the_sender_and_failures_are_retried(lot, experts, pool, clock):
    await experts.pool_of(5)
    await _draw(pool, clock, lot, alternates=0)
    failing = CollectingSender(fail=True)
    async with pool.acquire() as c, c.transaction():
        assert (await services.sweep(c, clock, sender=failing))["failed"] == 5
        errors = await c.fetchval("SELECT count(*) FROM expert_notifications WHERE last_error IS NOT NULL")
    assert errors == 5
    sender = CollectingSender()
    async with pool.acquire() as c, c.transaction():
        assert (await services.sweep(c, clock, sender=sender))["delivered"] == 5
        assert (await services.sweep(c, clock, sender=sender))["delivered"] == 0
    assert {n.kind for n in sender.sent} == {"invitation"}


async def test_cancelled_lot_invites_no_one_more(lot, experts, pool, clock):
    team = await experts.pool_of(6)
    drawn = await _draw(pool, clock, lot, alternates=1)
    invited = [m for m in await _members(pool, drawn.id) if m["status"] == "invited"]
    async with pool.acquire() as c:
        await c.execute("UPDATE lots SET status = 'cancelled' WHERE id = $1", lot["lot_id"])
    async with pool.acquire() as c, c.transaction():
        with pytest.raises(InvitationClosed):
            await services.confirm_invitation(c, clock, _user_of(team, invited[0]["expert_id"]), invited[0]["id"])
        await services.decline_invitation(c, clock, _user_of(team, invited[1]["expert_id"]), invited[1]["id"],
                                          reason="项目已取消")
    statuses = sorted(m["status"] for m in await _members(pool, drawn.id))
    assert statuses.count("invited") == 4 and statuses.count("alternate") == 1


async def test_failed_lot_withdraws_invitations_and_tells_the_experts(lot, experts, pool, clock):
    from trading.events import emit, load_subscriptions

    load_subscriptions()
    team = await experts.pool_of(6)
    drawn = await _draw(pool, clock, lot, alternates=1)
    invited = [m for m in await _members(pool, drawn.id) if m["status"] == "invited"]
    async with pool.acquire() as c, c.transaction():
        await services.confirm_invitation(c, clock, _user_of(team, invited[0]["expert_id"]), invited[0]["id"])
    async with pool.acquire() as c, c.transaction():
        await emit(c, clock, "lot.failed", {"lot_id": lot["lot_id"], "tender_id": lot["tender_id"],
                                            "reason": "投标人不足三家"})
    members = await _members(pool, drawn.id)
    assert {m["status"] for m in members} == {"withdrawn"}
    sender = CollectingSender()
    async with pool.acquire() as c, c.transaction():
        await services.sweep(c, clock, sender=sender)
        view = await services.draw_view(c, drawn.id, lot["agency_user"])
        assert await services.committee_for_lot(c, lot["lot_id"]) == []
        # a second report of the same lot changes nothing
        assert await services.withdraw_draw(c, clock, lot["lot_id"], reason="again") == 0
    assert view.status == "cancelled"
    assert sorted(n.kind for n in sender.sent).count("withdrawal") == 5


async def test_log_entries_of_a_draw_never_name_the_committee(lot, experts, pool, clock):
    team = await experts.pool_of(7)
    drawn = await _draw(pool, clock, lot, alternates=1)
    members = [m for m in await _members(pool, drawn.id) if m["status"] == "invited"]
    async with pool.acquire() as c, c.transaction():
        await services.confirm_invitation(c, clock, _user_of(team, members[0]["expert_id"]), members[0]["id"])
        await services.decline_invitation(c, clock, _user_of(team, members[1]["expert_id"]), members[1]["id"],
                                          reason="出差", conflict=True)
        await services.sweep(c, clock, sender=CollectingSender())
        entries = [bytes(r["entry"]).decode() for r in await c.fetch(
            "SELECT entry FROM log_entries WHERE lot_id = $1 AND tag LIKE 'expert:%'", lot["lot_id"])]
    secrets_ = {str(e.id) for _, e in team} | {str(u.id) for u, _ in team} | {e.full_name for _, e in team}
    assert len(entries) >= 8
    assert not [s for s in secrets_ if any(s in entry for entry in entries)]
