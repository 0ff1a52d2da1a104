"""Before the deadline nobody learns who or how many have bid, and nothing readable holds a bid's content:
after several submissions, every text/bytea value of every table and every file of the blob store is scanned
for the bids' plaintext markers, their DEKs and their shares."""
from __future__ import annotations

import io
import secrets

from tests.trading.bids.conftest import make_bidder, submit
from trading.bids import package, seal


async def _all_values(pool) -> list[bytes]:
    """Every row of every table as text (bytea rendered as hex by row_to_json), plus raw bytea values."""
    out: list[bytes] = []
    async with pool.acquire() as c:
        tables = [r["tablename"] for r in await c.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for t in tables:
            for r in await c.fetch(f'SELECT row_to_json(_r)::text AS j FROM "{t}" _r'):
                out.append(r["j"].encode())
            cols = await c.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name = $1 AND data_type = 'bytea'", t)
            for col in cols:
                for r in await c.fetch(f'SELECT "{col["column_name"]}" AS v FROM "{t}"'):
                    if r["v"] is not None:
                        out.append(bytes(r["v"]))
    return out


def _forms(needle: bytes) -> list[bytes]:
    return [needle, needle.hex().encode()]


async def test_database_and_blobs_hold_no_plaintext_dek_or_share(client, pool, factory, settings, tmp_path) -> None:
    lot = await factory.published_lot()
    async with pool.acquire() as c:
        record = bytes(await c.fetchval("SELECT ceremony_record FROM lots WHERE id = $1", lot["lot_id"]))
    secrets_found: list[bytes] = []
    markers: list[bytes] = []
    bidders = []
    for i in range(4):
        bidder = await make_bidder(factory, lot["lot_id"])
        bidders.append(bidder)
        marker = f"PLAINTEXT-MARKER-{i}-{secrets.token_hex(8)}"
        markers.append(marker.encode())
        att = tmp_path / f"a{i}.txt"
        att.write_text(f"technical proposal {marker}" * 100)
        form = package.build_form(tender_id=str(lot["tender_id"]), lot_id=str(lot["lot_id"]),
                                  bidder_org_id=str(bidder.org.id), price_yuan=f"{900000 + i}.00",
                                  duration_days=100 + i, bid_fields=lot["lot"].bid_fields)
        dst = io.BytesIO()
        sealed = seal.seal(record, lambda w: package.write_package(w, form, [att]), dst, signing_key=bidder.key,
                           bidder_org_id=str(bidder.org.id), signer_id=str(bidder.user.id))
        r = await submit(client, lot["lot_id"], bidder, sealed, dst.getvalue())
        assert r.status_code == 201, r.text
        # what must never be readable: the DEK and every plaintext share
        m = sealed.manifest
        shares = {c["x"]: seal.custodian_open(m, str(c["user"].id), c["hpke_private_key"]) for c in lot["custodians"]}
        dek = seal.recover_checked_dek(m, shares)
        secrets_found += [dek, *shares.values()]
        markers.append(str(form.price_fen).encode() + b",")  # the price as it appears in form.json
    values = await _all_values(pool)
    # the scan does see what is stored: the last manifest's ciphertext hash is there (as bytea and as hex)
    assert any(m.ct_root in v for v in values) and any(m.ct_root.hex().encode() in v for v in values)
    blobs = [p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file()]
    assert len(blobs) >= 4
    for needle in markers + secrets_found:
        for form in _forms(needle):
            assert not any(form in v for v in values), f"found {needle[:20]!r} in the database"
            assert not any(form in b for b in blobs), f"found {needle[:20]!r} in the blob store"
    # witness entries about bids name no bidder
    async with pool.acquire() as c:
        entries = [bytes(r["entry"]) for r in await c.fetch(
            "SELECT entry FROM log_entries WHERE tag LIKE 'bid:%'")]
    assert len(entries) == 4
    for b in bidders:
        for e in entries:
            assert str(b.org.id).encode() not in e and str(b.user.id).encode() not in e


async def test_bidder_sees_only_its_own_bids(client, pool, factory) -> None:
    from tests.trading.bids.conftest import seal_bytes

    lot = await factory.published_lot()
    a = await make_bidder(factory, lot["lot_id"])
    b = await make_bidder(factory, lot["lot_id"])
    s, ct = await seal_bytes(pool, lot["lot_id"], a, b"a's bid")
    assert (await submit(client, lot["lot_id"], a, s, ct)).status_code == 201
    r = await client.get(f"/api/lots/{lot['lot_id']}/bids/mine", headers=b.headers)
    assert r.status_code == 200 and r.json() == []
    r = await client.get(f"/api/lots/{lot['lot_id']}/bids/mine", headers=a.headers)
    assert [x["version"] for x in r.json()] == [1]
    # the agency is not a bidder: it cannot list bids at all
    r = await client.get(f"/api/lots/{lot['lot_id']}/bids/mine", headers=lot["agency_headers"])
    assert r.status_code == 403
    # the lot's public sealing information carries no count of bids
    info = (await client.get(f"/api/lots/{lot['lot_id']}/seal-info", headers=lot["agency_headers"])).json()
    assert not any("count" in k or "bids" in k for k in info)
