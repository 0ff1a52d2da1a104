"""`tenderhall verify ARCHIVE.zip`: the offline verifier (no network, no database)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _verify(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from trading.records.verify import format_report, verify_archive

    keys = list(args.key or [])
    for f in args.key_file or []:
        keys += [line for line in Path(f).read_text().splitlines() if line.strip()]
    console = Console(stderr=True)
    with Progress(TextColumn("verifying"), BarColumn(), TextColumn("{task.completed}/{task.total} entries"),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=args.quiet or not console.is_terminal) as progress:
        task = progress.add_task("entries", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        report = verify_archive(args.archive, trusted_keys=keys, progress=tick)
    print(format_report(report), file=sys.stdout)
    return 0 if report.ok else 1


def _log_key(args: argparse.Namespace) -> int:
    from trading.records.keys import all_verifier_keys, rotate_platform_key
    from trading.settings import load_settings

    settings = load_settings()
    if args.log_key_command == "rotate":
        print(rotate_platform_key(settings))
        print("the old key is kept in keys/retired/ and stays published: old checkpoints remain verifiable",
              file=sys.stderr)
    else:
        print("\n".join(all_verifier_keys(settings)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("verify", help="check a records archive offline (entries, proofs, checkpoints, PDFs)")
    p.add_argument("archive", help="the archive .zip downloaded from the platform")
    p.add_argument("--key", action="append", help="a trusted verifier key (name+keyid+base64); repeatable")
    p.add_argument("--key-file", action="append", help="a file of trusted verifier keys, one per line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_verify)

    lk = sub.add_parser("log-key", help="the platform's log-signing key").add_subparsers(dest="log_key_command",
                                                                                        required=True)
    lk.add_parser("show", help="print every verifier key (current first)").set_defaults(func=_log_key)
    lk.add_parser("rotate", help="retire the current key and create a new one").set_defaults(func=_log_key)
