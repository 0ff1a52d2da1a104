from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from trading.accounts.schemas import Role


async def _setup(scenario, factory, client):
    b = await scenario.bidder()
    await scenario.pay(b)
    await scenario.match()
    return b


async def test_api_request_account_needs_the_documents(scenario, factory, client):
    org = await factory.org("bidder")
    _, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/account", json={"bank": "icbc"}, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "documents_not_obtained"


async def test_api_request_account_is_unique_per_lot_and_bidder_and_stable(scenario, client):
    a = await scenario.bidder()
    b = await scenario.bidder()
    r1 = await client.post(f"/api/deposits/lots/{scenario.lot_id}/account", json={"bank": "icbc"},
                           headers=a["headers"])
    r2 = await client.post(f"/api/deposits/lots/{scenario.lot_id}/account", json={"bank": "icbc"},
                           headers=b["headers"])
    assert r1.status_code == 200 and r1.json()["number"] == a["va"]
    assert r2.json()["number"] == b["va"] != a["va"]
    assert r1.json()["amount"] == "10000.00"


async def test_api_request_account_after_deadline_is_refused(scenario, client, clock):
    a = await scenario.bidder()
    clock.set(scenario.deadline)
    headers = {"Authorization": f"Bearer {await scenario.factory.token(a['user'])}"}
    r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/account", json={"bank": "icbc"}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "lot_not_taking_deposits"


async def test_api_unknown_field_is_refused(scenario, client):
    a = await scenario.bidder()
    r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/account", json={"bank": "icbc", "x": 1},
                          headers=a["headers"])
    assert r.status_code == 400


async def test_confidentiality_before_deadline_bidder_sees_only_its_own(scenario, factory, client):
    a = await _setup(scenario, factory, client)
    other = await scenario.bidder()
    mine = await client.get(f"/api/deposits/lots/{scenario.lot_id}/mine", headers=a["headers"])
    assert mine.status_code == 200 and mine.json()["status"] == "PAID" and len(mine.json()["credits"]) == 1
    theirs = await client.get(f"/api/deposits/lots/{scenario.lot_id}/mine", headers=other["headers"])
    assert theirs.json()["credits"] == [] and theirs.json()["status"] == "AWAITING"
    # a bidder cannot read the lot view at all
    r = await client.get(f"/api/deposits/lots/{scenario.lot_id}", headers=a["headers"])
    assert r.status_code == 403


async def test_confidentiality_before_deadline_agency_sees_counts_only(scenario, factory, client, clock):
    await _setup(scenario, factory, client)
    r = await client.get(f"/api/deposits/lots/{scenario.lot_id}", headers=scenario.lot["agency_headers"])
    body = r.json()
    assert r.status_code == 200 and body["bidders"] is None and body["counts"]["paid_in_full"] == 1
    clock.set(scenario.deadline + timedelta(seconds=1))
    await scenario.match()
    headers = {"Authorization": f"Bearer {await scenario.factory.token(scenario.lot['agency_user'])}"}
    body = (await client.get(f"/api/deposits/lots/{scenario.lot_id}", headers=headers)).json()
    assert body["bidders"][0]["state"] == "PAID"


async def test_confidentiality_before_deadline_regulator_sees_everything(scenario, factory, client):
    b = await _setup(scenario, factory, client)
    _, headers = await factory.signed_in(Role.REGULATOR)
    body = (await client.get(f"/api/deposits/lots/{scenario.lot_id}", headers=headers)).json()
    assert body["bidders"][0]["org_name"] == b["org"].name


async def test_confidentiality_before_deadline_finance_page_masks_the_payer(scenario, factory, client, admin):
    b = await scenario.bidder()
    await scenario.pay(b, name="另一个名字")  # NAME_MISMATCH → appears among flags
    await scenario.match()
    _, headers = admin
    body = (await client.get("/api/deposits/finance", headers=headers)).json()
    (flag,) = body["flags"]
    assert flag["sealed"] and flag["payer_name"] == "（截止前保密）" and flag["bidder"] == "（截止前保密）"
    page = await client.get("/deposits/finance", headers=headers)
    assert page.status_code == 200 and "另一个名字" not in page.text and b["org"].name not in page.text
    csv = await client.get("/api/deposits/reports/reconciliation.csv", headers=headers)
    assert csv.content.startswith(b"\xef\xbb\xbf") and b["org"].name not in csv.content.decode("utf-8-sig")


async def test_api_import_upload_then_same_file_changes_nothing(bank, client, admin, samples):
    _, headers = admin
    data = (samples / "camt054.001.04_OCA_sps_eur_qrr.xml").read_bytes()
    r1 = await client.post("/api/deposits/imports", files={"file": ("n.xml", data, "application/xml")},
                           data={"bank": "icbc"}, headers=headers)
    r2 = await client.post("/api/deposits/imports", files={"file": ("n.xml", data, "application/xml")},
                           data={"bank": "icbc"}, headers=headers)
    assert r1.status_code == 201 and r1.json()["new_transactions"] == 1
    assert r2.json()["already_imported"] and r2.json()["new_transactions"] == 0


async def test_api_import_broken_file_is_a_problem_not_a_500(bank, client, admin):
    _, headers = admin
    r = await client.post("/api/deposits/imports", files={"file": ("x.xml", b"<Document><oops", "application/xml")},
                          data={"bank": "icbc"}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "statement_invalid"


async def test_api_import_of_a_bank_time_out_of_range_is_a_problem_not_a_500(bank, client, admin):
    # Year 1 at +14:00 is before year 1 in UTC, year 9999 at -05:00 after 9999 in Asia/Shanghai: both answered 500
    # (OverflowError while counting the booking date), in csv/1 and camt alike.
    from tests.deposits.builders import camt, entry
    from tests.deposits.test_parsing import CSV_HEADER

    _, headers = admin
    files = [("s.csv", (CSV_HEADER + "S1,A1,SER1,CRDT,1.50,CNY,BOOK,0001-01-01T00:00:00+14:00,,x,1,,,\n").encode()),
             ("s.xml", camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-1",
                            [entry("R1", "10.00", when="9999-12-31T23:00:00-05:00")]))]
    for name, data in files:
        r = await client.post("/api/deposits/imports", files={"file": (name, data, "application/octet-stream")},
                              data={"bank": "icbc"}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (422, "statement_invalid"), r.text
        assert "out of range" in r.json()["detail"]


async def test_api_rate_that_is_not_an_exact_fraction_is_refused_and_not_stored(client, admin, pool):
    # "abc", "-5" and "0.35%" answered 500 (decimal.InvalidOperation, the CHECK constraint); "NaN" was stored and
    # would have broken every refund's interest computed with it.
    _, headers = admin
    base = {"kind": "demand_deposit", "effective_from": "2015-10-24", "source": "中国人民银行"}
    for bad in ("abc", "NaN", "Infinity", "-5", "0.35%", "1", "35", "1e-999999", "0.00350001", ""):
        r = await client.post("/api/deposits/rates", json={**base, "annual_rate": bad}, headers=headers)
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "rate_invalid", "annual_rate"), bad
    r = await client.post("/api/deposits/rates", json={**base, "annual_rate": "0.0035", "kind": "savings"},
                          headers=headers)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "rate_invalid", "kind")
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM deposit_interest_rates") == 0
    r = await client.post("/api/deposits/rates", json={**base, "annual_rate": "0.0035"}, headers=headers)
    assert r.status_code == 201 and r.json() == {"status": "recorded"}, r.text
    # a rate changes refunds' interest: witnessed with its actor; the same kind and day again is kept, not changed
    r = await client.post("/api/deposits/rates", json={**base, "annual_rate": "0.0050"}, headers=headers)
    assert r.status_code == 201 and r.json() == {"status": "already_recorded"}, r.text
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT annual_rate FROM deposit_interest_rates") == Decimal("0.0035")
        entries = await c.fetch("SELECT actor, entry FROM log_entries WHERE tag = 'deposit:rate:add'")
    assert len(entries) == 1 and entries[0]["actor"] == str(admin[0].id) and b'"0.0035"' in bytes(entries[0]["entry"])


async def test_api_import_needs_admin(bank, client, factory, samples):
    _, headers = await factory.signed_in(Role.REGULATOR)
    r = await client.post("/api/deposits/imports", files={"file": ("n.xml", b"<x/>", "application/xml")},
                          data={"bank": "icbc"}, headers=headers)
    assert r.status_code == 403


async def test_api_guarantee_valid_is_accepted_and_state_freezes(scenario, client, clock):
    b = await scenario.bidder()
    day = (scenario.deadline + timedelta(hours=8)).date()
    form = {"issuer": "某某融资担保有限公司", "number": "BH-2026-001", "amount": "10000.00",
            "valid_from": str(day - timedelta(days=30)), "valid_until": str(day + timedelta(days=90))}
    r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/guarantees", data=form,
                          files={"evidence": ("bh.pdf", b"%PDF-1.7 signed guarantee", "application/pdf")},
                          headers=b["headers"])
    assert r.status_code == 201, r.text
    clock.set(scenario.deadline + timedelta(seconds=1))
    await scenario.match()
    assert (await scenario.result(b))["state"] == "GUARANTEE_ACCEPTED"


