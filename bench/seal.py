"""Benchmark: seal and unseal a large file with seal/v2, against `openssl speed` and age (pyrage), same run.

    /work/venv/bin/python bench/seal.py [--size-mib 1024] [--dir /var/tmp/tenderhall-bench-seal] [--seconds 3]
                                        [--rounds 3] [--output direct|buffered] [--durable]

Files live on disk by default (/var/tmp), where a bidder seals; `--dir /dev/shm/…` measures tmpfs. Seal and
unseal write their output as `tenderhall bid seal` does, through `pipeline.DirectOutput` (O_DIRECT where the
file system allows it: the page cache's allocation and copy cost this VM 0.2–0.6 CPU-s per GiB, and that cost
swung most from run to run); `--output buffered` seals into an ordinary file instead, for comparison. Unsealing
writes an ordinary buffered file, as the opening's spool does (its plaintext is read back at once). age writes
its own way (buffered). `openssl speed` runs with -elapsed (wall clock) like the other operations. CPU seconds
(user+sys of the process, all threads) are printed too. By default an operation's clock stops when its last write
returns — for age that leaves 1 GiB of dirty page cache, written to the disk after its clock stopped (the next
operation's `os.sync()` is outside every timing), while DirectOutput's bytes are on the device already; with
`--durable` every operation's clock stops once its output is fsynced, so all pay for their disk alike. Every
operation's input is read once before its clock starts, so each starts from the page cache (age-decrypt's input
was written through the cache; unseal's, written past it, was read cold from the disk until 2026-12-06).

The machine's figures swing from run to run (a VM whose page-cache work costs vary by 2× between runs), so all
operations run in `--rounds` interleaved rounds and the table shows each one's median run; every round's wall
time is printed too, and the seal/age ratio within each round.
Each operation runs in a fresh subprocess that reports its wall time and its own peak RSS (ru_maxrss), so
the memory figure is the whole process (interpreter included) for that one operation:
- seal-package: what `tenderhall bid seal` does — stream the file into the bid package ZIP (CRC-32), encrypt
  (Tink AES-GCM-HKDF streaming, 1 MiB segments), hash the ciphertext's pieces for ct_root on every core,
  split/wrap the DEK, sign the manifest.
- seal-raw: the same seal with the file itself as the plaintext (no ZIP): comparable to age's encryption.
- seal-nodisk: seal-raw with its output thrown away (/dev/null): the CPU's side alone.
- disk-write: no sealing at all, only as many bytes written the way seal writes them (from a page-aligned 1 MiB
  buffer, through DirectOutput): the floor no sealing to this disk can go below. On the project's VM it is
  0.64–0.77 s per GiB (as `dd oflag=direct` is, at any block size or queue depth), about half of age-encrypt —
  so "2 × age" asks for a seal as fast as the bare write.
- unseal: k custodians open their shares, recover and check the DEK, check ct_root, decrypt, read form.json.
- age-encrypt / age-decrypt: pyrage (rage, Rust) X25519 recipient, file to file.
References: `openssl speed -evp aes-256-gcm -bytes 1048576` and `openssl speed -bytes 1048576 sha256`.
Goals (issue 4): seal ≥ 0.7 × the lower openssl figure, ≥ 2 × age, peak memory < 64 MB.
"""
from __future__ import annotations

import argparse
import json
import mmap
import os
import re
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- child operations ------------------------------------------------------------------------------------------

def _state(path: Path) -> dict:
    return json.loads(path.read_text())


def _output(path: Path):
    """The output file as `tenderhall bid seal` opens it (past the page cache where possible), or with
    --output buffered an ordinary one."""
    from trading.bids import pipeline

    return path.open("wb") if os.environ.get(_OUTPUT_ENV) == "buffered" else pipeline.DirectOutput(path)


_OUTPUT_ENV = "TENDERHALL_BENCH_OUTPUT"
_DURABLE_ENV = "TENDERHALL_BENCH_DURABLE"


