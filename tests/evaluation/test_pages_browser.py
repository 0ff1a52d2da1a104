"""Evaluation pages in headless Chromium against a real uvicorn server (same process, same clock): an expert
declares, scores every bid and submits from the desk; the flagged expert answers the outlier flag on the summary;
the agency publishes the candidates; the public reads them."""
from __future__ import annotations



from evaluation import services, sources
from evaluation.schemas import DeclarationIn
from tests.browser import page_as
from tests.evaluation.test_services import full_sheet


async def test_expert_scores_from_desk_to_submit_and_answers_flag(make_lot, server, browser, factory, pool, clock,
                                                                  monkeypatch):
    from playwright.async_api import expect

    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    lid = lot["lot_id"]
    others, me = lot["experts"][:4], lot["experts"][4]
    for i, p in enumerate(others):
        async with pool.acquire() as c, c.transaction():
            await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=p["user"])
            await services.save_sheet(c, clock, lid, full_sheet(lot["bid_ids"]), user=p["user"])
            await services.submit_sheet(c, clock, lid, user=p["user"])

    page = await page_as(browser, server, await factory.token(me["user"]))
    await page.goto(f"{server}/evaluation/lots/{lid}/desk?lang=zh")
    await expect(page.locator("h1")).to_have_text("评标工作台")
    await expect(page.locator("section.bid")).to_have_count(0)          # no bid before the declaration
    await page.click("#sign")
    await expect(page.locator("section.bid")).to_have_count(4)
    first = page.locator("section.bid").first
    await first.locator("input.score[data-item=t1]").fill("5")          # low: needs a comment, and an outlier
    await page.click("#save")
    await expect(page.locator("#msg")).to_contain_text("comment")
    await first.locator("input.score-comment[data-item=t1]").fill("施工方案缺少关键工序")
    for item, value in (("t1", "24"), ("t2", "16"), ("c1", "15")):
        inputs = page.locator(f"input.score[data-item={item}]")
        for n in range(1, await inputs.count()):
            await inputs.nth(n).fill(value)
        if item != "t1":
            await inputs.nth(0).fill(value)
    await page.click("#save")
    await expect(page.locator("#remaining")).to_have_text("0")
    await page.click("#submit")
    await expect(page.locator("#submitted")).to_be_visible()
    assert await page.locator("input.score").first.is_disabled()

    # the table is revealed; the flag on my t1 score is mine to answer
    await page.goto(f"{server}/evaluation/lots/{lid}/summary?lang=en")
    await expect(page.locator("#results tr")).to_have_count(5)
    await expect(page.locator("button.flag-confirm")).to_have_count(1)
    flag_id = (await page.locator("button.flag-confirm").get_attribute("onclick")).split("/flags/")[1].split("/")[0]
    await page.fill(f"#flag-reason-{flag_id}", "The method statement misses key steps")
    await page.click("button.flag-confirm")
    await expect(page.locator("#flags")).to_contain_text("confirmed")
    await expect(page.locator("#flags")).to_contain_text("The method statement misses key steps")


async def test_desk_shows_the_evaluation_time_and_takes_a_request_for_more(make_lot, server, browser, factory, pool,
                                                                          clock, monkeypatch):
    from datetime import timedelta

    from playwright.async_api import expect

    from evaluation.schemas import TimeLimitIn

    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    lid = lot["lot_id"]
    async with pool.acquire() as c, c.transaction():
        await services.set_time_limit(c, clock, lid, TimeLimitIn(until=clock.now() + timedelta(hours=1)),
                                      actor=lot["agency_user"])
        for p in lot["experts"][:2]:
            await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=p["user"])
    clock.advance(hours=1)
    first, second = lot["experts"][:2]
    page = await page_as(browser, server, await factory.token(first["user"]))
    await page.goto(f"{server}/evaluation/lots/{lid}/desk?lang=zh")
    await expect(page.locator("#time")).to_contain_text("评标时间已到")
    await page.click("#save")                                             # past the limit: refused, said so
    await expect(page.locator("#msg")).to_contain_text("评标时间")
    await page.click("#ask-time")                                         # a reason is required
    await expect(page.locator("#msg")).to_contain_text("reason")
    await page.fill("#time-reason", "投标文件技术部分篇幅较大")
    await page.click("#ask-time")
    await expect(page.locator("#time-requests")).to_have_text("1")
    page2 = await page_as(browser, server, await factory.token(second["user"]))
    await page2.goto(f"{server}/evaluation/lots/{lid}/desk?lang=zh")
    await page2.fill("#time-reason", "时间不够")
    await page2.click("#ask-time")
    await expect(page2.locator("#time-due")).to_be_visible()             # 2 of 5: more than a third
    await expect(page2.locator("#time")).not_to_contain_text("评标时间已到")


