"""Complaint pages in headless Chromium against a real uvicorn server (same process, same clock): the bidder files
a complaint from its page (an empty request is refused, and said why); the regulator accepts it, orders the tender
suspended and decides it from its list, with the due dates in Asia/Shanghai."""
from __future__ import annotations

from tests.browser import page_as
from tests.evaluation.test_complaints import GROUNDS, REQUEST, answer, cst, documents_case, flags


async def test_bidder_files_and_regulator_accepts_suspends_and_decides(server, browser, factory, pool, clock,
                                                                       tmp_path):
    from playwright.async_api import expect

    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    page = await page_as(browser, server, await factory.token(case["user"]))
    await page.goto(f"{server}/complaints?lang=zh")
    await expect(page.locator("#none")).to_be_visible()
    await page.fill("#f-tender", str(case["tender_id"]))
    await page.fill("#f-objection", str(case["objection"].id))
    await page.fill("#f-grounds", GROUNDS)
    await page.click("#f-submit")                                       # no request: refused, said why
    await expect(page.locator("#msg")).to_contain_text("request")
    await page.fill("#f-request", REQUEST)
    await page.click("#f-submit")
    row = page.locator("tr.complaint")
    await expect(row).to_contain_text("待受理")
    await expect(row.locator(".accept-due")).to_have_text("2026-03-09 24:00")
    await expect(page.locator("button.accept")).to_have_count(0)          # the regulator's, not the bidder's
    await page.click("button.add-evidence")                              # no file chosen: said so
    await expect(page.locator("#msg")).to_contain_text("file")
    evidence = tmp_path / "招标文件第12页.pdf"
    evidence.write_bytes(b"%PDF-1.4 evidence")
    await page.set_input_files("input.evidence-file", str(evidence))
    await page.click("button.add-evidence")
    await expect(row.locator("ul.evidence")).to_contain_text("招标文件第12页.pdf")
    await page.screenshot(path=str(tmp_path / "bidder-complaints.png"), full_page=True)

    reg = await page_as(browser, server, await factory.token(case["regulator"]))
    await reg.goto(f"{server}/regulator/complaints?lang=zh")
    row = reg.locator("tr.complaint")
    await expect(row).to_contain_text(case["org"].name)
    await expect(row.locator("ul.evidence a")).to_have_text("招标文件第12页.pdf")
    await reg.click("button.accept")
    await expect(row.locator(".status")).to_have_text("已受理")
    await expect(row.locator(".decision-due")).to_have_text("2026-04-16 24:00")
    await reg.click("button.suspend")
    await expect(row.locator(".suspended")).to_be_visible()
    assert await flags(pool, case["tender_id"]) == (False, True)
    await reg.click("button.decide")                                      # no written decision: refused
    await expect(reg.locator("#msg")).to_contain_text("text")
    await reg.select_option("select.outcome", "upheld")
    await reg.fill("textarea.decision-text", "责令招标人修改招标文件第三章资格条件")
    await reg.click("button.decide")
    await expect(row.locator(".status")).to_have_text("已作出处理决定")
    await expect(row.locator(".decision")).to_have_text("投诉成立")
    await expect(row.locator(".suspended")).to_have_count(0)
    assert await flags(pool, case["tender_id"]) == (False, False)
    await reg.screenshot(path=str(tmp_path / "regulator-complaints.png"), full_page=True)


async def test_bidder_asks_to_withdraw_and_regulator_refuses_then_allows(server, browser, factory, pool, clock):
    """Bidding Law, accepted: the withdrawal is a request (an empty reason is refused and said why); the regulator
    refuses it with the violation found, then allows a second one."""
    from playwright.async_api import expect

    from tests.evaluation.test_complaints import accepted_complaint

    case, _ = await accepted_complaint(factory, pool, clock)
    page = await page_as(browser, server, await factory.token(case["user"]))
    await page.goto(f"{server}/complaints?lang=zh")
    row = page.locator("tr.complaint")
    await page.click("button.withdraw")                                    # no reason: refused, said why
    await expect(page.locator("#msg")).to_contain_text("reason")
    await page.fill("input.withdraw-reason", "已与招标人协商解决")
    await page.click("button.withdraw")
    await expect(row.locator(".withdraw-requested")).to_have_text("申请撤回，待监督部门决定")
    await expect(page.locator("button.withdraw")).to_have_count(0)

    reg = await page_as(browser, server, await factory.token(case["regulator"]))
    await reg.goto(f"{server}/regulator/complaints?lang=zh")
    row = reg.locator("tr.complaint")
    await reg.fill("input.withdraw-refuse-reason", "已查实资格条件明显违法")
    await reg.click("button.refuse-withdrawal")
    await expect(row.locator(".withdraw-refused")).to_contain_text("已查实资格条件明显违法")
    await expect(row.locator(".status")).to_have_text("已受理")

    await page.reload()
    await page.fill("input.withdraw-reason", "补充说明后再次申请")
    await page.click("button.withdraw")
    await expect(page.locator("tr.complaint .withdraw-requested")).to_be_visible()
    await reg.reload()
    await reg.click("button.allow-withdrawal")
    await expect(row.locator(".status")).to_have_text("已撤回")
