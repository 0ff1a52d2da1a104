"""`tenderhall deposits …`: import bank files, match, check the ledger, export refunds."""
from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


def register(sub) -> None:
    dp = sub.add_parser("deposits", help="bid deposits: bank statements, matching, ledger, refunds")
    ds = dp.add_subparsers(dest="deposits_command", required=True)
    p = ds.add_parser("import", help="import a camt.053/054/052, MT940/942 or csv/1 file (one transaction), then match")
    p.add_argument("file", type=Path)
    p.add_argument("--bank", required=True, help="receiving bank code (deposit_banks.code)")
    p.add_argument("--no-match", action="store_true", help="import only")
    p.set_defaults(func=_import)
    p = ds.add_parser("match", help="re-run matching (stores only what changed)")
    p.set_defaults(func=_match)
    p = ds.add_parser("check", help="daily ledger check against the bank statements")
    p.set_defaults(func=_check)
    p = ds.add_parser("export-refunds", help="write the pain.001 file of a bank's pending refunds")
    p.add_argument("--bank", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_export)


def _run(fn) -> int:
    from trading.cli import _with_conn
    from trading.errors import DomainError

    try:
        return asyncio.run(_with_conn(fn)) or 0
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/]: {exc.message}")
        return 2


def _import(args: argparse.Namespace) -> int:
    from deposits import importing
    from deposits import repository as repo
    from deposits.reconcile import run_matching
    from trading.clock import SystemClock

    if not args.file.is_file():
        console.print(f"[red]no such file[/]: {args.file}")
        return 2

    async def run(conn, settings):
        clock = SystemClock()
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed} entries"),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task(f"importing {args.file.name}", total=None)
            async with conn.transaction():
                bank = await repo.get_bank_by_code(conn, args.bank)
                result = await importing.import_path(conn, clock, bank, args.file, actor=None,
                                                     progress=lambda n: progress.update(task, completed=n))
            if not args.no_match and not result.already_imported:
                progress.update(task, description="matching")
                async with conn.transaction():
                    result.match = await run_matching(conn, clock,
                                                      file_id=None if result.promoted else result.file_id)
        if result.already_imported:
            console.print(f"[yellow]already imported[/] (sha256 {result.sha256[:16]}…): nothing changed")
        else:
            console.print(f"{result.format}: {result.statements} statements, {result.transactions} entries, "
                          f"[green]{result.new_transactions} new[/], {result.duplicates} duplicates, "
                          f"[red]{result.conflicts} conflicts[/]")
            for note in result.notes[:20]:
                console.print(f"  note: {note}")
            if result.match:
                console.print(f"matching run {result.match['run']}: {result.match['changed']} changed")
        return 0

    return _run(run)


def _match(_: argparse.Namespace) -> int:
    from deposits.reconcile import run_matching
    from trading.clock import SystemClock

    async def run(conn, settings):
        async with conn.transaction():
            out = await run_matching(conn, SystemClock())
        console.print(f"matching run {out['run']} ({out['rule_version']}): {out['changed']} changed")
        return 0

    return _run(run)


def _check(_: argparse.Namespace) -> int:
    from deposits import ledger
    from trading.clock import SystemClock

    async def run(conn, settings):
        async with conn.transaction():
            report = await ledger.check(conn, SystemClock())
        for a in report["accounts"]:
            mark = "[green]ok[/]" if a["ok"] else "[red]MISMATCH[/]"
            console.print(f"{mark} {a['account']}: bank {a['bank_fen']} ledger {a['ledger_fen']}")
        for i in report["identity"]:
            console.print(f"{'[green]ok[/]' if i['ok'] else '[red]MISMATCH[/]'} {i['currency']}: bank "
                          f"{i['bank_fen']} = liabilities {i['liabilities_fen']}")
        return 0 if report["ok"] else 1

    return _run(run)


def _export(args: argparse.Namespace) -> int:
    from deposits import refunds
    from deposits import repository as repo
    from trading.clock import SystemClock

    async def run(conn, settings):
        async with conn.transaction():
            bank = await repo.get_bank_by_code(conn, args.bank)
            user_id = await conn.fetchval("SELECT id FROM users WHERE 'admin' = ANY(roles) ORDER BY created_at LIMIT 1")
            out = await refunds.export(conn, SystemClock(), bank, actor=user_id)
        if out is None:
            console.print("no pending refunds")
            return 0
        args.out.write_bytes(out[1])
        console.print(f"wrote {args.out} (export {out[0]})")
        return 0

    return _run(run)
