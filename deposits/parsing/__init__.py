"""Bank statement formats → ParsedStatement / ParsedTxn / ParsedFile (see model.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from deposits.parsing.camt import parse_camt
from deposits.parsing.csv_format import parse_csv
from deposits.parsing.model import (
    ParsedFile,
    ParsedStatement,
    ParsedTxn,
    StatementInvalid,
    StatementUnsafe,
    amount_to_fen,
)
from deposits.parsing.swift import parse_swift

SHANGHAI = ZoneInfo("Asia/Shanghai")
FORMATS = ("camt", "mt940", "csv")

__all__ = ["FORMATS", "ParsedFile", "ParsedStatement", "ParsedTxn", "StatementInvalid", "StatementUnsafe",
           "amount_to_fen", "detect_format", "parse_file"]


def detect_format(head: bytes) -> str:
    """camt | mt940 | csv, from the first bytes."""
    h = head.lstrip(b"\xef\xbb\xbf\x01\r\n\t ")
    if h.startswith(b"<"):
        return "camt"
    if b":20:" in head[:2048] or h.startswith(b"{1:"):
        return "mt940"
    first = h.split(b"\n", 1)[0]
    if b"statement_id" in first and b"," in first:
        return "csv"
    raise StatementInvalid("unknown statement format: not camt XML, MT940/MT942 or csv/1")


def parse_file(f: IO[bytes], *, tz: ZoneInfo = SHANGHAI, legacy_encoding: str = "gb18030",
               max_text_bytes: int = 64 * 1024 * 1024) -> Iterator[ParsedStatement | ParsedTxn | ParsedFile]:
    """Stream a file (seekable binary handle). XML is streamed; MT940 and CSV are read whole (bounded)."""
    head = f.read(4096)
    f.seek(0)
    fmt = detect_format(head)
    if fmt == "camt":
        return parse_camt(f, tz=tz)
    data = f.read(max_text_bytes + 1)
    if len(data) > max_text_bytes:
        raise StatementInvalid(f"{fmt} file larger than {max_text_bytes} bytes: ask the bank for camt.053")
    if fmt == "mt940":
        return parse_swift(data, legacy_encoding=legacy_encoding, tz=tz)
    return parse_csv(data, legacy_encoding=legacy_encoding, tz=tz)


def parse_path(path: Path, **kw) -> list:
    with open(path, "rb") as f:
        return list(parse_file(f, **kw))
