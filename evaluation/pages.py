"""Pages (zh-CN/en): the expert's evaluation desk, the committee summary (chair), the agency's publicity and award
page, and the public candidates page. Buttons call the JSON API with the page's cookie and reload."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request, get
from litestar.response import Template

from evaluation import repository as repo
from evaluation import rescission, scoring, services
from evaluation.errors import ScoresHidden
from evaluation.recordings.services import list_recordings
from evaluation.scoring import REASON_CODES
from trading.accounts.errors import RoleRequired
from trading.accounts.guards import PUBLIC, requires, signed_in
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.pages import page_context, register_labels

register_labels({
    "ev.desk.title": ("评标工作台", "Evaluation desk"),
    "ev.summary.title": ("评标汇总", "Evaluation summary"),
    "ev.award.title": ("中标候选人公示与定标", "Publicity and award"),
    "ev.candidates.title": ("中标候选人公示", "Candidates for award"),
    "ev.declaration": ("回避声明", "Declaration of no conflict of interest"),
    "ev.declaration.text": ("本人承诺与本标段各投标人不存在利害关系，将独立、客观、公正地评审。",
                            "I declare that I have no interest in any bidder of this lot and will evaluate "
                            "independently, objectively and fairly."),
    "ev.conflict": ("我与投标人存在利害关系，申请回避", "I have a conflict of interest and withdraw"),
    "ev.statement": ("说明", "Statement"),
    "ev.sign": ("签署", "Sign"),
    "ev.bidder": ("投标人", "Bidder"),
    "ev.price": ("投标报价", "Price"),
    "ev.duration": ("工期（天）", "Duration (days)"),
    "ev.attachments": ("附件", "Attachments"),
    "ev.criteria": ("资格/符合性审查", "Qualification review"),
    "ev.items": ("评分项", "Scored items"),
    "ev.pass": ("通过", "Pass"),
    "ev.fail": ("不通过", "Fail"),
    "ev.comment": ("评语", "Comment"),
    "ev.max": ("满分", "Max"),
    "ev.points": ("得分", "Points"),
    "ev.save": ("保存", "Save"),
    "ev.low_price": ("报价明显低于其他有效投标的平均价（87号令 第六十条：请要求书面说明）",
                     "Prices clearly below the others' mean (87号令 第六十条: ask for a written explanation)"),
    "ev.result.title": ("中标结果公告", "Award result"),
    "ev.result.winner": ("中标人", "Winner"),
    "ev.result.notice_at": ("中标通知书发出时间", "Notice of award issued"),
    "ev.result.committee": ("评标委员会成员", "Evaluation committee"),
    "ev.clar.title": ("评标委员会的澄清要求（招标投标法实施条例 第五十二条）", "Requests for clarification"),
    "ev.clar.none": ("没有澄清要求", "No request for clarification"),
    "ev.clar.question": ("问题", "Question"),
    "ev.clar.answer": ("书面答复（不得超出投标文件范围或改变实质性内容）",
                       "Written answer (within your bid; no change of substance)"),
    "ev.clar.send": ("提交答复", "Send the answer"),
    "ev.clar.answered": ("已答复", "Answered"),
    "ev.pc.title": ("报价修正（政府采购货物和服务招标投标管理办法 第五十九条）", "Price corrections"),
    "ev.pc.rule": ("修正规则", "Rule"),
    "ev.pc.opened": ("开标报价", "Price as opened"),
    "ev.pc.corrected": ("修正后的报价", "Corrected price"),
    "ev.pc.note": ("修正后的报价经投标人确认后产生约束力；不确认的，投标无效。",
                   "The corrected price binds once you confirm it; if you do not, your bid is invalid."),
    "ev.pc.confirm": ("确认修正后的报价", "Confirm the corrected price"),
    "ev.pc.refuse": ("不确认（投标无效）", "Do not confirm (bid invalid)"),
    "ev.pc.confirmed": ("已确认", "Confirmed"),
    "ev.pc.refused": ("未确认，投标无效", "Not confirmed: bid invalid"),
    "ev.relations": ("投标人之间的关系（招标投标法实施条例 第三十四条、第三十七条）",
                     "Relations between bidders (条例 第三十四、三十七条)"),
    "ev.relations.invalid": ("相关投标均无效", "these bids are invalid"),
    "ev.relations.verify": ("请评标委员会核实", "for the committee to verify"),
    "ev.time": ("评标时间", "Evaluation time"),
    "ev.time.until": ("截止", "ends"),
    "ev.time.none": ("未设定", "not set"),
    "ev.time.over": ("评标时间已到", "The evaluation time is over"),
    "ev.time.requests": ("认为时间不够的专家", "Members who say the time is not enough"),
    "ev.time.due": ("已超过三分之一，招标人应当延长评标时间（条例 第四十八条）",
                    "More than a third: the agency must extend the time (条例 第四十八条)"),
    "ev.time.reason": ("理由", "Reason"),
    "ev.time.ask": ("评标时间不够", "The time is not enough"),
    "ev.submit": ("提交评分", "Submit scores"),
    "ev.submitted": ("已提交，评分已锁定", "Submitted; your scores are locked"),
    "ev.waiting": ("等待全体专家提交后显示汇总表", "The table is shown once every member has submitted"),
    "ev.rank": ("排名", "Rank"),
    "ev.total": ("总分", "Total"),
    "ev.price_score": ("价格分", "Price score"),
    "ev.technical": ("技术分（加权）", "Technical (weighted)"),
    "ev.valid": ("有效", "Valid"),
    "ev.invalid": ("否决", "Rejected"),
    "ev.flags": ("异常评分提示", "Outlier flags"),
    "ev.confirm_score": ("确认原分", "Confirm score"),
    "ev.revise": ("修改为", "Revise to"),
    "ev.reason": ("理由", "Reason"),
    "ev.draft_report": ("生成评标报告", "Draft the report"),
    "ev.agree": ("同意报告", "I agree"),
    "ev.dissent": ("提出不同意见", "Record a dissent"),
    "ev.report_pdf": ("评标报告 PDF", "Report PDF"),
    "ev.status": ("状态", "Status"),
    "ev.publish": ("发布中标候选人公示", "Publish the candidates"),
    "ev.contact": ("异议联系方式", "Objection contact"),
    "ev.days": ("公示天数", "Days"),
    "ev.objections": ("异议", "Objections"),
    "ev.answer": ("答复", "Answer"),
    "ev.upheld": ("异议成立", "Upheld"),
    "ev.issue_award": ("发出中标通知书", "Issue the award notice"),
    "ev.contract": ("合同", "Contract"),
    "ev.contract.signed_at": ("签订时间", "Signed at"),
    "ev.contract.price": ("合同价款（元）", "Contract price (yuan)"),
    "ev.contract.bond": ("履约保证金（元，≤ 合同价款10%）", "Performance bond (yuan, ≤ 10 %)"),
    "ev.contract.due": ("应于此前签订（招标投标法 第四十六条）", "Due by (招标投标法 第四十六条)"),
    "ev.contract.record": ("登记合同", "Record the contract"),
    "ev.contract.late": ("逾期签订", "signed late"),
    "ev.rescind": ("取消中标资格（中标人放弃、不能履约、质疑成立等）", "Rescind the award (the winner gave up, cannot perform, …)"),
    "ev.rescind.help": ("招标投标法实施条例 第五十五条；政府采购法实施条例 第四十九条；政府采购质疑和投诉办法 第十六条："
                        "按排序依次确定下一中标候选人，或者重新招标。",
                        "The next candidate in rank order becomes the winner, or the lot is tendered again "
                        "(条例 第五十五条; 采购条例 第四十九条; 质疑和投诉办法 第十六条)."),
    "ev.rescind.cause": ("原因", "Cause"),
    "ev.rescind.reason": ("情况说明", "Reason"),
    "ev.rescind.outcome": ("处理", "Then"),
    "ev.rescind.next": ("依次确定下一中标候选人", "the next candidate in rank order"),
    "ev.rescind.retender": ("重新招标（本标段流标）", "tender again (the lot fails)"),
    "ev.rescind.submit": ("取消中标资格", "Rescind"),
    "ev.rescind.confirm": ("确认取消当前中标人的中标资格？", "Rescind the current winner's award?"),
    "ev.rescind.round": ("通知轮次", "Round"),
    "ev.rescind.at": ("决定时间", "Decided"),
    "ev.rescissions": ("中标资格取消记录", "Rescinded awards"),
    "ev.report.title": ("招标投标情况书面报告（招标投标法 第四十七条）",
                        "Report to the supervisor (招标投标法 第四十七条)"),
    "ev.report.due": ("应于此前提交", "Due by"),
    "ev.report.submit": ("生成并提交书面报告", "Write and submit the report"),
    "ev.report.submitted": ("已提交", "Submitted"),
    "ev.review": ("异议成立：组织原评标委员会复核（招标投标法实施条例 第五十四条）",
                  "Objection upheld: the committee evaluates again (条例 第五十四条)"),
    "ev.review.reason": ("复核理由", "Reason"),
    "ev.review.start": ("开始复核", "Start the review"),
    "ev.period": ("公示期", "Publicity period"),
    "ev.none": ("暂无", "None"),
    "ev.remaining": ("尚未完成的评审项", "Items still to score"),
    "ev.chair": ("评标委员会负责人", "Chair"),
    "ev.quality": ("质量", "Quality"),
    "ev.project_manager": ("项目负责人", "Project manager"),
    "ev.form": ("投标函内容", "Bid form"),
    "ev.vote": ("推选", "Vote"),
    "ev.gp.title": ("政府采购：采购人确定中标人（财政部87号令 第六十八、六十九条）",
                    "Government procurement: the purchaser determines the winner (87号令 第六十八、六十九条)"),
    "ev.gp.no_publicity": ("政府采购不进行中标候选人公示。", "Government procurement has no candidate publicity."),
    "ev.gp.send": ("将评标报告送交采购人", "Send the report to the purchaser"),
    "ev.gp.send_due": ("应于此前送交（评标结束后2个工作日内）", "Due by (2 working days after the evaluation)"),
    "ev.gp.not_sent": ("评标报告尚未送交采购人", "The report has not been sent to the purchaser yet"),
    "ev.gp.sent": ("评标报告送交时间", "Report sent"),
    "ev.gp.decision_due": ("采购人应于此前确定中标人（收到报告后5个工作日内；逾期视为排名第一的候选人中标）",
                           "The purchaser decides by (5 working days; after that rank 1 is deemed the winner)"),
    "ev.gp.decide": ("确定中标人", "Determine the winner"),
    "ev.gp.reason": ("不选排名第一的候选人时须说明理由", "Reason (required for a lower-ranked candidate)"),
    "ev.gp.waiting": ("等待采购人确定中标人", "Waiting for the purchaser's decision"),
    "ev.gp.winner": ("中标人", "Winner"),
    "ev.gp.decided": ("采购人确定", "determined by the purchaser"),
    "ev.gp.deemed": ("采购人逾期未确定，视为排名第一的候选人中标", "deemed: the purchaser did not decide in time"),
    "ev.gp.award_due": ("应于此前发布中标结果公告、发出中标通知书（2个工作日内）",
                        "Result announcement and award notice due by (2 working days)"),
    "ev.gp.announcement": ("中标结果公告期（1个工作日）", "Result announcement (1 working day)"),
    "ev.gp.challenge_due": ("质疑截止（公告期满后7个工作日）", "质疑 until (7 working days after the announcement)"),
    "ev.gp.challenges": ("质疑", "质疑 (challenges)"),
    "ev.rec.title": ("开标、评标录音录像", "Recordings of the opening and the evaluation"),
    "ev.rec.rule_gp": ("开标、评标现场活动应全程录音录像，音像资料作为采购文件一并存档；两个阶段均有录像归档后方可向采购人送交评标报告"
                       "（政府采购货物和服务招标投标管理办法第三十九条）。",
                       "The opening and the evaluation are recorded in full and the recordings filed with the "
                       "procurement documents; the report goes to the purchaser once both stages are on file "
                       "(87号令 第三十九条)."),
    "ev.rec.rule": ("录音录像归入项目档案（本项目不强制要求）。", "Recordings are filed with the tender's record (optional "
                                                             "for this lot)."),
    "ev.rec.stage": ("阶段", "Stage"),
    "ev.rec.stage.opening": ("开标", "Opening"),
    "ev.rec.stage.evaluation": ("评标", "Evaluation"),
    "ev.rec.file": ("文件", "File"),
    "ev.rec.size": ("大小", "Size"),
    "ev.rec.filed_at": ("归档时间", "Filed"),
    "ev.rec.upload": ("上传录像", "Upload recording"),
    "ev.rec.choose": ("请先选择录音或录像文件", "Choose an audio or video file first"),
    "ev.rec.failed": ("上传中断，请重试", "The upload broke off; try again"),
})

expert = requires(Role.EXPERT)
agency = requires(Role.AGENCY, Role.ADMIN)
viewers = requires(Role.EXPERT, Role.AGENCY, Role.REGULATOR, Role.ADMIN)


@get("/evaluation/lots/{lot_id:uuid}/desk", guards=[expert], include_in_schema=False)
async def desk_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock, user: User,
                    addr: str | None, lot_id: UUID) -> Template:
    ev = await repo.get_evaluation(conn, lot_id)
    member = await services._member(conn, lot_id, user, clock)
    declared = await repo.find_declaration(conn, lot_id, member.expert_id) is not None
    scheme = await services.get_scheme(conn, lot_id)
    bids, sheet, scores, marks = [], None, {}, {}
    if declared and ev.status in ("scoring", "review", "report"):
        bids = await services.read_bids(conn, clock, lot_id, user=user, addr=addr)
        sheet = await services.my_sheet(conn, lot_id, user=user)
        scores = {(s["bid_id"], s["item_id"]): s for s in sheet["scores"]}
        marks = {(m["bid_id"], m["criterion_id"]): m for m in sheet["marks"]}
    time = await services.time_status(conn, clock, lot_id, ev) if ev.status == "scoring" else None
    relations = await services.bidder_relations(conn, bids) if bids else []  # the bids just read
    return Template("evaluation/desk.html", context=page_context(
        request, lot_id=lot_id, ev=ev, member=member, declared=declared, scheme=scheme, bids=bids, sheet=sheet,
        scores=scores, marks=marks, reasons=REASON_CODES, time=time, relations=relations))


@get("/evaluation/lots/{lot_id:uuid}/summary", guards=[viewers], include_in_schema=False)
async def summary_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User,
                       lot_id: UUID) -> Template:
    ev = await repo.get_evaluation(conn, lot_id)
    member = await repo.find_active_member_by_user(conn, lot_id, user.id)
    try:
        table = await services.committee_table(conn, lot_id, user=user)
    except ScoresHidden:
        table = None
    statuses = await repo.list_sheet_statuses(conn, lot_id)
    members = await repo.list_members(conn, lot_id, active_only=True)
    confirmations = await repo.list_confirmations(conn, lot_id)
    return Template("evaluation/summary.html", context=page_context(
        request, lot_id=lot_id, ev=ev, member=member, table=table, reasons=REASON_CODES,
        submitted=sum(1 for m in members if statuses.get(m.expert_id) == "submitted"), size=ev.committee_size,
        members=members, confirmed=member is not None and member.expert_id in confirmations,
        is_chair=member is not None and ev.chair_expert_id == member.expert_id))


@get("/evaluation/lots/{lot_id:uuid}/award", guards=[signed_in], include_in_schema=False)
async def award_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock, user: User,
                     lot_id: UUID) -> Template:
    """The agency's page; for a government-procurement lot also the purchaser's, who determines the winner here
    (87号令 第六十八条)."""
    lot = await services._lot(conn, lot_id)
    gp = lot.regime == "gov_procurement"
    is_purchaser = gp and user.org_id is not None and user.org_id == lot.tenderer_org_id
    if not (user.has(Role.AGENCY, Role.ADMIN) or is_purchaser):
        raise RoleRequired("this page is the agency's (and, in government procurement, the purchaser's)")
    is_agency = user.has(Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id)
    ev = await repo.get_evaluation(conn, lot_id)
    notice = await repo.winner_notice(conn, lot_id)
    return Template("evaluation/award.html", context=page_context(
        request, gp=gp, is_purchaser=is_purchaser, is_agency=is_agency, tender_id=lot.tender_id,
        recordings=await list_recordings(conn, lot.tender_id, lot_id),
        determination=await repo.find_determination(conn, lot_id) if gp else None,
        lot_id=lot_id, lot_status=lot.status, ev=ev, publicity=await repo.find_publicity(conn, lot_id),
        now=clock.now(),
        objections=await repo.list_objections(conn, lot_id), notices=await repo.list_notices(conn, lot_id),
        report=await repo.find_report(conn, lot_id), contract=await repo.find_contract(conn, lot_id),
        contract_due=services.contract_due(notice["issued_at"]) if notice else None,
        supervisor_report=await repo.find_supervisor_report(conn, lot_id, notice["award_round"]) if notice else None,
        causes=rescission.CAUSES[lot.regime], rescissions=await repo.list_rescissions(conn, lot_id),
        winner_bid_id=notice["bid_id"] if notice else None,
        report_due=services.duty_due("supervisor_report", notice["issued_at"]) if notice else None))


@get("/evaluation/clarifications", guards=[requires(Role.BIDDER)], include_in_schema=False)
async def clarifications_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User) -> Template:
    """A bidder's requests for clarification, each with its answer form (条例 第五十二条), and the corrections of its
    prices, each to confirm or not (87号令 第五十九条)."""
    rows = await repo.list_clarifications_for_org(conn, user.org_id) if user.org_id else []
    corrections = await repo.list_price_corrections_for_org(conn, user.org_id) if user.org_id else []
    return Template("evaluation/clarifications.html", context=page_context(
        request, items=rows, corrections=corrections, rules=scoring.PRICE_RULES))


@get("/candidates/{lot_id:uuid}", opt=PUBLIC, include_in_schema=False)
async def candidates_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, lot_id: UUID) -> Template:
    return Template("evaluation/candidates.html", context=page_context(
        request, lot_id=lot_id, publicity=await repo.get_publicity(conn, lot_id)))


@get("/results/{lot_id:uuid}", opt=PUBLIC, include_in_schema=False)
async def result_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, lot_id: UUID) -> Template:
    return Template("evaluation/result.html", context=page_context(
        request, lot_id=lot_id, result=await services.award_result(conn, lot_id)))


PAGES = [desk_page, summary_page, award_page, clarifications_page, candidates_page, result_page]
