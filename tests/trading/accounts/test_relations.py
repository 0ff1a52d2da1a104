"""Relations that make bids on one lot invalid (招标投标法实施条例 第三十四条), and the declaration they rest on."""
from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from trading.accounts.credit_code import make_credit_code
from trading.accounts.errors import CreditCodeInvalid
from trading.accounts.relations import find_relations
from trading.accounts.schemas import Organisation


def _org(name: str, rep: str | None = None, controller: str | None = None) -> Organisation:
    code = make_credit_code(f"91350100{uuid4().int % 10**9:09d}")
    return Organisation(id=uuid4(), name=name, kind="bidder", credit_code=code, legal_representative=rep,
                        approved=True, created_at=datetime.now(timezone.utc), controller_credit_code=controller)


def test_control_is_found_whichever_way_round_and_only_among_the_bidders():
    parent = _org("福建某集团有限公司", "甲")
    child = _org("福建某建设有限公司", "乙", controller=parent.credit_code)
    stranger_child = _org("某外地公司", "丙", controller=make_credit_code("91110000123456789"))
    for orgs in ([parent, child, stranger_child], [child, parent]):
        [rel] = find_relations(orgs)
        assert rel.kind == "control" and set(rel.org_ids) == {parent.id, child.id}
        assert parent.name in rel.detail and child.name in rel.detail
    assert find_relations([child, stranger_child]) == []


def test_same_representative_after_normalisation_but_not_different_names():
    a = _org("甲公司", "张　伟")        # full-width space
    b = _org("乙公司", " 张伟 ")
    c = _org("丙公司", "ＺＨＡＮＧ Wei")
    d = _org("丁公司", "zhangwei")
    e = _org("戊公司", "张伟伟")
    f = _org("己公司", None)
    rels = find_relations([a, b, c, d, e, f])
    assert {frozenset(r.org_ids) for r in rels} == {frozenset({a.id, b.id}), frozenset({c.id, d.id})}
    assert all(r.kind == "same_representative" for r in rels)


async def test_registration_checks_the_declared_controller(factory):
    parent = await factory.org("bidder")
    child = await factory.org("bidder", controller_credit_code=parent.credit_code.lower())
    assert child.controller_credit_code == parent.credit_code
    with pytest.raises(CreditCodeInvalid):
        wrong = parent.credit_code[:-1] + ("0" if parent.credit_code[-1] != "0" else "1")  # bad check character
        await factory.org("bidder", controller_credit_code=wrong)
    code = make_credit_code("91350100987654321")
    with pytest.raises(CreditCodeInvalid):
        await factory.org("bidder", code=code, controller_credit_code=code)


async def test_the_platform_operator_and_its_affiliates_may_not_bid(settings, clock, pool, factory):
    """电子招标投标办法 第二十三条, through the real HTTP routes of an app configured with the operator's code."""
    import msgspec
    from litestar.testing import AsyncTestClient

    from trading.accounts.schemas import Role
    from trading.app import create_app

    operator = make_credit_code("91350100555555555")
    app = create_app(msgspec.structs.replace(settings, operator_credit_codes=(operator,)), clock)
    async with AsyncTestClient(app=app) as client:
        r = await client.post("/api/organisations/", json={"name": "平台运营公司", "kind": "bidder",
                                                           "credit_code": operator})
        assert r.status_code == 403 and r.json()["code"] == "platform_operator_may_not_bid"
        r = await client.post("/api/organisations/", json={"name": "运营公司子公司", "kind": "bidder",
                                                           "credit_code": make_credit_code("91350100666666666"),
                                                           "controller_credit_code": operator})
        assert r.status_code == 403
        r = await client.post("/api/organisations/", json={"name": "无关投标人", "kind": "bidder",
                                                           "credit_code": make_credit_code("91350100777777777")})
        assert r.status_code == 201, r.text
        # registered before the setting: refused at approval
        early = await factory.org("bidder", approved=False, controller_credit_code=operator)
        _, admin = await factory.signed_in(Role.ADMIN)
        r = await client.post(f"/api/organisations/{early.id}/approve", headers=admin)
        assert r.status_code == 403
        other = await factory.org("bidder", approved=False)
        assert (await client.post(f"/api/organisations/{other.id}/approve", headers=admin)).status_code == 200
