"""Fixtures for evaluation: a lot brought to 'evaluation' through the real lifecycle, opened bids inserted through
the opening's repository, and a committee.

`Roster` is a real, small implementation of `evaluation.sources.Sources` whose committee and alternates are
given by the test (bids still come from the real `opened_bids` table through the opening's repository); the
end-to-end test uses the platform sources (expert pool draw) instead.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from evaluation import services
from evaluation.schemas import CriterionIn, ItemIn, SchemeIn
from evaluation.sources import CommitteeMember, PlatformSources
from trading.accounts.schemas import Role

SCHEME = SchemeIn(
    items=[ItemIn(id="t1", name="施工方案", group="technical", max_points="30"),
           ItemIn(id="t2", name="质量保证", group="technical", max_points="20"),
           ItemIn(id="c1", name="企业业绩", group="commercial", max_points="20")],
    criteria=[CriterionIn(id="q1", name="资质证书", reason_code="bidder_unqualified"),
              CriterionIn(id="q2", name="实质性响应", reason_code="non_responsive")],
    technical_weight="0.5", commercial_weight="0.2", price_weight="0.3")


class Roster(PlatformSources):
    """Committee and alternates fixed by the test; the alternate is confirmed as soon as it is invited."""

    def __init__(self, members: list[CommitteeMember], alternates: list[CommitteeMember]) -> None:
        self.members = list(members)
        self.alternates = list(alternates)
        self.replaced: list[tuple[UUID, str]] = []

    async def committee(self, conn, lot_id):
        return list(self.members)

    async def replace_member(self, conn, clock, lot_id, expert_id, *, reason, actor):
        self.members = [m for m in self.members if m.expert_id != expert_id]
        self.replaced.append((expert_id, reason))
        if not self.alternates:
            return None
        nxt = self.alternates.pop(0)
        self.members.append(nxt)
        return nxt


async def open_bids(pool, clock, lot_id, tender_id, bidders, prices, *, blobs=None, deadline=None):
    """Insert an opening session and one opened bid per (org, price) through trading.opening.repository."""
    from trading.opening import repository as opening

    ids = []
    async with pool.acquire() as c, c.transaction():
        now = clock.now()
        await opening.insert_session(c, lot_id=lot_id, tender_id=tender_id, status="closed", deadline=deadline or now,
                                     k=2, deadline_seq=0, window_ends_at=now, started_at=now)
        for i, ((org, _user), price) in enumerate(zip(bidders, prices)):
            bid_id = uuid4()
            manifest = secrets.token_hex(32)
            attachments = []
            if blobs is not None:
                data = f"技术标 {i} ".encode() * 50
                attachments = [{"name": f"技术标{i}.pdf", "sha256": blobs.put_bytes(data), "size": len(data)}]
            await opening.insert_bid_to_open(c, lot_id, bid_id=bid_id, version=1, bidder_org_id=org.id,
                                             manifest_sha256=manifest, ct_root=secrets.token_hex(32),
                                             accepted_at=now - timedelta(seconds=100 - i))
            await opening.insert_opened_bid(
                c, lot_id=lot_id, bid_id=bid_id, bidder_org_id=org.id, bidder_name=org.name,
                manifest_sha256=manifest, status="opened", cause=None, detail=None, dek=secrets.token_bytes(32),
                price_fen=price, duration_days=180 + i,
                form={"price_fen": price, "duration_days": 180 + i, "quality": "合格",
                      "project_manager": f"项目经理{i}"},
                attachments=attachments, plaintext_sha256=secrets.token_hex(32), opened_at=now)
            ids.append(bid_id)
    return ids


async def to_evaluation(pool, clock, lot_id, actor):
    from trading.tenders.lifecycle import transition_lot

    async with pool.acquire() as c, c.transaction():
        await transition_lot(c, clock, lot_id, "closed", actor=actor)
        await transition_lot(c, clock, lot_id, "opening", actor=actor)
        await transition_lot(c, clock, lot_id, "evaluation", actor=actor)


@pytest.fixture
def make_lot(factory, pool, clock, settings):
    """Build a lot in 'evaluation' with opened bids, a scheme and a 5-member committee (+2 alternates)."""

    async def make(prices=(100_000_000, 80_000_000, 125_000_000, 90_000_000), *, experts=5, alternates=2,
                   method="comprehensive", scheme=SCHEME, start=True, blobs=None, before_deadline=None, **lot_kw):
        from trading.blobs import blob_store

        lot = await factory.published_lot(evaluation_method=method, **lot_kw)
        bidders = [await factory.downloader(lot["lot_id"]) for _ in prices]
        if before_deadline is not None:
            await before_deadline(lot)
        clock.advance(days=26)
        await to_evaluation(pool, clock, lot["lot_id"], str(lot["agency_user"].id))
        # tokens live 24 hours: sign everyone in again after the clock jump
        bidders = [(org, (user, {"Authorization": f"Bearer {await factory.token(user)}"}))
                   for org, user, _ in bidders]
        lot["agency_headers"] = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
        bid_ids = await open_bids(pool, clock, lot["lot_id"], lot["tender_id"], bidders, list(prices),
                                  blobs=blobs or blob_store(settings), deadline=lot["deadline"])
        people = []
        for i in range(experts + alternates):
            user, headers = await factory.signed_in(Role.EXPERT, display_name=f"专家{i + 1}")
            people.append({"member": CommitteeMember(expert_id=uuid4(), user_id=user.id, name=f"专家{i + 1}"),
                           "user": user, "headers": headers})
        roster = Roster([p["member"] for p in people[:experts]], [p["member"] for p in people[experts:]])
        agency = lot["agency_user"]
        if scheme is not None:
            async with pool.acquire() as c, c.transaction():
                await services.set_scheme(c, clock, lot["lot_id"], scheme, actor=agency)
        if start:
            async with pool.acquire() as c, c.transaction():
                await services.start_evaluation(c, clock, lot["lot_id"], actor=agency, src=roster)
        return {**lot, "bid_ids": bid_ids, "bidders": bidders, "people": people, "roster": roster,
                "experts": people[:experts], "alternates": people[experts:]}

    return make


@pytest.fixture
def experts(factory):
    """The expert pool's own test helper (approved experts in the pool), for the platform-sources tests."""
    from tests.expert_pool.conftest import Experts

    return Experts(factory)


@pytest.fixture
def awarded_calls():
    calls = []

    async def on_awarded(conn, clock, payload):
        # Inside the award transaction: the notices written by it are visible on the same connection.
        n = await conn.fetchval("SELECT count(*) FROM award_notices WHERE lot_id = $1", payload["lot_id"])
        calls.append({**payload, "in_tx": conn.is_in_transaction(), "notices": n})

    from trading import events

    events.subscribe("lot.awarded", on_awarded)
    yield calls
    events._HANDLERS["lot.awarded"].remove(on_awarded)
