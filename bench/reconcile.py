"""Deposit reconciliation benchmark: a generated camt.053 (Chinese names, non-IBAN accounts, 1 entry in 20 a
batch) against generated requirements — import + match + ledger check end to end — beside a bare lxml
iterparse of the same file measured in the same run (and the faster tag-filtered loop, for the stricter
ratio); then one-entry camt.054 notifications (import + incremental match) for the latency percentiles.

    /work/venv/bin/python bench/reconcile.py --entries 200000 --requirements 50000

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 trust); creates and drops its own database.
"""
from __future__ import annotations

import sys
from pathlib import Path as _Path

# `python bench/reconcile.py` puts bench/ first on sys.path, where bench/evaluation.py would shadow the package
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import asyncio
import io
import os
import random
import resource
import secrets
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # noqa: E402
import psutil
from lxml import etree

from deposits import importing, ledger
from deposits import repository as repo
from deposits.reconcile import run_matching
from trading import db
from trading.accounts.credit_code import make_credit_code
from trading.clock import FixedClock

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
SURNAMES = "福州厦门泉州漳州莆田三明南平龙岩宁德平潭"
TRADES = ["建设工程", "市政工程", "路桥", "水利水电", "园林绿化", "机电设备", "信息技术", "建筑装饰", "交通设施", "环保科技"]


def org_name(i: int) -> str:
    city = SURNAMES[(i % 11) * 2:(i % 11) * 2 + 2]
    return f"{city}{TRADES[i % len(TRADES)]}第{i}号有限公司"


def va_number(i: int) -> str:
    return f"9558{i:011d}"


def payer_account(i: int) -> str:
    return f"6222{i:015d}"


