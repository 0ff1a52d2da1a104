"""Clarifications only at the committee's written request (招标投标法实施条例 第五十二条): the chair asks, the bidder
asked answers once in writing while the committee evaluates, the minutes go into the signed report."""
from __future__ import annotations

import subprocess
from uuid import uuid4

from evaluation import services
from tests.evaluation.test_services import declare_all, tx


async def test_chair_asks_the_bidder_answers_and_the_report_keeps_the_minutes(make_lot, pool, clock, client, factory,
                                                                             settings, tmp_path):
    lot = await make_lot()
    lid = lot["lot_id"]
    await declare_all(pool, clock, lot)
    chair, member = lot["experts"][0], lot["experts"][1]
    await tx(pool, services.appoint_chair, clock, lid, chair["member"].expert_id, actor=lot["agency_user"])
    bearer = lambda user: factory.token(user)  # noqa: E731
    h_chair = {"Authorization": f"Bearer {await bearer(chair['user'])}"}
    h_member = {"Authorization": f"Bearer {await bearer(member['user'])}"}
    (_, (user0, _)), (_, (user1, _)) = lot["bidders"][0], lot["bidders"][1]
    h0 = {"Authorization": f"Bearer {await bearer(user0)}"}
    h1 = {"Authorization": f"Bearer {await bearer(user1)}"}
    bid0 = str(lot["bid_ids"][0])
    base = f"/api/lots/{lid}/evaluation/clarifications"

    q = {"bid_id": bid0, "question": "投标函中工期“180日历天”与进度计划“200天”不一致，请澄清。"}
    r = await client.post(base, json=q, headers=h_member)
    assert r.status_code == 403 and r.json()["code"] == "chair_required"
    r = await client.post(base, json={**q, "bid_id": str(uuid4())}, headers=h_chair)
    assert r.status_code == 404
    r = await client.post(base, json=q, headers=h_chair)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]

    r = await client.post(f"{base}/{cid}/answer", json={"answer": "以投标函为准"}, headers=h1)
    assert r.status_code == 403 and r.json()["code"] == "not_your_bid"      # another bidder
    r = await client.post(f"{base}/{uuid4()}/answer", json={"answer": "主动澄清"}, headers=h0)
    assert r.status_code == 404                                              # nothing to volunteer into
    r = await client.post(f"{base}/{cid}/answer", json={"answer": "  "}, headers=h0)
    assert r.status_code == 422
    r = await client.post(f"{base}/{cid}/answer", json={"answer": "工期以投标函为准：180日历天。"}, headers=h0)
    assert r.status_code == 200 and r.json()["answer"].startswith("工期")
    r = await client.post(f"{base}/{cid}/answer", json={"answer": "再答"}, headers=h0)
    assert r.status_code == 409

    assert [c["id"] for c in (await client.get(base, headers=h0)).json()] == [cid]
    assert (await client.get(base, headers=h1)).json() == []                 # not its own
    assert len((await client.get(base, headers=h_member)).json()) == 1

    # the minutes reach the report
    from tests.evaluation.test_services import score_all

    await score_all(pool, clock, lot)
    await tx(pool, services.draft_report, clock, lid, user=chair["user"], src=lot["roster"])
    from evaluation.schemas import ConfirmIn

    for p in lot["experts"]:
        out = await tx(pool, services.confirm_report, clock, lid, ConfirmIn(agrees=True), user=p["user"],
                       settings=settings)
    from trading.blobs import blob_store

    (tmp_path / "r.pdf").write_bytes(blob_store(settings).get_bytes(out["pdf_sha256"]))
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "澄清" in text and "以投标函为准" in text
    r = await client.post(base, json=q, headers=h_chair)
    assert r.status_code == 409                                              # the evaluation is over
