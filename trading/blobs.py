"""Content-addressed blob store for large files (sealed bids, attachments, PDFs).

Keys are SHA-256 hex digests; files live at data_dir/blobs/sha256/ab/cd/abcd…; writes go to a temp file,
are fsynced and renamed into place; every read checks the hash. Sealed bids' ciphertexts are kept apart, under
their seal/v2 `ct_root` (trading/bids/cthash.py, a hash list rather than one SHA-256 of the file) at
data_dir/blobs/ct-root/ab/cd/…, written by the upload's spool rename and checked by the opening. (An
S3-compatible store can implement the same methods for production.)
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Iterator
from pathlib import Path

from trading.errors import Invalid, NotFound

CHUNK = 1024 * 1024


class BlobNotFound(NotFound):
    code = "blob_not_found"


class BlobCorrupt(Invalid):
    status = 500
    code = "blob_corrupt"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self._path("sha256", digest)

    def ciphertext_path(self, ct_root: str) -> Path:
        """Where the sealed bid whose ct_root (hex) this is lives."""
        return self._path("ct-root", ct_root)

    def put_ciphertext(self, data: bytes) -> str:
        """Store a sealed bid's ciphertext held in memory under its ct_root (tests and benches; uploads stream)."""
        from trading.bids.cthash import of_bytes

        ct_root = of_bytes(data).hex()
        final = self.ciphertext_path(ct_root)
        if not final.exists():
            self._place(self._write_tmp(data), final)
        return ct_root

    def _path(self, kind: str, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BlobNotFound(f"not a {kind} digest: {digest!r}")
        return self.root / kind / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def _commit(self, tmp: Path, digest: str) -> None:
        self._place(tmp, self.path(digest))

    @staticmethod
    def _place(tmp: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)

    def _write_tmp(self, data: bytes) -> Path:
        """`data` in a new fsynced file under tmp/, to be renamed into place."""
        fd, name = tempfile.mkstemp(dir=self.root / "tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return Path(name)

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        self._commit(self._write_tmp(data), digest)
        return digest

    async def put_stream(self, chunks: AsyncIterable[bytes], *, max_size: int | None = None) -> tuple[str, int]:
        """Stream to a temp file while hashing; never the whole file in memory. Returns (sha256 hex, size)."""
        h = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise Invalid(f"file exceeds {max_size} bytes")
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            digest = h.hexdigest()
            self._commit(Path(name), digest)
            return digest, size
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def get_bytes(self, digest: str) -> bytes:
        p = self.path(digest)
        if not p.exists():
            raise BlobNotFound(f"blob {digest} not found")
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} fails its hash check")
        return data

    def iter_chunks(self, digest: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """Yield the blob's chunks; raises BlobCorrupt at the end if the hash does not match."""
        p = self.path(digest)
        if not p.exists():
            raise BlobNotFound(f"blob {digest} not found")
        h = hashlib.sha256()
        with p.open("rb") as f:
            while block := f.read(chunk):
                h.update(block)
                yield block
        if h.hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} fails its hash check")


_stores: dict[Path, BlobStore] = {}


def blob_store(settings) -> BlobStore:
    """The store of settings.blob_dir, made once per process (not a mkdir on every request that touches blobs)."""
    store = _stores.get(settings.blob_dir)
    if store is None:
        store = _stores[settings.blob_dir] = BlobStore(settings.blob_dir)
    return store
