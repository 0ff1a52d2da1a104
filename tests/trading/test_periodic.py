import asyncio
import logging

from trading.periodic import background_task, repeat


async def test_repeat_keeps_going_after_a_failing_step_and_stops_on_cancel(caplog):
    calls = []

    async def step():
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("transient")

    log = logging.getLogger("tenderhall.test")
    async with background_task(repeat(step, 0.001, log=log, what="test step"), "t") as task:
        for _ in range(200):
            if len(calls) >= 4:
                break
            await asyncio.sleep(0.005)
    assert len(calls) >= 4, "the loop stopped after the failing step"
    assert task.cancelled() or task.done()
    assert any("test step failed" in r.message for r in caplog.records)
