"""Test fixtures on a real PostgreSQL.

The server is DATABASE_URL if set, else 127.0.0.1:5432 (trust auth, database `test`), else the embedded one.
Each test run creates its own fresh database on that server (so concurrent runs never collide), migrates it
once, and empties every table before each test that uses it.
"""
from __future__ import annotations

import os
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from trading import db
from trading.accounts import passwords
from trading.accounts import services as account_services
from trading.accounts.credit_code import make_credit_code
from trading.accounts.schemas import OrganisationCreate, Role, UserCreate
from trading.app import create_app
from trading.clock import FixedClock
from trading.settings import Settings

from tests.browser import browser, server  # noqa: F401  (shared fixtures for page tests)

PASSWORD = "correct horse battery"

# Real argon2id, cheaper parameters: the suite creates hundreds of accounts (production keeps the defaults).
passwords.set_hasher_parameters(time_cost=1, memory_cost=1024, parallelism=1)


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return "postgresql://postgres@127.0.0.1:5432/test"
    except OSError:
        return db.embedded_database_url(Path(tempfile.gettempdir()) / "tenderhall-test-pg")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    server_url = _server_url()
    name = f"th_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    # Tests need no durability across a crash: skip the WAL flush at each commit.
    await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    await admin.close()
    url = _with_database(server_url, name)
    conn = await asyncpg.connect(url)
    await db.upgrade(conn)
    await conn.close()
    yield url
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def session_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(database_url, min_size=1, max_size=8)
    yield p
    await p.close()


