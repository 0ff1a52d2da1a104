"""The expert pool pages in headless Chromium against a real uvicorn server (in this process, same clock)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from expert_pool import repository as repo
from tests.browser import page_as
from tests.expert_pool.conftest import application
from trading.accounts.schemas import Role
from trading.clock import to_shanghai


async def test_apply_review_and_profile_pages(server, browser, factory, experts, pool):
    from playwright.async_api import expect

    user = await experts.user()
    page = await page_as(browser, server, await factory.token(user))
    data = application(specialties=["A0103", "A0901"])
    await page.goto(f"{server}/experts/apply?lang=zh")
    await expect(page.locator("h1")).to_have_text("评标专家入库申请")
    for field in ("full_name", "id_number", "employer_name", "employer_credit_code", "title", "region", "phone"):
        await page.fill(f"input[name={field}]", str(getattr(data, field)))
    await page.fill("input[name=birth_date]", data.birth_date.isoformat())
    await page.fill("input[name=practice_since]", data.practice_since.isoformat())
    await page.select_option("select[name=title_level]", "senior_full")
    await page.check("input[value=A0103]")
    await page.check("input[value=A0901]")
    await page.click("#apply-submit")
    await page.wait_for_url("**/experts/me**")
    await expect(page.locator("#ep-status")).to_have_text("待审核")

    admin = await factory.user(Role.ADMIN)
    admin_page = await page_as(browser, server, await factory.token(admin))
    await admin_page.goto(f"{server}/experts/review?lang=en")
    await expect(admin_page.locator("h1")).to_have_text("Expert applications")
    await expect(admin_page.locator("#ep-pending")).to_contain_text(data.full_name)
    await admin_page.click(".ep-approve")
    await expect(admin_page.locator("#ep-pool")).to_contain_text(data.full_name)

    await page.reload()
    await expect(page.locator("#ep-status")).to_have_text("已入库")
    await page.fill("#ep-day", "2026-04-01")
    await page.click("#ep-add-day")
    await expect(page.locator("#ep-days")).to_contain_text("2026-04-01")
    bidder = await factory.org("bidder", name="某某建设集团有限公司")
    await page.fill("#ep-conflict-code", bidder.credit_code)
    await page.fill("#ep-conflict-reason", "配偶任该公司法定代表人")
    await page.click("#ep-declare")
    await expect(page.locator("#ep-conflicts")).to_contain_text("某某建设集团有限公司")
    async with pool.acquire() as c:
        expert = await repo.find_expert_by_user(c, user.id)
        assert expert.status == "approved"


async def test_agency_draw_and_expert_inbox_pages(server, browser, factory, experts, clock):
    from playwright.async_api import expect

    team = await experts.pool_of(6)
    names = [e.full_name for _, e in team]
    lot = await factory.published_lot()
    agency = await page_as(browser, server, await factory.token(lot["agency_user"]))
    await agency.goto(f"{server}/expert-draws/new?lot_id={lot['lot_id']}&lang=zh")
    when = to_shanghai(clock.now() + timedelta(days=30)).strftime("%Y-%m-%dT09:00")
    await agency.fill("input[name=evaluation_at]", when)
    await agency.fill("input[name=alternates]", "1")
    await agency.fill("textarea[name=quotas]", "A0103,5")
    await agency.click("#draw-submit")
    await agency.wait_for_url("**/expert-draws/*-*")
    await expect(agency.locator("#draw-status")).to_have_attribute("data-status", "committed")
    assert len(await agency.input_value("#agency-value")) == 64       # generated in the page
    await agency.click("#draw-contribute")
    await expect(agency.locator("#draw-status")).to_have_attribute("data-status", "drawn")
    await expect(agency.locator("#draw-confirmed")).to_have_text("0")
    await expect(agency.locator("#draw-names-hidden")).to_be_visible()
    html = await agency.content()
    assert not [n for n in names if n in html]

    # a drawn expert confirms in the inbox
    for user, expert in team:
        token = await factory.token(user)
        page = await page_as(browser, server, token)
        await page.goto(f"{server}/experts/inbox?lang=en")
        if await page.locator(".ep-confirm").count():
            await expect(page.locator("h1")).to_have_text("Evaluation invitations")
            await page.click(".ep-confirm")
            await expect(page.locator(".ep-inv-status")).to_have_text("confirmed")
            break
    else:
        pytest.fail("no expert had an invitation")
    await agency.reload()
    await expect(agency.locator("#draw-confirmed")).to_have_text("1")
    assert not [n for n in names if n in await agency.content()]
