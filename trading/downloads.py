"""How a file a person named (a tender document, a bid attachment, complaint evidence) is sent for download."""
from __future__ import annotations

from urllib.parse import quote


def attachment_disposition(filename: str) -> str:
    """Content-Disposition for a download under its own name: RFC 6266/5987 `filename*`, UTF-8 percent-encoded
    (Chinese names intact; every reserved character, "/" included, encoded)."""
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
