"""Benchmark of the expert draw (draw/v1): 100,000 experts over 200 specialties, a lot with 40 bidders to avoid.

    /work/venv/bin/python bench/draw.py [--experts 100000] [--runs 50]

Creates a scratch database on DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/test), fills it
with COPY, and times, per run:
  - snapshot:  the database part — candidate facts for the quotas (specialty match, 3-year employment of the
               tenderer/agency/40 document holders, 12-month repeat count, unavailability, conflicts) and the
               split into sorted eligible lists;
  - selection: the pure part — HMAC-SHA256 order of every eligible expert per quota, members and alternates;
  - full draw: request_draw + contribute through the services (snapshot, exclusions stored, commitment logged,
               reveal, members inserted, invitations queued), each in a transaction rolled back.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

# bench/ holds scripts named like the packages (bench/evaluation.py): keep it off the import path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import random
import secrets
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import asyncpg  # noqa: E402

from expert_pool import draw as protocol
from expert_pool import repository as repo_
from expert_pool import services
from expert_pool.eligibility import PoolRules
from expert_pool.schemas import DrawRequest, QuotaRequest
from expert_pool.specialties import Classification, Specialty
from trading import db
from trading.accounts.credit_code import make_credit_code
from trading.accounts.schemas import Role, User
from trading.clock import FixedClock

SPECIALTIES = 200
BIDDERS = 40


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def classification() -> Classification:
    items = []
    for c in range(SPECIALTIES // 10):
        cat = f"A{c + 10:02d}"
        items.append(Specialty(code=cat, name=f"类{c}", en=f"cat {c}", kind="technical", level=1, parent=None))
        for s in range(10):
            items.append(Specialty(code=f"{cat}{s + 1:02d}", name=f"专业{c}-{s}", en=f"spec {c}-{s}",
                                   kind="economic" if s == 9 else "technical", level=2, parent=cat))
    return Classification(items)


def code(n: int) -> str:
    return make_credit_code(f"91350000{n:09d}")


async def fill(conn: asyncpg.Connection, n_experts: int, clock: FixedClock, rng: random.Random) -> dict:
    now = clock.now()
    leaves = [s.code for s in classification().leaves()]
    n_orgs = 2000
    orgs = [(uuid4(), f"单位{i}", "bidder", code(i), now) for i in range(n_orgs)]
    await conn.copy_records_to_table("organisations", records=[(o[0], o[1], o[2], o[3], True, o[4]) for o in orgs],
                                     columns=["id", "name", "kind", "credit_code", "approved", "created_at"])
    tenderer, agency = orgs[0][0], orgs[1][0]
    await conn.execute("UPDATE organisations SET kind = 'tenderer' WHERE id = $1", tenderer)
    await conn.execute("UPDATE organisations SET kind = 'agency' WHERE id = $1", agency)
    agency_user = await conn.fetchval(
        "INSERT INTO users (org_id, username, display_name, password_hash, roles, created_at)"
        " VALUES ($1, 'bench_agency', '代理', 'x', $2, $3) RETURNING id", agency, ["agency"], now)
    tender = await conn.fetchval(
        "INSERT INTO tenders (code, title, regime, procurement_type, region, tenderer_org_id, agency_org_id, status,"
        " docs_from, docs_until, clarification_deadline, bid_deadline, created_at, updated_at)"
        " VALUES ('BENCH-1', '基准测试项目', 'bidding_law', 'works', '350100', $1, $2, 'published', $3, $4, $4, $4,"
        " $3, $3) RETURNING id", tenderer, agency, now, now + timedelta(days=25))
    lot = await conn.fetchval(
        "INSERT INTO lots (tender_id, number, name, estimated_price_fen, evaluation_method, status)"
        " VALUES ($1, 1, '第一标段', 100000000, 'comprehensive', 'published') RETURNING id", tender)
    bidders = [o[0] for o in orgs[2:2 + BIDDERS]]
    await conn.copy_records_to_table(
        "document_downloads", records=[(lot, b, agency_user, now, now, 1) for b in bidders],
        columns=["lot_id", "org_id", "user_id", "first_at", "last_at", "count"])

    users, experts, specs, jobs, away = [], [], [], [], []
    busy_day = (now + timedelta(days=30)).date()
    for i in range(n_experts):
        uid, eid = uuid4(), uuid4()
        users.append((uid, f"expert{i}", f"专家{i}", "x", ["expert"], True, now))
        born = date(1950 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28))
        since = date(born.year + 22 + rng.randrange(10), 7, 1)
        status = "suspended" if rng.random() < 0.01 else "approved"
        level = rng.choice(["senior_full", "senior_deputy", "senior_deputy", "equivalent", "intermediate"])
        experts.append((eid, uid, f"专家{i}", f"ID{i:016d}", born, "单位", orgs[rng.randrange(n_orgs)][3], "高级工程师",
                        level, since, "350100", "13900000000", status, now, now))
        for s in rng.sample(leaves, 1 + rng.randrange(3)):
            specs.append((eid, s))
        if rng.random() < 0.2:
            jobs.append((uuid4(), eid, "原单位", orgs[rng.randrange(n_orgs)][3],
                         date(2021 + rng.randrange(5), 1 + rng.randrange(12), 1)))
        if rng.random() < 0.05:
            away.append((eid, busy_day))
    await conn.copy_records_to_table("users", records=users, columns=[
        "id", "username", "display_name", "password_hash", "roles", "active", "created_at"])
    await conn.copy_records_to_table("experts", records=experts, columns=[
        "id", "user_id", "full_name", "id_number", "birth_date", "employer_name", "employer_credit_code", "title",
        "title_level", "practice_since", "region", "phone", "status", "applied_at", "updated_at"])
    await conn.copy_records_to_table("expert_specialties", records=specs, columns=["expert_id", "code"])
    await conn.copy_records_to_table("expert_employments", records=jobs, columns=[
        "id", "expert_id", "org_name", "credit_code", "ended_on"])
    await conn.copy_records_to_table("expert_unavailability", records=away, columns=["expert_id", "day"])
    await conn.execute("ANALYZE")
    return {"lot": lot, "agency": agency, "agency_user": agency_user, "leaves": leaves}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="print the snapshot query plan once")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"th_bench_draw_{os.getpid()}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = server.rsplit("/", 1)[0] + "/" + name
    clock = FixedClock(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))
    rng = random.Random(20260302)
    try:
        pool = await db.create_pool(url, min_size=1, max_size=2)
        async with pool.acquire() as conn:
            await db.upgrade(conn)
            t = time.perf_counter()
            ctx = await fill(conn, args.experts, clock, rng)
            print(f"filled {args.experts:,} experts over {SPECIALTIES} specialties, {BIDDERS} bidders "
                  f"in {time.perf_counter() - t:.1f} s")
            spec = classification()
            agency = User(id=ctx["agency_user"], org_id=ctx["agency"], username="bench_agency", display_name="代理",
                          roles=[Role.AGENCY], active=True, created_at=clock.now())
            rules = PoolRules()
            lot = await services._lot(conn, ctx["lot"])
            snap, sel, full, eligible_sizes, query = [], [], [], [], []
            if args.explain:
                from expert_pool import repository as repo

                day = (clock.now() + timedelta(days=30)).date()
                plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + repo._FACTS_ALL, ctx["leaves"][:3], ctx["lot"],
                                        lot["tenderer_org_id"], [lot["tenderer_credit_code"]], [], day, clock.now(),
                                        day)
                print("\n".join(r[0] for r in plan))
            for run in range(args.runs):
                codes = rng.sample(ctx["leaves"], 3)
                quotas = [protocol.Quota(specialty=codes[0], count=3), protocol.Quota(specialty=codes[1], count=1),
                          protocol.Quota(specialty=codes[2], count=1)]
                evaluation_at = clock.now() + timedelta(days=30)
                tq = time.perf_counter()
                day = services.to_shanghai(evaluation_at).date()
                await repo_.candidate_facts(
                    conn, quota_codes=codes, lot_id=ctx["lot"], tenderer_org_id=lot["tenderer_org_id"],
                    tenderer_codes=[lot["tenderer_credit_code"], lot["agency_credit_code"]],
                    bidder_codes=await repo_.bidder_credit_codes(conn, ctx["lot"]),
                    employment_cutoff=day.replace(year=day.year - 3), repeat_since=clock.now() - timedelta(days=365),
                    evaluation_day=day)
                query.append((time.perf_counter() - tq) * 1000)
                t0 = time.perf_counter()
                facts = await services._facts(conn, clock, lot, codes, evaluation_at, rules)
                eligible, _ = services.split_eligible(facts, len(quotas))
                t1 = time.perf_counter()
                seed = protocol.seed(secrets.token_bytes(32), secrets.token_hex(32), protocol.EMPTY_TREE_ROOT)
                protocol.select(seed, quotas, eligible, 2)
                t2 = time.perf_counter()
                snap.append((t1 - t0) * 1000)
                sel.append((t2 - t1) * 1000)
                eligible_sizes.append(sum(len(x) for x in eligible))
                request = DrawRequest(lot_id=ctx["lot"], size=5, evaluation_at=evaluation_at, alternates=2,
                                      quotas=[QuotaRequest(specialty=q.specialty, count=q.count) for q in quotas])
                tx = conn.transaction()
                await tx.start()
                try:
                    t3 = time.perf_counter()
                    view = await services.request_draw(conn, clock, agency, request, rules=rules, specialties=spec)
                    await services.contribute(conn, clock, agency, UUID(str(view.id)), secrets.token_hex(32),
                                              rules=rules)
                    full.append((time.perf_counter() - t3) * 1000)
                finally:
                    await tx.rollback()
        await pool.close()
        print(f"eligible experts per draw (3 quotas): mean {statistics.mean(eligible_sizes):,.0f}")
        for label, values in (("  of which SQL query", query), ("snapshot (database)", snap),
                              ("selection (pure)", sel), ("full draw", full)):
            print(f"{label:22s} p50 {pct(values, 50):7.2f} ms   p99 {pct(values, 99):7.2f} ms   "
                  f"max {max(values):7.2f} ms   ({len(values)} runs)")
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
