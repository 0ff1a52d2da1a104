"""`tenderhall keys …`, `tenderhall custodian keygen`, `tenderhall bid seal|submit|verify-receipt|ct-root|withdraw`.

These run on the bidder's or custodian's own machine: they import nothing that needs a server. Private keys
stay in local key files encrypted under a passphrase ($TENDERHALL_PASSPHRASE, else asked). The server and the
bearer token come from --server/--token or $TENDERHALL_SERVER/$TENDERHALL_TOKEN.

Each command is an async function taking an httpx.AsyncClient, so tests drive them against the real app.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from trading.bids import client as api
from trading.bids import cthash, keys, package, pipeline, receipt, seal

console = Console(stderr=True)
DEFAULT_HOME = Path(os.environ.get("TENDERHALL_HOME", Path.home() / ".tenderhall"))


class CommandError(Exception):
    pass


# --- key helpers ---------------------------------------------------------------------------------------------

def passphrase(confirm: bool = False) -> str:
    value = os.environ.get("TENDERHALL_PASSPHRASE")
    if value:
        return value
    value = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("again: ") != value:
        raise CommandError("passphrases differ")
    return value


def default_identity_path() -> Path:
    return Path(os.environ.get("TENDERHALL_KEY", DEFAULT_HOME / "identity.key"))


def load_identity(path: Path | None, pw: str | None = None):
    path = path or default_identity_path()
    if not path.exists():
        raise CommandError(f"no identity key at {path}: run `tenderhall keys generate` first")
    return keys.load_identity_key(path.read_bytes(), pw if pw is not None else passphrase())


def _progress() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True)


# --- commands (async, over an httpx client) ----------------------------------------------------------------

def generate_identity(out: Path, label: str, pw: str) -> bytes:
    """Create the Ed25519 identity key file; returns the public key."""
    key, data = keys.new_identity_key(label, pw)
    keys.write_private_file(out, data)
    return key.public_key().public_bytes_raw()


async def register_identity(http: httpx.AsyncClient, key_path: Path | None, pw: str | None = None) -> dict:
    return await api.register_identity_key(http, load_identity(key_path, pw))


async def custodian_keygen(http: httpx.AsyncClient, lot_id: str, out: Path | None = None,
                           key_path: Path | None = None, pw: str | None = None) -> dict:
    """Make this custodian's HPKE key pair for the lot locally, keep the private key encrypted, upload the
    public key signed with the identity key."""
    pw = pw if pw is not None else passphrase()
    identity = load_identity(key_path, pw)
    seat = await api.custodian_seat(http, lot_id)
    out = out or DEFAULT_HOME / "lots" / f"{lot_id}.hpke.key"
    if out.exists():
        raise CommandError(f"{out} exists: a lot key is never overwritten")
    hk, data = keys.new_hpke_key(seat["suite"], lot_id, pw)
    keys.write_private_file(out, data)
    try:
        return await api.upload_lot_key(http, lot_id, identity, hk.public_bytes(), seat["suite"])
    except Exception:
        console.print(f"[yellow]upload failed; the private key stays in {out}[/]")
        raise


def _fields(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"--field takes name=value, got {pair!r}")
        out[name.strip()] = value
    return out


async def seal_bid(http: httpx.AsyncClient | None, lot_id: str, out: Path, *, price: str,
                   duration: str | None = None, fields: dict[str, Any] | None = None,
                   attachments: list[Path] = (),  # type: ignore[assignment]
                   key_path: Path | None = None, pw: str | None = None, replace: bool = False,
                   show_progress: bool = True, pack: dict[str, Any] | None = None,
                   consortium: list[str] = (),  # type: ignore[assignment]
                   consortium_agreement: Path | None = None) -> seal.Sealed:
    """Build the bid package from the form and files, seal it to the lot's ceremony, sign the manifest.

    Writes OUT.ct (ciphertext) and OUT.manifest. The ceremony record is checked against the lot's pinned hash.
    With `pack` (from `bid prepare`), no network is used: the bid is prepared and sealed offline.
    """
    identity = load_identity(key_path, pw)
    if pack is None:
        if http is None:
            raise CommandError("sealing needs the server, or a lot pack from `tenderhall bid prepare`")
        pack = await api.fetch_pack(http, lot_id)
    if pack.get("v") != api.PACK_VERSION or pack.get("lot_id") != lot_id:
        raise CommandError("the lot pack is not for this lot")
    me = pack["me"]
    info = api.checked_seal_info(pack["seal_info"])
    form = package.build_form(tender_id=info["tender_id"], lot_id=lot_id, bidder_org_id=me["org_id"],
                              price_yuan=price, bid_fields=info["bid_fields"], values=fields or {},
                              duration_days=duration, max_price_fen=info.get("max_price_fen"),
                              consortium=consortium)
    version, previous = 1, None
    latest = pack.get("latest")
    if latest is not None:
        if not replace and latest["status"] == "active":
            raise CommandError(f"you already have version {latest['version']} on this lot: use --replace")
        version, previous = latest["version"] + 1, bytes.fromhex(latest["manifest_sha256"])
    paths = [Path(p) for p in attachments]
    if consortium_agreement is not None and Path(consortium_agreement) not in paths:
        paths.append(Path(consortium_agreement))  # the agreement is attached like any other file
    for p in paths:
        if not p.is_file():
            raise CommandError(f"no such file: {p}")
    total = sum(p.stat().st_size for p in paths)
    ct_path, _ = api.new_bid_paths(out)
    tmp = ct_path.with_name(ct_path.name + ".part")
    # Written past the page cache where the file system allows it (DirectOutput): a multi-GiB bid does not push
    # the bidder's other files out of memory, and sealing costs less CPU.
    with _progress() if show_progress else _NoProgress() as prog, pipeline.DirectOutput(tmp) as dst:
        task = prog.add_task("sealing", total=total or None)
        sealed = seal.seal(info["ceremony_record_bytes"],
                           lambda w: package.write_package(w, form, paths, lambda n: prog.advance(task, n),
                                                           consortium_agreement=consortium_agreement),
                           dst, signing_key=identity, bidder_org_id=me["org_id"], signer_id=me["id"],
                           expected_ceremony_hash=info["ceremony_hash_bytes"], version=version, previous=previous)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, ct_path)
    api.write_sealed(out, lot_id, sealed)
    return sealed


async def submit_bid(http: httpx.AsyncClient, name: Path, *, show_progress: bool = True,
                     chunk: int = api.CHUNK) -> dict:
    """Upload OUT.ct with OUT.manifest (resuming if interrupted); writes OUT.receipt."""
    files = api.read_sealed(name)
    ct_path, _ = api.new_bid_paths(name)
    # The upload id is kept next to the files, so running `bid submit` again after an interruption resumes
    # the same upload from the server's offset instead of sending everything again.
    marker = name.with_name(name.name + ".upload")
    upload_id = marker.read_text().strip() if marker.exists() else None
    with _progress() if show_progress else _NoProgress() as prog:
        task = prog.add_task("uploading", total=ct_path.stat().st_size)
        try:
            accepted = await api.upload(http, files.lot_id, files.manifest, files.signature, ct_path, chunk=chunk,
                                        progress=lambda n: prog.advance(task, n), upload_id=upload_id,
                                        on_created=marker.write_text)
        except api.ClientError as exc:
            if upload_id and exc.code == "upload_not_found":
                # refused or expired meanwhile: start a new upload
                marker.unlink(missing_ok=True)
                accepted = await api.upload(http, files.lot_id, files.manifest, files.signature, ct_path,
                                            chunk=chunk, progress=lambda n: prog.advance(task, n),
                                            on_created=marker.write_text)
            else:
                raise
    name.with_name(name.name + ".receipt").write_text(accepted["receipt"], encoding="utf-8")
    marker.unlink(missing_ok=True)
    return accepted


async def verify_receipt(http: httpx.AsyncClient | None, receipt_path: Path, vkey: str | None = None,
                         name: Path | None = None) -> tuple[receipt.Receipt, api.InclusionResult | None]:
    """Check the receipt's platform signature offline (with --vkey) and, with a server, its inclusion proof
    once a checkpoint covers it. With the sealed files, also that it receipts exactly this manifest."""
    note = receipt_path.read_text(encoding="utf-8")
    if vkey is None:
        if http is None:
            raise CommandError("give --vkey to verify offline")
        vkey = await api.log_vkey(http)
    r = receipt.verify_receipt(note, vkey)
    if name is not None:
        files = api.read_sealed(name)
        m = seal.decode_manifest(files.manifest)
        if r.manifest_sha256 != seal.manifest_sha256(files.manifest).hex() or r.ct_root != m.ct_root.hex() \
                or r.bid != m.bid_id.hex() or r.lot != files.lot_id:
            raise receipt.ReceiptInvalid("the receipt is not for this sealed bid")
        ct = name.with_name(name.name + ".ct")
        if ct.exists():  # the ciphertext itself, unless the bidder kept only the manifest after submitting
            root, size = cthash.hash_file(ct)
            if size != m.ct_len or root != m.ct_root:
                raise receipt.ReceiptInvalid(f"{ct} is not the ciphertext this receipt is for "
                                             f"(ct_root {root.hex()}, {size} bytes)")
    inclusion = await api.check_inclusion(http, r, vkey) if http is not None else None
    return r, inclusion


async def withdraw_bid(http: httpx.AsyncClient, lot_id: str, key_path: Path | None = None,
                       pw: str | None = None) -> dict:
    return await api.withdraw(http, lot_id, load_identity(key_path, pw))


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def add_task(self, *a, **kw) -> int:
        return 0

    def advance(self, *a, **kw) -> None:
        pass


# --- argparse wiring -----------------------------------------------------------------------------------------

def _http(args: argparse.Namespace) -> httpx.AsyncClient:
    server = args.server or os.environ.get("TENDERHALL_SERVER", "http://127.0.0.1:8000")
    token = args.token or os.environ.get("TENDERHALL_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server, headers=headers, timeout=httpx.Timeout(120.0, connect=10.0))


def _run(fn: Callable[[httpx.AsyncClient], Any], args: argparse.Namespace) -> Any:
    async def go():
        async with _http(args) as http:
            return await fn(http)

    return asyncio.run(go())


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except api.ClientError as exc:
            console.print(f"[red]refused[/] {exc.status} [bold]{exc.code}[/]: {exc.problem.get('detail', '')}")
            return 2
        except FileExistsError as exc:
            console.print(f"[red]error[/]: {exc.filename} exists: a key file is never overwritten")
            return 2
        except (CommandError, keys.KeyFileError, package.BidFormInvalid, seal.SealError,
                receipt.ReceiptInvalid) as exc:
            console.print(f"[red]error[/]: {exc}")
            return 2
        except OSError as exc:  # a file named on the command line that is missing or unreadable
            console.print(f"[red]error[/]: {exc.filename or ''}: {exc.strerror or exc}")
            return 2
        except httpx.HTTPError as exc:
            console.print(f"[red]network error[/]: {exc}")
            return 3
    return wrapped


@_guard
def _cmd_keys_generate(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else default_identity_path()
    public = generate_identity(out, args.label or getpass.getuser(), passphrase(confirm=True))
    console.print(f"identity key written to {out} (encrypted); public key {public.hex()}")
    return 0


@_guard
def _cmd_keys_register(args: argparse.Namespace) -> int:
    key = _run(lambda http: register_identity(http, Path(args.key) if args.key else None), args)
    console.print(f"registered identity key {key['id']} — status {key['status']}: an administrator must approve it")
    return 0


@_guard
def _cmd_custodian_keygen(args: argparse.Namespace) -> int:
    seat = _run(lambda http: custodian_keygen(http, args.lot, Path(args.out) if args.out else None,
                                              Path(args.key) if args.key else None), args)
    console.print(f"lot key uploaded for lot {seat['lot_id']} as custodian x={seat['x']} ({seat['suite']})")
    return 0


@_guard
def _cmd_bid_prepare(args: argparse.Namespace) -> int:
    out = Path(args.out or f"lot-{args.lot[:8]}.pack.json")
    pack = _run(lambda http: api.fetch_pack(http, args.lot), args)
    out.write_bytes(msgspec.json.encode(pack))
    console.print(f"lot pack written to {out}: seal offline with `tenderhall bid seal --lot {args.lot} --pack {out}`")
    return 0


@_guard
def _cmd_bid_seal(args: argparse.Namespace) -> int:
    out = Path(args.out or f"bid-{args.lot[:8]}")
    kw = dict(price=args.price, duration=args.duration, fields=_fields(args.field or []),
              attachments=[Path(p) for p in args.attach or []], key_path=Path(args.key) if args.key else None,
              replace=args.replace, consortium=[c for c in (args.consortium or "").split(",") if c.strip()],
              consortium_agreement=Path(args.consortium_agreement) if args.consortium_agreement else None)
    if args.pack:
        pack = msgspec.json.decode(Path(args.pack).read_bytes())
        sealed = asyncio.run(seal_bid(None, args.lot, out, pack=pack, **kw))  # type: ignore[arg-type]
    else:
        sealed = _run(lambda http: seal_bid(http, args.lot, out, **kw), args)  # type: ignore[arg-type]
    console.print(f"sealed version {sealed.manifest.version}: {out}.ct ({sealed.manifest.ct_len} bytes, ct_root "
                  f"{sealed.manifest.ct_root.hex()}) and {out}.manifest — submit with `tenderhall bid submit {out}`")
    return 0


@_guard
def _cmd_bid_submit(args: argparse.Namespace) -> int:
    name = Path(args.name)
    accepted = _run(lambda http: submit_bid(http, name, chunk=args.chunk_mib * 1024 * 1024), args)
    console.print(f"[green]accepted[/] version {accepted['version']} at {accepted['received_at']} (log index "
                  f"{accepted['log_index']}); receipt in {name}.receipt")
    return 0


@_guard
def _cmd_bid_verify_receipt(args: argparse.Namespace) -> int:
    path = Path(args.receipt)
    name = Path(args.sealed) if args.sealed else None
    if args.offline:
        r, inc = asyncio.run(verify_receipt(None, path, args.vkey, name))
    else:
        r, inc = _run(lambda http: verify_receipt(http, path, args.vkey, name), args)
    console.print(f"[green]valid receipt[/]: lot {r.lot}, bid {r.bid} v{r.version}, received {r.received_at}, "
                  f"log index {r.log_index}")
    if name is not None:
        ct = name.with_name(name.name + ".ct")
        console.print(f"the ciphertext {ct} matches its ct_root" if ct.exists()
                      else f"the ciphertext {ct} is not here: only the manifest was checked")
    if inc is not None:
        console.print(("[green]included[/] in checkpoint of size " + str(inc.tree_size)) if inc.covered
                      else f"not yet covered by a checkpoint ({inc.detail})")
    return 0


@_guard
def _cmd_bid_ct_root(args: argparse.Namespace) -> int:
    for name in args.files:
        root, size = cthash.hash_file(name)
        print(f"{root.hex()}  {size}  {name}")
    return 0


@_guard
def _cmd_bid_withdraw(args: argparse.Namespace) -> int:
    out = _run(lambda http: withdraw_bid(http, args.lot, Path(args.key) if args.key else None), args)
    console.print(f"withdrawn bid {out['bid_id']} at {out['withdrawn_at']} (log index {out['log_index']})")
    return 0


def _net(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help="platform URL (else $TENDERHALL_SERVER, default http://127.0.0.1:8000)")
    p.add_argument("--token", help="bearer token (else $TENDERHALL_TOKEN)")


def _key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", help="identity key file (else $TENDERHALL_KEY, default ~/.tenderhall/identity.key)")


def custodian_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `custodian` command's subparsers, created once and shared (bids adds keygen, opening adds unseal)."""
    parser = sub.choices.get("custodian")
    if parser is None:
        parser = sub.add_parser("custodian", help="lot key custodians: keygen, unseal")
        return parser.add_subparsers(dest="custodian_command", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="custodian_command", required=True)