async def test_agency_records_the_contract_on_the_award_page(make_lot, server, browser, factory, pool, clock,
                                                            settings, monkeypatch):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from playwright.async_api import expect

    from tests.evaluation.test_contract import awarded
    from trading.money import fen_to_yuan

    lot, out, price = await awarded(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    clock.advance(days=2)
    page = await page_as(browser, server, await factory.token(lot["agency_user"]))
    await page.goto(f"{server}/evaluation/lots/{lot['lot_id']}/award?lang=zh")
    signed = (clock.now() - timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    await page.fill("#contract-signed", signed)
    await page.fill("#contract-price", fen_to_yuan(price - 1))        # not the winning price: refused, said why
    await page.click("#record-contract")
    await expect(page.locator("#msg")).to_contain_text("中标价")
    await page.fill("#contract-price", fen_to_yuan(price))
    await page.fill("#contract-bond", fen_to_yuan(price // 20))
    await page.click("#record-contract")
    await expect(page.locator("#contract")).to_contain_text(f"{price // 100:,}")


async def test_agency_rescinds_the_award_on_the_award_page_and_the_next_candidate_wins(
        make_lot, server, browser, factory, pool, clock, settings, monkeypatch):
    from playwright.async_api import expect

    from tests.evaluation.test_contract import awarded

    lot, out, _ = await awarded(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    clock.advance(days=2)
    page = await page_as(browser, server, await factory.token(lot["agency_user"]))
    page.on("dialog", lambda d: d.accept())
    await page.goto(f"{server}/evaluation/lots/{lot['lot_id']}/award?lang=zh")
    await page.click("#rescind-box summary")
    await page.select_option("#rescind-cause", "gave_up")
    await page.click("#rescind")                                        # no reason given: refused, said why
    await expect(page.locator("#msg")).to_contain_text("reason")
    await page.fill("#rescind-reason", "第一中标候选人书面声明放弃中标，附放弃函")
    await page.click("#rescind")
    await expect(page.locator("#rescissions tr.rescission")).to_have_count(1)
    await expect(page.locator("#rescissions")).to_contain_text("中标人放弃中标")
    await expect(page.locator("#rescissions")).to_contain_text("依次确定下一中标候选人 (#2)")
    async with pool.acquire() as c:
        winner = await c.fetchval("SELECT rank FROM award_notices WHERE lot_id = $1 AND kind = 'award'"
                                  " AND superseded_at IS NULL", lot["lot_id"])
    assert winner == 2


async def test_agency_submits_the_supervisor_report_from_the_award_page(make_lot, server, browser, factory, pool,
                                                                       clock, settings, monkeypatch):
    from playwright.async_api import expect

    from tests.evaluation.test_contract import awarded

    lot, out, price = await awarded(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    page = await page_as(browser, server, await factory.token(lot["agency_user"]))
    await page.goto(f"{server}/evaluation/lots/{lot['lot_id']}/award?lang=zh")
    await page.click("#submit-report")
    await expect(page.locator("#supervisor-report")).to_contain_text("已提交")
    href = await page.locator("#supervisor-report a").get_attribute("href")
    r = await page.request.get(f"{server}{href}")
    assert r.status == 200 and (await r.body()).startswith(b"%PDF")


async def test_bidder_answers_a_request_for_clarification_on_its_page(make_lot, server, browser, factory, pool,
                                                                      clock, monkeypatch):
    from playwright.async_api import expect

    from evaluation.schemas import ClarificationIn

    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    lid = lot["lot_id"]
    chair = lot["experts"][0]
    async with pool.acquire() as c, c.transaction():
        await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=chair["user"])
        await services.appoint_chair(c, clock, lid, chair["member"].expert_id, actor=lot["agency_user"])
        await services.request_clarification(c, clock, lid, ClarificationIn(
            bid_id=lot["bid_ids"][0], question="请说明投标报价中暂列金额的计算依据"), user=chair["user"])
    (_, (user0, _)), (_, (user1, _)) = lot["bidders"][0], lot["bidders"][1]
    other = await page_as(browser, server, await factory.token(user1))
    await other.goto(f"{server}/evaluation/clarifications?lang=zh")
    await expect(other.locator("#none")).to_be_visible()               # not addressed to this bidder
    page = await page_as(browser, server, await factory.token(user0))
    await page.goto(f"{server}/evaluation/clarifications?lang=zh")
    await expect(page.locator("section.clarification")).to_contain_text("暂列金额")
    await page.click("button.send")                                    # empty: refused, said why
    await expect(page.locator("#msg")).to_contain_text("answer")
    await page.fill("textarea", "暂列金额按招标文件第五章规定计列。")
    await page.click("button.send")
    await expect(page.locator(".answered")).to_contain_text("第五章")


async def test_bidder_confirms_a_price_correction_on_its_page(make_lot, server, browser, factory, pool, clock,
                                                              monkeypatch):
    from playwright.async_api import expect

    from evaluation.schemas import PriceCorrectionIn

    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    lid = lot["lot_id"]
    chair = lot["experts"][0]
    async with pool.acquire() as c, c.transaction():
        await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=chair["user"])
        await services.appoint_chair(c, clock, lid, chair["member"].expert_id, actor=lot["agency_user"])
        await services.propose_price_correction(c, clock, lid, PriceCorrectionIn(
            bid_id=lot["bid_ids"][0], rule="unit_prices_over_total", corrected_price_yuan="987654.32",
            explanation="分项报价合计 987,654.32 元"), user=chair["user"])
    (_, (user0, _)), (_, (user1, _)) = lot["bidders"][0], lot["bidders"][1]
    other = await page_as(browser, server, await factory.token(user1))
    await other.goto(f"{server}/evaluation/clarifications?lang=zh")
    await expect(other.locator("section.price-correction")).to_have_count(0)   # not this bidder's bid
    page = await page_as(browser, server, await factory.token(user0))
    await page.goto(f"{server}/evaluation/clarifications?lang=zh")
    section = page.locator("section.price-correction")
    await expect(section).to_contain_text("以单价金额计算结果为准")
    await expect(section.locator(".corrected")).to_contain_text("玖拾捌万柒仟陆佰伍拾肆元叁角贰分")
    await page.click("button.confirm")
    await expect(section.locator(".decided")).to_contain_text("已确认")
    await expect(page.locator("button.confirm")).to_have_count(0)


async def test_gp_agency_sends_the_report_and_the_purchaser_decides_on_the_award_page(
        make_lot, server, browser, factory, pool, clock, settings, monkeypatch):
    """Government procurement (87号令 第六十八、六十九条): no publicity button; the agency sends the report, the
    purchaser picks a lower candidate (a reason is required), the agency issues the award."""
    from playwright.async_api import expect

    from tests.evaluation.test_gp_award import cst, purchaser, signed_gp

    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    clock.set(cst("2026-03-30T10:00"))
    buyer = await purchaser(factory, lot)
    url = f"{server}/evaluation/lots/{lot['lot_id']}/award?lang=zh"
    agency = await page_as(browser, server, await factory.token(lot["agency_user"]))
    await agency.goto(url)
    await expect(agency.locator("#publish")).to_have_count(0)
    await agency.click("#send-report")
    await expect(agency.locator("#decision-due")).to_be_visible()
    await expect(agency.locator("#decide")).to_have_count(0)
    page = await page_as(browser, server, await factory.token(buyer))
    await page.goto(url)
    await page.locator("input[name=winner]").nth(1).check()
    await page.click("#decide")                                   # a lower candidate without a reason: refused
    await expect(page.locator("#msg")).to_contain_text("reason")
    await page.fill("#decision-reason", "第一中标候选人放弃中标")
    await page.click("#decide")
    await expect(page.locator("#determined")).to_contain_text("#2")
    await expect(page.locator("#award")).to_have_count(0)          # the award is the agency's
    await agency.goto(url)
    await agency.click("#award")
    await expect(agency.locator("#challenges")).to_be_visible()
    await expect(agency.locator("#notices li")).to_have_count(4)


async def test_gp_agency_files_the_recordings_on_the_award_page_before_sending_the_report(
        make_lot, server, browser, factory, pool, clock, settings, monkeypatch, tmp_path):
    """87号令 第三十九条: the report is refused while a stage has no recording; the agency uploads each file from the
    page (streamed, with a progress bar), and the report then goes to the purchaser."""
    import hashlib
    import os

    from playwright.async_api import expect

    from tests.evaluation.test_gp_award import cst, signed_gp

    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch, recordings=False)
    clock.set(cst("2026-03-30T10:00"))
    page = await page_as(browser, server, await factory.token(lot["agency_user"]))
    await page.goto(f"{server}/evaluation/lots/{lot['lot_id']}/award?lang=zh")
    await expect(page.locator("#recordings h2")).to_have_text("开标、评标录音录像")
    await page.click("#send-report")
    await expect(page.locator("#msg")).to_contain_text("第三十九条")
    await page.click("#rec-upload")                                # no file chosen
    await expect(page.locator("#msg")).to_contain_text("请先选择")
    files = {}
    for stage, name, data in (("opening", "开标现场-机位1.mp4", os.urandom(3 * 1024 * 1024)),
                              ("evaluation", "评标室.mp3", os.urandom(200_000))):
        path = tmp_path / name
        path.write_bytes(data)
        files[stage] = hashlib.sha256(data).hexdigest()
        await page.select_option("#rec-stage", stage)
        await page.set_input_files("#rec-file", str(path))
        await page.click("#rec-upload")
        await expect(page.locator("tr.recording")).to_have_count(len(files))
    rows = page.locator("tr.recording")
    await expect(rows.nth(0)).to_contain_text("开标现场-机位1.mp4")
    await expect(rows.nth(0)).to_contain_text(files["opening"][:16])
    await expect(rows.nth(1)).to_contain_text("评标")
    await page.click("#send-report")
    await expect(page.locator("#decision-due")).to_be_visible()
