from datetime import timedelta

import pytest


class RecordsKit:
    """Real tender and lot rows (the minimum the records rules read) and log entries about them."""

    def __init__(self, pool, clock, factory):
        self.pool, self.clock, self.factory = pool, clock, factory

    async def tender(self, *, deadline_in=timedelta(hours=1), lot_status="published"):
        tenderer = await self.factory.org("tenderer")
        agency = await self.factory.org("agency")
        now = self.clock.now()
        async with self.pool.acquire() as c:
            tid = await c.fetchval(
                "INSERT INTO tenders (code, title, regime, procurement_type, region, tenderer_org_id, agency_org_id,"
                " status, docs_from, docs_until, clarification_deadline, bid_deadline, created_at, updated_at)"
                " VALUES ($1, '市政道路改造工程', 'bidding_law', 'works', '350100', $2, $3, 'published', $4, $5, $5, $6,"
                " $4, $4) RETURNING id",
                f"TH-{tenderer.id.hex[:8]}", tenderer.id, agency.id, now, now + deadline_in / 2, now + deadline_in,
            )
            lid = await c.fetchval(
                "INSERT INTO lots (tender_id, number, name, estimated_price_fen, evaluation_method, status)"
                " VALUES ($1, 1, '一标段', 100000000, 'comprehensive', $2) RETURNING id", tid, lot_status,
            )
        return tid, lid, tenderer, agency

    async def set_lot_status(self, lot_id, status):
        async with self.pool.acquire() as c:
            await c.execute("UPDATE lots SET status = $2 WHERE id = $1", lot_id, status)


@pytest.fixture
def kit(pool, clock, factory):
    return RecordsKit(pool, clock, factory)
