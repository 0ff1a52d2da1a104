"""`tenderhall custodian unseal` as a custodian runs it: a separate process, key files under a passphrase, against a
running server (uvicorn, system clock)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from tests.trading.opening.test_hall_browser import Server
from trading.bids.keys import encrypt_key

PASSPHRASE = "custodian passphrase"


def _key_files(tmp_path, cust) -> tuple[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    identity = cust["identity_private_key"]
    hpke = cust["hpke_private_key"]
    ident = tmp_path / f"identity-{cust['x']}.key"
    ident.write_bytes(encrypt_key(identity.private_bytes_raw(), kind="identity", suite="ed25519", label="me",
                                  public_key=identity.public_key().public_bytes_raw(), passphrase=PASSPHRASE,
                                  n=2**10))
    lot_key = tmp_path / f"lot-{cust['x']}.key"
    lot_key.write_bytes(encrypt_key(hpke.private_bytes_raw(), kind="hpke", suite=cust["suite"], label="lot",
                                    public_key=hpke.public_key().public_bytes_raw(), passphrase=PASSPHRASE,
                                    n=2**10))
    return str(ident), str(lot_key)


def _unseal(server: Server, lot_id, token: str, keys: tuple[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "TENDERHALL_TOKEN": token, "TENDERHALL_PASSPHRASE": PASSPHRASE,
           "TENDERHALL_SERVER": server.url}
    return subprocess.run([sys.executable, "-m", "trading.cli", "custodian", "unseal", "--lot", str(lot_id),
                           "--identity-key", keys[0], "--lot-key", keys[1]],
                          env=env, capture_output=True, text=True, timeout=120)


async def _lot_with_bids(factory, pool, clock, settings, tmp_path, deadline: datetime):
    from tests.trading.opening.conftest import Opening

    clock.set(deadline - timedelta(days=25))
    opening = await Opening(factory, pool, clock, settings, tmp_path).setup()
    for p in ("950000.00", "980000.00", "1010000.00"):
        await opening.submit(await opening.bidder(), p)
    return opening


async def test_custodian_unseal_cli_refused_before_deadline_then_releases(factory, pool, clock, settings, tmp_path,
                                                                          database_url):
    real_now = datetime.now(timezone.utc)
    # The server and the custodians run on the system clock. Lot 1's deadline is ten minutes ago, lot 2's is
    # tomorrow (its session is forced open by the test's own clock, to see the custodian's clock refuse).
    past = await _lot_with_bids(factory, pool, clock, settings, tmp_path, real_now - timedelta(minutes=10))
    future = await _lot_with_bids(factory, pool, clock, settings, tmp_path, real_now + timedelta(days=1))
    clock.set(datetime.now(timezone.utc))
    tokens = {}
    for o in (past, future):
        tokens[o.lot_id] = [await factory.token(o.custodian(i)["user"]) for i in (0, 1)]
    keys = {o.lot_id: [_key_files(tmp_path / str(o.lot_id), o.custodian(i)) for i in (0, 1)] for o in (past, future)}
    server = Server(database_url, settings.data_dir)  # the same blob store as the bids
    try:
        await server.ready()
        before = _unseal(server, past.lot_id, tokens[past.lot_id][0], keys[past.lot_id][0])
        assert before.returncode == 2 and "opening_not_found" in before.stderr, before.stderr

        future.after_deadline()
        await future.start()  # the platform's clock says the deadline passed …
        early = _unseal(server, future.lot_id, tokens[future.lot_id][0], keys[future.lot_id][0])
        # … but the custodian's own clock does not: it releases nothing (招标投标法 第三十四条).
        assert early.returncode == 3 and "has not passed" in early.stderr, early.stderr

        past.after_deadline()
        await past.start()
        for i in (0, 1):
            done = _unseal(server, past.lot_id, tokens[past.lot_id][i], keys[past.lot_id][i])
            assert done.returncode == 0, done.stderr
            assert "released: 3 share(s) accepted" in done.stderr
        # The second release let the server (a response background task) settle every bid and publish.
        again = _unseal(server, past.lot_id, tokens[past.lot_id][0], keys[past.lot_id][0])
        assert again.returncode == 2 and "opening_not_unsealing" in again.stderr, again.stderr
    finally:
        server.stop()
    report = await past.unseal()
    assert report.opened == 3 and report.status == "published"
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM opening_shares WHERE lot_id = $1", future.lot_id) == 0
