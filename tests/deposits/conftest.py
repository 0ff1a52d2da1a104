"""Fixtures for deposits: a configured receiving bank, the shared bank samples, a lot with bidders."""
from __future__ import annotations

from pathlib import Path

import pytest

from deposits import services
from deposits.schemas import BankCreate
from trading.accounts.schemas import Role

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "bank"


@pytest.fixture
def samples() -> Path:
    assert SAMPLES.is_dir(), f"bank samples not found at {SAMPLES}"
    return SAMPLES


@pytest.fixture
async def admin(factory):
    return await factory.signed_in(Role.ADMIN)


@pytest.fixture
async def bank(pool, clock, admin):
    user, _ = admin
    async with pool.acquire() as c, c.transaction():
        return await services.configure_bank(c, clock, BankCreate(
            code="icbc", name="中国工商银行福州分行", cnaps_code="102391000018", main_account="1402023309000123456",
            main_account_name="某市公共资源交易中心投标保证金专户", virtual_prefix="9558",
            formats=["camt.053", "camt.054", "camt.052", "mt940", "mt942", "csv"]), actor=user)


@pytest.fixture
async def bank2(pool, clock, admin):
    user, _ = admin
    async with pool.acquire() as c, c.transaction():
        return await services.configure_bank(c, clock, BankCreate(
            code="ccb", name="中国建设银行福州分行", cnaps_code="105391000019", main_account="35050161000000000123",
            main_account_name="某市公共资源交易中心投标保证金专户", virtual_prefix="6217",
            formats=["camt.053", "camt.054"], time_basis="acceptance"), actor=user)


class Scenario:
    """A published lot (deposit 10,000 yuan), bidders who obtained the documents, a bank, import + match."""

    def __init__(self, pool, clock, factory, bank, lot):
        self.pool, self.clock, self.factory, self.bank, self.lot = pool, clock, factory, bank, lot
        self.lot_id = lot["lot_id"]
        self.deadline = lot["deadline"]
        self.files = 0

    async def bidder(self, *, basic: str | None = "6222020200001234567", name: str | None = None):
        from datetime import date

        from deposits.schemas import AccountRequest, BasicAccountCreate

        org = await self.factory.org("bidder", name=name)
        user, headers = await self.factory.signed_in(Role.BIDDER, org_id=org.id)
        async with self.pool.acquire() as c, c.transaction():
            from trading.tenders import services as tenders
            await tenders.obtain_documents(c, self.clock, self.lot["tender_id"], self.lot_id, user=user)
            va = await services.request_account(c, self.clock, self.lot_id, AccountRequest(bank=self.bank.code),
                                                user=user)
            if basic:
                await services.register_basic_account(c, self.clock, BasicAccountCreate(
                    account_number=basic, bank_name="中国银行", account_name=org.name,
                    valid_from=date(2020, 1, 1)), user=user)
        return {"org": org, "user": user, "headers": headers, "va": va.number}

    async def pay(self, bidder, amount: str = "10000.00", *, ref: str | None = None, name: str | None = None,
                  payer: str = "6222020200001234567", when=None, account: str | None = None, **kw):
        from tests.deposits.builders import camt, entry

        self.files += 1
        when = when or self.clock.now()
        text = when.isoformat()
        e = entry(ref or f"SER{self.files}", amount, account=account or bidder["va"],
                  name=name if name is not None else bidder["org"].name, payer=payer, when=text, **kw)
        return await self.import_bytes(camt("camt.054.001.08", "BkToCstmrDbtCdtNtfctn", "Ntfctn",
                                            f"N{self.files}", [e]))

    async def import_bytes(self, data: bytes):
        import io

        from deposits import importing

        async with self.pool.acquire() as c, c.transaction():
            return await importing.import_file(c, self.clock, self.bank, io.BytesIO(data),
                                               filename=f"f{self.files}.xml", actor=None)

    async def match(self):
        from deposits.reconcile import run_matching

        async with self.pool.acquire() as c, c.transaction():
            return await run_matching(c, self.clock)

    async def result(self, bidder):
        async with self.pool.acquire() as c:
            req = await c.fetchrow("SELECT id FROM deposit_requirements WHERE lot_id = $1 AND org_id = $2",
                                   self.lot_id, bidder["org"].id)
            txns = await c.fetch("SELECT m.*, t.amount_fen FROM deposit_matches m JOIN bank_txns t ON t.id = m.txn_id"
                                 " WHERE m.requirement_id = $1 ORDER BY m.txn_id", req["id"])
            flags = {r["flag"] for r in await c.fetch(
                "SELECT flag FROM deposit_requirement_flags WHERE requirement_id = $1", req["id"])}
            state = await c.fetchval("SELECT state FROM deposit_states WHERE requirement_id = $1", req["id"])
        return {"requirement_id": req["id"], "txns": txns, "flags": flags, "state": state,
                "txn_flags": set().union(*[set(t["flags"]) for t in txns]) if txns else set()}


@pytest.fixture
async def scenario(pool, clock, factory, bank):
    lot = await factory.published_lot(deposit_yuan="10000.00")
    return Scenario(pool, clock, factory, bank, lot)
