"""Evaluation pages over HTTP (zh-CN/en), guarded like the API."""
from __future__ import annotations

from evaluation import services, sources
from evaluation.schemas import PublicityIn
from tests.evaluation.test_award import signed
from tests.evaluation.test_services import tx


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"th_token={token}"}


async def test_desk_refuses_non_member_and_shows_declaration_first(make_lot, client, factory, monkeypatch):
    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    outsider, headers = await factory.signed_in("expert")
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/desk", headers=headers)
    assert r.status_code == 403
    member = lot["experts"][0]
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/desk?lang=en",
                         headers=_cookie(await factory.token(member["user"])))
    assert r.status_code == 200
    assert "Declaration of no conflict of interest" in r.text and 'class="bid"' not in r.text


async def test_summary_waits_until_every_member_submitted(make_lot, client, factory, monkeypatch):
    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/summary?lang=zh",
                         headers=_cookie(await factory.token(lot["experts"][0]["user"])))
    assert r.status_code == 200 and "等待全体专家提交后显示汇总表" in r.text and 'id="results"' not in r.text


async def test_award_page_publishes_and_public_page_lists_candidates(make_lot, client, factory, pool, clock,
                                                                      settings, monkeypatch):
    lot = await signed(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    agency = _cookie(await factory.token(lot["agency_user"]))
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/award?lang=en", headers=agency)
    assert r.status_code == 200 and 'id="publish"' in r.text
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/award", headers=_cookie(
        await factory.token(lot["experts"][0]["user"])))
    assert r.status_code == 403
    pub = await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="0591-87654321"),
                   actor=lot["agency_user"])
    r = await client.get(f"/candidates/{lot['lot_id']}?lang=en")
    assert r.status_code == 200
    assert "Candidates for award" in r.text and "0591-87654321" in r.text
    assert "Project manager" in r.text and "项目经理" in r.text and "合格" in r.text
    assert r.text.index(pub["candidates"][0]["bidder_name"]) < r.text.index(pub["candidates"][1]["bidder_name"])
    r = await client.get(f"/candidates/{lot['lot_id']}")
    assert "中标候选人公示" in r.text
