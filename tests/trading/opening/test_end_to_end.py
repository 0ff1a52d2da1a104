"""Done means: a lot with 2-of-3 custodians, four bidders (one withdraws, one replaces, one's late replacement is
refused), opening with two custodians over HTTP, the record published and signed, one objection answered, the
lot handed to evaluation, and the tender archive verifying offline."""
from __future__ import annotations

from datetime import timedelta

import pytest

from trading.accounts.schemas import Role
from trading.bids.client import ClientError
from trading.opening.custodian import custodian_unseal


async def _bearer(factory, user) -> dict:
    return {"Authorization": f"Bearer {await factory.token(user)}"}


async def test_opening_end_to_end_with_withdrawal_replacement_late_bid_and_archive(client, opening, factory,
                                                                                   tmp_path):
    from trading.records.pdf import check_pdf_signature
    from trading.records.certs import root_certificate_pem
    from trading.records.verify import verify_archive

    a, b, c, d = [await opening.bidder() for _ in range(4)]
    await opening.http_submit(client, a, "1200000.00", attachment=b"%PDF-1.4 A's technical proposal\n" * 500)
    await opening.http_submit(client, b, "1150000.00")
    await opening.http_withdraw(client, b)                       # 招标投标法 第二十九条: withdrawn before the deadline
    await opening.http_submit(client, c, "1300000.00")
    opening.clock.advance(hours=1)
    await opening.http_submit(client, c, "1250000.50")            # replaced: only version 2 is opened
    await opening.http_submit(client, d, "1280000.00")
    opening.clock.set(opening.deadline + timedelta(milliseconds=1))
    with pytest.raises(ClientError) as late:                      # 电子招标投标办法 第二十七条: late = refused
        await opening.http_submit(client, d, "1100000.00")
    assert late.value.status == 409
    d.bids.pop()

    agency = await _bearer(factory, opening.lot["agency_user"])
    base = f"/api/opening/lots/{opening.lot_id}"
    r = await client.post(f"{base}/start", headers=agency)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "unsealing"

    for i in (0, 1):                                              # two of the three custodians
        cust = opening.custodian(i)
        client.headers["Authorization"] = f"Bearer {await factory.token(cust['user'])}"
        try:
            res = await custodian_unseal(client, str(opening.lot_id), identity_key=cust["identity_private_key"],
                                         hpke_key=opening.hpke(i), now=opening.clock.now(),
                                         log_key=opening.log_key())  # the list is checked against the signed log
        finally:
            client.headers.pop("Authorization", None)
        assert res["accepted"] == 3 and not res["rejected"] and res["log_key_pinned"]
    r = await client.post(f"{base}/unseal", headers=agency)
    assert r.json()["status"] == "published" and r.json()["opened"] == 3

    heads = {x.org.id: await _bearer(factory, x.user) for x in (a, b, c, d)}
    r = await client.get(f"{base}/record", headers=heads[a.org.id])
    assert r.status_code == 200
    record = r.json()["record"]
    by_org = {row["bidder_org_id"]: row for row in record["bids"]}
    assert set(by_org) == {str(a.org.id), str(c.org.id), str(d.org.id)}   # B withdrew
    assert by_org[str(c.org.id)]["price_yuan"] == "1250000.50"           # C's replacement
    assert by_org[str(c.org.id)]["price_capital"] == "壹佰贰拾伍万元伍角整"
    assert by_org[str(d.org.id)]["price_yuan"] == "1280000.00"           # D's late replacement was refused
    assert by_org[str(a.org.id)]["duration_days"] == 180
    r = await client.get(f"{base}/record", headers=heads[b.org.id])
    assert r.status_code == 403                                           # a withdrawn bidder is not a participant

    pdf = (await client.get(f"{base}/record.pdf", headers=heads[a.org.id])).content
    check = check_pdf_signature(pdf, [root_certificate_pem(opening.settings)])
    assert check.ok, check.problems

    assert (await client.post(f"{base}/signin", headers=heads[a.org.id])).status_code == 200
    assert (await client.post(f"{base}/record/confirm", headers=heads[a.org.id])).status_code == 200
    r = await client.post(f"{base}/objections", headers=heads[d.org.id], json={"content": "C 的报价大写与小写是否一致？"})
    objection = r.json()["id"]
    assert (await client.post(f"{base}/close", headers=agency)).status_code == 409
    r = await client.post(f"{base}/objections/{objection}/answer", headers=agency,
                          json={"answer": "一致：壹佰贰拾伍万元伍角整 = 1,250,000.50 元。"})
    assert r.status_code == 200
    r = await client.post(f"{base}/close", headers=agency)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert await opening.lot_status() == "evaluation"

    opened = (await client.get(f"{base}/opened-bids", headers=agency)).json()
    att = next(o for o in opened if o["bidder_org_id"] == str(a.org.id))["attachments"]
    assert att and att[0]["size"] == len(b"%PDF-1.4 A's technical proposal\n" * 500)

    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get(f"/api/records/tenders/{opening.lot['tender_id']}/archive.zip", headers=regulator)
    assert r.status_code == 200, r.text
    path = tmp_path / "archive.zip"
    path.write_bytes(r.content)
    report = verify_archive(path)
    assert report.ok, report.problems
    import subprocess
    import sys

    cli = subprocess.run([sys.executable, "-m", "trading.cli", "verify", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert cli.returncode == 0, cli.stdout + cli.stderr              # `tenderhall verify`, offline
    assert report.documents >= 2                                         # the record and its final version
    tags = await opening.tags()
    for tag in ("bid:seal:accept", "bid:seal:withdraw", "lot:deadline:pass", "opening:session:start",
                "opening:share:release", "bid:unseal:ok", "opening:record:publish", "opening:objection:raise",
                "opening:objection:answer", "opening:session:close"):
        assert tag in tags, tag
