"""招标投标法实施条例 第三十四条 in the evaluation: bids of units with a control or management relationship are all
invalid whatever the marks; the same name as 单位负责人 is shown to the committee, never a rejection by itself."""
from __future__ import annotations

from evaluation import services
from tests.evaluation.test_services import declare_all, score_all, tx


async def _set(pool, org_id, **cols):
    async with pool.acquire() as c:
        for col, value in cols.items():
            await c.execute(f"UPDATE organisations SET {col} = $2 WHERE id = $1", org_id, value)


async def test_controlled_bidders_are_invalid_and_same_named_heads_are_only_shown(make_lot, pool, clock, client,
                                                                                 factory):
    lot = await make_lot()
    (o0, _), (o1, _), (o2, _), (o3, _) = lot["bidders"]
    await _set(pool, o1.id, controller_credit_code=o0.credit_code)            # o0 controls o1
    await _set(pool, o2.id, legal_representative="李 四")
    await _set(pool, o3.id, legal_representative="李四")
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot)                                           # every expert passes every bid
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"],
                     src=lot["roster"])
    by_bid = {r["bid_id"]: r for r in table["results"]}
    b0, b1, b2, b3 = (str(b) for b in lot["bid_ids"])
    for b in (b0, b1):
        assert by_bid[b]["valid"] is False and by_bid[b]["rank"] is None
        assert [f["criterion_id"] for f in by_bid[b]["failures"]] == [services.RELATED_BIDDERS]
    assert by_bid[b2]["valid"] and by_bid[b3]["valid"]
    kinds = {r["kind"]: r for r in table["relations"]}
    assert set(kinds["control"]["bids"]) == {b0, b1} and kinds["control"]["invalidates"]
    assert set(kinds["same_representative"]["bids"]) == {b2, b3} and not kinds["same_representative"]["invalidates"]
    # the experts see it on their desk
    headers = {"Cookie": f"th_token={await factory.token(lot['experts'][0]['user'])}"}
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/desk?lang=zh", headers=headers)
    assert r.status_code == 200 and "第三十四条" in r.text and "相关投标均无效" in r.text


async def test_unrelated_bidders_are_untouched(make_lot, pool, clock):
    lot = await make_lot()
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot)
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"],
                     src=lot["roster"])
    assert table["relations"] == []
    assert all(r["valid"] for r in table["results"])
    # 87号令 第六十条: 800,000.00 is below 80 % of the others' mean (1,050,000.00): pointed at, not rejected
    assert [x["bid_id"] for x in table["low_prices"]] == [str(lot["bid_ids"][1])]


async def test_a_consortium_member_that_also_bids_alone_or_twice_makes_every_bid_concerned_invalid(make_lot, pool,
                                                                                                     clock):
    """招标投标法实施条例 第三十七条, from the consortium members each sealed form declares."""
    from trading.accounts.credit_code import make_credit_code

    lot = await make_lot()
    (o0, _), (o1, _), (o2, _), (o3, _) = lot["bidders"]
    b0, b1, b2, b3 = lot["bid_ids"]
    outsider = make_credit_code("91350100333333333")   # a member of two consortia, not a bidder itself
    async with pool.acquire() as c:
        for bid, members in ((b0, [o1.credit_code]), (b2, [outsider]), (b3, [outsider])):
            await c.execute("UPDATE opened_bids SET form = form || jsonb_build_object('consortium', $2::text[])"
                            " WHERE bid_id = $1", bid, members)
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot)
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"],
                     src=lot["roster"])
    assert all(not r["valid"] for r in table["results"])
    groups = sorted(sorted(r["bids"]) for r in table["relations"] if r["kind"] == "consortium")
    assert groups == sorted([sorted([str(b0), str(b1)]), sorted([str(b2), str(b3)])])


async def test_a_consortium_bid_without_its_joint_bidding_agreement_is_rejected(make_lot, pool, clock):
    """招标投标法实施条例 第五十一条(二), from the sealed form: a consortium bid whose form names no agreement among its
    opened attachments fails with consortium_agreement_missing; one that names its agreement stays valid."""
    from trading.accounts.credit_code import make_credit_code

    lot = await make_lot()
    b0, b1, b2, _ = lot["bid_ids"]
    members = [make_credit_code("91350100444444444")], [make_credit_code("91350100555555555")]
    async with pool.acquire() as c:
        for bid, member, agreement in ((b0, members[0], None), (b1, members[1], "联合体协议.pdf")):
            await c.execute("UPDATE opened_bids SET form = form || jsonb_build_object('consortium', $2::text[],"
                            " 'consortium_agreement', $3::text) WHERE bid_id = $1", bid, member, agreement)
        await c.execute("UPDATE opened_bids SET attachments = attachments || $2::jsonb WHERE bid_id = $1", b1,
                        [{"name": "联合体协议.pdf", "sha256": "0" * 64, "size": 1}])  # the pool encodes jsonb
        # a form that names an agreement it does not carry is no better than none
        await c.execute("UPDATE opened_bids SET form = form || jsonb_build_object('consortium', $2::text[],"
                        " 'consortium_agreement', 'missing.pdf') WHERE bid_id = $1", b2,
                        [make_credit_code("91350100666666666")])
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot)
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"],
                     src=lot["roster"])
    by_bid = {r["bid_id"]: r for r in table["results"]}
    for bid in (b0, b2):
        assert by_bid[str(bid)]["valid"] is False
        assert [(f["criterion_id"], f["reason_code"]) for f in by_bid[str(bid)]["failures"]] == [
            (services.CONSORTIUM_AGREEMENT, "consortium_agreement_missing")]
    assert by_bid[str(b1)]["valid"] and by_bid[str(lot["bid_ids"][3])]["valid"]
