"""`tenderhall experts …`: replay a recorded draw offline (needs no server, no database)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _replay(args: argparse.Namespace) -> int:
    from rich.console import Console

    from expert_pool.draw import replay

    console = Console()
    try:
        record = json.loads(Path(args.record).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {args.record}[/]: {exc}")
        return 2
    result = replay(record)
    for check in result.checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        console.print(f"{mark} {check.name}  [dim]{check.detail}[/]", highlight=False)
    if result.committee and args.verbose_committee:
        for pick in result.committee:
            console.print(f"{pick.specialty}: members {pick.members} alternates {pick.alternates}")
    if result.ok:
        console.print("[bold green]MATCH[/]: the recorded committee is the one the logged values produce")
        return 0
    console.print("[bold red]MISMATCH[/]: the record does not replay; see the failed checks above")
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    experts = sub.add_parser("experts", help="expert pool").add_subparsers(dest="experts_command", required=True)
    p = experts.add_parser("replay", help="recompute a committee draw from its DRAW.json and compare (draw/v1)")
    p.add_argument("record", help="DRAW.json downloaded from /api/expert-draws/{id}/record")
    p.add_argument("--show-committee", dest="verbose_committee", action="store_true",
                   help="print the recomputed members and alternates per quota")
    p.set_defaults(func=_replay)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="experts")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
