"""Deposit pages in headless Chromium against a real uvicorn server (in this process, same clock)."""
from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
import uvicorn

from tests.conftest import chromium_path
from trading.accounts.schemas import Role
from trading.app import create_app

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(settings, clock, pool):
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings, clock), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve())
    for _ in range(200):
        if srv.started:
            break
        await asyncio.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await asyncio.wait_for(task, 20)


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _page(browser, base: str, token: str):
    context = await browser.new_context()
    await context.add_cookies([{"name": "th_token", "value": token, "url": base}])
    return await context.new_page()


async def test_bidder_page_shows_account_then_paid(server, browser, scenario, factory):
    from playwright.async_api import expect

    b = await scenario.bidder()
    page = await _page(browser, server, await factory.token(b["user"]))
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
    page = await _page(browser, server, await factory.token(scenario.lot["agency_user"]))
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}?lang=zh")
    await expect(page.locator("#sealed")).to_be_visible()
    await expect(page.locator("#counts")).to_contain_text("1")
    assert b["org"].name not in await page.content()
    clock.set(scenario.deadline + timedelta(seconds=1))
    await scenario.match()
    page = await _page(browser, server, await factory.token(scenario.lot["agency_user"]))
    await page.goto(f"{server}/deposits/lots/{scenario.lot_id}?lang=en")
    await expect(page.locator("#bidders")).to_contain_text(b["org"].name)
    await expect(page.locator("#bidders")).to_contain_text("Paid")


async def test_finance_page_lists_open_flags_masked_before_deadline(server, browser, scenario, factory):
    from playwright.async_api import expect

    b = await scenario.bidder()
    await scenario.pay(b, "9000.00", name="名称不符的付款人")
    await scenario.match()
    admin = await factory.user(Role.ADMIN)
    page = await _page(browser, server, await factory.token(admin))
    await page.goto(f"{server}/deposits/finance?lang=zh")
    await expect(page.locator("h1")).to_have_text("保证金对账")
    await expect(page.locator("#flags")).to_contain_text("NAME_MISMATCH")
    await expect(page.locator("#flags")).to_contain_text("（截止前保密）")
    assert "名称不符的付款人" not in await page.content()
    regulator = await factory.user(Role.REGULATOR)
    page = await _page(browser, server, await factory.token(regulator))
    await page.goto(f"{server}/deposits/finance?lang=en")
    await expect(page.locator("#flags")).to_contain_text("名称不符的付款人")
