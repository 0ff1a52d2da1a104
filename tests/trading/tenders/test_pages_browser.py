"""The public tender pages in headless Chromium against a real uvicorn server: search, open, switch language."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest

from tests.conftest import chromium_path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class Server:
    """The app under uvicorn on a free port of 127.0.0.1, on the test database."""

    def __init__(self, database_url: str, data_dir) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "TENDERHALL_DATA_DIR": str(data_dir),
               "TENDERHALL_BACKGROUND": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "trading.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)

    async def ready(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        async with httpx.AsyncClient() as c:
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
                try:
                    if (await c.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.url} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")
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
