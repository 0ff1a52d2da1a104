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
