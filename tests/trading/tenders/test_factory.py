from trading.bids.ceremony import ceremony_hash, decode_ceremony


async def test_published_lot_factory_publishes_with_ceremony(factory, pool):
    p = await factory.published_lot()
    assert p["lot"].status == "published"
    assert p["ceremony_hash"] == ceremony_hash(p["lot"].ceremony_record)
    record = decode_ceremony(p["lot"].ceremony_record)
    assert [c.x for c in record.custodians] == [1, 2, 3]
    org, user, headers = await factory.downloader(p["lot_id"])
    async with pool.acquire() as c:
        from trading.tenders.services import has_downloaded, list_downloader_org_ids

        assert await has_downloaded(c, p["lot_id"], org.id)
        assert await list_downloader_org_ids(c, p["lot_id"]) == [org.id]


async def test_published_lot_factory_post_quantum(factory):
    p = await factory.published_lot(post_quantum=True, k=2, n=2)
    assert decode_ceremony(p["lot"].ceremony_record).custodians[0].suite.startswith("mlkem768")
