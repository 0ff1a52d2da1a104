"""The sealing library and the bidder/custodian CLI run on their own machines: no server imports."""
from __future__ import annotations

import subprocess
import sys


def test_sealing_library_imports_no_server_code() -> None:
    code = ("import sys\n"
            "import trading.bids.seal, trading.bids.streaming, trading.bids.package, trading.bids.keys, "
            "trading.bids.receipt, trading.bids.client, trading.bids.cli, trading.bids.ceremony\n"
            "bad = [m for m in ('litestar', 'asyncpg', 'trading.db', 'trading.errors', 'trading.records')"
            " if m in sys.modules]\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
