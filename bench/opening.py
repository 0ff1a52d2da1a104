"""Benchmark: opening 300 sealed bids of 5 MiB on real PostgreSQL.

Figure of merit (issue 4): time from the k-th custodian's last share (its release committed) to the published,
signed opening record (every bid decrypted as a stream, form.json read, attachments stored, per-bid log entries,
record built, PDF rendered and PAdES-signed). Target < 15 s.

    /work/venv/bin/python bench/opening.py [--bids 300] [--size-mib 5] [--workers 2]

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 trust); creates and drops its own database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from trading import db  # noqa: E402
from trading.bids import package as bid_package  # noqa: E402
from trading.bids import repository as bids_repo  # noqa: E402
from trading.bids import seal as sealing  # noqa: E402
from trading.bids.ceremony import SUITE_X25519  # noqa: E402
from trading.blobs import BlobStore  # noqa: E402
from trading.clock import FixedClock  # noqa: E402
from trading.opening import custodian as client  # noqa: E402
from trading.opening import services  # noqa: E402
from trading.opening.schemas import ReleaseSubmit  # noqa: E402
from trading.records import Tag, append_entry  # noqa: E402
from trading.settings import Settings  # noqa: E402


class _Id:
    def __init__(self, id_: UUID) -> None:
        self.id = id_


async def main(n_bids: int, size_mib: int, workers: int) -> None:
    from tests.conftest import Factory, credit_code
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"th_bench_opening_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = server.rsplit("/", 1)[0] + "/" + name
    data_dir = Path(tempfile.mkdtemp(prefix="th-bench-opening-"))
    pool = await db.create_pool(url, min_size=2, max_size=8)
    try:
        async with pool.acquire() as c:
            await db.upgrade(c)
        clock = FixedClock()
        settings = Settings(database_url=url, data_dir=data_dir, background=False)
        blobs = BlobStore(settings.blob_dir)
        factory = Factory(pool, clock, settings)
        lot = await factory.published_lot(k=2, n=3)
        lot_id, record_lot = lot["lot_id"], lot["lot"]
        payload_dir = data_dir / "payload"
        payload_dir.mkdir()

        print(f"sealing {n_bids} bids of {size_mib} MiB …", flush=True)
        t = time.perf_counter()
        for i in range(n_bids):
            key = Ed25519PrivateKey.generate()
            async with pool.acquire() as c, c.transaction():
                # Rows straight in (the services hash passwords with argon2: seconds per bidder, not the subject).
                org = await c.fetchrow(
                    "INSERT INTO organisations (name, kind, credit_code, approved, created_at)"
                    " VALUES ($1, 'bidder', $2, true, $3) RETURNING id", f"投标人{i:03d}有限公司", credit_code(),
                    clock.now())
                user = await c.fetchrow(
                    "INSERT INTO users (org_id, username, display_name, password_hash, roles, created_at)"
                    " VALUES ($1, $2, $2, 'x', ARRAY['bidder'], $3) RETURNING id", org["id"], f"bench{i}",
                    clock.now())
                org, user = _Id(org["id"]), _Id(user["id"])
                key_id = await c.fetchval(
                    "INSERT INTO identity_keys (user_id, public_key, status, registered_at, approved_at)"
                    " VALUES ($1, $2, 'approved', $3, $3) RETURNING id", user.id,
                    key.public_key().public_bytes_raw(), clock.now())
            att = payload_dir / "technical.pdf"
            att.write_bytes(os.urandom(size_mib * 1024 * 1024 - 4096))
            form = bid_package.build_form(tender_id=str(record_lot.tender_id), lot_id=str(lot_id),
                                          bidder_org_id=str(org.id), price_yuan=f"{900000 + i}.00",
                                          bid_fields=record_lot.bid_fields, duration_days=180)
            ct_path = payload_dir / "ct"
            with ct_path.open("wb") as out:
                sealed = sealing.seal(record_lot.ceremony_record, lambda w: bid_package.write_package(w, form, [att]),
                                      out, signing_key=key, bidder_org_id=str(org.id), signer_id=str(user.id),
                                      expected_ceremony_hash=record_lot.ceremony_hash)
            m = sealed.manifest
            final = blobs.ciphertext_path(m.ct_root.hex())
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(ct_path, final)
            async with pool.acquire() as c, c.transaction():
                entry = await append_entry(c, clock, Tag.BID_SEAL_ACCEPT, tender_id=m.tender_id, lot_id=lot_id,
                                           body={"bid": m.bid_id.hex(), "version": 1,
                                                 "manifest_sha256": sealed.manifest_sha256.hex(),
                                                 "ct_root": m.ct_root.hex(), "ct_len": m.ct_len})
                await bids_repo.insert_bid(
                    c, bid_id=UUID(bytes=m.bid_id), lot_id=lot_id, tender_id=UUID(m.tender_id), bidder_org_id=org.id,
                    signer_id=user.id, identity_key_id=key_id, version=1, previous=None,
                    manifest=sealed.manifest_bytes, signature=sealed.signature,
                    manifest_sha256=sealed.manifest_sha256, ct_root=m.ct_root, ct_len=m.ct_len,
                    accepted_at=clock.now(), accept_seq=entry.seq, receipt="bench", addr=None)
        print(f"  sealed and stored in {time.perf_counter() - t:.1f} s")

        clock.set(lot["deadline"] + timedelta(seconds=1))
        async with pool.acquire() as c, c.transaction():
            t = time.perf_counter()
            await services.pass_deadline(c, clock, settings, lot_id)
        print(f"deadline pass + opening start ({n_bids} bids listed): {time.perf_counter() - t:.2f} s")

        async def release(i: int) -> float:
            cust = lot["custodians"][i]
            hpke = sealing.HpkePrivateKey(SUITE_X25519, cust["hpke_private_key"].private_bytes_raw())
            async with pool.acquire() as c:
                bundle = await services.opening_bundle(c, lot_id, cust["user"])
            t0 = time.perf_counter()
            statement, signature, skipped = client.build_release(
                bundle, lot_id=str(lot_id), custodian_id=str(cust["user"].id), hpke_key=hpke,
                identity_key=cust["identity_private_key"], now=clock.now())
            assert not skipped
            t1 = time.perf_counter()
            async with pool.acquire() as c, c.transaction():
                res = await services.release_shares(c, clock, lot_id, cust["user"],
                                                    ReleaseSubmit(statement=statement, signature=signature))
            assert res.accepted == n_bids, res
            print(f"custodian {i + 1}: client check+open {t1 - t0:.2f} s, server release {time.perf_counter() - t1:.2f} s")
            return time.perf_counter()

        await release(0)
        last_share = await release(1)  # the k-th custodian's last share is stored (committed) here
        report = await services.run_unsealing(pool, clock, settings, lot_id, workers=workers, attachments=False)
        elapsed = time.perf_counter() - last_share
        t = time.perf_counter()
        stored = await services.store_attachments(pool, settings, lot_id, workers=workers)
        print(f"then: attachments of {stored} bids written to the blob store in {time.perf_counter() - t:.2f} s")
        assert report.opened == n_bids and report.status == "published", report
        total = n_bids * size_mib
        print(f"k-th custodian's last share → published signed record: {elapsed:.2f} s "
              f"({n_bids} bids, {total} MiB, {total / elapsed:.0f} MiB/s, workers={workers}) "
              f"— target < 15 s: {'PASS' if elapsed < 15 else 'FAIL'}")
    finally:
        await pool.close()
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bids", type=int, default=300)
    ap.add_argument("--size-mib", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    asyncio.run(main(a.bids, a.size_mib, a.workers))
