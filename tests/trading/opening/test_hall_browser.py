"""The live opening hall in headless Chromium, with TWO app processes on the same database: an event produced
through one process (and one produced by a third, this test) appears on a page served by the other."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx

from tests.browser import CHROMIUM_ARGS, AppProcess as Server, chromium_path


async def test_hall_updates_live_across_two_app_processes(opening, database_url, tmp_path):
    from playwright.async_api import async_playwright, expect

    clock = opening.clock
    bidders = []
    for p in ("950000.00", "980000.00", "1010000.00"):
        b = await opening.bidder()
        await opening.submit(b, p)
        bidders.append(b)
    opening.after_deadline()
    await opening.start()
    # The app processes run on the system clock: issue tokens valid now.
    clock.set(datetime.now(timezone.utc))
    viewer_token = await opening.factory.token(bidders[0].user)
    signer_token = await opening.factory.token(bidders[1].user)

    a, b = Server(database_url, tmp_path / "a"), Server(database_url, tmp_path / "b")
    try:
        await asyncio.gather(a.ready(), b.ready())
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context()
                await context.add_cookies([{"name": "th_token", "value": viewer_token, "url": b.url}])
                page = await context.new_page()
                await page.goto(f"{b.url}/opening/lots/{opening.lot_id}?lang=zh")
                await expect(page.locator("#hall-status")).to_have_attribute("data-status", "unsealing")
                await expect(page.locator("#live-state")).not_to_have_class("live off", timeout=10_000)
                await expect(page.locator("#signin-count")).to_have_text("0")

                # Through process A: another bidder signs in; the page served by B shows it.
                async with httpx.AsyncClient() as http:
                    r = await http.post(f"{a.url}/api/opening/lots/{opening.lot_id}/signin",
                                        headers={"Authorization": f"Bearer {signer_token}"})
                    assert r.status_code == 200, r.text
                await expect(page.locator("#signin-count")).to_have_text("1", timeout=10_000)
                await expect(page.locator("#live-log li[data-kind=signin]")).to_have_count(1)
                # Before decryption is complete no name is shown (电子招标投标办法 第三十条).
                assert await page.locator("#hall-record").count() == 0

                # From this (third) process: two custodians release, the record is published; B's page shows it.
                opening.after_deadline(5)
                await opening.release(0)
                await opening.release(2)
                await opening.unseal()
                await expect(page.locator("#hall-record .record-row")).to_have_count(3, timeout=10_000)
                await expect(page.locator("#hall-record")).to_contain_text(bidders[2].org.name)
                await expect(page.locator("#hall-record")).to_contain_text("壹佰零壹万元整")

                # The viewer signs in from the page itself (served by B); the button disappears live.
                await page.click("#signin-button")
                await expect(page.locator("#signin-count")).to_have_text("2", timeout=10_000)
            finally:
                await browser.close()
    finally:
        a.stop()
        b.stop()
