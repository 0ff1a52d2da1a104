"""Deposit pages in headless Chromium against a real uvicorn server (in this process, same clock)."""
from __future__ import annotations

from datetime import timedelta


from tests.browser import page_as
from trading.accounts.schemas import Role


async def test_bidder_page_shows_account_then_paid(server, browser, scenario, factory):
    from playwright.async_api import expect

    b = await scenario.bidder()
    page = await page_as(browser, server, await factory.token(b["user"]))
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}/mine?lang=zh")
    await expect(page.locator("h1")).to_have_text("我的投标保证金")
    await expect(page.locator(".va")).to_have_text(b["va"])
    await expect(page.locator("#status")).to_have_text("等待到账")
    await scenario.pay(b)
    await scenario.match()
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}/mine?lang=en")
    await expect(page.locator("#status")).to_have_text("Paid")
    await expect(page.locator("#credits")).to_contain_text("10000.00")


async def test_agency_page_shows_counts_only_before_the_deadline(server, browser, scenario, factory, clock):
    from playwright.async_api import expect

    b = await scenario.bidder()
    await scenario.pay(b)
    await scenario.match()
    page = await page_as(browser, server, await factory.token(scenario.lot["agency_user"]))
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}?lang=zh")
    await expect(page.locator("#sealed")).to_be_visible()
    await expect(page.locator("#counts")).to_contain_text("1")
    assert b["org"].name not in await page.content()
    clock.set(scenario.deadline + timedelta(seconds=1))
    await scenario.match()
    page = await page_as(browser, server, await factory.token(scenario.lot["agency_user"]))
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}?lang=en")
    await expect(page.locator("#bidders")).to_contain_text(b["org"].name)
    await expect(page.locator("#bidders")).to_contain_text("Paid")


async def test_finance_page_lists_open_flags_masked_before_deadline(server, browser, scenario, factory):
    from playwright.async_api import expect

    b = await scenario.bidder()
    await scenario.pay(b, "9000.00", name="名称不符的付款人")
    await scenario.match()
    admin = await factory.user(Role.ADMIN)
    page = await page_as(browser, server, await factory.token(admin))
    await page.goto(f"{server}/deposits/finance?lang=zh")
    await expect(page.locator("h1")).to_have_text("保证金对账")
    await expect(page.locator("#flags")).to_contain_text("NAME_MISMATCH")
    await expect(page.locator("#flags")).to_contain_text("（截止前保密）")
    assert "名称不符的付款人" not in await page.content()
    regulator = await factory.user(Role.REGULATOR)
    page = await page_as(browser, server, await factory.token(regulator))
    await page.goto(f"{server}/deposits/finance?lang=en")
    await expect(page.locator("#flags")).to_contain_text("名称不符的付款人")
