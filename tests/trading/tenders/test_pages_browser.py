"""The public tender pages in headless Chromium against a real uvicorn server: search, open, switch language."""
from __future__ import annotations

from datetime import datetime, timezone

from tests.browser import CHROMIUM_ARGS, AppProcess as Server, chromium_path


async def test_public_can_search_and_read_an_announcement(factory, clock, database_url, tmp_path):
    from playwright.async_api import async_playwright, expect

    clock.set(datetime.now(timezone.utc))  # the server runs on the system clock
    await factory.published_lot(title="鼓楼区老旧小区改造工程施工招标", region="350102")
    await factory.published_lot(title="厦门市医疗设备采购", procurement_type="goods", region="350200")
    server = Server(database_url, tmp_path / "srv")
    try:
        await server.ready()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"{server.url}/tenders?lang=zh")
            await expect(page.get_by_text("共 2 条")).to_be_visible()
            await page.fill("input[name=q]", "老旧小区")
            await page.click("button[type=submit]")
            await expect(page.get_by_text("共 1 条")).to_be_visible()
            await page.click("text=鼓楼区老旧小区改造工程施工招标")
            await expect(page.locator("h1")).to_have_text("鼓楼区老旧小区改造工程施工招标")
            await expect(page.get_by_text("壹佰万元整")).to_be_visible()
            await expect(page.get_by_text("招标公告", exact=True)).to_be_visible()
            await page.click("text=English")
            await expect(page.get_by_text("Announcement and amendment history")).to_be_visible()
            await browser.close()
    finally:
        server.stop()
