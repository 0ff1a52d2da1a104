"""The records archive format (`tenderhall-records-archive/v1`) and a streaming ZIP writer. Pure: no I/O
beyond the bytes handed in, no server imports (the benchmark and tests build archives with it directly).

Layout of the ZIP:
    README.txt                  how to verify (Chinese and English)
    manifest.json               format, kind ("tender" | "log"), origin, tender, tree_size, entry count, documents
    keys/log-keys.txt           every platform verifier key (C2SP vkey), one per line
    keys/root-ca.pem            the platform root CA that certifies the document-signing certificate
    checkpoints.jsonl           {"tree_size": n, "note": "<signed note text>"} per line, ascending size
    entries.jsonl               one entry per line: the exact stored entry bytes (the "\\n" is not part of it)
    proofs/inclusion.jsonl      tender archives: {"seq", "tree_size", "hashes": [base64…]} per entry, same order
    proofs/consistency.jsonl    {"size1", "size2", "hashes": [base64…]} between successive checkpoints
    documents/<sha256>-<name>   every document registered for the tender (signed PDFs)
"""
from __future__ import annotations

import io
import zipfile
from typing import Any

import msgspec

FORMAT = "tenderhall-records-archive/v1"
README = "README.txt"
MANIFEST = "manifest.json"
KEYS = "keys/log-keys.txt"
ROOT_CA = "keys/root-ca.pem"
CHECKPOINTS = "checkpoints.jsonl"
ENTRIES = "entries.jsonl"
INCLUSION = "proofs/inclusion.jsonl"
CONSISTENCY = "proofs/consistency.jsonl"
DOCUMENTS = "documents/"


class DocumentRef(msgspec.Struct, kw_only=True):
    path: str
    sha256: str
    kind: str
    filename: str
    seq: int
    size: int


class Manifest(msgspec.Struct, kw_only=True):
    format: str
    kind: str                       # "tender": one tender's view with inclusion proofs; "log": a log prefix
    origin: str
    tree_size: int                  # size of the last checkpoint; every entry is proved against it
    entries: int
    generated_at: str
    tender: dict[str, Any] | None = None
    documents: list[DocumentRef] = []


class CheckpointLine(msgspec.Struct):
    tree_size: int
    note: str


class InclusionLine(msgspec.Struct):
    seq: int
    tree_size: int
    hashes: list[str]


class ConsistencyLine(msgspec.Struct):
    size1: int
    size2: int
    hashes: list[str]


README_TEXT = """tenderhall 见证记录档案 / tenderhall witness-record archive  (format tenderhall-records-archive/v1)
==========================================================================================

中文
----
本档案可在不信任平台及其数据库的情况下离线核验。核验方法：
1. 安装 tenderhall（pip install tenderhall），离线执行：
       tenderhall verify 本档案.zip --key "<平台公布的验证公钥>"
   验证公钥请从平台公布地址 /.well-known/tenderhall/log-keys 或监管部门备案处独立取得，
   与 keys/log-keys.txt 比对。未给出 --key 时使用档案内的公钥，并提示须另行比对。
2. 核验内容：逐条重新计算 entries.jsonl 中每条记录的叶哈希 SHA-256(0x00‖记录字节)；
   用 proofs/inclusion.jsonl 中的包含证明算到最后一个检查点的根哈希；
   验证 checkpoints.jsonl 中每个检查点的 Ed25519 签名（C2SP signed-note 格式）；
   用 proofs/consistency.jsonl 验证相邻检查点的一致性（日志只增不改）；
   同一规模出现两个不同根哈希即为分叉；每条记录的 prev 字段指向同一项目的上一条记录，缺失即可发现；
   documents/ 下每个文件的 SHA-256 必须出现在日志记录 record:document:add 中，PDF 的签名须完好
   （由 keys/root-ca.pem 签发的平台文档签名证书签署）。
3. 任何一项不符，核验程序会逐项指出（如“记录17被修改”“记录18缺失”“检查点签名无效”“分叉”），并以非零状态退出。
独立实现请参阅项目文档 docs/records.md（RFC 9162 第2.1节 Merkle 树、C2SP tlog-checkpoint 与 signed-note）。

English
-------
This archive can be checked offline without trusting the platform or its database:
1. Install tenderhall and run, with no network:
       tenderhall verify THIS.zip --key "<the platform's published verifier key>"
   Obtain the verifier key independently (the platform's /.well-known/tenderhall/log-keys, or the regulator's
   register) and compare it with keys/log-keys.txt. Without --key the keys inside the archive are used and the
   verifier reminds you to compare them.
2. What is checked: every line of entries.jsonl is an entry's exact bytes; its leaf hash SHA-256(0x00 ‖ bytes)
   is recomputed and its inclusion proof (proofs/inclusion.jsonl) must lead to the root of the last checkpoint;
   every checkpoint (checkpoints.jsonl, C2SP tlog-checkpoint in a C2SP signed-note, Ed25519) must carry a valid
   signature; successive checkpoints must be consistent (proofs/consistency.jsonl, RFC 9162 §2.1.4), two
   checkpoints of the same size with different roots are a fork; each entry's "prev" names the previous entry
   of the same tender, so a missing entry is detected; every file under documents/ must have its SHA-256 logged
   in a record:document:add entry, and every PDF's signature must be intact and certified by keys/root-ca.pem.
3. Any failure is named precisely (entry 17 altered, entry 18 missing, entries reordered, checkpoint signature
   invalid, fork …) and the verifier exits non-zero. An independent implementation can follow docs/records.md
   (RFC 9162 §2.1 Merkle tree, C2SP tlog-checkpoint and signed-note).
"""


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file: ZipFile writes data descriptors and we drain what it wrote."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._pos = 0
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        data = bytes(b)
        self._chunks.append(data)
        self._pos += len(data)
        self.pending += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self.pending = 0
        return data


class ArchiveWriter:
    """Write the archive as a stream: after each call, `drain()` returns the bytes produced so far."""

    def __init__(self, compresslevel: int = 6) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=compresslevel, allowZip64=True)
        self._open: Any = None

    def add(self, name: str, data: bytes) -> None:
        self._zip.writestr(name, data)

    def begin(self, name: str) -> None:
        self._open = self._zip.open(name, "w", force_zip64=True)

    def write(self, data: bytes) -> None:
        self._open.write(data)

    def end(self) -> None:
        self._open.close()
        self._open = None

    @property
    def pending(self) -> int:
        return self._sink.pending

    def drain(self) -> bytes:
        return self._sink.drain()

    def close(self) -> bytes:
        self._zip.close()
        return self._sink.drain()


encode = msgspec.json.Encoder().encode
