"""标底 (reference price): secret until the opening (招标投标法 第二十二条), announced in the opening record
(招标投标法实施条例 第五十条)."""
from __future__ import annotations

import subprocess

from tests.trading.opening.conftest import Opening

SECRET = "987654.32"


def _leaks(text: str) -> bool:
    return any(s in text for s in ("987654", "987,654", "玖拾捌万柒仟陆佰伍拾肆"))


async def test_reference_price_is_secret_before_the_opening_and_announced_at_it(factory, pool, clock, settings,
                                                                                tmp_path, client):
    o = await Opening(factory, pool, clock, settings, tmp_path).setup(max_price="1200000.00",
                                                                      reference_price=SECRET)
    tid = o.lot["tender_id"]
    for url in (f"/api/tenders/{tid}", f"/tenders/{tid}", f"/tenders/{tid}?lang=en", "/api/tenders/", "/tenders"):
        r = await client.get(url)
        assert r.status_code == 200 and not _leaks(r.text), url
    r = await client.get(f"/api/tenders/{tid}", headers=o.lot["agency_headers"])
    assert not _leaks(r.text)
    for p in ("950000.00", "990000.00", "1010000.00"):
        await o.submit(await o.bidder(), p)
    o.after_deadline()
    await o.start()
    await o.release(0)
    await o.release(1)
    await o.unseal()
    async with pool.acquire() as c:
        record = await c.fetchval("SELECT record FROM opening_records WHERE lot_id = $1", o.lot_id)
        pdf_sha = await c.fetchval("SELECT pdf_sha256 FROM opening_records WHERE lot_id = $1", o.lot_id)
    assert record["reference_price_yuan"] == SECRET and record["reference_price_fen"] == 98765432
    from trading.blobs import blob_store

    text = subprocess.run(["pdftotext", "-layout", str(blob_store(settings).path(pdf_sha)), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "标底" in text and "987654.32" in text


async def test_reference_price_above_the_maximum_price_is_refused(factory):
    import pytest

    from trading.tenders.errors import LotInvalid

    with pytest.raises(LotInvalid):
        await factory.published_lot(max_price="900000.00", reference_price="900000.01")
    with pytest.raises(LotInvalid):
        await factory.published_lot(reference_price="0")
