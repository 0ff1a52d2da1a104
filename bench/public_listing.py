"""Benchmark: the public tender listing under load, beside a Litestar hello-world in the same run.

10,000 published tenders (one lot each) in a fresh database; the real app in a uvicorn subprocess
(one worker, no access log, background tasks off); 32 concurrent HTTP clients for 20 s per endpoint:
the HTML list page `/tenders`, the JSON endpoint `/api/tenders`, a keyword search, and a Litestar hello-world
route served by its own uvicorn subprocess with the same settings. Goal (issue 2): ≥ 0.4 × hello-world req/s,
p99 < 50 ms.

    /work/venv/bin/python bench/public_listing.py [--tenders 10000] [--clients 32] [--seconds 20] [--max-age 0]

--max-age sets TENDERHALL_LISTING_MAX_AGE for the app (0, the default: every request checks the listing version).

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 trust); creates and drops its own database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from trading import db  # noqa: E402

SEED_SQL = """
INSERT INTO tenders (code, title, description, regime, must_tender, procurement_type, region, tenderer_org_id,
                     agency_org_id, status, publish_at, docs_from, docs_until, clarification_deadline, bid_deadline,
                     created_at, updated_at)
SELECT 'BENCH-' || g,
       (ARRAY['福州市','厦门市','泉州市','漳州市','莆田市'])[1 + g % 5] ||
       (ARRAY['道路改造工程施工','医院医疗设备采购','学校物业管理服务','污水处理厂扩建工程','政务云平台运维服务'])[1 + g % 5]
       || '（' || g || '）',
       '项目已具备招标条件，现公开招标。', (ARRAY['bidding_law','gov_procurement'])[1 + g % 2], true,
       (ARRAY['works','goods','services'])[1 + g % 3], (ARRAY['350100','350200','350500','350600','350300'])[1 + g % 5],
       $1, $2, CASE WHEN g % 50 = 0 THEN 'cancelled' ELSE 'published' END,
       $3::timestamptz - make_interval(mins => g), $3::timestamptz - make_interval(mins => g),
       $3::timestamptz + make_interval(days => 20), $3::timestamptz + make_interval(days => 10), $3::timestamptz + make_interval(days => 25 - g % 40),
       $3, $3
FROM generate_series(1, $4) AS g
"""
LOTS_SQL = """
INSERT INTO lots (tender_id, number, name, estimated_price_fen, deposit_fen, evaluation_method, status)
SELECT id, 1, '第一标段', 100000000 + (random() * 1e9)::bigint, 2000000, 'comprehensive', 'published' FROM tenders
"""

APP_SERVER = """
import uvicorn
from trading.app import create_app
from trading.settings import load_settings
uvicorn.run(create_app(load_settings()), host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""
HELLO_SERVER = """
import uvicorn
from litestar import Litestar, get

@get("/")
async def hello() -> str:
    return "Hello, world!"

uvicorn.run(Litestar([hello]), host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(code: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code.format(port=port)], env=env, cwd=str(ROOT))


async def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def load(url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        # warm-up
        for _ in range(20):
            async with session.get(url) as r:
                await r.read()
        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000, "errors": errors}


async def main(n: int, clients: int, seconds: float, max_age: float) -> None:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"th_bench_listing_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = server.rsplit("/", 1)[0] + "/" + name
    procs: list[subprocess.Popen] = []
    try:
        conn = await asyncpg.connect(url)
        await db.upgrade(conn)
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        orgs = []
        for kind, code in (("tenderer", "91350100MA0000000L"), ("agency", "91350100MA0000001P")):
            orgs.append(await conn.fetchval(
                "INSERT INTO organisations (name, kind, credit_code, approved, created_at) VALUES ($1, $2, $3, true,"
                " $4) RETURNING id", f"基准{kind}", kind, code, now))
        t0 = time.perf_counter()
        await conn.execute(SEED_SQL, orgs[0], orgs[1], now, n)
        await conn.execute(LOTS_SQL)
        await conn.execute("ANALYZE")
        await conn.close()
        print(f"seeded {n} tenders in {time.perf_counter() - t0:.1f} s")

        env = {**os.environ, "DATABASE_URL": url, "TENDERHALL_BACKGROUND": "0",
               "TENDERHALL_DATA_DIR": tempfile.mkdtemp(prefix="th-bench-listing-"), "TENDERHALL_DB_POOL_MAX": "10",
               "TENDERHALL_LISTING_MAX_AGE": str(max_age)}
        app_port, hello_port = free_port(), free_port()
        procs.append(start(APP_SERVER, app_port, env))
        procs.append(start(HELLO_SERVER, hello_port, env))
        await wait_ready(f"http://127.0.0.1:{app_port}/api/tenders")
        await wait_ready(f"http://127.0.0.1:{hello_port}/")

        targets = [
            ("hello-world (Litestar, same uvicorn settings)", f"http://127.0.0.1:{hello_port}/"),
            ("GET /tenders (HTML list, page 1 of 20)", f"http://127.0.0.1:{app_port}/tenders"),
            ("GET /api/tenders (JSON list, page 1 of 20)", f"http://127.0.0.1:{app_port}/api/tenders"),
            ("GET /api/tenders?q=医院&type=goods&region=3502", f"http://127.0.0.1:{app_port}/api/tenders"
             "?q=%E5%8C%BB%E9%99%A2&type=goods&region=3502"),
        ]
        results = {}
        for label, target in targets:
            results[label] = r = await load(target, clients, seconds)
            print(f"{label:52s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                  f"  ({r['requests']} requests, {r['errors']} errors)", flush=True)
        hello = results[targets[0][0]]["rps"]
        for label, _ in targets[1:]:
            r = results[label]
            ok = r["rps"] >= 0.4 * hello and r["p99_ms"] < 50
            print(f"{label:52s} {r['rps'] / hello:5.2f} × hello-world, p99 {r['p99_ms']:.1f} ms"
                  f"  → {'goal met' if ok else 'goal NOT met'} (≥ 0.40 ×, p99 < 50 ms)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenders", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-age", type=float, default=0.0)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    asyncio.run(main(args.tenders, args.clients, args.seconds, args.max_age))