def register(sub: argparse._SubParsersAction) -> None:
    kp = sub.add_parser("keys", help="identity keys (Ed25519) of bidders and custodians")
    ks = kp.add_subparsers(dest="keys_command", required=True)
    p = ks.add_parser("generate", help="create an identity key pair; the private key is encrypted locally")
    p.add_argument("--out", help="key file (default ~/.tenderhall/identity.key)")
    p.add_argument("--label", help="a name kept in the key file")
    p.set_defaults(func=_cmd_keys_generate)
    p = ks.add_parser("register", help="register the public key with the platform (an admin approves it)")
    _key(p)
    _net(p)
    p.set_defaults(func=_cmd_keys_register)

    cs = custodian_subparsers(sub)
    p = cs.add_parser("keygen", help="create this custodian's HPKE key for a lot and upload the signed public key")
    p.add_argument("--lot", required=True)
    p.add_argument("--out", help="lot key file (default ~/.tenderhall/lots/LOT.hpke.key)")
    _key(p)
    _net(p)
    p.set_defaults(func=_cmd_custodian_keygen)

    bp = sub.add_parser("bid", help="sealed bids: seal, submit, verify-receipt, ct-root, withdraw")
    bs = bp.add_subparsers(dest="bid_command", required=True)
    p = bs.add_parser("seal", help="build the bid package and seal it (seal/v2) to the lot's custodians")
    p.add_argument("--lot", required=True)
    p.add_argument("--price", required=True, help="bid price in yuan, e.g. 1234567.89")
    p.add_argument("--duration", help="duration in days (工期)")
    p.add_argument("--field", action="append", help="a declared bid field: name=value (repeatable)")
    p.add_argument("--consortium", help="a consortium bid (联合体投标): the other members' 统一社会信用代码, "
                                        "comma-separated; you are the lead")
    p.add_argument("--consortium-agreement", metavar="FILE",
                   help="with --consortium: the joint bidding agreement (共同投标协议), attached to the bid")
    p.add_argument("--attach", action="append", help="a file to include (repeatable)")
    p.add_argument("--out", help="output name: writes OUT.ct and OUT.manifest")
    p.add_argument("--replace", action="store_true", help="seal a new version replacing your current bid")
    p.add_argument("--pack", help="a lot pack from `bid prepare`: seal offline, without the server")
    _key(p)
    _net(p)
    p.set_defaults(func=_cmd_bid_seal)
    p = bs.add_parser("prepare", help="save what sealing needs (lot pack) to seal offline later")
    p.add_argument("--lot", required=True)
    p.add_argument("--out", help="pack file (default lot-<first 8 of the lot id>.pack.json)")
    _net(p)
    p.set_defaults(func=_cmd_bid_prepare)
    p = bs.add_parser("submit", help="upload a sealed bid (resumable) and save the signed receipt")
    p.add_argument("name", help="the OUT given to `bid seal`")
    p.add_argument("--chunk-mib", type=int, default=8)
    _net(p)
    p.set_defaults(func=_cmd_bid_submit)
    p = bs.add_parser("verify-receipt", help="check a receipt's signature and, when covered, its inclusion")
    p.add_argument("receipt")
    p.add_argument("--vkey", help="the platform's verifier key (else fetched from the server)")
    p.add_argument("--sealed", help="the OUT of the sealed bid, to check the receipt is for it")
    p.add_argument("--offline", action="store_true", help="signature only, no network (needs --vkey)")
    _net(p)
    p.set_defaults(func=_cmd_bid_verify_receipt)
    p = bs.add_parser("ct-root", help="print a sealed bid file's ct_root and length (what its receipt names)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_bid_ct_root)
    p = bs.add_parser("withdraw", help="withdraw your live bid on a lot (signed statement)")
    p.add_argument("--lot", required=True)
    _key(p)
    _net(p)
    p.set_defaults(func=_cmd_bid_withdraw)


if __name__ == "__main__":  # pragma: no cover
    from trading.cli import main

    sys.exit(main())

