"""The API docs are served whole by the platform: an intranet without internet access still shows them."""
from __future__ import annotations

import re


async def test_api_docs_page_loads_nothing_from_outside(client):
    r = await client.get("/api/docs")
    assert r.status_code == 200, r.text
    assert "swagger" in r.text.lower()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
    assert urls, "the page names its scripts and styles"
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for u in urls:
        if u.endswith((".js", ".css")):
            asset = await client.get(u)
            assert asset.status_code == 200, u
            assert len(asset.content) > 10_000
    assert (await client.get("/api/docs/openapi.json")).status_code == 200


async def test_api_docs_render_in_a_browser_without_network(server, browser):
    from playwright.async_api import expect

    page = await browser.new_page()
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(server) else None)
    await page.goto(f"{server}/api/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("tenderhall", timeout=20_000)
    await expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []
