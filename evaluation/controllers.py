"""HTTP of evaluation and award (JSON API). Pages are in evaluation/pages.py."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post, put

from evaluation import repository as repo
from evaluation import rescission, services
from evaluation.schemas import (
    AwardIn,
    ChairVoteIn,
    Clarification,
    ClarificationAnswerIn,
    ClarificationIn,
    ConfirmIn,
    Contract,
    ContractIn,
    CorrectionIn,
    DeclarationIn,
    Determination,
    FlagAnswerIn,
    ObjectionAnswerIn,
    ObjectionIn,
    PriceCorrection,
    PriceCorrectionDecisionIn,
    PriceCorrectionIn,
    OverdueAwardObjection,
    OverdueDuty,
    Publicity,
    PublicityIn,
    RejectIn,
    ReviewIn,
    ReplaceIn,
    RescindIn,
    Rescission,
    SchemeIn,
    SchemeOut,
    SheetIn,
    TimeLimitIn,
    TimeRequestIn,
    TimeStatus,
    WinnerDecisionIn,
)
from evaluation.sources import BidView
from trading.accounts.guards import PUBLIC, requires, signed_in
from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock
from trading.downloads import attachment_disposition
from trading.settings import Settings

agency = requires(Role.AGENCY, Role.ADMIN)
expert = requires(Role.EXPERT)
viewers = requires(Role.EXPERT, Role.AGENCY, Role.REGULATOR, Role.ADMIN)


def _pdf(data: bytes, name: str) -> Response[bytes]:
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


class EvaluationController(Controller):
    path = "/api/lots/{lot_id:uuid}/evaluation"
    tags = ["evaluation"]

    @put("/scheme", guards=[agency], operation_id="SetEvaluationScheme")
    async def set_scheme(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                         data: SchemeIn) -> SchemeOut:
        return await services.set_scheme(conn, clock, lot_id, data, actor=user, addr=addr)

    @get("/scheme", guards=[signed_in], operation_id="GetEvaluationScheme")
    async def get_scheme(self, conn: asyncpg.Connection, lot_id: UUID) -> SchemeOut:
        return await services.get_scheme(conn, lot_id)

    @post("/start", guards=[agency], operation_id="StartEvaluation", status_code=200)
    async def start(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                    lot_id: UUID) -> dict[str, Any]:
        return await services.start_evaluation(conn, clock, lot_id, actor=user, addr=addr)

    @put("/time-limit", guards=[agency], operation_id="SetEvaluationTime")
    async def set_time_limit(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                             lot_id: UUID, data: TimeLimitIn) -> TimeStatus:
        """Set or extend (never shorten) the evaluation time (招标投标法实施条例 第四十八条)."""
        return await services.set_time_limit(conn, clock, lot_id, data, actor=user, addr=addr)

    @post("/time-requests", guards=[expert], operation_id="RequestMoreTime", status_code=200)
    async def request_more_time(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                                lot_id: UUID, data: TimeRequestIn) -> TimeStatus:
        """A member says the time is not enough; more than a third oblige the agency to extend it."""
        return await services.request_more_time(conn, clock, lot_id, data, user=user, addr=addr)

    @get("/time", guards=[viewers], operation_id="GetEvaluationTime")
    async def time_status(self, conn: asyncpg.Connection, clock: Clock, lot_id: UUID) -> TimeStatus:
        return await services.time_status(conn, clock, lot_id)

    @post("/clarifications", guards=[expert], operation_id="RequestClarification", status_code=201)
    async def request_clarification(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                                    lot_id: UUID, data: ClarificationIn) -> Clarification:
        """The committee's written request to a bidder, through its chair (条例 第五十二条)."""
        return await services.request_clarification(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/clarifications/{clarification_id:uuid}/answer", guards=[requires(Role.BIDDER)],
          operation_id="AnswerClarification", status_code=200)
    async def answer_clarification(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                                   lot_id: UUID, clarification_id: UUID, data: ClarificationAnswerIn) -> Clarification:
        return await services.answer_clarification(conn, clock, lot_id, clarification_id, data, user=user, addr=addr)

    @get("/clarifications", guards=[signed_in], operation_id="ListClarifications")
    async def clarifications(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> list[Clarification]:
        return await services.list_clarifications(conn, lot_id, user=user)

    @post("/price-corrections", guards=[expert], operation_id="CorrectPrice", status_code=201)
    async def correct_price(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                            lot_id: UUID, data: PriceCorrectionIn) -> PriceCorrection:
        """报价修正 by a fixed rule, through the chair (87号令 第五十九条; 评标规定 第十九条); the bidder must confirm."""
        return await services.propose_price_correction(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/price-corrections/{correction_id:uuid}/decision", guards=[requires(Role.BIDDER)],
          operation_id="DecidePriceCorrection", status_code=200)
    async def decide_price_correction(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                                      lot_id: UUID, correction_id: UUID,
                                      data: PriceCorrectionDecisionIn) -> PriceCorrection:
        """The bidder confirms the corrected price, or does not (its bid is then invalid)."""
        return await services.decide_price_correction(conn, clock, lot_id, correction_id, data, user=user, addr=addr)

    @get("/price-corrections", guards=[signed_in], operation_id="ListPriceCorrections")
    async def price_corrections(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> list[PriceCorrection]:
        return await services.list_price_corrections(conn, lot_id, user=user)

    @post("/review", guards=[agency], operation_id="ReviewAgain", status_code=200)
    async def review(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     data: ReviewIn) -> dict[str, Any]:
        """复核 after an upheld objection to the result (条例 第五十四条): the committee evaluates again."""
        return await services.review_again(conn, clock, lot_id, data, actor=user, addr=addr)

    @post("/declaration", guards=[expert], operation_id="SignDeclaration", status_code=200)
    async def declare(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                      data: DeclarationIn) -> dict[str, Any]:
        return await services.declare(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/replacements", guards=[agency], operation_id="ReplaceMember", status_code=200)
    async def replace(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                      data: ReplaceIn) -> dict[str, Any]:
        return await services.replace_member(conn, clock, lot_id, data.expert_id, reason=data.reason, actor=user,
                                             addr=addr)

    @post("/chair/votes", guards=[expert], operation_id="VoteChair", status_code=200)
    async def vote_chair(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                         data: ChairVoteIn) -> dict[str, Any]:
        return await services.vote_chair(conn, clock, lot_id, data.expert_id, user=user, addr=addr)

    @put("/chair", guards=[agency], operation_id="AppointChair")
    async def appoint_chair(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                            lot_id: UUID, data: ChairVoteIn) -> dict[str, Any]:
        return await services.appoint_chair(conn, clock, lot_id, data.expert_id, actor=user, addr=addr)

    @get("/bids", guards=[expert], operation_id="ReadBidsForEvaluation")
    async def bids(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                   lot_id: UUID) -> list[BidView]:
        return await services.read_bids(conn, clock, lot_id, user=user, addr=addr)

    @get("/bids/{bid_id:uuid}/attachments/{sha256:str}", guards=[expert], operation_id="DownloadBidAttachment")
    async def attachment(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                         addr: str | None, lot_id: UUID, bid_id: UUID, sha256: str) -> Response[bytes]:
        name, data = await services.download_attachment(conn, clock, lot_id, bid_id, sha256, user=user,
                                                        blobs=blob_store(settings), addr=addr)
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": attachment_disposition(name)})

    @get("/sheet", guards=[expert], operation_id="MySheet")
    async def my_sheet(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> dict[str, Any]:
        return await services.my_sheet(conn, lot_id, user=user)

    @put("/sheet", guards=[expert], operation_id="SaveSheet")
    async def save_sheet(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                         data: SheetIn) -> dict[str, Any]:
        return await services.save_sheet(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/sheet/submit", guards=[expert], operation_id="SubmitSheet", status_code=200)
    async def submit_sheet(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                           lot_id: UUID) -> dict[str, Any]:
        return await services.submit_sheet(conn, clock, lot_id, user=user, addr=addr)

    @get("/table", guards=[viewers], operation_id="EvaluationTable")
    async def table(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> dict[str, Any]:
        return await services.committee_table(conn, lot_id, user=user)

    @post("/flags/{flag_id:uuid}/answer", guards=[expert], operation_id="AnswerFlag", status_code=200)
    async def answer_flag(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                          lot_id: UUID, flag_id: UUID, data: FlagAnswerIn) -> dict[str, Any]:
        return await services.answer_flag(conn, clock, lot_id, flag_id, data, user=user, addr=addr)

    @post("/corrections", guards=[expert], operation_id="CorrectScore", status_code=200)
    async def correct(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                      data: CorrectionIn) -> dict[str, Any]:
        return await services.correct_score(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/reject", guards=[expert], operation_id="RejectAllBids", status_code=200)
    async def reject(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     data: RejectIn) -> dict[str, Any]:
        return await services.reject_all(conn, clock, lot_id, data.reason, user=user, addr=addr)

    @post("/report", guards=[expert], operation_id="DraftReport", status_code=200)
    async def draft_report(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                           lot_id: UUID) -> dict[str, Any]:
        return await services.draft_report(conn, clock, lot_id, user=user, addr=addr)

    @post("/report/close", guards=[agency], operation_id="CloseReportSigning", status_code=200)
    async def close_report(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                           addr: str | None, lot_id: UUID) -> dict[str, Any]:
        """Members who neither signed nor dissented are deemed to agree (条例 第五十三条); the report is signed."""
        return await services.close_report_signing(conn, clock, lot_id, actor=user, settings=settings, addr=addr)

    @post("/report/confirmation", guards=[expert], operation_id="ConfirmReport", status_code=200)
    async def confirm_report(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                             addr: str | None, lot_id: UUID, data: ConfirmIn) -> dict[str, Any]:
        return await services.confirm_report(conn, clock, lot_id, data, user=user, settings=settings, addr=addr)

    @get("/report.pdf", guards=[viewers], operation_id="EvaluationReportPdf")
    async def report_pdf(self, conn: asyncpg.Connection, settings: Settings, user: User,
                         lot_id: UUID) -> Response[bytes]:
        return _pdf(await services.report_pdf(conn, lot_id, user=user, settings=settings), f"report-{lot_id}.pdf")


class AwardController(Controller):
    path = "/api/lots/{lot_id:uuid}"
    tags = ["award"]

    @post("/publicity", guards=[agency], operation_id="PublishCandidates", status_code=200)
    async def publish(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                      data: PublicityIn) -> dict[str, Any]:
        return await services.publish_candidates(conn, clock, lot_id, data, actor=user, addr=addr)

    @get("/publicity", opt=PUBLIC, operation_id="GetCandidates")
    async def publicity(self, conn: asyncpg.Connection, lot_id: UUID) -> Publicity:
        return await repo.get_publicity(conn, lot_id)

    @post("/publicity/objections", guards=[requires(Role.BIDDER)], operation_id="FileResultObjection",
          status_code=201)
    async def object(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     data: ObjectionIn) -> dict[str, Any]:
        return await services.file_objection(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/publicity/objections/{objection_id:uuid}/answer", guards=[agency], operation_id="AnswerResultObjection",
          status_code=200)
    async def answer(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     objection_id: UUID, data: ObjectionAnswerIn) -> dict[str, Any]:
        return await services.answer_objection(conn, clock, lot_id, objection_id, data, actor=user, addr=addr)

    @post("/award/report", guards=[agency], operation_id="SendReportToPurchaser", status_code=201)
    async def send_report(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                          lot_id: UUID) -> Determination:
        """Government procurement: the signed evaluation report to the purchaser (87号令 第六十八条)."""
        return await services.send_report_to_purchaser(conn, clock, lot_id, actor=user, addr=addr)

    @post("/award/decision", guards=[signed_in], operation_id="DecideWinner", status_code=200)
    async def decide(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                     data: WinnerDecisionIn) -> Determination:
        """Government procurement: the purchaser determines the winner among the report's candidates (87号令
        第六十八条)."""
        return await services.decide_winner(conn, clock, lot_id, data, user=user, addr=addr)

    @get("/award/determination", guards=[signed_in], operation_id="GetDetermination")
    async def determination(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> Determination:
        return await services.get_determination(conn, lot_id, user=user)

    @get("/award/report.pdf", guards=[signed_in], operation_id="PurchaserReportPdf")
    async def purchaser_report(self, conn: asyncpg.Connection, settings: Settings, user: User,
                               lot_id: UUID) -> Response[bytes]:
        """Government procurement: the evaluation report as sent to the purchaser."""
        return _pdf(await services.purchaser_report_pdf(conn, lot_id, user=user, settings=settings),
                    f"evaluation-report-{lot_id}.pdf")

    @post("/award/challenges", guards=[requires(Role.BIDDER)], operation_id="FileResultChallenge", status_code=201)
    async def challenge(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, lot_id: UUID,
                        data: ObjectionIn) -> dict[str, Any]:
        """Government procurement: 质疑 to the result, within 7 working days (政府采购法 第五十二条)."""
        return await services.file_challenge(conn, clock, lot_id, data, user=user, addr=addr)

    @post("/award/challenges/{objection_id:uuid}/answer", guards=[agency], operation_id="AnswerResultChallenge",
          status_code=200)
    async def answer_challenge(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                               lot_id: UUID, objection_id: UUID, data: ObjectionAnswerIn) -> dict[str, Any]:
        """The agency's written answer to a 质疑, within 7 working days (政府采购法 第五十三条)."""
        return await services.answer_objection(conn, clock, lot_id, objection_id, data, actor=user, addr=addr)

    @post("/award", guards=[agency], operation_id="IssueAward", status_code=200)
    async def award(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User, addr: str | None,
                    lot_id: UUID, data: AwardIn) -> dict[str, Any]:
        return await services.issue_award(conn, clock, lot_id, data, actor=user, settings=settings, addr=addr)

    @post("/award/rescind", guards=[agency], operation_id="RescindAward", status_code=201)
    async def rescind_award(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                            addr: str | None, lot_id: UUID, data: RescindIn) -> dict[str, Any]:
        """The winner loses the award before the contract (招标投标法实施条例 第五十五条; 政府采购法实施条例 第四十九条;
        政府采购质疑和投诉办法 第十六条): the next candidate in rank order gets a new round of notices, or the lot
        fails and is tendered again."""
        return await rescission.rescind_award(conn, clock, lot_id, data, actor=user, settings=settings, addr=addr)

    @get("/award/rescissions", guards=[signed_in], operation_id="ListAwardRescissions")
    async def rescissions(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> list[Rescission]:
        return await rescission.list_rescissions(conn, lot_id, user=user)

    @post("/contract", guards=[agency], operation_id="RecordContract", status_code=201)
    async def record_contract(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                              lot_id: UUID, data: ContractIn) -> Contract:
        """The contract signed with the winner (招标投标法 第四十六条): the winning price, a performance bond of at
        most 10 % (条例 第五十八条); releases the winner's deposit refund."""
        return await services.record_contract(conn, clock, lot_id, data, actor=user, addr=addr)

    @get("/contract", guards=[signed_in], operation_id="GetContract")
    async def contract(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> Contract:
        return await services.get_contract(conn, lot_id, user=user)

    @post("/supervisor-report", guards=[agency], operation_id="SubmitSupervisorReport", status_code=201)
    async def submit_report(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                            addr: str | None, lot_id: UUID) -> dict[str, Any]:
        """招标投标情况的书面报告 to the supervising authority (招标投标法 第四十七条), written and signed by the
        platform from the record."""
        return await services.submit_supervisor_report(conn, clock, lot_id, actor=user, settings=settings, addr=addr)

    @get("/supervisor-report.pdf", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)],
         operation_id="GetSupervisorReport")
    async def report(self, conn: asyncpg.Connection, settings: Settings, user: User, lot_id: UUID) -> Response[bytes]:
        return _pdf(await services.supervisor_report_pdf(conn, lot_id, user=user, settings=settings),
                    f"supervisor-report-{lot_id}.pdf")

    @get("/award/result", opt=PUBLIC, operation_id="GetAwardResult")
    async def result(self, conn: asyncpg.Connection, lot_id: UUID) -> dict[str, Any]:
        """中标结果: winner, price and the committee's names, public once the award is issued."""
        return await services.award_result(conn, lot_id)

    @get("/award/notice.pdf", guards=[signed_in], operation_id="MyAwardNotice")
    async def notice(self, conn: asyncpg.Connection, settings: Settings, user: User, lot_id: UUID) -> Response[bytes]:
        return _pdf(await services.notice_pdf(conn, lot_id, user=user, settings=settings), f"notice-{lot_id}.pdf")


class RegulatorAwardController(Controller):
    path = "/api/regulator"
    tags = ["award"]

    @get("/overdue-award-objections", guards=[requires(Role.REGULATOR)], operation_id="ListOverdueResultObjections")
    async def overdue(self, conn: asyncpg.Connection, clock: Clock) -> list[OverdueAwardObjection]:
        """Objections to evaluation results still unanswered past their due time (条例 第五十四条: 3 days)."""
        return await services.list_overdue_objections(conn, clock)

    @get("/overdue-contracts", guards=[requires(Role.REGULATOR)], operation_id="ListOverdueContracts")
    async def overdue_contracts(self, conn: asyncpg.Connection, clock: Clock) -> list[OverdueDuty]:
        """Awards whose contract was not recorded within 30 days of the notice (招标投标法 第四十六条)."""
        return await services.list_overdue_duties(conn, clock, "contract")

    @get("/overdue-reports", guards=[requires(Role.REGULATOR)], operation_id="ListOverdueSupervisorReports")
    async def overdue_reports(self, conn: asyncpg.Connection, clock: Clock) -> list[OverdueDuty]:
        """Awards of projects that must be tendered whose report to the supervisor is not in within 15 days
        (招标投标法 第四十七条)."""
        return await services.list_overdue_duties(conn, clock, "supervisor_report")


def _routes() -> list[Any]:
    from evaluation.complaints.controllers import ROUTES as COMPLAINTS
    from evaluation.pages import PAGES
    from evaluation.recordings.controllers import ROUTES as RECORDINGS

    return [EvaluationController, AwardController, RegulatorAwardController, *COMPLAINTS, *RECORDINGS, *PAGES]


ROUTES = _routes()