def backend_cpu(pid: int) -> float | None:
    """CPU seconds of a PostgreSQL backend (same host only), for the client/server split of the figures."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class RssSampler:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> "RssSampler":
        self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def generate(path: Path, entries: int, requirements: int, when: datetime) -> int:
    """Write the camt.053; return the number of transactions (batches hold 3)."""
    rnd = random.Random(7)
    txns = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr>'
                f'<MsgId>BENCH-{secrets.token_hex(4)}</MsgId><CreDtTm>{when.isoformat()}</CreDtTm></GrpHdr><Stmt>'
                f'<Id>BENCH-STMT-1</Id><ElctrncSeqNb>1</ElctrncSeqNb><Acct><Id><Othr><Id>1402023309000123456</Id>'
                f'</Othr></Id><Ccy>CNY</Ccy></Acct>')
        total = 0
        body = []
        for e in range(entries):
            t = when + timedelta(seconds=e % 86000)
            if e % 20 == 19:
                parts = []
                amounts = []
                for k in range(3):
                    i = rnd.randrange(requirements)
                    amt = rnd.choice((1_000_000, 1_000_000, 500_000))
                    amounts.append(amt)
                    parts.append(_detail(f"B{e}-{k}", amt, va_number(i), org_name(i), payer_account(i)))
                amount = sum(amounts)
                details = (f"<Btch><NbOfTxs>3</NbOfTxs><TtlAmt Ccy=\"CNY\">{_yuan(amount)}</TtlAmt></Btch>"
                           + "".join(parts))
                txns += 3
            else:
                if rnd.random() < 0.8:
                    i = rnd.randrange(requirements)
                    acct, name, payer = va_number(i), org_name(i), payer_account(i)
                else:
                    acct, name, payer = f"6217{rnd.randrange(10**15):015d}", org_name(10**6 + e), payer_account(10**7 + e)
                amount = rnd.choice((1_000_000, 1_000_000, 1_000_000, 999_900, 1_200_000))
                details = _detail(f"S{e}", amount, acct, name, payer)
                txns += 1
            total += amount
            body.append(f'<Ntry><Amt Ccy="CNY">{_yuan(amount)}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
                        f'<BookgDt><DtTm>{t.isoformat()}</DtTm></BookgDt><ValDt><Dt>{t.date()}</Dt></ValDt>'
                        f'<AcctSvcrRef>N{e}</AcctSvcrRef><NtryDtls>{details}</NtryDtls></Ntry>')
            if len(body) >= 2000:
                f.write("".join(body))
                body.clear()
        f.write("".join(body))
        f.write("</Stmt></BkToCstmrStmt></Document>\n")
    # balances are not given: the closing balance would be `total`
    return txns


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _detail(ref: str, fen: int, acct: str, name: str, payer: str) -> str:
    return (f'<TxDtls><Refs><AcctSvcrRef>{ref}</AcctSvcrRef></Refs><Amt Ccy="CNY">{_yuan(fen)}</Amt>'
            f'<CdtDbtInd>CRDT</CdtDbtInd><RltdPties><Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr>'
            f'<DbtrAcct><Id><Othr><Id>{payer}</Id></Othr></Id></DbtrAcct>'
            f'<CdtrAcct><Id><Othr><Id>{acct}</Id></Othr></Id></CdtrAcct></RltdPties></TxDtls>')


def bare_iterparse(path: Path) -> tuple[float, int]:
    """The reference of the goal: lxml's iterparse as called bare — its default events (the end of every element,
    each reaching Python) — with each finished entry cleared, the least any loop over a file of unbounded size
    must do to keep its memory bounded."""
    ntry = f"{{{NS}}}Ntry"
    t0 = time.perf_counter()
    n = 0
    for _, el in etree.iterparse(str(path), resolve_entities=False, no_network=True, huge_tree=False):
        if el.tag == ntry:
            n += 1
            el.clear(keep_tail=False)
            while el.getprevious() is not None:
                del el.getparent()[0]
    return time.perf_counter() - t0, n


def filtered_iterparse(path: Path) -> tuple[float, int]:
    """The fastest loop lxml offers over the same file: libxml2 filters by tag, only <Ntry> reaches Python (the
    elements inside it are never touched). Printed beside the reference, for the stricter ratio."""
    t0 = time.perf_counter()
    n = 0
    for _, el in etree.iterparse(str(path), events=("end",), tag=f"{{{NS}}}Ntry", resolve_entities=False,
                                 no_network=True, huge_tree=False):
        n += 1
        el.clear(keep_tail=False)
        while el.getprevious() is not None:
            del el.getparent()[0]
    return time.perf_counter() - t0, n


async def setup(conn: asyncpg.Connection, clock: FixedClock, requirements: int, lots: int):
    now = clock.now()
    bank = await repo.insert_bank(conn, dict(
        code="icbc", name="中国工商银行", cnaps_code="102391000018", bic=None, main_account="1402023309000123456",
        main_account_name="某市公共资源交易中心投标保证金专户", currency="CNY", formats=["camt.053", "camt.054"],
        legacy_encoding="gb18030", time_basis="booking", timezone="Asia/Shanghai", virtual_prefix="9558"), now)
    orgs = [(secrets.token_bytes(16), org_name(i), "bidder", make_credit_code(f"91350000{i:09d}"), now)
            for i in range(requirements)]
    import uuid

    orgs = [(uuid.UUID(bytes=o[0]),) + o[1:] for o in orgs]
    tenderer = uuid.uuid4()
    await conn.copy_records_to_table("organisations", columns=("id", "name", "kind", "credit_code", "created_at"),
                                     records=orgs + [(tenderer, "某市住房和城乡建设局", "tenderer",
                                                      make_credit_code("11350000900000001"), now)])
    tender = await conn.fetchval(
        """INSERT INTO tenders (code, title, regime, must_tender, procurement_type, region, tenderer_org_id,
               agency_org_id, status, publish_at, docs_from, docs_until, clarification_deadline, bid_deadline,
               created_at, updated_at)
           VALUES ('BENCH-1', '基准测试项目', 'bidding_law', true, 'works', '350100', $1, $1, 'published', $2, $2,
                   $3, $3, $3, $2, $2) RETURNING id""", tenderer, now, now + timedelta(days=25))
    lot_ids = [await conn.fetchval(
        """INSERT INTO lots (tender_id, number, name, estimated_price_fen, deposit_fen, evaluation_method, status)
           VALUES ($1, $2, $3, 100000000000, 1000000, 'comprehensive', 'published') RETURNING id""",
        tender, k + 1, f"第{k + 1}标段") for k in range(lots)]
    reqs = [(uuid.uuid4(), lot_ids[i % lots], orgs[i][0], 1_000_000, now) for i in range(requirements)]
    await conn.copy_records_to_table("deposit_requirements", columns=("id", "lot_id", "org_id", "amount_fen",
                                                                      "created_at"), records=reqs)
    await conn.copy_records_to_table("virtual_accounts", columns=("number", "bank_id", "requirement_id", "created_at"),
                                     records=[(va_number(i), bank.id, reqs[i][0], now) for i in range(requirements)])
    from datetime import date

    await conn.copy_records_to_table(
        "basic_accounts", columns=("org_id", "account_number", "bank_name", "account_name", "valid_from", "created_at"),
        records=[(orgs[i][0], payer_account(i), "中国银行", org_name(i), date(2020, 1, 1), now)
                 for i in range(requirements)])
    await conn.execute("ANALYZE")
    return bank


def notification(i: int, when: datetime) -> bytes:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><BkToCstmrDbtCdtNtfctn><GrpHdr>'
            f'<MsgId>NTF-{i}-{secrets.token_hex(3)}</MsgId><CreDtTm>{when.isoformat()}</CreDtTm></GrpHdr><Ntfctn>'
            f'<Id>NTF-{i}</Id><Acct><Id><Othr><Id>1402023309000123456</Id></Othr></Id></Acct>'
            f'<Ntry><Amt Ccy="CNY">10000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
            f'<BookgDt><DtTm>{when.isoformat()}</DtTm></BookgDt><AcctSvcrRef>NTF{i}</AcctSvcrRef><NtryDtls>'
            + _detail(f"NTF{i}", 1_000_000, va_number(i), org_name(i), payer_account(i))
            + "</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>").encode()


async def main(args: argparse.Namespace) -> None:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"th_bench_reconcile_{os.getpid()}"
    parts = urlsplit(server)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    clock = FixedClock(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "bench-camt053.xml"
    try:
        pool = await db.create_pool(url, min_size=1, max_size=2)
        async with pool.acquire() as conn:
            await db.upgrade(conn)
            t0 = time.perf_counter()
            async with conn.transaction():
                bank = await setup(conn, clock, args.requirements, args.lots)
            t_setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            txns = generate(path, args.entries, args.requirements, clock.now() + timedelta(days=1))
            t_gen = time.perf_counter() - t0
            size = path.stat().st_size
            print(f"setup: {args.requirements} requirements in {args.lots} lots ({t_setup:.1f} s); "
                  f"file: {args.entries} entries / {txns} transactions, {size / 1e6:.1f} MB ({t_gen:.1f} s)")

            rss0 = psutil.Process().memory_info().rss
            with RssSampler() as bare_mem:
                bare_s, n = bare_iterparse(path)
            print(f"bare lxml iterparse (default events, entries cleared): {n} entries in {bare_s:.2f} s = "
                  f"{n / bare_s:,.0f} entries/s (peak RSS {bare_mem.peak / 2**20:.0f} MiB)")
            fast_s, n2 = filtered_iterparse(path)
            assert n2 == n
            print(f"tag-filtered lxml iterparse (only <Ntry> reaches Python): {fast_s:.2f} s = "
                  f"{n / fast_s:,.0f} entries/s")

            clock.advance(days=2)
            backend = await conn.fetchval("SELECT pg_backend_pid()")
            load0 = os.getloadavg()[0]
            cpu0, pg0 = time.process_time(), backend_cpu(backend)
            with RssSampler() as mem:
                t0 = time.perf_counter()
                async with conn.transaction():
                    res = await importing.import_path(conn, clock, bank, path, actor=None)
                t_import = time.perf_counter() - t0
                t1 = time.perf_counter()
                async with conn.transaction():
                    m = await run_matching(conn, clock)
                t_match = time.perf_counter() - t1
                t2 = time.perf_counter()
                async with conn.transaction():
                    chk = await ledger.check(conn, clock)
                t_check = time.perf_counter() - t2
                total = time.perf_counter() - t0
            cpu, pg1 = time.process_time() - cpu0, backend_cpu(backend)
            assert res.new_transactions == txns, res
            e2e = args.entries / total
            print(f"end to end: import {t_import:.2f} s + match {t_match:.2f} s ({m['changed']} results) + ledger check "
                  f"{t_check:.2f} s = {total:.2f} s → {e2e:,.0f} entries/s ({txns / total:,.0f} transactions/s), "
                  f"{e2e / (n / bare_s):.2f}× bare parse ({e2e / (n / fast_s):.2f}× the tag-filtered loop)")
            print(f"CPU during end to end: this process {cpu:.2f} s (parse thread included), PostgreSQL backend "
                  + (f"{pg1 - pg0:.2f} s" if pg0 is not None and pg1 is not None else "n/a")
                  + f"; load average {load0:.1f} → {os.getloadavg()[0]:.1f}")
            print(f"peak RSS during end to end: {mem.peak / 2**20:.0f} MiB (process at start {rss0 / 2**20:.0f} MiB; "
                  f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
            identity = chk["identity"][0]
            print(f"ledger: bank {identity['bank_fen']} fen = liabilities {identity['liabilities_fen']} fen "
                  f"({'ok' if identity['ok'] else 'MISMATCH'})")
            t0 = time.perf_counter()
            async with conn.transaction():
                again = await importing.import_path(conn, clock, bank, path, actor=None)
            print(f"re-import of the same file: already_imported={again.already_imported} in "
                  f"{time.perf_counter() - t0:.2f} s")

            lat = []
            cpu0, pg0 = time.process_time(), backend_cpu(backend)
            for i in range(args.notifications):
                data = notification(i, clock.now())
                t0 = time.perf_counter()
                async with conn.transaction():
                    r = await importing.import_file(conn, clock, bank, io.BytesIO(data), filename=f"n{i}.xml",
                                                    actor=None)
                    await run_matching(conn, clock, file_id=r.file_id)
                lat.append((time.perf_counter() - t0) * 1000)
            cpu, pg1 = time.process_time() - cpu0, backend_cpu(backend)
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
            print(f"one-entry camt.054 (import + incremental match), {len(lat)} runs: p50 {p(0.5):.1f} ms, "
                  f"p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} ms, mean {statistics.mean(lat):.1f} ms; CPU per "
                  f"notification: this process {cpu / len(lat) * 1000:.1f} ms, PostgreSQL backend "
                  + (f"{(pg1 - pg0) / len(lat) * 1000:.1f} ms" if pg0 is not None and pg1 is not None else "n/a"))
        await pool.close()
    finally:
        path.unlink(missing_ok=True)
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--requirements", type=int, default=50_000)
    ap.add_argument("--lots", type=int, default=10)
    ap.add_argument("--notifications", type=int, default=200)
    asyncio.run(main(ap.parse_args()))
