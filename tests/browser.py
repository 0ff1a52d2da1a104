"""Shared harness for page tests: the real app under uvicorn, and Debian's Chromium driven by Playwright.

`server` runs the app in this process (same clock and database as the test); `AppProcess` runs it as a separate
uvicorn process (for tests that need several processes on one database). Chromium is required: scripts/test.sh
installs Debian's `chromium` package, so a missing browser fails the tests instead of skipping them.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import uvicorn

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(p):
            return p
    raise RuntimeError("Chromium is missing: install Debian's `chromium` package (scripts/test.sh does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(settings, clock, pool):
    """The app served by uvicorn inside the test process, on the test's settings and clock."""
    from trading.app import create_app

    port = free_port()
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


async def page_as(browser, base: str, token: str):
    """A fresh browser context signed in with `token` (the pages' th_token cookie)."""
    context = await browser.new_context()
    await context.add_cookies([{"name": "th_token", "value": token, "url": base}])
    return await context.new_page()


class AppProcess:
    """The app under uvicorn in its own process on a free port of 127.0.0.1, on the given database."""

    def __init__(self, database_url: str, data_dir) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "TENDERHALL_DATA_DIR": str(data_dir),
               "TENDERHALL_BACKGROUND": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "trading.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

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
