"""The bid package (seal/v2 plaintext): a ZIP whose `form.json` holds the structured bid form plus the
attached files. Pure (no server imports): built on the bidder's machine, read at the opening.

The ZIP is streamed straight into the encryptor (no temporary plaintext file, memory bounded): attachments are
STORED (bid documents are PDFs and scans, already compressed) with ZIP64 sizes, form.json DEFLATED.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import msgspec

from trading.accounts.credit_code import credit_code_problem  # pure: the check-character rule
from trading.bids.pipeline import OrderedHasher, file_blocks

FORM_NAME = "form.json"
FORM_VERSION = "tenderhall/bid-form/v1"
ATTACHMENT_DIR = "attachments/"
CHUNK = 1024 * 1024
MAX_FORM_BYTES = 1024 * 1024
FIELD_TYPES = ("int", "text", "yuan", "decimal", "bool", "date")
_YUAN = re.compile(r"^\d{1,14}(\.\d{1,2})?$")


class BidFormInvalid(ValueError):
    code = "bid_form_invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Attachment(msgspec.Struct, frozen=True):
    name: str
    size: int
    sha256: str


class BidForm(msgspec.Struct, frozen=True, kw_only=True):
    v: str = FORM_VERSION
    tender_id: str
    lot_id: str
    bidder_org_id: str
    price_fen: int
    duration_days: int | None = None
    fields: dict[str, Any] = {}
    attachments: list[Attachment] = []
    # A consortium bid (联合体投标): the 统一社会信用代码 of the other members; the bidder is the lead (牵头人).
    # Sealed with the rest, so who bids together is known only at the opening (招标投标法实施条例 第三十七条).
    consortium: list[str] = []
    # With `consortium`: the attachment that is the consortium's joint bidding agreement (共同投标协议). A consortium
    # bid without one must be rejected by the committee (招标投标法实施条例 第五十一条(二)): the sealing tools refuse
    # to seal it, and the evaluation excludes a bid that arrives without one anyway.
    consortium_agreement: str | None = None


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A declared bid-form field of a lot (lots.bid_fields)."""

    name: str
    label: str = ""
    type: str = "text"
    required: bool = False


def yuan_to_fen(text: str | int, field: str = "price") -> int:
    """Exact yuan ("1200000.50") → fen; floats are refused (money is never a float)."""
    if isinstance(text, bool) or isinstance(text, float):
        raise BidFormInvalid(f"{field}: give the amount as a decimal string, not a float", field)
    s = str(text).strip().replace(",", "")
    if not _YUAN.match(s):
        raise BidFormInvalid(f"{field}: {text!r} is not an amount in yuan with at most two decimals", field)
    fen = int(Decimal(s) * 100)
    if fen <= 0:
        raise BidFormInvalid(f"{field}: the amount must be positive", field)
    return fen


def _coerce(spec: FieldSpec, value: Any) -> Any:
    name = spec.name
    try:
        if spec.type == "int":
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            return int(str(value).strip())
        if spec.type == "text":
            text = str(value)
            if len(text) > 10_000:
                raise BidFormInvalid(f"{name}: at most 10,000 characters", name)
            return text
        if spec.type == "yuan":
            return yuan_to_fen(value, name)
        if spec.type == "decimal":
            if isinstance(value, float):
                raise ValueError
            return str(Decimal(str(value).strip()))
        if spec.type == "bool":
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low in ("true", "yes", "1", "是"):
                return True
            if low in ("false", "no", "0", "否"):
                return False
            raise ValueError
        if spec.type == "date":
            return date.fromisoformat(str(value).strip()).isoformat()
    except (ValueError, InvalidOperation):
        raise BidFormInvalid(f"{name}: {value!r} is not a valid {spec.type}", name) from None
    raise BidFormInvalid(f"{name}: the lot declares an unknown field type {spec.type!r}", name)


def parse_field_specs(bid_fields: Sequence[Any]) -> list[FieldSpec]:
    return msgspec.convert(list(bid_fields or []), type=list[FieldSpec])


def build_form(*, tender_id: str, lot_id: str, bidder_org_id: str, price_yuan: str, bid_fields: Sequence[Any],
               values: dict[str, Any] | None = None, duration_days: int | str | None = None,
               max_price_fen: int | None = None, consortium: Sequence[str] = ()) -> BidForm:
    """Validate the bidder's answers against the lot's declared fields and build the form.

    `duration_days` is a core field; when the lot declares a field named duration_days it follows that
    declaration (required or not). Unknown fields are refused so nothing unexpected is sealed unseen.
    """
    specs = parse_field_specs(bid_fields)
    values = dict(values or {})
    price_fen = yuan_to_fen(price_yuan, "price")
    # 招标投标法实施条例 第五十一条(五): a price above the disclosed maximum is rejected at evaluation; warn here.
    if max_price_fen is not None and price_fen > max_price_fen:
        raise BidFormInvalid("price: above the lot's maximum price (最高投标限价)", "price")
    declared = {s.name: s for s in specs}
    if duration_days is None and "duration_days" in values:
        duration_days = values.pop("duration_days")
    else:
        values.pop("duration_days", None)
    dur: int | None = None
    if duration_days is not None and str(duration_days).strip() != "":
        spec = declared.get("duration_days", FieldSpec(name="duration_days", type="int"))
        dur = _coerce(FieldSpec(name="duration_days", type="int", required=spec.required), duration_days)
        if dur <= 0:
            raise BidFormInvalid("duration_days: must be a positive number of days", "duration_days")
    elif "duration_days" in declared and declared["duration_days"].required:
        raise BidFormInvalid("duration_days: required by the lot", "duration_days")
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise BidFormInvalid(f"fields not declared by the lot: {', '.join(unknown)}", unknown[0])
    fields: dict[str, Any] = {}
    for spec in specs:
        if spec.name == "duration_days":
            continue
        if spec.type not in FIELD_TYPES:
            raise BidFormInvalid(f"{spec.name}: the lot declares an unknown field type {spec.type!r}", spec.name)
        raw = values.get(spec.name)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if spec.required:
                raise BidFormInvalid(f"{spec.name}: required by the lot ({spec.label or spec.name})", spec.name)
            continue
        fields[spec.name] = _coerce(spec, raw)
    members = [c.strip().upper() for c in consortium if c.strip()]
    for code in members:
        problem = credit_code_problem(code)
        if problem:
            raise BidFormInvalid(f"consortium member {code}: {problem}", "consortium")
    if len(set(members)) != len(members):
        raise BidFormInvalid("consortium: a member is named twice", "consortium")
    return BidForm(tender_id=str(tender_id), lot_id=str(lot_id), bidder_org_id=str(bidder_org_id),
                   price_fen=price_fen, duration_days=dur, fields=fields, consortium=members)