@pytest.fixture
async def pool(session_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session's pool, with every table emptied first (each test starts from a clean database).

    Only the tables that hold rows are truncated: TRUNCATE costs a file swap per table, and a test touches few.
    """
    async with session_pool.acquire() as conn:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )]
        if tables:
            probe = " UNION ALL ".join(
                f"SELECT {i} FROM (SELECT 1 FROM \"{t}\" LIMIT 1) s{i}" for i, t in enumerate(tables))
            used = [tables[r[0]] for r in await conn.fetch(probe)]
            if used:
                await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in used) + " RESTART IDENTITY CASCADE")
    return session_pool


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, background=False, db_pool_min=1, db_pool_max=5)


@pytest.fixture
async def app(settings: Settings, clock: FixedClock, pool: asyncpg.Pool):
    return create_app(settings, clock)


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction, rolled back at the end (for service-level tests)."""
    async with pool.acquire() as c:
        tx = c.transaction()
        await tx.start()
        try:
            yield c
        finally:
            await tx.rollback()


_counter = iter(range(10**9))


def credit_code() -> str:
    """A fresh valid unified social credit code."""
    n = next(_counter) + int.from_bytes(secrets.token_bytes(3), "big") * 1000
    return make_credit_code(f"91110000{n % 10**9:09d}")


class Factory:
    """Inserts real rows through the real services; returns ids and auth headers."""

    def __init__(self, pool: asyncpg.Pool, clock: FixedClock, settings: Settings) -> None:
        self.pool = pool
        self.clock = clock
        self.settings = settings

    async def org(self, kind: str = "bidder", name: str | None = None, approved: bool = True,
                  legal_representative: str | None = None, controller_credit_code: str | None = None,
                  code: str | None = None):
        n = next(_counter)
        async with self.pool.acquire() as c, c.transaction():
            return await account_services.register_organisation(
                c, self.clock,
                OrganisationCreate(name=name or f"测试{kind}单位{n}", kind=kind, credit_code=code or credit_code(),
                                   legal_representative=legal_representative or f"负责人{n}",
                                   controller_credit_code=controller_credit_code),
                actor=None, approved=approved,
            )

    async def user(self, *roles: Role | str, org_id=None, username: str | None = None,
                   display_name: str | None = None):
        roles = roles or (Role.BIDDER,)
        async with self.pool.acquire() as c, c.transaction():
            return await account_services.create_user(
                c, self.clock,
                UserCreate(username=username or f"u{next(_counter)}_{secrets.token_hex(2)}",
                           display_name=display_name or f"用户{next(_counter)}", password=PASSWORD,
                           roles=[Role(r) for r in roles], org_id=org_id),
                actor=None,
            )

    async def token(self, user) -> str:
        async with self.pool.acquire() as c, c.transaction():
            tok = await account_services.login(c, self.clock, user.username, PASSWORD, ttl_hours=24)
        return tok.token

    async def headers(self, *roles: Role | str, org_id=None, **kw) -> dict[str, str]:
        """Create a user with roles and return its Authorization header."""
        u = await self.user(*roles, org_id=org_id, **kw)
        return {"Authorization": f"Bearer {await self.token(u)}"}

    async def signed_in(self, *roles: Role | str, org_id=None, **kw):
        """(user, headers)."""
        u = await self.user(*roles, org_id=org_id, **kw)
        return u, {"Authorization": f"Bearer {await self.token(u)}"}

    # ---- tenders (owned by the tenders engineer): a published lot with a real key ceremony, and downloaders
    async def published_lot(self, *, k=2, n=3, deadline=None, deposit_yuan="10000.00", estimated_yuan="1000000.00",
                            procurement_type="works", regime="bidding_law", bid_fields=None, **kw) -> dict:
        """A tender with one lot published through the real services: tenderer + agency orgs, an agency user,
        n custodians with real HPKE keys signed by approved Ed25519 identity keys, one document.
        Extra kw go to the lot (max_price, evaluation_method, name, post_quantum) or the tender (title, code,
        must_tender, region, description). deadline defaults to clock.now() + 25 days (≥ 20 days: 法 第二十四条)."""
        from datetime import timedelta

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        from trading.blobs import blob_store
        from trading.bids.ceremony import SUITE_MLKEM768_X25519, SUITE_X25519, key_statement_bytes
        from trading.tenders import repository as tenders_repo
        from trading.tenders import services as tenders
        from trading.tenders.schemas import BidField, LotCreate, TenderCreate

        now = self.clock.now()
        deadline = deadline or now + timedelta(days=25)
        tenderer = await self.org("tenderer")
        agency = await self.org("agency")
        agency_user, agency_headers = await self.signed_in(Role.AGENCY, org_id=agency.id)
        lot_kw = {key: kw.pop(key) for key in ("max_price", "reference_price", "evaluation_method", "name", "post_quantum")
                  if key in kw}
        lot_kw.setdefault("name", "第一标段")
        fields = [f if isinstance(f, BidField) else BidField(**f) for f in (bid_fields or [
            {"name": "duration_days", "label": "工期（日历天）", "type": "int", "required": True}])]
        data = TenderCreate(
            code=kw.pop("code", f"TH-{next(_counter)}-{secrets.token_hex(3)}"),
            title=kw.pop("title", "某某道路改造工程施工招标"), regime=regime, procurement_type=procurement_type,
            region=kw.pop("region", "350100"), tenderer_org_id=tenderer.id, docs_from=now, docs_until=deadline,
            clarification_deadline=deadline - timedelta(days=15), bid_deadline=deadline,
            lots=[LotCreate(estimated_price=estimated_yuan, deposit=deposit_yuan, bid_fields=fields, custodian_k=k,
                            custodian_n=n, **lot_kw)], **kw)
        custodians = []
        for _ in range(n):
            cu, ch = await self.signed_in(Role.CUSTODIAN)
            custodians.append({"user": cu, "headers": ch})
        async with self.pool.acquire() as c, c.transaction():
            tender = await tenders.create_tender(c, self.clock, data, user=agency_user)
            lot = (await tenders_repo.list_lots_for_tender(c, tender.id))[0]
            await tenders.add_document(c, self.clock, blob_store(self.settings), tender.id, lot_id=None,
                                       filename="招标文件.pdf", content_type="application/pdf",
                                       content="招标文件 第一章 招标公告".encode() + secrets.token_bytes(16),
                                       user=agency_user)
            await tenders.assign_custodians(c, self.clock, tender.id, lot.id, [x["user"].id for x in custodians],
                                            user=agency_user)
            for x, cust in enumerate(custodians, start=1):
                identity = Ed25519PrivateKey.generate()
                raw = identity.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                await c.execute("INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                                " VALUES ($1, $2, 'approved', $3, $3)", cust["user"].id, raw, now)
                if lot.post_quantum:
                    from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
                    from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey

                    # public key bytes: ML-KEM-768 encapsulation key (1184) ‖ X25519 (32)
                    mk, xk = MLKEM768PrivateKey.generate(), X25519PrivateKey.generate()
                    hpke_key = MLKEM768X25519PrivateKey(mk, xk)
                    suite = SUITE_MLKEM768_X25519
                    pub = b"".join(k.public_key().public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw) for k in (mk, xk))
                else:
                    hpke_key = X25519PrivateKey.generate()
                    suite = SUITE_X25519
                    pub = hpke_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                             serialization.PublicFormat.Raw)
                sig = identity.sign(key_statement_bytes(str(lot.id), str(cust["user"].id), x, suite, pub))
                await tenders_repo.set_custodian_key(c, lot.id, cust["user"].id, suite=suite, public_key=pub,
                                                     signature=sig, now=now)
                cust.update(x=x, identity_private_key=identity, hpke_private_key=hpke_key, suite=suite)
            await tenders.publish_tender(c, self.clock, tender.id, user=agency_user)
            lot = await tenders_repo.get_lot(c, lot.id)
        return {"tender_id": tender.id, "lot_id": lot.id, "lot": lot, "agency_user": agency_user,
                "agency_headers": agency_headers, "custodians": custodians, "tenderer_org": tenderer,
                "agency_org": agency, "deadline": deadline, "k": k, "n": n, "ceremony_hash": lot.ceremony_hash}

    async def downloader(self, lot_id):
        """(org, user, headers): an approved bidder organisation whose user obtained the lot's documents."""
        from trading.tenders import repository as tenders_repo
        from trading.tenders import services as tenders

        org = await self.org("bidder")
        user, headers = await self.signed_in(Role.BIDDER, org_id=org.id)
        async with self.pool.acquire() as c, c.transaction():
            lot = await tenders_repo.get_lot(c, lot_id)
            await tenders.obtain_documents(c, self.clock, lot.tender_id, lot_id, user=user)
        return org, user, headers


@pytest.fixture
def factory(pool: asyncpg.Pool, clock: FixedClock, settings: Settings) -> Factory:
    return Factory(pool, clock, settings)
