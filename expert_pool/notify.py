"""Notification senders: the outbox (`expert_notifications`) is delivered by a pluggable sender.

The default, InboxSender, writes to the log and marks the notification for the expert's inbox page. An SMS or voice
adapter is another class with the same `send` (returning the channel name, raising on failure).
"""
from __future__ import annotations

import logging
from typing import Protocol

from expert_pool.schemas import Notification

log = logging.getLogger("tenderhall.expert_pool.notify")


class Sender(Protocol):
    async def send(self, note: Notification) -> str: ...


class InboxSender:
    channel = "inbox"

    async def send(self, note: Notification) -> str:
        # Ids only: the names of a committee are confidential (招标投标法 第三十七条).
        log.info("notify expert=%s kind=%s member=%s", note.expert_id, note.kind, note.member_id)
        return self.channel


class CollectingSender:
    """Keeps what it sent (tests, demos); a real class, not a mock."""

    channel = "collect"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Notification] = []
        self.fail = fail

    async def send(self, note: Notification) -> str:
        if self.fail:
            raise RuntimeError("gateway unavailable")
        self.sent.append(note)
        return self.channel