def _arcname(path: Path, used: set[str]) -> str:
    name = PurePosixPath(path.name).name
    if not name or name in (".", ".."):
        raise BidFormInvalid(f"bad attachment name {path.name!r}")
    base, n = name, 1
    while name in used:
        n += 1
        stem, dot, ext = base.rpartition(".")
        name = f"{stem}-{n}.{ext}" if dot else f"{base}-{n}"
    used.add(name)
    return name


def write_package(out: BinaryIO, form: BidForm, attachments: Sequence[Path] = (),
                  progress: Callable[[int], object] | None = None, *,
                  consortium_agreement: Path | None = None) -> BidForm:
    """Stream the ZIP into `out` (any object with write()); returns the form as written.

    A consortium bid names which of `attachments` is its joint bidding agreement (`consortium_agreement`).
    """
    used: set[str] = set()
    entries: list[tuple[Path, str]] = [(Path(p), _arcname(Path(p), used)) for p in attachments]
    agreement = None
    if consortium_agreement is not None:
        if not form.consortium:
            raise BidFormInvalid("consortium_agreement: only a consortium bid (--consortium) has a joint bidding "
                                 "agreement", "consortium_agreement")
        agreement = next((arc for path, arc in entries if path == Path(consortium_agreement)), None)
        if agreement is None:
            raise BidFormInvalid("consortium_agreement: the agreement must be one of the attached files",
                                 "consortium_agreement")
    elif form.consortium:
        # 招标投标法实施条例 第五十一条(二): a consortium bid without its joint bidding agreement is rejected.
        raise BidFormInvalid("consortium_agreement: a consortium bid must attach its joint bidding agreement "
                             "(共同投标协议), or the committee must reject it (招标投标法实施条例 第五十一条)",
                             "consortium_agreement")
    listed: list[Attachment] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:  # type: ignore[arg-type]
        for path, arc in entries:
            # Each attachment is hashed twice (its sha256 for form.json here, then ct_root of the ciphertext),
            # besides CRC-32, AES-GCM and the I/O: its own SHA-256 runs on a worker thread while CRC-32, the
            # encryption and the write run here, straight from the file's mapped pages (pipeline.file_blocks).
            size = 0
            info = zipfile.ZipInfo(ATTACHMENT_DIR + arc, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            hasher = OrderedHasher(name="package-sha256")
            try:
                with path.open("rb", buffering=0) as src, zf.open(info, "w", force_zip64=True) as dst:
                    for block in file_blocks(src, CHUNK):
                        hasher.feed(block)
                        dst.write(block)
                        size += len(block)
                        if progress:
                            progress(len(block))
                        del block
            finally:
                digest = hasher.close()
            listed.append(Attachment(name=arc, size=size, sha256=digest.hex()))
        # The form goes last so it can list the attachments' hashes (inside the sealed package only).
        form = msgspec.structs.replace(form, attachments=listed, consortium_agreement=agreement)
        info = zipfile.ZipInfo(FORM_NAME, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, msgspec.json.encode(form))
    return form


def read_form(package: BinaryIO | Path | str | bytes) -> BidForm:
    """Read and validate form.json from a decrypted bid package (a path, bytes, or a seekable file)."""
    src: Any = io.BytesIO(package) if isinstance(package, (bytes, bytearray)) else package
    try:
        with zipfile.ZipFile(src) as zf:
            info = zf.getinfo(FORM_NAME)
            if info.file_size > MAX_FORM_BYTES:
                raise BidFormInvalid("form.json is too large")
            data = zf.read(info)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise BidFormInvalid(f"the bid package is not a ZIP with a form.json: {exc}") from None
    try:
        return msgspec.json.decode(data, type=BidForm)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BidFormInvalid(f"form.json is malformed: {exc}") from None


def extract_attachment(package: BinaryIO | Path | str, name: str, out: BinaryIO) -> None:
    with zipfile.ZipFile(package) as zf, zf.open(ATTACHMENT_DIR + name) as src:
        while block := src.read(CHUNK):
            out.write(block)
