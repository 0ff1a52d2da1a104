"""报价修正 (政府采购货物和服务招标投标管理办法 第五十九条; 评标委员会和评标方法暂行规定 第十九条): the chair corrects an
inconsistent price by a fixed rule while the members score; the results wait for the bidder, whose confirmation makes
the corrected price bind and whose refusal makes the bid invalid; everything is logged and goes into the report."""
from __future__ import annotations

import subprocess
from uuid import uuid4

from evaluation import repository as repo
from evaluation import services
from evaluation.schemas import ConfirmIn, PriceCorrectionDecisionIn, PriceCorrectionIn
from tests.evaluation.test_services import declare_all, score_all, tx


async def _tags(pool, lot_id) -> list[str]:
    async with pool.acquire() as c:
        return [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq", lot_id)]


async def test_corrected_price_binds_once_the_bidder_confirms_and_the_results_wait_for_it(make_lot, pool, clock,
                                                                                         client, factory):
    lot = await make_lot()  # prices 1,000,000 / 800,000 / 1,250,000 / 900,000 yuan
    lid = lot["lot_id"]
    await declare_all(pool, clock, lot)
    chair, member = lot["experts"][0], lot["experts"][1]
    await tx(pool, services.appoint_chair, clock, lid, chair["member"].expert_id, actor=lot["agency_user"])
    h_chair = {"Authorization": f"Bearer {await factory.token(chair['user'])}"}
    h_member = {"Authorization": f"Bearer {await factory.token(member['user'])}"}
    (_, (user0, _)), (_, (user1, _)) = lot["bidders"][0], lot["bidders"][1]
    h0 = {"Authorization": f"Bearer {await factory.token(user0)}"}
    h1 = {"Authorization": f"Bearer {await factory.token(user1)}"}
    bid0 = str(lot["bid_ids"][0])
    base = f"/api/lots/{lid}/evaluation/price-corrections"
    body = {"bid_id": bid0, "rule": "unit_prices_over_total", "corrected_price_yuan": "750000.00",
            "explanation": "分项报价表各单价合计为 750,000.00 元，与投标总价 1,000,000.00 元不一致，以单价汇总为准。"}

    r = await client.post(base, json=body, headers=h_member)
    assert r.status_code == 403 and r.json()["code"] == "chair_required"
    r = await client.post(base, json={**body, "rule": "summary_over_documents"}, headers=h_chair)
    assert r.status_code == 422 and r.json()["code"] == "price_correction_invalid"
    r = await client.post(base, json={**body, "corrected_price_yuan": "1000000.00"}, headers=h_chair)
    assert r.status_code == 422 and r.json()["code"] == "price_correction_invalid"   # nothing to correct
    r = await client.post(base, json={**body, "corrected_price_yuan": "0"}, headers=h_chair)
    assert r.status_code == 422
    r = await client.post(base, json={**body, "corrected_price_yuan": 750000.0}, headers=h_chair)
    assert r.status_code in (400, 422)                                               # never a float
    r = await client.post(base, json={**body, "bid_id": str(uuid4())}, headers=h_chair)
    assert r.status_code == 404
    r = await client.post(base, json=body, headers=h_chair)
    assert r.status_code == 201, r.text
    corr = r.json()
    assert corr["opened_price_yuan"] == "1000000.00" and corr["corrected_price_yuan"] == "750000.00"
    assert corr["decision"] is None
    r = await client.post(base, json={**body, "corrected_price_yuan": "760000.00"}, headers=h_chair)
    assert r.status_code == 409 and r.json()["code"] == "price_correction_exists"

    # every member submits: the results wait for the bidder's decision
    out = await score_all(pool, clock, lot)
    assert out["revealed"] is False
    async with pool.acquire() as c:
        assert (await repo.get_evaluation(c, lid)).status == "scoring"

    decision = f"{base}/{corr['id']}/decision"
    r = await client.post(decision, json={"confirm": True}, headers=h1)
    assert r.status_code == 403 and r.json()["code"] == "not_your_bid"
    r = await client.post(f"{base}/{uuid4()}/decision", json={"confirm": True}, headers=h0)
    assert r.status_code == 404
    assert [c["id"] for c in (await client.get(base, headers=h0)).json()] == [corr["id"]]
    assert (await client.get(base, headers=h1)).json() == []                         # not its own
    r = await client.post(decision, json={"confirm": True}, headers=h0)
    assert r.status_code == 200 and r.json()["decision"] == "confirmed"
    r = await client.post(decision, json={"confirm": False}, headers=h0)
    assert r.status_code == 409                                                      # once

    # the last decision computed the results, with the corrected price: bid 0 is now the lowest
    async with pool.acquire() as c:
        assert (await repo.get_evaluation(c, lid)).status == "review"
        results = {str(r["bid_id"]): r for r in await repo.list_results(c, lid)}
    assert results[bid0]["price_fen"] == 75_000_000 and results[bid0]["valid"]
    assert results[bid0]["price_score"] == 100                                       # the base price is its own
    assert results[str(lot["bid_ids"][1])]["price_score"] < 100
    tags = await _tags(pool, lid)
    assert tags.count("evaluation:price:correct") == 1 and tags.count("evaluation:price:decide") == 1
    assert tags.index("evaluation:price:decide") < tags.index("evaluation:result:compute")


async def test_a_refused_correction_makes_the_bid_invalid_and_the_report_says_so(make_lot, pool, clock, settings,
                                                                                tmp_path):
    lot = await make_lot(max_price="1300000")
    lid = lot["lot_id"]
    await declare_all(pool, clock, lot)
    chair = lot["experts"][0]
    await tx(pool, services.appoint_chair, clock, lid, chair["member"].expert_id, actor=lot["agency_user"])
    (_, (user0, _)), (_, (user1, _)) = lot["bidders"][0], lot["bidders"][1]
    bid0, bid1 = lot["bid_ids"][0], lot["bid_ids"][1]
    refused = await tx(pool, services.propose_price_correction, clock, lid,
                       PriceCorrectionIn(bid_id=bid0, rule="words_over_figures", corrected_price_yuan="1100000",
                                         explanation="大写“壹佰壹拾万元整”与小写 1,000,000.00 不一致，以大写为准。"),
                       user=chair["user"], src=lot["roster"])
    above_max = await tx(pool, services.propose_price_correction, clock, lid,
                         PriceCorrectionIn(bid_id=bid1, rule="unit_prices_over_total", corrected_price_yuan="1400000",
                                           explanation="单价汇总 1,400,000.00 元。"),
                         user=chair["user"], src=lot["roster"])
    await tx(pool, services.decide_price_correction, clock, lid, refused.id, PriceCorrectionDecisionIn(confirm=False),
             user=user0, src=lot["roster"])
    out = await score_all(pool, clock, lot)
    assert out["revealed"] is False                                                  # bid 1 still awaits
    await tx(pool, services.decide_price_correction, clock, lid, above_max.id,
             PriceCorrectionDecisionIn(confirm=True), user=user1, src=lot["roster"])
    async with pool.acquire() as c:
        results = {r["bid_id"]: r for r in await repo.list_results(c, lid)}
    assert not results[bid0]["valid"] and results[bid0]["price_fen"] == 100_000_000  # refused: the opened price stays
    assert [f["reason_code"] for f in results[bid0]["failures"]] == ["price_correction_refused"]
    assert not results[bid1]["valid"] and results[bid1]["price_fen"] == 140_000_000  # 条例 第五十一条: above the max
    assert [f["reason_code"] for f in results[bid1]["failures"]] == ["price_below_cost_or_above_max"]
    assert results[lot["bid_ids"][2]]["valid"] and results[lot["bid_ids"][3]]["valid"]

    await tx(pool, services.draft_report, clock, lid, user=chair["user"], src=lot["roster"])
    for p in lot["experts"]:
        report = await tx(pool, services.confirm_report, clock, lid, ConfirmIn(agrees=True), user=p["user"],
                          settings=settings)
    from trading.blobs import blob_store

    (tmp_path / "r.pdf").write_bytes(blob_store(settings).get_bytes(report["pdf_sha256"]))
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = "".join(text.split())  # table cells wrap
    assert "五之四、报价修正" in flat and "不确认，投标无效" in flat and "以大写金额为准" in flat, flat[-3000:]
