"""Helpers for tender tests: an agency with its users, and tender payloads relative to the test clock."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from tests.trading.tenders.helpers import give_keys
from trading.accounts.schemas import Role


class Agency:
    def __init__(self, factory) -> None:
        self.factory = factory

    async def setup(self) -> "Agency":
        self.tenderer = await self.factory.org("tenderer", name="某某市交通运输局")
        self.org = await self.factory.org("agency", name="某某招标代理有限公司")
        self.user, self.headers = await self.factory.signed_in(Role.AGENCY, org_id=self.org.id)
        return self

    async def refresh(self) -> dict:
        """New token after the test clock moved past the old one's expiry."""
        self.headers = {"Authorization": f"Bearer {await self.factory.token(self.user)}"}
        return self.headers

    def payload(self, clock, *, days: float = 25, lots: list[dict] | None = None, **over) -> dict:
        now = clock.now()
        deadline = over.pop("bid_deadline", now + timedelta(days=days))
        body = {
            "code": over.pop("code", f"FZ-2026-{secrets.token_hex(4)}"),
            "title": "福州市某某道路改造工程施工招标",
            "description": "本项目已具备招标条件，现对该项目施工进行公开招标。",
            "regime": "bidding_law",
            "procurement_type": "works",
            "region": "350100",
            "tenderer_org_id": str(self.tenderer.id),
            "docs_from": now.isoformat(),
            "docs_until": deadline.isoformat(),
            "clarification_deadline": (deadline - timedelta(days=15)).isoformat(),
            "bid_deadline": deadline.isoformat(),
            "lots": lots or [{"name": "第一标段", "estimated_price": "1000000.00", "deposit": "20000.00",
                              "max_price": "1100000.00"}],
        }
        body.update(over)
        return body

    async def create(self, client, clock, **kw) -> dict:
        r = await client.post("/api/tenders", json=self.payload(clock, **kw), headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def ready(self, client, clock, tender: dict, factory, pool, *, keys: bool = True) -> list:
        """Upload a document, assign custodians and (keys=True) give them signed keys; returns custodian users."""

        r = await client.post(f"/api/tenders/{tender['id']}/documents", headers=self.headers,
                              files={"file": ("招标文件.pdf", "招标文件正文".encode(), "application/pdf")})
        assert r.status_code == 201, r.text
        custodians = []
        for lot in tender["lots"]:
            users = [await factory.user(Role.CUSTODIAN) for _ in range(lot["custodian_n"])]
            r = await client.post(f"/api/tenders/{tender['id']}/lots/{lot['id']}/custodians", headers=self.headers,
                                  json={"custodian_ids": [str(u.id) for u in users]})
            assert r.status_code == 200, r.text
            custodians.append(users)
            if keys:
                await give_keys(pool, clock, lot["id"], [u.id for u in users])
        return custodians

    async def published(self, client, clock, factory, pool, **kw) -> dict:
        tender = await self.create(client, clock, **kw)
        await self.ready(client, clock, tender, factory, pool)
        r = await client.post(f"/api/tenders/{tender['id']}/publish", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
async def agency(factory) -> Agency:
    return await Agency(factory).setup()