async def test_api_guarantee_too_small_or_expired_is_refused(scenario, client):
    b = await scenario.bidder()
    day = (scenario.deadline + timedelta(hours=8)).date()
    base = {"issuer": "某某银行", "number": "X1", "amount": "10000.00", "valid_from": str(day - timedelta(days=30)),
            "valid_until": str(day + timedelta(days=90))}
    pdf = {"evidence": ("bh.pdf", b"%PDF-1.7", "application/pdf")}
    for bad in ({"amount": "9999.99"}, {"valid_until": str(day - timedelta(days=1))}):
        r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/guarantees", data={**base, **bad}, files=pdf,
                              headers=b["headers"])
        assert r.status_code == 422 and r.json()["code"] == "guarantee_invalid"
    r = await client.post(f"/api/deposits/lots/{scenario.lot_id}/guarantees", data=base,
                          files={"evidence": ("x.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "application/xml")},
                          headers=b["headers"])
    assert r.status_code == 422 and r.json()["code"] == "statement_unsafe"


async def test_api_reconciliation_pdf_is_signed(bank, client, admin, samples, tmp_path):
    import subprocess

    _, headers = admin
    data = (samples / "camt053.001.02_genkgo_multi_statement.xml").read_bytes()
    await client.post("/api/deposits/imports", files={"file": ("s.xml", data, "application/xml")},
                      data={"bank": "icbc"}, headers=headers)
    r = await client.get("/api/deposits/reports/reconciliation.pdf", headers=headers)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    path = tmp_path / "r.pdf"
    path.write_bytes(r.content)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert "Signature #1" in out.stdout
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "对账" in text


async def test_api_bank_configuration_refuses_bad_and_duplicate(bank, client, admin):
    _, headers = admin
    base = {"code": "boc", "name": "中国银行", "cnaps_code": "104391000015", "main_account": "40770000000001",
            "main_account_name": "交易中心保证金专户", "formats": ["camt.053"], "virtual_prefix": "6013"}
    for bad in ({"cnaps_code": "1234"}, {"formats": ["pdf"]}, {"time_basis": "whenever"},
                {"main_account": bank.main_account}, {"cnaps_code": bank.cnaps_code},
                {"legacy_encoding": "unicode_escape"}, {"legacy_encoding": "rot13"}, {"legacy_encoding": "nope"},
                {"timezone": "Mars/Olympus"}):
        r = await client.post("/api/deposits/banks", json={**base, **bad}, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "bank_invalid", (bad, r.text)
    r = await client.post("/api/deposits/banks", json={**base, "legacy_encoding": "GBK"}, headers=headers)
    assert r.status_code == 201 and r.json()["code"] == "boc"


async def test_api_manual_refund_with_unknown_reason_is_refused(scenario, client, admin, pool):
    b = await scenario.bidder()
    await scenario.pay(b, account="95580000000000000")
    await scenario.match()
    async with pool.acquire() as c:
        txn_id = await c.fetchval("SELECT id FROM bank_txns")
    _, headers = admin
    r = await client.post(f"/api/deposits/refunds/txns/{txn_id}?reason=because", headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "refund_not_possible"
    r = await client.post(f"/api/deposits/refunds/txns/{txn_id}?reason=unknown_account", headers=headers)
    assert r.status_code == 201
    r = await client.post(f"/api/deposits/refunds/txns/{txn_id}?reason=unknown_account", headers=headers)
    assert r.status_code == 409   # one refund per credit


async def test_api_basic_account_is_registered_once_per_period(scenario, client, pool):
    b = await scenario.bidder(basic=None)
    body = {"account_number": "6222 0202 0000 1234 567", "bank_name": "中国银行北京分行", "account_name": "甲公司",
            "valid_from": "2020-01-01"}
    r = await client.post("/api/deposits/basic-accounts", json=body, headers=b["headers"])
    assert r.status_code == 201, r.text
    # the same account again, for a period that meets the first (open-ended): refused, nothing stored
    again = {**body, "account_number": "6222020200001234567", "valid_from": "2024-05-01", "valid_until": "2025-01-01"}
    r = await client.post("/api/deposits/basic-accounts", json=again, headers=b["headers"])
    assert r.status_code == 409 and r.json()["code"] == "basic_account_registered", r.text
    assert (await client.get("/api/deposits/basic-accounts", headers=b["headers"])).json().__len__() == 1
    # another organisation registering the same number is kept: the matching flags deposits from one account
    # for two bidders as collusion evidence (条例 第四十条(六)), which a refusal here would hide
    other = await scenario.bidder(basic=None)
    r = await client.post("/api/deposits/basic-accounts", json=body, headers=other["headers"])
    assert r.status_code == 201, r.text
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM basic_accounts WHERE account_number = '6222020200001234567'") == 2
