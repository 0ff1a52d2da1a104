"""From an opened lot to the award notice over real HTTP on real PostgreSQL: one invalid bid, one outlier flag
answered, one conflict replacement, one objection during publicity; the "lot.awarded" hook runs in the award
transaction; the tender archive verifies offline with the evaluation entries and PDFs in it."""
from __future__ import annotations

import subprocess
from datetime import timedelta
from uuid import UUID

from evaluation import sources
from tests.evaluation.test_services import full_sheet
from trading.records.archive import stream_archive
from trading.records.keys import platform_verifier_key
from trading.records.verify import verify_archive


def _json(sheet):
    import msgspec

    return msgspec.to_builtins(sheet)


async def test_opened_lot_to_award_notice(make_lot, client, pool, clock, settings, monkeypatch, awarded_calls,
                                          tmp_path, factory):
    lot = await make_lot(start=False)
    monkeypatch.setattr(sources, "current", lot["roster"])
    lid, bids = lot["lot_id"], lot["bid_ids"]
    base = f"/api/lots/{lid}/evaluation"
    h_agency = lot["agency_headers"]

    r = await client.post(f"{base}/start", headers=h_agency)
    assert r.status_code == 200, r.text
    # an expert may not start it, nor see the table yet
    r = await client.post(f"{base}/start", headers=lot["experts"][0]["headers"])
    assert r.status_code == 403

    # declarations: expert 0 declares a conflict and is replaced by the first alternate
    e = lot["experts"]
    r = await client.post(f"{base}/declaration", json={"conflict": True, "statement": "与投标人存在利害关系"},
                          headers=e[0]["headers"])
    assert r.status_code == 200 and r.json()["replaced_by"] == str(lot["alternates"][0]["member"].expert_id)
    sitting = [*e[1:], lot["alternates"][0]]
    r = await client.get(f"{base}/bids", headers=sitting[0]["headers"])
    assert r.status_code == 403 and r.json()["code"] == "declaration_required"
    for p in sitting:
        r = await client.post(f"{base}/declaration", json={"conflict": False}, headers=p["headers"])
        assert r.status_code == 200, r.text

    # reading and downloading, logged
    r = await client.get(f"{base}/bids", headers=sitting[0]["headers"])
    assert r.status_code == 200 and len(r.json()) == 4
    att = r.json()[0]["attachments"][0]
    r = await client.get(f"{base}/bids/{bids[0]}/attachments/{att['sha256']}", headers=sitting[0]["headers"])
    assert r.status_code == 200 and r.content.startswith("技术标".encode())

    # scoring: bid 3 fails q2 with 3 of 5; sitting[3] scores bid 0's t1 as 5 (others 24) → outlier
    for i, p in enumerate(sitting):
        sheet = full_sheet(bids, fails={(3, "q2")} if i < 3 else (), points={0: (5, 16, 15)} if i == 3 else None)
        r = await client.put(f"{base}/sheet", json=_json(sheet), headers=p["headers"])
        assert r.status_code == 200, r.text
        if i == 0:
            r = await client.get(f"{base}/table", headers=p["headers"])
            assert r.status_code == 403 and r.json()["code"] == "scores_hidden"
        r = await client.post(f"{base}/sheet/submit", headers=p["headers"])
        assert r.status_code == 200, r.text
    assert r.json()["revealed"] is True

    table = (await client.get(f"{base}/table", headers=sitting[0]["headers"])).json()
    by = {x["bid_id"]: x for x in table["results"]}
    assert by[str(bids[3])]["valid"] is False
    assert [x["rank"] for x in table["results"] if x["valid"]] == [1, 2, 3]
    (flag,) = table["flags"]
    assert flag["expert_id"] == str(sitting[3]["member"].expert_id)

    # chair elected by a majority of votes
    chair = sitting[0]
    for p in sitting[:3]:
        r = await client.post(f"{base}/chair/votes", json={"expert_id": str(chair["member"].expert_id)},
                              headers=p["headers"])
        assert r.status_code == 200
    assert r.json()["elected"] is True

    r = await client.post(f"{base}/report", headers=chair["headers"])
    assert r.status_code == 409 and r.json()["code"] == "flags_open"
    r = await client.post(f"{base}/flags/{flag['id']}/answer",
                          json={"action": "revise", "reason": "复核施工方案后调整", "new_points": "21"},
                          headers=sitting[3]["headers"])
    assert r.status_code == 200, r.text
    r = await client.post(f"{base}/corrections", headers=sitting[1]["headers"],
                          json={"bid_id": str(bids[1]), "item_id": "c1", "new_points": "16",
                                "reason_code": "objective_inconsistent", "reason": "业绩证明份数应为4份"})
    assert r.status_code == 200, r.text
    r = await client.post(f"{base}/report", headers=chair["headers"])
    assert r.status_code == 200, r.text
    candidates = r.json()["candidates"]
    for i, p in enumerate(sitting):
        body = {"agrees": True} if i != 2 else {"agrees": False, "dissent": "对第二名的技术分有保留意见"}
        r = await client.post(f"{base}/report/confirmation", json=body, headers=p["headers"])
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed"
    pdf = (await client.get(f"{base}/report.pdf", headers=h_agency)).content
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "评标报告" in text and "对第二名的技术分有保留意见" in text and "复核施工方案后调整" in text
    assert "评分修改" in text and "业绩证明份数应为4份" in text
    assert sitting[1]["member"].name in text          # names revealed in the report
    sig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in sig

    # publicity ≥ 3 days, an objection, its answer, then the award
    r = await client.post(f"/api/lots/{lid}/publicity", json={"contact": "0591-12345678", "days": 2}, headers=h_agency)
    assert r.status_code == 422 and r.json()["code"] == "publicity_too_short"
    r = await client.post(f"/api/lots/{lid}/publicity", json={"contact": "0591-12345678"}, headers=h_agency)
    assert r.status_code == 200, r.text
    pub = (await client.get(f"/api/lots/{lid}/publicity")).json()
    assert [c["bid_id"] for c in pub["candidates"]] == candidates
    page = await client.get(f"/candidates/{lid}")
    assert page.status_code == 200 and pub["candidates"][0]["bidder_name"] in page.text

    loser_org, (loser_user, loser_headers) = next(b for b, bid in zip(lot["bidders"], bids)
                                                  if str(bid) == candidates[1])
    r = await client.post(f"/api/lots/{lid}/publicity/objections", json={"content": "第一名业绩造假"},
                          headers=loser_headers)
    assert r.status_code == 201, r.text
    objection = r.json()["id"]
    clock.advance(days=3, minutes=1)
    h_agency = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
    loser_headers = {"Authorization": f"Bearer {await factory.token(loser_user)}"}
    r = await client.post(f"/api/lots/{lid}/award", json={}, headers=h_agency)
    assert r.status_code == 409 and r.json()["code"] == "objections_unanswered"
    r = await client.post(f"/api/lots/{lid}/publicity/objections", json={"content": "too late"}, headers=loser_headers)
    assert r.status_code == 409 and r.json()["code"] == "publicity_closed"
    r = await client.post(f"/api/lots/{lid}/publicity/objections/{objection}/answer",
                          json={"answer": "经核查，业绩证明真实有效，异议不成立", "upheld": False}, headers=h_agency)
    assert r.status_code == 200, r.text
    assert awarded_calls == []
    r = await client.post(f"/api/lots/{lid}/award", json={}, headers=h_agency)
    assert r.status_code == 200, r.text
    award = r.json()
    assert award["winner_bid_id"] == candidates[0] and len(award["notices"]) == 4
    assert len(awarded_calls) == 1
    call = awarded_calls[0]
    assert call["in_tx"] and call["notices"] == 4 and call["lot_id"] == lid
    assert str(call["winner_org_id"]) == award["winner_org_id"]
    r = await client.post(f"/api/lots/{lid}/award", json={}, headers=h_agency)
    assert r.status_code == 409

    # the loser gets its result notice, signed
    notice = (await client.get(f"/api/lots/{lid}/award/notice.pdf", headers=loser_headers)).content
    (tmp_path / "n.pdf").write_bytes(notice)
    text = subprocess.run(["pdftotext", str(tmp_path / "n.pdf"), "-"], capture_output=True, text=True).stdout
    assert "中标结果通知书" in text
    assert "贵单位排名" in text and "贵单位得分" in text              # 87号令 第六十九条: its own rank and score

    async with pool.acquire() as c:
        status = await c.fetchval("SELECT status FROM lots WHERE id = $1", lid)
        tags = {r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1", lid)}
    assert status == "awarded"
    assert {"evaluation:session:start", "evaluation:member:replace", "evaluation:attachment:download",
            "evaluation:score:submit", "evaluation:flag:answer", "evaluation:report:sign", "award:publicity:start",
            "award:objection:file", "award:objection:answer", "award:notice:issue",
            "award:result:notify"} <= tags

    archive = tmp_path / "archive.zip"
    with archive.open("wb") as f:
        async for chunk in stream_archive(pool, clock, settings, tender_id=lot["tender_id"]):
            f.write(chunk)
    report = verify_archive(archive, trusted_keys=[platform_verifier_key(settings)])
    assert report.ok, report
    import zipfile

    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    assert sum(1 for n in names if n.endswith(".pdf")) >= 5


async def test_award_with_committee_drawn_from_the_expert_pool(make_lot, pool, clock, settings, experts,
                                                               awarded_calls):
    """The same chain with the platform's real sources: the committee drawn (draw/v1) and confirmed in the
    expert pool, the conflicted member replaced by the pool's next alternate, who confirms and scores."""

    from evaluation import services
    from evaluation.schemas import AwardIn, ConfirmIn, DeclarationIn, ObjectionAnswerIn, ObjectionIn, PublicityIn
    from expert_pool import repository as ep_repo
    from expert_pool import services as ep
    from tests.expert_pool.conftest import draw_request

    team = await experts.pool_of(8)
    user_of = {e.id: u for u, e in team}
    state = {}

    async def draw(lot):
        async with pool.acquire() as c, c.transaction():
            req = draw_request(lot["lot_id"], clock, alternates=2, evaluation_at=lot["deadline"] + timedelta(days=1))
            view = await ep.request_draw(c, clock, lot["agency_user"], req)
            await ep.contribute(c, clock, lot["agency_user"], view.id, "agency-random-value-0001")
            for m in await ep_repo.list_members(c, view.id):
                if m["status"] == "invited":
                    await ep.confirm_invitation(c, clock, user_of[m["expert_id"]], m["id"])
        state["draw_id"] = view.id

    lot = await make_lot(start=False, before_deadline=draw)
    lid = lot["lot_id"]
    src = sources.PlatformSources()
    async with pool.acquire() as c, c.transaction():
        await services.start_evaluation(c, clock, lid, actor=lot["agency_user"], src=src)
        committee = await src.committee(c, lid)
    assert len(committee) == 5
    sitting = [user_of[m.expert_id] for m in committee]

    async with pool.acquire() as c, c.transaction():
        out = await services.declare(c, clock, lid, DeclarationIn(conflict=True, statement="近三年曾在投标人处任职"),
                                     user=sitting[0], src=src)
    assert out["replaced_by"] is not None
    async with pool.acquire() as c, c.transaction():
        invited = next(m for m in await ep_repo.list_members(c, state["draw_id"])
                       if m["expert_id"] == UUID(out["replaced_by"]))
        await ep.confirm_invitation(c, clock, user_of[invited["expert_id"]], invited["id"])
    sitting = sitting[1:] + [user_of[invited["expert_id"]]]
    for i, u in enumerate(sitting):
        async with pool.acquire() as c, c.transaction():
            await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=u, src=src)
            await services.save_sheet(c, clock, lid, full_sheet(lot["bid_ids"], fails={(3, "q1")} if i < 3 else ()),
                                      user=u, src=src)
            res = await services.submit_sheet(c, clock, lid, user=u, src=src)
    assert res["revealed"]
    async with pool.acquire() as c, c.transaction():
        members = await services.repo.list_members(c, lid, active_only=True)
        chair = next(m for m in members if m.user_id == sitting[0].id)
        await services.appoint_chair(c, clock, lid, chair.expert_id, actor=lot["agency_user"])
        await services.draft_report(c, clock, lid, user=sitting[0], src=src)
    for u in sitting:
        async with pool.acquire() as c, c.transaction():
            res = await services.confirm_report(c, clock, lid, ConfirmIn(agrees=True), user=u, settings=settings)
    assert res["status"] == "signed"
    async with pool.acquire() as c, c.transaction():
        pub = await services.publish_candidates(c, clock, lid, PublicityIn(contact="0591-1"), actor=lot["agency_user"])
    objector = next(u for (o, (u, _)), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) == pub["candidates"][1]["bid_id"])
    async with pool.acquire() as c, c.transaction():
        obj = await services.file_objection(c, clock, lid, ObjectionIn(content="对评分有异议"), user=objector, src=src)
    clock.advance(days=3, seconds=1)
    async with pool.acquire() as c, c.transaction():
        await services.answer_objection(c, clock, lid, UUID(str(obj["id"])), ObjectionAnswerIn(answer="评分符合评标办法"),
                                        actor=lot["agency_user"])
        award = await services.issue_award(c, clock, lid, AwardIn(), actor=lot["agency_user"], settings=settings,
                                           src=src)
    assert award["winner_bid_id"] == pub["candidates"][0]["bid_id"]
    assert len(awarded_calls) == 1 and awarded_calls[0]["in_tx"]