def child(op: str, state_path: Path, src: Path, dst: Path) -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.bids import package, pipeline, seal

    if op.startswith("age-"):
        import pyrage  # imported before the clock starts, as the seal's modules are

    st = _state(state_path)
    record = bytes.fromhex(st["record"])
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(st["bidder_key"]))
    t0, c0 = time.perf_counter(), _cpu()
    if op in ("seal-package", "seal-raw", "seal-nodisk"):
        def raw(w) -> None:
            with src.open("rb", buffering=0) as f:
                for block in pipeline.file_blocks(f):  # mapped windows: no read() copy (see file_blocks)
                    w.write(block)

        form = package.build_form(tender_id=st["tender_id"], lot_id=st["lot_id"], bidder_org_id="bench",
                                  price_yuan="1234567.89", bid_fields=[], duration_days=365)
        produce = (lambda w: package.write_package(w, form, [src])) if op == "seal-package" else raw
        with (open(os.devnull, "wb") if op == "seal-nodisk" else _output(dst)) as out:
            sealed = seal.seal(record, produce, out, signing_key=key, bidder_org_id="bench",
                               signer_id=str(uuid.uuid4()))
        Path(str(dst) + ".manifest").write_bytes(sealed.manifest_bytes)
    elif op == "unseal":
        m = seal.decode_manifest(Path(str(src) + ".manifest").read_bytes())
        shares = {}
        for c in st["custodians"][: m.k]:
            hk = seal.HpkePrivateKey(c["suite"], bytes.fromhex(c["raw"]))
            shares[c["x"]] = seal.custodian_open(m, c["id"], hk)
        dek = seal.recover_checked_dek(m, shares)
        with src.open("rb") as f, dst.open("wb") as out:  # buffered, as the opening's spool (read back at once)
            seal.unseal(m, dek, f, out)
        if st.get("package"):
            seal.read_form(dst)
    elif op == "disk-write":
        # The output alone: as many bytes as a seal writes, from one page-aligned 1 MiB buffer, the way seal's
        # output goes to the disk. What sealing can never beat whatever its CPU.
        block = mmap.mmap(-1, 1 << 20)
        block.write(os.urandom(1 << 20))
        left = src.stat().st_size
        with _output(dst) as out:
            while left:
                n = min(left, 1 << 20)
                out.write(memoryview(block)[:n])
                left -= n
    elif op == "age-encrypt":
        pyrage.encrypt_file(str(src), str(dst), [pyrage.x25519.Recipient.from_str(st["age_recipient"])])
    elif op == "age-decrypt":
        pyrage.decrypt_file(str(src), str(dst), [pyrage.x25519.Identity.from_str(st["age_identity"])])
    else:
        raise SystemExit(f"unknown op {op}")
    if os.environ.get(_DURABLE_ENV) and op != "seal-nodisk":
        # --durable: the clock stops once the output is on the disk, not when the last write() returned: age's
        # (and a buffered seal's or unseal's) bytes are still in the page cache then, and reach the disk after
        # the clock stopped; DirectOutput's are past the cache already.
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return {"seconds": time.perf_counter() - t0, "cpu": _cpu() - c0, "rss_mb": _rss_mb()}


# --- parent ------------------------------------------------------------------------------------------------

def make_state(path: Path) -> None:
    import pyrage
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.bids import ceremony
    from trading.bids.seal import HpkePrivateKey

    lot_id, tender_id = str(uuid.uuid4()), str(uuid.uuid4())
    members, custodians = [], []
    for x in (1, 2, 3):
        cid = str(uuid.uuid4())
        ident = Ed25519PrivateKey.generate()
        hk = HpkePrivateKey.generate(ceremony.SUITE_X25519)
        sig = ident.sign(ceremony.key_statement_bytes(lot_id, cid, x, hk.suite, hk.public_bytes()))
        members.append(ceremony.CeremonyCustodian(custodian_id=cid, x=x, suite=hk.suite,
                                                  hpke_public_key=hk.public_bytes(), signature=sig))
        custodians.append({"id": cid, "x": x, "suite": hk.suite, "raw": hk.private_bytes_raw().hex()})
    record = ceremony.ceremony_bytes(ceremony.build_ceremony(tender_id, lot_id, 2, 3, members))
    ident = pyrage.x25519.Identity.generate()
    path.write_text(json.dumps({
        "lot_id": lot_id, "tender_id": tender_id, "record": record.hex(), "custodians": custodians,
        "bidder_key": Ed25519PrivateKey.generate().private_bytes_raw().hex(),
        "age_identity": str(ident), "age_recipient": str(ident.to_public())}))


def make_input(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 16 * 1024 * 1024)
            f.write(os.urandom(n))
            left -= n


