"""Evaluation benchmark: 200 bids, 9 experts, 30 items (issue 7).

Measures on real PostgreSQL (DATABASE_URL or 127.0.0.1:5432, a fresh database dropped afterwards):
  1. the last expert's submission, which validates the sheet, aggregates and ranks every bid, finds the
     outliers and stores the results (goal < 1 s);
  2. the last member's report confirmation, which renders the 评标报告 PDF (every expert's scores included),
     signs it PAdES and archives it (goal < 5 s);
and, for reference, the pure in-memory aggregation.

    /work/venv/bin/python bench/evaluation.py [--bids 200] [--experts 9] [--items 30]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation import repository as repo  # noqa: E402
from evaluation import scoring, services  # noqa: E402
from evaluation.schemas import ConfirmIn, CriterionIn, DeclarationIn, FlagAnswerIn, ItemIn, SchemeIn  # noqa: E402
from evaluation.sources import CommitteeMember  # noqa: E402
from tests.conftest import Factory, _server_url, _with_database  # noqa: E402
from tests.evaluation.conftest import Roster, open_bids, to_evaluation  # noqa: E402
from trading import db  # noqa: E402
from trading.accounts.schemas import Role  # noqa: E402
from trading.clock import FixedClock  # noqa: E402
from trading.settings import Settings  # noqa: E402


REPEAT = 3


def scheme_in(items: int) -> SchemeIn:
    tech = items * 2 // 3
    return SchemeIn(
        items=[ItemIn(id=f"i{n}", name=f"评审项{n}", group="technical" if n < tech else "commercial",
                      max_points="10") for n in range(items)],
        criteria=[CriterionIn(id="q1", name="资质", reason_code="bidder_unqualified"),
                  CriterionIn(id="q2", name="响应", reason_code="non_responsive")],
        technical_weight="0.5", commercial_weight="0.2", price_weight="0.3")


async def main(n_bids: int, n_experts: int, n_items: int) -> None:
    server = _server_url()
    name = f"th_bench_eval_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = _with_database(server, name)
    try:
        await run(url, n_bids, n_experts, n_items)
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(url: str, n_bids: int, n_experts: int, n_items: int) -> None:
    pool = await db.create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as c:
        await db.upgrade(c)
    tmp = Path(tempfile.mkdtemp(prefix="th-bench-"))
    settings = Settings(database_url=url, data_dir=tmp / "data", background=False)
    clock = FixedClock()
    factory = Factory(pool, clock, settings)
    rng = random.Random(7)

    lot = await factory.published_lot(evaluation_method="comprehensive")
    orgs = [await factory.org("bidder") for _ in range(n_bids)]
    clock.advance(days=26)
    await to_evaluation(pool, clock, lot["lot_id"], str(lot["agency_user"].id))
    prices = [rng.randrange(80_000_000, 120_000_000) for _ in range(n_bids)]
    bid_ids = await open_bids(pool, clock, lot["lot_id"], lot["tender_id"], [(o, None) for o in orgs], prices)
    people = []
    for i in range(n_experts):
        user = await factory.user(Role.EXPERT, display_name=f"专家{i + 1}")
        people.append((CommitteeMember(expert_id=uuid4(), user_id=user.id, name=f"专家{i + 1}"), user))
    roster = Roster([m for m, _ in people], [])
    lid, agency = lot["lot_id"], lot["agency_user"]
    async with pool.acquire() as c, c.transaction():
        await services.set_scheme(c, clock, lid, scheme_in(n_items), actor=agency)
        await services.start_evaluation(c, clock, lid, actor=agency, src=roster)
    quality = {b: rng.uniform(6, 9.5) for b in bid_ids}
    for m, user in people:
        async with pool.acquire() as c, c.transaction():
            await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=user, src=roster)
            rows = [(b, f"i{n}", Decimal(str(round(min(10, max(6, quality[b] + rng.gauss(0, 0.6))), 1))), "")
                    for b in bid_ids for n in range(n_items)]
            if m is people[-1][0]:  # the last expert marks item i0 of five bids far down: five outlier flags
                low = set(bid_ids[:5])
                rows = [(b, i, Decimal(2), "方案缺项") if b in low and i == "i0" else (b, i, p, c)
                        for b, i, p, c in rows]
            marks = [(b, q, True, "") for b in bid_ids for q in ("q1", "q2")]
            await repo.ensure_sheet(c, lid, m.expert_id, clock.now())
            await repo.upsert_scores(c, lid, m.expert_id, rows)
            await repo.upsert_marks(c, lid, m.expert_id, marks)
    for m, user in people[:-1]:
        async with pool.acquire() as c, c.transaction():
            await services.submit_sheet(c, clock, lid, user=user, src=roster)

    last = people[-1][1]

    async def timed(fn, repeat: int) -> tuple[list[float], list[float], object]:
        """Run fn(conn) `repeat` times, each in a transaction rolled back, and once committed: (wall, cpu, result)."""
        walls, cpus = [], []
        for i in range(repeat + 1):
            async with pool.acquire() as c:
                tx = c.transaction()
                await tx.start()
                w, p = time.perf_counter(), time.process_time()
                out = await fn(c)
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - p)
                await (tx.commit() if i == repeat else tx.rollback())
        return walls, cpus, out

    sub_wall, sub_cpu, out = await timed(lambda c: services.submit_sheet(c, clock, lid, user=last, src=roster), REPEAT)
    assert out["revealed"]

    async with pool.acquire() as c:
        flags = await repo.list_flags(c, lid)
    for f in flags:
        user = next(u for m, u in people if m.expert_id == f.expert_id)
        async with pool.acquire() as c, c.transaction():
            await services.answer_flag(c, clock, lid, f.id, FlagAnswerIn(action="confirm", reason="坚持原评分"),
                                       user=user, src=roster)
    chair_m, chair = people[0]
    async with pool.acquire() as c, c.transaction():
        await services.appoint_chair(c, clock, lid, chair_m.expert_id, actor=agency)
        await services.draft_report(c, clock, lid, user=chair, src=roster)
    for _, user in people[:-1]:
        async with pool.acquire() as c, c.transaction():
            await services.confirm_report(c, clock, lid, ConfirmIn(agrees=True), user=user, settings=settings)
    rep_wall, rep_cpu, out = await timed(
        lambda c: services.confirm_report(c, clock, lid, ConfirmIn(agrees=True), user=last, settings=settings), REPEAT)
    async with pool.acquire() as c:
        pdf_size = len((tmp / "data").joinpath("blobs", "sha256", out["pdf_sha256"][:2], out["pdf_sha256"][2:4],
                                                out["pdf_sha256"]).read_bytes())

    # pure arithmetic, for reference
    async with pool.acquire() as c:
        members = await repo.list_members(c, lid, active_only=True)
        sheets = await services._sheets(c, lid, [m.expert_id for m in members])
        scheme, _ = await services._scheme_for(c, await services._lot(c, lid))
    bids = [scoring.Bid(str(b), p) for b, p in zip(bid_ids, prices)]
    t0 = time.perf_counter()
    outcome = scoring.aggregate(scheme, bids, list(sheets.values()))
    scoring.outliers(scheme, [r.bid_id for r in outcome.valid], list(sheets.values()))
    t_pure = time.perf_counter() - t0
    await pool.close()

    n_scores = n_bids * n_experts * n_items
    print(f"evaluation benchmark: {n_bids} bids × {n_experts} experts × {n_items} items = {n_scores} scores, "
          f"{len(flags)} outlier flags")
    load = os.getloadavg()[0]
    print(f"  ({REPEAT + 1} runs each, the first {REPEAT} rolled back; load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"  last submission → aggregate, rank, flags, store (PostgreSQL): wall min {min(sub_wall):.3f} s, "
          f"median {statistics.median(sub_wall):.3f} s; CPU of this process min {min(sub_cpu):.3f} s  (goal < 1 s)")
    print(f"  pure aggregation + ranking + outliers (in memory):             {t_pure:.3f} s")
    print(f"  last confirmation → render + sign + archive report PDF:       wall min {min(rep_wall):.3f} s, "
          f"median {statistics.median(rep_wall):.3f} s; CPU min {min(rep_cpu):.3f} s  (goal < 5 s), "
          f"{pdf_size / 1024:.0f} KiB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bids", type=int, default=200)
    ap.add_argument("--experts", type=int, default=9)
    ap.add_argument("--items", type=int, default=30)
    a = ap.parse_args()
    asyncio.run(main(a.bids, a.experts, a.items))
