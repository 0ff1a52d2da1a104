"""`tenderhall custodian unseal --lot LOT`: the custodian's release, run on the custodian's own machine.

    TENDERHALL_SERVER=https://… TENDERHALL_TOKEN=… tenderhall custodian unseal --lot LOT \\
        --identity-key me.key --lot-key lot.key            # passphrase: $TENDERHALL_PASSPHRASE or asked

It checks the list of bids to open against the log and the deadline by this machine's clock, refuses before
the deadline, opens its envelopes locally with the lot's HPKE private key, and submits one signed release.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from pathlib import Path


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:  # noqa: SLF001 - argparse keeps no public handle on sub-parsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action
    return parser.add_subparsers(dest="custodian_command", required=True)


def register(sub) -> None:
    parent = sub.choices.get("custodian")
    if parent is None:
        parent = sub.add_parser("custodian", help="key custodians: lot keys and unsealing at the opening")
    p = _subparsers(parent).add_parser("unseal", help="release this custodian's shares for a lot's opening")
    p.add_argument("--lot", required=True, help="lot id")
    p.add_argument("--server", default=os.environ.get("TENDERHALL_SERVER", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("TENDERHALL_TOKEN"), help="bearer token (else $TENDERHALL_TOKEN)")
    p.add_argument("--identity-key", required=True, type=Path, help="the custodian's identity key file")
    p.add_argument("--lot-key", required=True, type=Path, help="the custodian's HPKE key file for this lot")
    p.add_argument("--log-key", default=os.environ.get("TENDERHALL_LOG_KEY"),
                   help="the platform's log verifier key (C2SP vkey), obtained independently (else $TENDERHALL_LOG_KEY;"
                        " else the server's own, trusted on first use)")
    p.set_defaults(func=_unseal)


def _unseal(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console

    from trading.bids.keys import load_hpke_key, load_identity_key
    from trading.opening.custodian import BundleRefused, ServerRefused, custodian_unseal

    console = Console(stderr=True)
    if not args.token:
        console.print("[red]no token[/]: pass --token or set TENDERHALL_TOKEN")
        return 2
    passphrase = os.environ.get("TENDERHALL_PASSPHRASE") or getpass.getpass("key passphrase: ")
    identity = load_identity_key(args.identity_key.read_bytes(), passphrase)
    hpke_key = load_hpke_key(args.lot_key.read_bytes(), passphrase)

    async def run():
        async with httpx.AsyncClient(base_url=args.server, timeout=120,
                                     headers={"Authorization": f"Bearer {args.token}"}) as client:
            return await custodian_unseal(client, args.lot, identity_key=identity, hpke_key=hpke_key,
                                          log_key=args.log_key)

    try:
        result = asyncio.run(run())
    except BundleRefused as exc:
        console.print("[red]refused[/]: the list of bids to open fails its checks; nothing was released")
        for problem in exc.problems:
            console.print(f"  - {problem}")
        return 3
    except ServerRefused as exc:
        console.print(f"[red]{exc.code}[/]: {exc.detail}")
        return 2
    if not result["log_key_pinned"]:
        console.print("[yellow]warning[/]: the log key was taken from the server itself; pass --log-key to check"
                      " the list against a key you obtained independently")
    console.print(f"released: {result['accepted']} share(s) accepted, {len(result['rejected'])} rejected, "
                  f"{result['ignored']} already settled")
    for s in result["skipped"]:
        console.print(f"  [yellow]not opened[/] bid {s['bid_id']}: {s['problem']}")
    return 0

