"""Fixtures of the expert pool: experts inserted through the real services."""
from __future__ import annotations

import itertools
import secrets
from datetime import date, timedelta

import pytest

from expert_pool import services
from expert_pool.schemas import DrawRequest, ExpertApply, FormerEmployer, QuotaRequest
from tests.conftest import PASSWORD, credit_code
from trading.accounts import repository as accounts_repo
from trading.accounts.passwords import hash_password
from trading.accounts.schemas import Role

_HASH: str | None = None

_seq = itertools.count(1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(born: date) -> str:
    body = f"350102{born:%Y%m%d}{next(_seq) % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def application(*, specialties=("A0103",), born=date(1975, 5, 1), since=date(2005, 7, 1), level="senior_deputy",
                employer_code=None, former=(), name=None) -> ExpertApply:
    return ExpertApply(
        full_name=name or f"专家{next(_seq):05d}号", id_number=id_number(born), birth_date=born,
        employer_name="某某设计研究院", employer_credit_code=employer_code or credit_code(),
        former_employers=[FormerEmployer(org_name="原单位", credit_code=c, ended_on=d) for c, d in former],
        title="高级工程师", title_level=level, practice_since=since, specialties=list(specialties),
        region="350102", phone=f"139{secrets.randbelow(10**8):08d}", email=None,
    )


class Experts:
    def __init__(self, factory) -> None:
        self.factory = factory
        self._admin = None

    async def admin(self):
        if self._admin is None:
            self._admin = await self.factory.user(Role.ADMIN)
        return self._admin

    async def user(self, name: str | None = None):
        """An expert-role user. Inserted with a password hash computed once: argon2 per user would dominate."""
        global _HASH
        if _HASH is None:
            _HASH = hash_password(PASSWORD)
        async with self.factory.pool.acquire() as c:
            return await accounts_repo.insert_user(
                c, username=f"expert{next(_seq)}_{secrets.token_hex(3)}", display_name=name or f"用户{next(_seq):05d}",
                password_hash=_HASH, roles=[Role.EXPERT], org_id=None, now=self.factory.clock.now())

    async def applicant(self, **kw):
        """(user, expert) with a pending application."""
        user = await self.user(kw.get("name"))
        async with self.factory.pool.acquire() as c, c.transaction():
            expert = await services.apply_expert(c, self.factory.clock, user, application(**kw))
        return user, expert

    async def approved(self, **kw):
        """(user, expert) approved into the pool."""
        user, expert = await self.applicant(**kw)
        async with self.factory.pool.acquire() as c, c.transaction():
            expert = await services.approve_expert(c, self.factory.clock, expert.id, actor=await self.admin())
        return user, expert

    async def pool_of(self, n: int, **kw):
        return [await self.approved(**kw) for _ in range(n)]


@pytest.fixture
def experts(factory) -> Experts:
    return Experts(factory)


def draw_request(lot_id, clock, *, quotas=(("A0103", 5),), size=None, reps=0, alternates=1,
                 evaluation_at=None) -> DrawRequest:
    total = sum(c for _, c in quotas)
    return DrawRequest(lot_id=lot_id, size=size if size is not None else total + reps,
                       quotas=[QuotaRequest(specialty=s, count=c) for s, c in quotas],
                       evaluation_at=evaluation_at or clock.now() + timedelta(days=30),
                       tenderer_representatives=reps, alternates=alternates)
