"""The report to the supervising authority (招标投标法 第四十七条): written and signed by the platform from the record,
submitted by the agency within 15 days of the award, read by regulators; a missing one is logged once when due."""
from __future__ import annotations

import subprocess
from datetime import timedelta

import msgspec
import pytest

from evaluation import errors, services
from tests.evaluation.test_contract import awarded
from tests.evaluation.test_services import tx
from trading.accounts.schemas import Role
from trading.records.certs import root_certificate_pem
from trading.records.pdf import check_pdf_signature_async


async def _entries(pool, tag):
    async with pool.acquire() as c:
        return [msgspec.json.decode(bytes(r["entry"])) for r in
                await c.fetch("SELECT entry FROM log_entries WHERE tag = $1 ORDER BY seq", tag)]


async def test_report_is_written_signed_and_read_by_regulators(make_lot, pool, clock, settings, client, factory,
                                                               tmp_path):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    notice_at = clock.now()
    clock.advance(days=3)
    agency = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
    r = await client.post(f"/api/lots/{lot['lot_id']}/supervisor-report", headers=agency)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["late"] is False
    assert body["due_at"] == services.duty_due("supervisor_report", notice_at).isoformat()
    r = await client.post(f"/api/lots/{lot['lot_id']}/supervisor-report", headers=agency)
    assert r.status_code == 409 and r.json()["code"] == "supervisor_report_already_submitted"

    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get(f"/api/lots/{lot['lot_id']}/supervisor-report.pdf", headers=regulator)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    check = await check_pdf_signature_async(r.content, [root_certificate_pem(settings)])
    assert check.ok, check.problems
    (tmp_path / "r.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    winner = next(o.name for (o, _) in lot["bidders"] if str(o.id) == out["winner_org_id"])
    assert "招标投标情况书面报告" in text and "第四十七条" in text and winner in text
    assert f"{price // 100:,}" in text
    for p in lot["experts"]:
        assert p["member"].name in text                              # the committee, public after the result
    [entry] = await _entries(pool, "award:report:submit")
    assert entry["body"]["pdf_sha256"] == body["pdf_sha256"]
    bidder = {"Authorization": f"Bearer {await factory.token(lot['bidders'][0][1][0])}"}
    assert (await client.get(f"/api/lots/{lot['lot_id']}/supervisor-report.pdf", headers=bidder)).status_code == 403


async def test_report_refused_before_the_award_and_by_another_agency(make_lot, pool, clock, settings, factory):
    from tests.evaluation.test_award import published

    lot, _ = await published(make_lot, pool, clock, settings)
    with pytest.raises(errors.AwardNotIssued):
        await tx(pool, services.submit_supervisor_report, clock, lot["lot_id"], actor=lot["agency_user"],
                 settings=settings, src=lot["roster"])
    clock.advance(days=3, seconds=1)
    from evaluation.schemas import AwardIn

    await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
             settings=settings, src=lot["roster"])
    other = await factory.org("agency")
    stranger, _ = await factory.signed_in(Role.AGENCY, org_id=other.id)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.submit_supervisor_report, clock, lot["lot_id"], actor=stranger, settings=settings,
                 src=lot["roster"])


async def test_missing_report_logged_once_after_fifteen_days_and_a_late_one_marked(make_lot, pool, clock, settings,
                                                                                  client, factory):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    due = services.duty_due("supervisor_report", clock.now())
    clock.set(due - timedelta(seconds=1))
    assert (await tx(pool, services.flag_overdue_duties, clock))["supervisor_report"] == 0
    clock.set(due)
    assert (await tx(pool, services.flag_overdue_duties, clock))["supervisor_report"] == 1
    assert (await tx(pool, services.flag_overdue_duties, clock))["supervisor_report"] == 0
    [entry] = await _entries(pool, "award:report:overdue")
    assert entry["body"]["lot"] == str(lot["lot_id"])
    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get("/api/regulator/overdue-reports", headers=regulator)
    assert [x["lot_id"] for x in r.json()] == [str(lot["lot_id"])] and r.json()[0]["duty"] == "supervisor_report"
    out = await tx(pool, services.submit_supervisor_report, clock, lot["lot_id"], actor=lot["agency_user"],
                   settings=settings, src=lot["roster"])
    assert out["late"] is True
    assert (await client.get("/api/regulator/overdue-reports", headers=regulator)).json() == []


async def test_no_report_is_due_for_a_project_that_need_not_be_tendered(make_lot, pool, clock, settings):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    async with pool.acquire() as c:
        await c.execute("UPDATE tenders SET must_tender = false WHERE id = $1", lot["tender_id"])
    clock.advance(days=40)
    counts = await tx(pool, services.flag_overdue_duties, clock)
    assert counts == {"contract": 1, "supervisor_report": 0}      # the contract is still due (法 第四十六条)
