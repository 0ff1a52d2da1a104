"""Benchmark: the deadline surge — many sealed bids at once against a running server.

    /work/venv/bin/python bench/surge.py [--bids 1000] [--clients 200] [--size-kib 1024] [--lots 5]

Starts a real server (uvicorn, one process, `trading.app:create_app`) on a fresh database of the local
PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432) and a temporary data directory; publishes `--lots` lots
through the tender services (3 custodians each, 2-of-3); seeds one approved bidder per bid (organisation, user,
bearer token, approved identity key, document download — by SQL, to skip 1,000 password hashes); seals every
bid beforehand (1 MiB of random plaintext each, signed manifests), then `--clients` concurrent clients (each
with its own HTTP client and connection, spread over `--procs` processes) submit them through HTTP with the
CLI's client library (`client.upload`: one request per bid — manifest in Upload-Metadata, ciphertext as the
body — with its retries). It measures the receipt latency of each bid (first
request to the signed receipt), checks every receipt's signature, counts the accepted bids and blobs in the
store, and samples the server's RSS every 50 ms.
Goals (issue 4): every bid receipted, none lost, p99 receipt latency < 2 s, server RSS < 300 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402


def _server_url() -> str:
    return os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def _proc_cpu() -> dict[int, tuple[float, str]]:
    """CPU seconds of every process on the machine (to show what else ran during the surge)."""
    out = {}
    for p in psutil.process_iter(["name", "cpu_times"]):
        t = p.info["cpu_times"]
        if t is not None:
            out[p.pid] = (t.user + t.system, p.info["name"] or "?")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def seed(url: str, data_dir: Path, n_bids: int, n_lots: int):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.conftest import Factory
    from trading import db
    from trading.accounts.credit_code import make_credit_code
    from trading.accounts.services import token_hash
    from trading.clock import FixedClock
    from trading.settings import Settings

    conn = await asyncpg.connect(url)
    await db.upgrade(conn)
    await conn.close()
    pool = await db.create_pool(url, min_size=1, max_size=4)
    clock = FixedClock(datetime.now(timezone.utc))
    settings = Settings(database_url=url, data_dir=data_dir)
    factory = Factory(pool, clock, settings)
    lots = [await factory.published_lot() for _ in range(n_lots)]
    bidders = []
    now = clock.now()
    async with pool.acquire() as c, c.transaction():
        for i in range(n_bids):
            lot = lots[i % n_lots]
            org_id = await c.fetchval(
                "INSERT INTO organisations (name, kind, credit_code, approved, created_at)"
                " VALUES ($1, 'bidder', $2, true, $3) RETURNING id",
                f"投标人{i}", make_credit_code(f"9135{secrets.randbelow(10**13):013d}"), now)
            user_id = await c.fetchval(
                "INSERT INTO users (org_id, username, display_name, password_hash, roles, created_at)"
                " VALUES ($1, $2, $3, 'x', ARRAY['bidder'], $4) RETURNING id",
                org_id, f"surge{i}_{secrets.token_hex(3)}", f"投标人{i}", now)
            token = secrets.token_urlsafe(32)
            await c.execute("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at)"
                            " VALUES ($1, $2, $3, $4)", token_hash(token), user_id, now, now + timedelta(days=1))
            key = Ed25519PrivateKey.generate()
            await c.execute("INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                            " VALUES ($1, $2, 'approved', $3, $3)", user_id, key.public_key().public_bytes_raw(),
                            now)
            await c.execute("INSERT INTO document_downloads (lot_id, org_id, user_id, first_at, last_at)"
                            " VALUES ($1, $2, $3, $4, $4)", lot["lot_id"], org_id, user_id, now)
            bidders.append({"lot": lot, "org_id": str(org_id), "user_id": str(user_id), "token": token, "key": key})
        records = {str(lot["lot_id"]): bytes(await c.fetchval("SELECT ceremony_record FROM lots WHERE id = $1",
                                                              lot["lot_id"])) for lot in lots}
    await pool.close()
    return lots, bidders, records


def seal_all(bidders, records, size: int):
    from trading.bids import seal

    out = []
    for b in bidders:
        plain = os.urandom(size)
        dst = io.BytesIO()

        def produce(w, plain=plain) -> None:
            w.write(plain)

        s = seal.seal(records[str(b["lot"]["lot_id"])], produce, dst, signing_key=b["key"],
                      bidder_org_id=b["org_id"], signer_id=b["user_id"])
        out.append((b, s, dst.getvalue()))
    return out


ONE_REQUEST = True
CLIENT_NICE = 0


async def submit_one(http: httpx.AsyncClient, b, sealed, ct: bytes) -> tuple[float, str]:
    """One bid through the CLI's client library (retries included), timed from its first request."""
    from trading.bids import client as api

    t0 = time.perf_counter()
    out = await api.upload(_Authed(http, b["token"]),
                           str(b["lot"]["lot_id"]), sealed.manifest_bytes, sealed.signature, ct, chunk=len(ct) + 1,
                           one_request=ONE_REQUEST)
    return time.perf_counter() - t0, out["receipt"]