def warm_memory(d: Path, size: int) -> None:
    """Touch (then free) three files' worth of tmpfs pages before measuring.

    On this machine (a VM) the first write into pages the guest has never used runs at ~0.3 GB/s instead of
    ~2.5 GB/s — the hypervisor backs guest memory lazily — so without this the first operation that writes 1 GiB
    (whichever it is) pays for the host and the order of operations decides the figures.
    """
    block = os.urandom(1024 * 1024)
    warm = d / "warm.bin"
    with warm.open("wb") as f:
        for _ in range(3 * size // len(block)):
            f.write(block)
    warm.unlink()


def openssl_speed(args: list[str], seconds: int, elapsed: bool = True) -> float:
    """Bytes/s for 1 MiB blocks (openssl prints thousands of bytes per second); wall clock with -elapsed, else
    openssl's default, CPU time."""
    out = subprocess.run(["openssl", "speed", *(["-elapsed"] if elapsed else []), "-seconds", str(seconds),
                          "-bytes", "1048576", *args],
                         capture_output=True, text=True, check=True).stdout
    line = [ln for ln in out.splitlines() if ln and not ln.startswith(("type", "The", "version", "built", "options",
                                                                        "compiler", "CPUINFO"))][-1]
    value = re.findall(r"([\d.]+)k", line)[-1]
    return float(value) * 1000


def _fs_type(d: Path) -> str:
    """The file system type of directory d (Linux: the longest /proc/mounts mount point above it)."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, point, fs = line.split()[:3]
            if str(d.resolve()).startswith(point.rstrip("/") + "/") and len(point) > len(best):
                best, kind = point, fs
    except OSError:
        pass
    return kind


def _same(a: Path, b: Path) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _warm(path: Path) -> None:
    with path.open("rb", buffering=0) as f:
        while f.read(16 * 1024 * 1024):
            pass


def run_child(op: str, state: Path, src: Path, dst: Path) -> dict:
    # The previous operations' leftovers — dirty pages of a buffered output, the blocks of deleted files (ext4
    # discards them at the journal commit) — reach the disk now, not in the middle of this operation: on this VM
    # that write-back ran during whichever operation came next and cost it up to 0.5 s per GiB, its interrupts
    # charged to that operation's threads.
    # Every operation starts with its input in the page cache, as age-decrypt's does (age.ct was just written
    # through the cache): raw.ct was written past it (DirectOutput), and unsealing it cold paid this VM's disk
    # reads (1–2 s per GiB, charged as CPU to the threads that fault the pages in) where age-decrypt paid none.
    _warm(src)
    os.sync()
    out = subprocess.run([sys.executable, __file__, "--child", op, str(state), str(src), str(dst)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_round(state: Path, src: Path, d: Path) -> tuple[dict[str, dict], bool]:
    """Every operation once, in a fixed order (each in its own subprocess); returns the figures and whether the
    unsealed output is the input."""
    results = {}
    st = json.loads(state.read_text())
    st["package"] = False
    state.write_text(json.dumps(st))
    results["seal-package"] = run_child("seal-package", state, src, d / "pkg.ct")
    st["package"] = True
    state.write_text(json.dumps(st))
    results["unseal-package"] = run_child("unseal", state, d / "pkg.ct", d / "pkg.zip")
    (d / "pkg.zip").unlink()
    (d / "pkg.ct").unlink()
    st["package"] = False
    state.write_text(json.dumps(st))
    results["disk-write"] = run_child("disk-write", state, src, d / "disk.bin")
    (d / "disk.bin").unlink()
    results["seal-nodisk"] = run_child("seal-nodisk", state, src, d / "none.ct")
    results["seal-raw"] = run_child("seal-raw", state, src, d / "raw.ct")
    results["unseal-raw"] = run_child("unseal", state, d / "raw.ct", d / "raw.out")
    same = _same(src, d / "raw.out")
    (d / "raw.out").unlink()
    (d / "raw.ct").unlink()
    results["age-encrypt"] = run_child("age-encrypt", state, src, d / "age.ct")
    results["age-decrypt"] = run_child("age-decrypt", state, d / "age.ct", d / "age.out")
    (d / "age.ct").unlink()
    (d / "age.out").unlink()
    return results, same


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", default="/var/tmp/tenderhall-bench-seal",
                    help="where the files go: a disk, as on a bidder's machine (/dev/shm/… measures tmpfs)")
    ap.add_argument("--output", choices=("direct", "buffered"), default="direct",
                    help="how seal writes its output: DirectOutput (O_DIRECT where the file system "
                         "allows it, as the CLI does) or an ordinary buffered file")
    ap.add_argument("--durable", action="store_true",
                    help="stop each operation's clock once its output file is fsynced (on the disk), for every "
                         "operation alike; by default the clock stops when the last write returns, which leaves "
                         "age's buffered output to reach the disk after its clock stopped")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of all operations, interleaved; the table gives each operation's median round")
    ap.add_argument("--child", nargs=4, metavar=("OP", "STATE", "SRC", "DST"))
    args = ap.parse_args()
    if args.child:
        op, state, src, dst = args.child
        print(json.dumps(child(op, Path(state), Path(src), Path(dst))))
        return
    os.environ[_OUTPUT_ENV] = args.output
    if args.durable:
        os.environ[_DURABLE_ENV] = "1"
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    size = args.size_mib * 1024 * 1024
    src, state = d / "input.bin", d / "state.json"
    make_input(src, size)
    make_state(state)
    warm_memory(d, size)
    aes = openssl_speed(["-evp", "aes-256-gcm"], args.seconds)
    sha = openssl_speed(["sha256"], args.seconds)
    aes_cpu = openssl_speed(["-evp", "aes-256-gcm"], args.seconds, elapsed=False)
    sha_cpu = openssl_speed(["sha256"], args.seconds, elapsed=False)
    rounds, same = [], True
    for i in range(args.rounds):
        r, ok = one_round(state, src, d)
        rounds.append(r)
        same = same and ok
        print(f"round {i + 1}: " + "  ".join(f"{op} {v['seconds']:.2f} s" for op, v in r.items()), flush=True)
    # each operation's median run (the lower middle one for an even count), wall and CPU from that same run
    results = {op: sorted((r[op] for r in rounds), key=lambda v: v["seconds"])[(len(rounds) - 1) // 2]
               for op in rounds[0]}
    walls = {op: sorted(r[op]["seconds"] for r in rounds) for op in rounds[0]}
    mib = size / 2**20
    print(f"file: {mib:.0f} MiB of random bytes in {d} ({_fs_type(d)}), output {args.output}"
          f"{', clocks stop once the output is fsynced' if args.durable else ''}; {args.rounds} interleaved rounds, "
          "the median round of each operation below (its wall and CPU figures belong to that one run)")
    print(f"openssl speed -evp aes-256-gcm -bytes 1048576: {aes / 1e9:.2f} GB/s wall (-elapsed), "
          f"{aes_cpu / 1e9:.2f} GB/s per CPU-second (default timing)")
    print(f"openssl speed -bytes 1048576 sha256:           {sha / 1e9:.2f} GB/s wall (-elapsed), "
          f"{sha_cpu / 1e9:.2f} GB/s per CPU-second (default timing)")
    lower, lower_cpu = min(aes, sha), min(aes_cpu, sha_cpu)
    age = size / results["age-encrypt"]["seconds"]
    age_cpu = size / results["age-encrypt"]["cpu"]
    print("wall = elapsed time; cpu = user+sys seconds of the process (all threads); ratios in the same unit")
    print(f"{'operation':16} {'wall s':>7} {'cpu s':>6} {'GB/s':>6} {'GB/cpu-s':>9} {'×openssl':>9} {'×openssl cpu':>12}"
          f" {'×age':>6} {'×age cpu':>9} {'peak RSS MB':>12}  all rounds' wall s")
    for op, r in results.items():
        rate, rate_cpu = size / r["seconds"], size / r["cpu"]
        print(f"{op:16} {r['seconds']:7.2f} {r['cpu']:6.2f} {rate / 1e9:6.2f} {rate_cpu / 1e9:9.2f} {rate / lower:9.2f}"
              f" {rate_cpu / lower_cpu:12.2f} {rate / age:6.2f} {rate_cpu / age_cpu:9.2f} "
              f"{max(x[op]['rss_mb'] for x in rounds):12.1f}  {' '.join(f'{w:.2f}' for w in walls[op])}")
    per_round = [(size / r["seal-raw"]["seconds"]) / (size / r["age-encrypt"]["seconds"]) for r in rounds]
    print("seal-raw ÷ age-encrypt within each round: " + " ".join(f"{x:.2f}×" for x in per_round))
    floor = [r["disk-write"]["seconds"] / r["seal-raw"]["seconds"] for r in rounds]
    print("seal-raw's speed ÷ the disk-write floor's within each round: " + " ".join(f"{x:.2f}×" for x in floor))
    best = [r["age-encrypt"]["seconds"] / r["disk-write"]["seconds"] for r in rounds]
    print("the most any sealing to this disk could reach, disk-write ÷ age-encrypt: "
          + " ".join(f"{x:.2f}×" for x in best))
    nodisk = [r["age-encrypt"]["seconds"] / r["seal-nodisk"]["seconds"] for r in rounds]
    print("seal with its output discarded ÷ age-encrypt within each round: "
          + " ".join(f"{x:.2f}×" for x in nodisk))
    print(f"unsealed output identical to the input: {same}")
    for p in d.glob("*"):
        p.unlink()
    d.rmdir()


if __name__ == "__main__":
    main()
