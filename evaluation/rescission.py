"""The winner loses the award after the notice, before the contract; the next candidate or a new tender.

招标投标法实施条例 第五十五条: when the first candidate gives up the award, cannot perform for force majeure, does not
provide the performance bond the documents require, or is found to have broken the law in a way that affects the
result, the tenderer may name the other candidates in the committee's order, one after the other, or tender again.
政府采购法实施条例 第四十九条: a winner that refuses to sign → the next candidate in the report's order, or procurement
again. 政府采购质疑和投诉办法 第十六条: a 质疑 to the result upheld → another winner among the qualified candidates while
the qualified suppliers still reach the statutory number, else procurement again.

The agency records the decision (`POST /api/lots/{lot}/award/rescind`): cause, reason, outcome. In one
transaction: the rescission row, the round's notices superseded, the log entry, "award.rescinded" (the deposits
package keeps or returns the earlier winner's deposit), then either a new round of notices to the next candidate
(a government-procurement result is announced again, with a new 质疑 period) or the lot fails (流标, "lot.failed":
every deposit not kept is returned).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from evaluation import repository as repo
from evaluation import services, sources
from evaluation.errors import (
    AgencyRequired,
    AwardChanged,
    ChallengeNotUpheld,
    ContractAlreadyRecorded,
    NoCandidateLeft,
    RescissionCauseInvalid,
    RetenderRequired,
)
from evaluation.schemas import RescindIn
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.dates import local_date
from trading.events import emit
from trading.records import Tag, append_entry

# The causes each regime's article names, with the words the notices use.
CAUSES: dict[str, dict[str, str]] = {
    # 招标投标法实施条例 第五十五条
    "bidding_law": {
        "gave_up": "中标人放弃中标（招标投标法实施条例 第五十五条）",
        "force_majeure": "因不可抗力不能履行合同（招标投标法实施条例 第五十五条）",
        "no_performance_bond": "未按照招标文件要求提交履约保证金（招标投标法实施条例 第五十五条）",
        "unlawful": "被查实存在影响中标结果的违法行为（招标投标法实施条例 第五十五条）",
    },
    # 政府采购法实施条例 第四十九条; 政府采购质疑和投诉办法 第十六条
    "gov_procurement": {
        "gave_up": "中标供应商拒绝签订政府采购合同（政府采购法实施条例 第四十九条）",
        "challenge_upheld": "质疑成立，影响中标结果（政府采购质疑和投诉办法 第十六条）",
    },
}

# 政府采购货物和服务招标投标管理办法 第四十四条 (RULES 3.8): fewer than 3 qualified bidders → no evaluation; the
# statutory number 第十六条 of the 质疑 rules asks for before another winner is named.
GP_QUALIFIED_MINIMUM = 3


async def rescind_award(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: RescindIn, *, actor: User,
                        settings, addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    from trading.tenders.lifecycle import transition_lot

    lot, notice = await services._awarded_lot(conn, lot_id, actor, "an award is rescinded only after its notice "
                                                                   "(招标投标法实施条例 第五十五条)")
    if data.bid_id != notice["bid_id"]:
        raise AwardChanged(f"the award in force (round {notice['award_round']}) is to another bid than the one named: "
                           "reload and decide again")
    if await repo.find_contract(conn, lot_id) is not None:
        raise ContractAlreadyRecorded("the contract is recorded: the award stands; a dispute over the contract is "
                                      "for the parties, not the tender")
    services.require_not_suspended(lot, "nothing is decided until the order is lifted", clock.now())
    causes = CAUSES[lot.regime]
    if data.cause not in causes:
        raise RescissionCauseInvalid(
            f"{data.cause!r} is not a cause for this {lot.regime} lot; the causes are: {', '.join(causes)}",
            field="cause")
    reason = services._text(data.reason, "reason", max_len=2000)
    now = clock.now()
    if data.cause == "challenge_upheld" and not await services.challenge_upheld_against(conn, lot_id, notice):
        raise ChallengeNotUpheld("no 质疑 to this award has been answered as upheld (政府采购质疑和投诉办法 第十六条)")

    earlier = await repo.list_rescissions(conn, lot_id)
    out = {str(r.bid_id) for r in earlier} | {str(notice["bid_id"])}
    nxt = None
    if data.outcome == "next_candidate":
        candidates = await _candidates(conn, lot)
        # "依次": the candidate ranked next after the one losing the award; one passed over before stays passed.
        nxt = next((c for c in candidates if c["rank"] > notice["rank"] and c["bid_id"] not in out), None)
        if nxt is None:
            raise NoCandidateLeft("no candidate ranks after the winner losing the award: tender again "
                                  "(outcome 'retender', 招标投标法实施条例 第五十五条)")
        if data.cause == "challenge_upheld":
            qualified = [r for r in await repo.list_results(conn, lot_id) if r["valid"] and str(r["bid_id"]) not in out]
            if len(qualified) < GP_QUALIFIED_MINIMUM:
                raise RetenderRequired(
                    f"{len(qualified)} qualified suppliers remain, fewer than {GP_QUALIFIED_MINIMUM}: the procurement is "
                    "carried out again (政府采购质疑和投诉办法 第十六条)")

    award_round = await repo.supersede_notices(conn, lot_id, now)
    await repo.insert_rescission(
        conn, lot_id, award_round=award_round, bid_id=notice["bid_id"], org_id=notice["org_id"], cause=data.cause,
        reason=reason, outcome=data.outcome, next_bid_id=UUID(nxt["bid_id"]) if nxt else None,
        next_rank=nxt["rank"] if nxt else None, by=actor.id, now=now)
    await append_entry(conn, clock, Tag.AWARD_NOTICE_RESCIND, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "round": award_round, "bid": str(notice["bid_id"]),
                             "winner_org": str(notice["org_id"]), "cause": data.cause,
                             "reason_sha256": services._sha256(reason), "outcome": data.outcome,
                             **({"next_bid": nxt["bid_id"], "next_rank": nxt["rank"]} if nxt else {})})
    await emit(conn, clock, "award.rescinded", {
        "lot_id": lot_id, "tender_id": lot.tender_id, "regime": lot.regime, "org_id": notice["org_id"],
        "bid_id": notice["bid_id"], "cause": data.cause, "reason": reason, "actor": actor.id, "at": now})
    result: dict[str, Any] = {"lot_id": str(lot_id), "rescinded_round": award_round, "cause": data.cause,
                              "outcome": data.outcome, "rescinded_bid_id": str(notice["bid_id"])}
    if nxt is None:
        await transition_lot(conn, clock, lot_id, "failed", actor=str(actor.id), addr=addr, retender=True,
                             reason=f"award rescinded ({data.cause}); tendered again: {reason}"[:2000])
        return result | {"lot_status": "failed"}
    announcement: dict[str, Any] = {}
    if lot.regime == "gov_procurement":
        # The new winner is a new result: determined, announced and open to 质疑 again (87号令 第六十九条).
        det = await repo.redetermine_winner(
            conn, lot_id, bid_id=UUID(nxt["bid_id"]), rank=nxt["rank"], reason=reason, by=actor.id, now=now,
            award_due=services._end_of_working_days(local_date(now), services.GP_AWARD_DAYS))
        announcement = await services._announce_result(conn, det, now)
    lost = {"bid_id": str(notice["bid_id"]), "cause_text": CAUSES[lot.regime][data.cause], "reason": reason}
    issued = await services.issue_notices(
        conn, clock, lot, nxt, f"{CAUSES[lot.regime][data.cause]}: {reason}"[:2000], actor=actor, settings=settings,
        now=now, addr=addr, src=src, award_round=award_round + 1, rescinded=lost, log_extra=announcement)
    return result | {"lot_status": "awarded", "winner_bid_id": nxt["bid_id"], "winner_rank": nxt["rank"],
                     "award_round": award_round + 1, "notices": issued["notices"], **announcement}


async def _candidates(conn: asyncpg.Connection, lot) -> list[dict[str, Any]]:
    """The committee's candidates in rank order: the publicity's (Bidding Law) or the report's as sent to the
    purchaser (government procurement)."""
    if lot.regime == "gov_procurement":
        det = await repo.find_determination(conn, lot.id)
        return list(det.candidates) if det else []
    pub = await repo.find_publicity(conn, lot.id)
    return list(pub.candidates) if pub else []


async def list_rescissions(conn: asyncpg.Connection, lot_id: UUID, *, user: User) -> list[Any]:
    """The lot's rescissions, for those who read its award: the agency, the purchaser, regulators."""
    lot = await services._lot(conn, lot_id)
    if not (user.has(Role.REGULATOR, Role.ADMIN) or user.org_id in (lot.agency_org_id, lot.tenderer_org_id)):
        raise AgencyRequired("the lot's rescissions are read by its agency, its tenderer and regulators")
    return await repo.list_rescissions(conn, lot_id)