class _Authed:
    """The client's connection, with this bidder's bearer token on every request."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self._http, self._h = http, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str):
        call = getattr(self._http, method)

        async def go(url, **kw):
            kw["headers"] = {**kw.get("headers", {}), **self._h}
            return await call(url, **kw)
        return go


async def surge(base: str, jobs, clients: int):
    queue: asyncio.Queue = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)
    latencies: list[float] = []
    receipts: list[str] = []
    errors: list[str] = []
    # Each client is one bidder's CLI: its own HTTP client and keep-alive connection (one shared pool of 50
    # connections costs httpcore O(connections) of CPU per request, which is not what 200 bidders pay).
    tls = ssl.create_default_context()  # built once: httpx loads the CA bundle per client otherwise (~20 ms each)
    https = [httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=1), timeout=120, verify=tls)
             for _ in range(clients)]

    async def worker(http: httpx.AsyncClient) -> None:
        while True:
            try:
                b, s, ct = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                lat, rec = await submit_one(http, b, s, ct)
                latencies.append(lat)
                receipts.append(rec)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc)[:200])

    t0 = time.perf_counter()
    await asyncio.gather(*[worker(h) for h in https])
    wall = time.perf_counter() - t0
    vkey = (await https[0].get("/.well-known/tenderhall/log-keys")).text.strip().splitlines()[0]
    for h in https:
        await h.aclose()
    return latencies, receipts, errors, wall, vkey


def _client_process(base: str, jobs, clients: int, start: float, out) -> None:
    """One client process: its share of the jobs with its share of the concurrent clients."""
    if CLIENT_NICE:
        os.nice(CLIENT_NICE)
    while time.time() < start:  # every process starts at the same instant
        time.sleep(0.005)
    r = asyncio.run(surge(base, jobs, clients))
    c = psutil.Process().cpu_times()
    out.put((*r, c.user + c.system))


def run_clients(base: str, jobs, clients: int, procs: int):
    """Spread the clients over `procs` forked processes (the jobs are inherited, not copied), so one Python
    client process is not the bottleneck being measured."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start = time.time() + 1.0
    ps = [ctx.Process(target=_client_process, args=(base, jobs[i::procs], clients // procs + (i < clients % procs),
                                                   start, out)) for i in range(procs)]
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    latencies = [x for r in results for x in r[0]]
    receipts = [x for r in results for x in r[1]]
    errors = [x for r in results for x in r[2]]
    wall = max(r[3] for r in results)
    return latencies, receipts, errors, wall, results[0][4], sum(r[5] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bids", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--size-kib", type=int, default=1024)
    ap.add_argument("--lots", type=int, default=5)
    ap.add_argument("--procs", type=int, default=4, help="client processes the clients are spread over")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (RSS and CPU are summed)")
    ap.add_argument("--protocol", choices=("one-request", "resumable"), default="one-request",
                    help="one request per bid, or the resumable protocol (create, one PATCH, finalize)")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="niceness of the client processes (they stand for other machines: >0 lets the server and"
                         " PostgreSQL have the shared cores first)")
    args = ap.parse_args(sys.argv[1:])
    global ONE_REQUEST, CLIENT_NICE
    ONE_REQUEST = args.protocol == "one-request"
    CLIENT_NICE = args.client_nice

    server = _server_url()
    name = f"th_surge_{os.getpid()}_{secrets.token_hex(3)}"
    data_dir = Path(tempfile.mkdtemp(prefix="tenderhall-surge-"))

    async def admin(sql: str) -> None:
        c = await asyncpg.connect(server)
        await c.execute(sql)
        await c.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_db(server, name)
    proc = None
    try:
        t = time.perf_counter()
        lots, bidders, records = asyncio.run(seed(url, data_dir, args.bids, args.lots))
        print(f"seeded {len(lots)} lots and {len(bidders)} bidders in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        jobs = seal_all(bidders, records, args.size_kib * 1024)
        print(f"sealed {len(jobs)} bids of {args.size_kib} KiB in {time.perf_counter() - t:.1f} s")
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url, "TENDERHALL_DATA_DIR": str(data_dir),
               "TENDERHALL_DB_POOL_MAX": "20"}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "trading.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                 "--no-access-log", "--timeout-keep-alive", "60",
                                 *(["--workers", str(args.workers)] if args.workers > 1 else [])],
                                env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        ps = psutil.Process(proc.pid)
        time.sleep(0.5 if args.workers > 1 else 0)

        def server_procs() -> list:
            return [ps, *ps.children(recursive=True)]

        def rss() -> int:
            return sum(p.memory_info().rss for p in server_procs())

        def cpu() -> float:
            return sum(t.user + t.system for t in (p.cpu_times() for p in server_procs()))

        peak = [rss()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    peak.append(rss())
                except psutil.Error:
                    return
                time.sleep(0.05)

        def pg_backends() -> list:
            # This run's PostgreSQL backends (their titles name the database), for the database's CPU share.
            out = []
            for p in psutil.process_iter(["name", "cmdline"]):
                if p.info["name"] == "postgres" and any(name in a for a in (p.info["cmdline"] or ())):
                    out.append(p)
            return out

        def pg_cpu(backends: list) -> float:
            total = 0.0
            for p in backends:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            return total

        # What the server waits on: how many of its transactions wait for the log's advisory lock, and how many
        # pool connections are busy, sampled from pg_stat_activity every 50 ms during the surge.
        waits: list[tuple[int, int]] = []

        def sample_pg() -> None:
            async def go() -> None:
                c = await asyncpg.connect(url)
                while not stop.is_set():
                    r = await c.fetchrow(
                        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory') AS lock,"
                        " count(*) FILTER (WHERE state <> 'idle') AS busy FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()")
                    waits.append((r["lock"], r["busy"]))
                    await asyncio.sleep(0.05)
                await c.close()
            asyncio.run(go())

        threading.Thread(target=sample, daemon=True).start()
        idle_rss = peak[0]
        cpu0 = cpu()
        load0 = os.getloadavg()[0]
        machine0 = psutil.cpu_times()
        backends = pg_backends()
        pg0 = pg_cpu(backends)
        others0 = _proc_cpu()
        pg_thread = threading.Thread(target=sample_pg, daemon=True)
        pg_thread.start()
        latencies, receipts, errors, wall, vkey, client_cpu = run_clients(base, jobs, args.clients, args.procs)
        stop.set()
        server_cpu = cpu() - cpu0
        load1 = os.getloadavg()[0]
        backends += [p for p in pg_backends() if p not in backends]  # the pool grows during the surge
        db_cpu = pg_cpu(backends) - pg0
        machine1 = psutil.cpu_times()
        others1 = _proc_cpu()
        busy = sum(machine1) - sum(machine0)
        machine_busy = 1 - (machine1.idle - machine0.idle + machine1.iowait - machine0.iowait) / busy if busy else 0
        pg_thread.join(5)

        from trading.bids.receipt import verify_receipt
        from trading.blobs import BlobStore

        valid = sum(1 for r in receipts if verify_receipt(r, vkey))

        async def count():
            c = await asyncpg.connect(url)
            n = await c.fetchval("SELECT count(*) FROM bids WHERE status = 'active'")
            shas = [bytes(r["ct_root"]).hex() for r in await c.fetch("SELECT ct_root FROM bids")]
            # the bids of one acceptance transaction share its instant (read once under the log lock)
            batches = await c.fetchval("SELECT count(DISTINCT accepted_at) FROM bids")
            await c.close()
            return n, shas, batches

        stored, shas, batches = asyncio.run(count())
        blobs = sum(1 for h in shas if BlobStore(data_dir / "blobs").ciphertext_path(h).exists())
        lat = sorted(latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

        print(f"bids: {args.bids} of {args.size_kib} KiB from {args.clients} concurrent clients in {args.procs} "
              f"processes, {args.lots} lots, {args.workers} uvicorn process(es), {args.protocol} protocol")
        print(f"acceptance transactions: ~{batches} (≈{stored / max(batches, 1):.1f} bids each; bids accepted in the"
              f" same millisecond by two transactions count once)")
        print(f"receipted: {len(receipts)}   valid receipt signatures: {valid}   errors: {len(errors)}")
        print(f"stored (bids rows): {stored}   blobs present: {blobs}   lost: {args.bids - min(stored, blobs)}")
        print(f"wall: {wall:.1f} s   throughput: {len(receipts) / wall:.1f} bids/s "
              f"({len(receipts) * args.size_kib / 1024 / wall:.1f} MiB/s)")
        if lat:
            print(f"receipt latency: p50 {pct(0.5):.3f} s   p90 {pct(0.9):.3f} s   p99 {pct(0.99):.3f} s   "
                  f"max {lat[-1]:.3f} s   mean {statistics.mean(lat):.3f} s")
        print(f"server RSS: idle {idle_rss / 2**20:.0f} MB   peak {max(peak) / 2**20:.0f} MB")
        n = max(len(receipts), 1)
        print(f"server CPU: {server_cpu:.1f} s ({1000 * server_cpu / n:.1f} ms per bid, {server_cpu / wall:.0%} of one"
              f" core on average)   client CPU: {client_cpu:.1f} s   load average: {load0:.1f} → {load1:.1f}"
              f" on {os.cpu_count()} cores")
        print(f"database CPU (this run's backends): {db_cpu:.1f} s ({1000 * db_cpu / n:.1f} ms per bid)   "
              f"machine CPU busy (all processes, everyone's): {machine_busy:.0%} of {os.cpu_count()} cores")
        split = {f: getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "softirq", "iowait",
                                                                          "steal") if hasattr(machine1, f)}
        print("machine CPU split: " + "   ".join(f"{k} {v:.1f} s" for k, v in split.items()))
        mine = {proc.pid, os.getpid(), *(p.pid for p in server_procs() if p.is_running()), *(p.pid for p in backends)}
        deltas = sorted(((others1[k][0] - others0.get(k, (0.0, ""))[0], k, others1[k][1]) for k in others1
                         if k not in mine), reverse=True)[:5]
        print("busiest other processes: " + "   ".join(f"{name}[{pid}] {d:.1f} s" for d, pid, name in deltas
                                                       if d >= 0.1))
        if waits:
            print(f"waiting on the log lock: {statistics.mean(w[0] for w in waits):.2f} transactions on average "
                  f"(max {max(w[0] for w in waits)})   busy pool connections: "
                  f"{statistics.mean(w[1] for w in waits):.1f} on average (max {max(w[1] for w in waits)}) of 20")
        for e in errors[:5]:
            print("error:", e)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
