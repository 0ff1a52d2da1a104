"""The rules of tenders: creation, custodians, publication, amendments, documents, objections, cancellation.

Services take the connection first, never commit, and append the witness entry of every change they make.
Other packages call: get_lot, get_tender, has_downloaded, list_downloader_org_ids, transition_lot (lifecycle).
"""
from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trading.accounts import repository as accounts_repo
from trading.accounts.schemas import Role, User
from trading.bids import ceremony
from trading.blobs import BlobStore
from trading.clock import Clock
from trading.dates import calendar as holiday_calendar
from trading.dates import (
    HORIZON,
    latest_start_for,
    local_date,
    meets_minimum,
    period_end,
    start_of_day,
    within_horizon,
)
from trading.errors import Invalid
from trading.events import emit
from trading.money import fen_to_yuan, yuan_to_fen
from trading.records import Tag, append_entry
from trading.tenders import repository as repo
from trading.tenders.errors import (
    AmendmentTooLate,
    BidDeadlinePassed,
    BidderNotApproved,
    BidPeriodTooShort,
    CeremonyIncomplete,
    CustodianKeyInvalid,
    CustodiansInvalid,
    DepositTooHigh,
    DocumentNotFound,
    DocumentPeriodTooShort,
    DocumentsNotObtained,
    DocumentsUnavailable,
    DownloadersConfidential,
    LotInvalid,
    MinimumPriceForbidden,
    NotTheAgency,
    ObjectionAlreadyAnswered,
    ObjectionTooLate,
    ReasonRequired,
    TenderCodeTaken,
    TenderNotDraft,
    TenderNotFound,
    TenderNotPublished,
    TimelineInvalid,
)
from trading.tenders.lifecycle import TERMINAL, effective_lot_status, transition_lot
from trading.tenders.rules import RegimeRules, rules_for
from trading.tenders.schemas import (
    AgencyTenderItem,
    AmendmentCreate,
    Document,
    DocumentView,
    Download,
    Lot,
    LotCreate,
    LotView,
    Notice,
    Objection,
    ObjectionCreate,
    OverdueObjection,
    Tender,
    TenderCreate,
    TenderPage,
    TenderSummary,
    TenderUpdate,
    TenderView,
    VersionView,
)

# Re-exported for other packages (contract).
get_lot = repo.get_lot
get_tender = repo.get_tender
has_downloaded = repo.has_downloaded
list_downloader_org_ids = repo.list_downloader_org_ids

MAX_LOTS = 50
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def _add_days(day, n: int, unit):
    return holiday_calendar().add_days(day, n, unit)


def _text(value: str, field: str, max_len: int, *, allow_empty: bool = False) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if (not value and not allow_empty) or len(value) > max_len:
        raise Invalid(f"{field} must be {'0' if allow_empty else '1'} to {max_len} characters", field=field)
    return value


def _aware(when: datetime, field: str) -> datetime:
    if when.tzinfo is None:
        raise TimelineInvalid(f"{field} needs a time zone (e.g. 2026-03-25T09:00:00+08:00)", field=field)
    return when


def _near(when: datetime, field: str, now: datetime) -> datetime:
    # A time near year 1 or 9999 cannot be counted in Asia/Shanghai days (OverflowError): refuse it by name.
    if not within_horizon(when, now):
        raise TimelineInvalid(f"{field} must lie within {HORIZON.days // 365} years of now", field=field)
    return when


# ---------------------------------------------------------------- rule checks

def _refuse_minimum_price(*objects: Any) -> None:
    # 招标投标法实施条例 第二十七条 (and 87号令 第十二条): a tenderer may not set a minimum bid price.
    for obj in objects:
        if getattr(obj, "min_price", msgspec.UNSET) is not msgspec.UNSET or \
                getattr(obj, "minimum_price", msgspec.UNSET) is not msgspec.UNSET:
            raise MinimumPriceForbidden(
                "最低投标限价不得设定 (a minimum bid price is forbidden: 招标投标法实施条例 第二十七条)",
                field="min_price")


def check_deposit(rules: RegimeRules, estimated_fen: int, deposit_fen: int, *, lot_number: int | None = None) -> None:
    # 招标投标法实施条例 第二十六条: the bid deposit may not exceed 2% of the estimated price
    # (政府采购法实施条例 第三十三条: 2% of the budget).
    if deposit_fen < 0:
        raise DepositTooHigh("the bid deposit cannot be negative", field="deposit")
    cap = estimated_fen * rules.deposit_max.numerator // rules.deposit_max.denominator
    if deposit_fen > cap:
        where = f"lot {lot_number}: " if lot_number is not None else ""
        raise DepositTooHigh(
            f"{where}投标保证金不得超过估算价的2% (the bid deposit {fen_to_yuan(deposit_fen)} exceeds 2% of the"
            f" estimated price, at most {fen_to_yuan(cap)}: 招标投标法实施条例 第二十六条)",
            field="deposit", max_deposit=fen_to_yuan(cap), lot=lot_number)


def check_timeline(rules: RegimeRules, *, procurement_type: str, must_tender: bool, first_issue: datetime,
                   docs_until: datetime, clarification_deadline: datetime, bid_deadline: datetime,
                   now: datetime) -> None:
    """The timeline rules; `first_issue` is when the documents are first available (≥ publication)."""
    for field, when in (("docs_from", first_issue), ("docs_until", docs_until),
                        ("clarification_deadline", clarification_deadline), ("bid_deadline", bid_deadline)):
        _near(when, field, now)
    if bid_deadline <= now:
        raise TimelineInvalid("the bid deadline must be in the future", field="bid_deadline")
    if not first_issue < docs_until <= bid_deadline:
        raise TimelineInvalid("documents must be available from before until no later than the bid deadline"
                              " (docs_from < docs_until <= bid_deadline)", field="docs_until")
    if not clarification_deadline <= bid_deadline:
        raise TimelineInvalid("the clarification deadline must not be after the bid deadline",
                              field="clarification_deadline")
    # 招标投标法实施条例 第十六条 (5 日) / 87号令 第十八条 (5 个工作日): documents on offer for at least 5 days.
    if not meets_minimum(first_issue, docs_until, rules.min_docs_days, rules.min_docs_unit):
        end = period_end(first_issue, rules.min_docs_days, rules.min_docs_unit)
        raise DocumentPeriodTooShort(
            f"招标文件发售期不得少于{rules.min_docs_days}{'个工作日' if rules.min_docs_unit == 'working' else '日'}"
            f" (documents must be available at least {rules.min_docs_days} {rules.min_docs_unit} days, until"
            f" {end} or later: 招标投标法实施条例 第十六条)", field="docs_until", earliest=str(end))
    # 招标投标法 第二十四条 (依法必须招标) / 政府采购法 第三十五条: at least 20 days from the documents' first
    # issue to the bid deadline. The minimum is a per-procurement-type setting of the regime.
    if rules.name == "bidding_law" and not must_tender:
        return
    days = rules.min_bid_days[procurement_type]
    if not meets_minimum(first_issue, bid_deadline, days, rules.min_bid_unit):
        end = period_end(first_issue, days, rules.min_bid_unit)
        raise BidPeriodTooShort(
            f"自招标文件开始发出之日起至投标截止之日止不得少于{days}日 (the bid deadline must be at least {days}"
            f" days after the documents are first available, i.e. on {end} or later: 招标投标法 第二十四条)",
            field="bid_deadline", earliest=str(end), days=days)


# ---------------------------------------------------------------- access

def _require_agency(user: User, tender: Tender) -> None:
    if not user.has(Role.AGENCY) or user.org_id != tender.agency_org_id:
        raise NotTheAgency("only the tender's agency may do this")


def can_see_draft(user: User | None, tender: Tender) -> bool:
    return user is not None and user.org_id is not None and user.org_id == tender.agency_org_id


async def visible_tender(conn: asyncpg.Connection, tender_id: UUID, user: User | None) -> Tender:
    """The tender if `user` may see it: drafts exist only for their agency (404 for everyone else)."""
    tender = await repo.get_tender(conn, tender_id)
    # A draft (or a draft cancelled before publication) exists only for its agency.
    if tender.publish_at is None and not can_see_draft(user, tender):
        raise TenderNotFound(f"tender {tender_id} not found")
    return tender


async def _lot_of(conn, tender_id: UUID, lot_id: UUID) -> Lot:
    lot = await repo.get_lot(conn, lot_id)
    if lot.tender_id != tender_id:
        from trading.tenders.errors import LotNotFound

        raise LotNotFound(f"lot {lot_id} is not a lot of tender {tender_id}")
    return lot


# ---------------------------------------------------------------- create

def _lot_values(rules: RegimeRules, number: int, data: LotCreate) -> dict[str, Any]:
    estimated = yuan_to_fen(data.estimated_price, "estimated_price")
    if estimated <= 0:
        raise LotInvalid(f"lot {number}: the estimated price must be positive", field="estimated_price")
    deposit = yuan_to_fen(data.deposit, "deposit")
    check_deposit(rules, estimated, deposit, lot_number=number)
    max_price = yuan_to_fen(data.max_price, "max_price") if data.max_price is not None else None
    if max_price is not None and max_price <= 0:
        raise LotInvalid(f"lot {number}: the maximum price must be positive", field="max_price")
    reference = yuan_to_fen(data.reference_price, "reference_price") if data.reference_price is not None else None
    if reference is not None and (reference <= 0 or (max_price is not None and reference > max_price)):
        raise LotInvalid(f"lot {number}: the reference price (标底) must be positive and not above the maximum price",
                         field="reference_price")
    problem = ceremony.validate_k_n(data.custodian_k, data.custodian_n)
    if problem:
        raise LotInvalid(f"lot {number}: {problem}", field="custodian_k")
    names = [f.name for f in data.bid_fields]
    if len(set(names)) != len(names) or any(n in ("price", "price_fen", "lot_id") for n in names):
        raise LotInvalid(f"lot {number}: bid field names must be distinct and not reserved", field="bid_fields")
    return {
        "number": number, "name": _text(data.name, "lot name", 300), "estimated_price_fen": estimated,
        "max_price_fen": max_price, "reference_price_fen": reference, "deposit_fen": deposit,
        "evaluation_method": data.evaluation_method,
        "bid_fields": [msgspec.to_builtins(f) for f in data.bid_fields], "custodian_k": data.custodian_k,
        "custodian_n": data.custodian_n, "post_quantum": data.post_quantum,
    }


async def create_tender(conn: asyncpg.Connection, clock: Clock, data: TenderCreate, *, user: User,
                        addr: str | None = None) -> Tender:
    _refuse_minimum_price(data, *data.lots)
    if user.org_id is None:
        raise NotTheAgency("the user belongs to no agency organisation")
    agency = await accounts_repo.get_organisation(conn, user.org_id)
    if agency.kind != "agency" or not agency.approved:
        raise NotTheAgency("tenders are created by users of an approved agency organisation")
    tenderer = await accounts_repo.get_organisation(conn, data.tenderer_org_id)
    if tenderer.kind != "tenderer" or not tenderer.approved:
        raise Invalid("tenderer_org_id must be an approved organisation of kind 'tenderer'", field="tenderer_org_id")
    if not data.lots or len(data.lots) > MAX_LOTS:
        raise LotInvalid(f"a tender has 1 to {MAX_LOTS} lots", field="lots")
    rules = rules_for(data.regime)
    now = clock.now()
    for f in ("docs_from", "docs_until", "clarification_deadline", "bid_deadline"):
        _aware(getattr(data, f), f)
    _near(data.docs_from, "docs_from", now)  # first_issue below is max(docs_from, now): check docs_from itself
    check_timeline(rules, procurement_type=data.procurement_type, must_tender=data.must_tender,
                   first_issue=max(data.docs_from, now), docs_until=data.docs_until,
                   clarification_deadline=data.clarification_deadline, bid_deadline=data.bid_deadline, now=now)
    lots = [_lot_values(rules, i, lot) for i, lot in enumerate(data.lots, start=1)]
    code = _text(data.code, "code", 64)
    region = data.region.strip()
    if not region.isdigit() or not 2 <= len(region) <= 12:
        raise Invalid("region must be an administrative division code, e.g. 350100", field="region")
    tender = await repo.insert_tender(
        conn, code=code, title=_text(data.title, "title", 300),
        description=_text(data.description, "description", 20000, allow_empty=True), regime=data.regime,
        must_tender=data.must_tender, procurement_type=data.procurement_type, region=region,
        tenderer_org_id=tenderer.id, agency_org_id=agency.id, docs_from=data.docs_from, docs_until=data.docs_until,
        clarification_deadline=data.clarification_deadline, bid_deadline=data.bid_deadline, created_by=user.id,
        now=now,
    )
    if tender is None:
        raise TenderCodeTaken(f"tender code {code!r} is already used")
    lot_ids = [str(await repo.insert_lot(conn, tender_id=tender.id, **lot)) for lot in lots]
    await append_entry(conn, clock, Tag.TENDER_PROJECT_CREATE, actor=str(user.id), tender_id=tender.id, addr=addr,
                       body={"tender": str(tender.id), "code": tender.code, "lots": lot_ids})
    return tender


async def update_draft(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, data: "TenderUpdate", *,
                       user: User, addr: str | None = None) -> Tender:
    """Edit a draft; every rule is checked again on the result (and once more at publication)."""
    _refuse_minimum_price(data, *data.lots)
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    if tender.status != "draft":
        raise TenderNotDraft("a published tender changes only by amendment (澄清/修改)")

    def pick(name: str, value: Any) -> Any:
        return getattr(tender, name) if value is msgspec.UNSET else value

    new = {f: pick(f, getattr(data, f)) for f in ("title", "description", "region", "docs_from", "docs_until",
                                                   "clarification_deadline", "bid_deadline")}
    for f in ("docs_from", "docs_until", "clarification_deadline", "bid_deadline"):
        _aware(new[f], f)
    new["title"] = _text(new["title"], "title", 300)
    new["description"] = _text(new["description"], "description", 20000, allow_empty=True)
    new["region"] = new["region"].strip()
    if not new["region"].isdigit() or not 2 <= len(new["region"]) <= 12:
        raise Invalid("region must be an administrative division code, e.g. 350100", field="region")
    rules = rules_for(tender.regime)
    now = clock.now()
    _near(new["docs_from"], "docs_from", now)
    check_timeline(rules, procurement_type=tender.procurement_type, must_tender=tender.must_tender,
                   first_issue=max(new["docs_from"], now), docs_until=new["docs_until"],
                   clarification_deadline=new["clarification_deadline"], bid_deadline=new["bid_deadline"], now=now)
    lots = {lot.id: lot for lot in await repo.list_lots_for_tender(conn, tender_id)}
    changes = []
    for upd in data.lots:
        lot = lots.get(upd.id)
        if lot is None:
            from trading.tenders.errors import LotNotFound

            raise LotNotFound(f"lot {upd.id} is not a lot of tender {tender_id}")
        values = {
            "name": _text(upd.name, "lot name", 300) if upd.name is not msgspec.UNSET else lot.name,
            "estimated_price_fen": yuan_to_fen(upd.estimated_price, "estimated_price")
            if upd.estimated_price is not msgspec.UNSET else lot.estimated_price_fen,
            "deposit_fen": yuan_to_fen(upd.deposit, "deposit") if upd.deposit is not msgspec.UNSET else lot.deposit_fen,
            "max_price_fen": (yuan_to_fen(upd.max_price, "max_price") if upd.max_price is not None else None)
            if upd.max_price is not msgspec.UNSET else lot.max_price_fen,
            "evaluation_method": upd.evaluation_method if upd.evaluation_method is not msgspec.UNSET
            else lot.evaluation_method,
            "reference_price_fen": lot.reference_price_fen,
        }
        if values["estimated_price_fen"] <= 0 or (values["max_price_fen"] is not None and values["max_price_fen"] <= 0):
            raise LotInvalid(f"lot {lot.number}: prices must be positive", field="estimated_price")
        if lot.reference_price_fen and values["max_price_fen"] and lot.reference_price_fen > values["max_price_fen"]:
            raise LotInvalid(f"lot {lot.number}: the maximum price may not fall below the reference price (标底)",
                             field="max_price")
        check_deposit(rules, values["estimated_price_fen"], values["deposit_fen"], lot_number=lot.number)
        changes.append((lot.id, values))
    await repo.update_draft(conn, tender_id, now=now, **new)
    for lot_id, values in changes:
        await repo.update_draft_lot(conn, lot_id, **values)
    await append_entry(conn, clock, Tag.TENDER_PROJECT_EDIT, actor=str(user.id), tender_id=tender_id, addr=addr,
                       body={"tender": str(tender_id), "lots": [str(lot_id) for lot_id, _ in changes]})
    return await repo.get_tender(conn, tender_id)


# ---------------------------------------------------------------- custodians

async def assign_custodians(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, lot_id: UUID,
                            custodian_ids: list[UUID], *, user: User, addr: str | None = None) -> None:
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    if tender.status != "draft":
        raise TenderNotDraft("custodians are fixed at publication; the tender is no longer a draft")
    lot = await _lot_of(conn, tender_id, lot_id)
    if len(custodian_ids) != lot.custodian_n or len(set(custodian_ids)) != len(custodian_ids):
        raise CustodiansInvalid(f"the lot needs {lot.custodian_n} distinct custodians, got {len(custodian_ids)}",
                                field="custodian_ids")
    found = await repo.list_users_roles(conn, custodian_ids)
    per_org: dict[UUID, int] = {}
    for cid in custodian_ids:
        roles, active, org_id = found.get(cid, ([], False, None))
        if "custodian" not in roles or not active:
            raise CustodiansInvalid(f"user {cid} is not an active custodian", field="custodian_ids")
        if org_id is not None:
            per_org[org_id] = per_org.get(org_id, 0) + 1
    # DESIGN §6: no single party — the agency included — may hold k shares and unseal bids alone.
    crowded = [org for org, count in per_org.items() if count >= lot.custodian_k]
    if crowded:
        raise CustodiansInvalid(f"at most {lot.custodian_k - 1} of the lot's custodians may belong to one"
                                f" organisation (k = {lot.custodian_k}); organisation {crowded[0]} has more",
                                field="custodian_ids")
    await repo.replace_custodians(conn, lot_id, custodian_ids)
    await append_entry(conn, clock, Tag.TENDER_CUSTODIAN_ASSIGN, actor=str(user.id), tender_id=tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "custodians": [{"id": str(c), "x": x}
                                                                 for x, c in enumerate(custodian_ids, start=1)]})


def _verify_key_signature(lot_id: UUID, c, identity_keys: list[bytes]) -> bool:
    message = ceremony.key_statement_bytes(str(lot_id), str(c.custodian_id), c.x, c.suite, c.hpke_public_key)
    for raw in identity_keys:
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(c.signature, message)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


async def _lot_ceremony(conn, tender: Tender, lot: Lot) -> tuple[bytes, bytes]:
    custodians = await repo.list_custodians_for_lot(conn, lot.id)
    ready = [c for c in custodians if c.hpke_public_key is not None and c.signature is not None and c.suite]
    missing = lot.custodian_n - len(ready)
    if len(custodians) != lot.custodian_n or missing > 0:
        raise CeremonyIncomplete(
            f"lot {lot.number} needs {lot.custodian_n} custodian keys; {max(missing, 1)} missing",
            lot_id=str(lot.id), missing=max(missing, lot.custodian_n - len(custodians), 1))
    suite = ceremony.SUITE_MLKEM768_X25519 if lot.post_quantum else ceremony.SUITE_X25519
    members = []
    for c in ready:
        if c.suite != suite:
            raise CustodianKeyInvalid(f"lot {lot.number}: custodian {c.custodian_id} uploaded a {c.suite} key;"
                                      f" the lot needs {suite}", lot_id=str(lot.id))
        # The key must carry its custodian's signature: nobody, the platform included, can swap it unseen.
        if not _verify_key_signature(lot.id, c, await repo.list_approved_identity_keys(conn, c.custodian_id)):
            raise CustodianKeyInvalid(f"lot {lot.number}: the key of custodian {c.custodian_id} is not signed by an"
                                      " approved identity key", lot_id=str(lot.id))
        members.append(ceremony.CeremonyCustodian(custodian_id=str(c.custodian_id), x=c.x, suite=c.suite,
                                                  hpke_public_key=c.hpke_public_key, signature=c.signature))
    try:
        record = ceremony.build_ceremony(str(tender.id), str(lot.id), lot.custodian_k, lot.custodian_n, members)
    except ValueError as exc:
        raise CeremonyIncomplete(f"lot {lot.number}: {exc}", lot_id=str(lot.id), missing=0) from exc
    data = ceremony.ceremony_bytes(record)
    return data, ceremony.ceremony_hash(data)


# ---------------------------------------------------------------- publish

async def snapshot(conn: asyncpg.Connection, tender: Tender, version: int) -> dict[str, Any]:
    """The announcement as of `version` (kept in tender_versions)."""
    lots = await repo.list_lots_for_tender(conn, tender.id)
    docs = await repo.list_documents(conn, tender.id, max_version=version)
    return {
        "code": tender.code, "title": tender.title, "description": tender.description, "regime": tender.regime,
        "must_tender": tender.must_tender, "procurement_type": tender.procurement_type, "region": tender.region,
        "docs_from": tender.docs_from.isoformat(), "docs_until": tender.docs_until.isoformat(),
        "clarification_deadline": tender.clarification_deadline.isoformat(),
        "bid_deadline": tender.bid_deadline.isoformat(),
        "lots": [{"id": str(lot.id), "number": lot.number, "name": lot.name,
                  "estimated_price": fen_to_yuan(lot.estimated_price_fen),
                  "max_price": fen_to_yuan(lot.max_price_fen) if lot.max_price_fen is not None else None,
                  "deposit": fen_to_yuan(lot.deposit_fen), "evaluation_method": lot.evaluation_method,
                  "ceremony_hash": lot.ceremony_hash.hex() if lot.ceremony_hash else None} for lot in lots],
        "documents": [{"id": str(d.id), "lot_id": str(d.lot_id) if d.lot_id else None, "filename": d.filename,
                       "sha256": d.sha256, "version": d.version} for d in docs],
    }


def _snapshot_hash(snap: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(snap, order="sorted")).hexdigest()


async def publish_tender(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, *, user: User,
                         addr: str | None = None) -> Tender:
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    if tender.status != "draft":
        raise TenderNotDraft(f"the tender is {tender.status}, not a draft")
    now = clock.now()
    rules = rules_for(tender.regime)
    first_issue = max(tender.docs_from, now)
    check_timeline(rules, procurement_type=tender.procurement_type, must_tender=tender.must_tender,
                   first_issue=first_issue, docs_until=tender.docs_until,
                   clarification_deadline=tender.clarification_deadline, bid_deadline=tender.bid_deadline, now=now)
    # A lot cancelled while the tender was a draft stays cancelled; the others are published together.
    lots = [lot for lot in await repo.list_lots_for_tender(conn, tender_id) if lot.status == "draft"]
    if not lots:
        raise TenderNotDraft("every lot of the tender is cancelled; nothing to publish")
    docs = await repo.list_documents(conn, tender_id, max_version=0)
    for lot in lots:
        check_deposit(rules, lot.estimated_price_fen, lot.deposit_fen, lot_number=lot.number)
        if not any(d.lot_id in (None, lot.id) for d in docs):
            raise DocumentsUnavailable(f"lot {lot.number} has no bidding documents to publish", lot_id=str(lot.id))
    ceremonies = [(lot, *await _lot_ceremony(conn, tender, lot)) for lot in lots]
    if first_issue != tender.docs_from:
        await conn.execute("UPDATE tenders SET docs_from = $2 WHERE id = $1", tender_id, first_issue)
    await repo.set_tender_published(conn, tender_id, now)
    for lot, record, digest in ceremonies:
        await repo.set_lot_ceremony(conn, lot.id, record, digest)
        await repo.update_lot_status(conn, lot.id, "published", None)
        await append_entry(conn, clock, Tag.TENDER_LOT_PUBLISH, actor=str(user.id), tender_id=tender_id,
                           lot_id=lot.id, addr=addr,
                           body={"lot": str(lot.id), "ceremony_hash": digest.hex(),
                                 "ceremony_record": record.decode(), "k": lot.custodian_k, "n": lot.custodian_n})
    tender = await repo.get_tender(conn, tender_id)
    snap = await snapshot(conn, tender, 0)
    await repo.insert_version(conn, tender_id=tender_id, version=0, kind="publish", summary="", snapshot=snap,
                              created_by=user.id, now=now)
    await append_entry(conn, clock, Tag.TENDER_PROJECT_PUBLISH, actor=str(user.id), tender_id=tender_id, addr=addr,
                       body={"tender": str(tender_id), "version": 0, "snapshot_sha256": _snapshot_hash(snap),
                             "bid_deadline": tender.bid_deadline.isoformat(),
                             "documents": [{"id": str(d.id), "sha256": d.sha256} for d in docs]})
    return tender


# ---------------------------------------------------------------- amendments (澄清/修改)

async def amend_tender(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, data: AmendmentCreate, *,
                       user: User, addr: str | None = None) -> Tender:
    _refuse_minimum_price(data)
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    if tender.status != "published":
        raise TenderNotPublished("only a published tender is amended; edit a draft directly")
    now = clock.now()
    lots = await repo.list_lots_for_tender(conn, tender_id)
    if now >= tender.bid_deadline and not tender.suspended:
        raise BidDeadlinePassed("the bid deadline has passed; the tender can no longer be amended")
    if all(lot.status in TERMINAL for lot in lots):
        raise TenderNotPublished("every lot of the tender is final")
    rules = rules_for(tender.regime)
    new = {
        "title": _text(data.title, "title", 300) if data.title is not msgspec.UNSET else tender.title,
        "description": (_text(data.description, "description", 20000, allow_empty=True)
                        if data.description is not msgspec.UNSET else tender.description),
        "docs_until": _aware(data.docs_until, "docs_until") if data.docs_until is not msgspec.UNSET
        else tender.docs_until,
        "clarification_deadline": _aware(data.clarification_deadline, "clarification_deadline")
        if data.clarification_deadline is not msgspec.UNSET else tender.clarification_deadline,
        "bid_deadline": _aware(data.bid_deadline, "bid_deadline") if data.bid_deadline is not msgspec.UNSET
        else tender.bid_deadline,
    }
    check_timeline(rules, procurement_type=tender.procurement_type, must_tender=tender.must_tender,
                   first_issue=tender.docs_from, docs_until=new["docs_until"],
                   clarification_deadline=new["clarification_deadline"], bid_deadline=new["bid_deadline"], now=now)
    # 招标投标法 第二十三条, 实施条例 第二十一条: a clarification or amendment that may affect bid preparation,
    # issued less than 15 days before the deadline, must move the deadline so that 15 days remain.
    if data.affects_bid_preparation and not meets_minimum(now, new["bid_deadline"], rules.amendment_days,
                                                          rules.amendment_unit):
        earliest = period_end(now, rules.amendment_days, rules.amendment_unit)
        raise AmendmentTooLate(
            f"澄清或者修改距投标截止时间不足{rules.amendment_days}日，应当顺延投标截止时间 (an amendment issued less"
            f" than {rules.amendment_days} days before the bid deadline must move the deadline to {earliest} or"
            " later: 招标投标法 第二十三条)", field="bid_deadline", earliest=str(earliest))
    version = tender.version + 1
    await repo.update_tender_amended(conn, tender_id, version=version, now=now, **new)
    tender = await repo.get_tender(conn, tender_id)
    snap = await snapshot(conn, tender, version)
    snap["affects_bid_preparation"] = data.affects_bid_preparation
    summary = _text(data.summary, "summary", 5000)
    await repo.insert_version(conn, tender_id=tender_id, version=version, kind=data.kind, summary=summary,
                              snapshot=snap, created_by=user.id, now=now)
    new_docs = [d for d in await repo.list_documents(conn, tender_id, max_version=version) if d.version == version]
    await append_entry(
        conn, clock, Tag.TENDER_PROJECT_AMEND if data.kind == "amend" else Tag.TENDER_PROJECT_CLARIFY,
        actor=str(user.id), tender_id=tender_id, addr=addr,
        body={"tender": str(tender_id), "version": version, "snapshot_sha256": _snapshot_hash(snap),
              "summary_sha256": hashlib.sha256(summary.encode()).hexdigest(),
              "bid_deadline": tender.bid_deadline.isoformat(),
              "affects_bid_preparation": data.affects_bid_preparation,
              "documents": [{"id": str(d.id), "sha256": d.sha256} for d in new_docs]})
    return tender


# ---------------------------------------------------------------- cancel

async def cancel_tender(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, reason: str, *, user: User,
                        addr: str | None = None) -> Tender:
    # 招标投标法实施条例 第三十一条: a tenderer who terminates must announce it (and refund documents' costs and
    # deposits with interest — the deposits package does that on "tender.cancelled").
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("cancelling a tender needs a reason", field="reason")
    if tender.status == "cancelled":
        from trading.tenders.errors import TransitionIllegal

        raise TransitionIllegal("illegal transition cancelled → cancelled: the tender is already cancelled")
    lots = await repo.list_lots_for_tender(conn, tender_id)
    open_lots = [lot for lot in lots if lot.status not in TERMINAL]
    if not open_lots:
        from trading.tenders.errors import TransitionIllegal

        raise TransitionIllegal("no lot of the tender can be cancelled: every lot is awarded, failed or cancelled")
    for lot in open_lots:
        await transition_lot(conn, clock, lot.id, "cancelled", actor=str(user.id), reason=reason, addr=addr,
                             _emit=False)
    now = clock.now()
    await repo.set_tender_cancelled(conn, tender_id, reason, now)
    if tender.status == "published":
        version = tender.version + 1
        await conn.execute("UPDATE tenders SET version = $2 WHERE id = $1", tender_id, version)
        tender = await repo.get_tender(conn, tender_id)
        snap = await snapshot(conn, tender, version)
        await repo.insert_version(conn, tender_id=tender_id, version=version, kind="cancel", summary=reason,
                                  snapshot=snap, created_by=user.id, now=now)
    await append_entry(conn, clock, Tag.TENDER_PROJECT_CANCEL, actor=str(user.id), tender_id=tender_id, addr=addr,
                       body={"tender": str(tender_id), "reason": reason, "lots": [str(lot.id) for lot in open_lots]})
    await emit(conn, clock, "tender.cancelled",
               {"tender_id": tender_id, "lot_ids": [lot.id for lot in open_lots], "reason": reason})
    return await repo.get_tender(conn, tender_id)


async def cancel_lot(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, lot_id: UUID, reason: str, *,
                     user: User, addr: str | None = None) -> Lot:
    tender = await repo.get_tender(conn, tender_id)
    _require_agency(user, tender)
    await _lot_of(conn, tender_id, lot_id)
    await transition_lot(conn, clock, lot_id, "cancelled", actor=str(user.id), reason=reason, addr=addr)
    return await repo.get_lot(conn, lot_id)


# ---------------------------------------------------------------- documents

async def add_document(conn: asyncpg.Connection, clock: Clock, blobs: BlobStore, tender_id: UUID, *,
                       lot_id: UUID | None, filename: str, content_type: str, content: bytes, user: User,
                       addr: str | None = None) -> Document:
    """A draft's documents are issued at publication (version 0); a published tender's new documents are staged
    with the next version and issued by the amendment that publishes it."""
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    if tender.status == "cancelled":
        raise TenderNotPublished("the tender is cancelled")
    if lot_id is not None:
        await _lot_of(conn, tender_id, lot_id)
    filename = _text(filename.replace("/", "_").replace("\\", "_"), "filename", 200)
    if not content:
        raise Invalid("the document is empty", field="file")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Invalid(f"a document may have at most {MAX_DOCUMENT_BYTES} bytes", field="file")
    digest = blobs.put_bytes(content)
    version = 0 if tender.status == "draft" else tender.version + 1
    doc = await repo.insert_document(conn, tender_id=tender_id, lot_id=lot_id, version=version, filename=filename,
                                     content_type=content_type or "application/octet-stream", sha256=digest,
                                     size=len(content), now=clock.now())
    await append_entry(conn, clock, Tag.TENDER_DOCUMENT_ADD, actor=str(user.id), tender_id=tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"document": str(doc.id), "sha256": digest, "size": doc.size, "version": version})
    return doc


async def _approved_bidder_org(conn, user: User):
    if not user.has(Role.BIDDER) or user.org_id is None:
        raise BidderNotApproved("documents are obtained by users of an approved bidder organisation")
    org = await accounts_repo.get_organisation(conn, user.org_id)
    if org.kind != "bidder" or not org.approved:
        raise BidderNotApproved("the bidder organisation is not approved yet")
    return org


async def obtain_documents(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, lot_id: UUID, *, user: User,
                           addr: str | None = None) -> list[Document]:
    """领取招标文件: any approved bidder organisation, free, no registration or approval step
    (电子招标投标办法 第二十条; 发改法规规〔2022〕1117号). The platform records who obtained them (not a gate)."""
    org = await _approved_bidder_org(conn, user)
    lot = await _lot_of(conn, tender_id, lot_id)
    now = clock.now()
    if lot.tender_status != "published" or lot.status != "published":
        raise DocumentsUnavailable(f"the lot is {lot.status}; its documents are not on offer")
    if now >= lot.bid_deadline:
        raise BidDeadlinePassed("the bid deadline has passed")
    already = await repo.has_downloaded(conn, lot_id, org.id)
    # 招标投标法实施条例 第十六条: on offer from docs_from to docs_until; who already has them may fetch again
    # (amendments) until the deadline.
    if not already and not (lot.docs_from <= now <= lot.docs_until):
        raise DocumentsUnavailable(
            f"the documents are available from {lot.docs_from.isoformat()} until {lot.docs_until.isoformat()}",
            docs_from=lot.docs_from.isoformat(), docs_until=lot.docs_until.isoformat())
    await repo.record_download(conn, lot_id, org.id, user.id, now)
    docs = await repo.list_documents(conn, tender_id, max_version=lot.version)
    # The entry is readable only by regulators before the deadline (records confidentiality, 招标投标法 第二十二条).
    await append_entry(conn, clock, Tag.TENDER_DOCUMENT_DOWNLOAD, actor=str(user.id), tender_id=tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "org": str(org.id), "version": lot.version})
    return [d for d in docs if d.lot_id in (None, lot_id)]


async def document_for(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, lot_id: UUID, document_id: UUID,
                       *, user: User, addr: str | None = None) -> Document:
    """A document file: a bidder obtains it (recorded); the agency and regulators read it."""
    doc = await repo.get_document(conn, document_id)
    lot = await _lot_of(conn, tender_id, lot_id)
    if doc.tender_id != tender_id or doc.lot_id not in (None, lot_id):
        raise DocumentNotFound(f"document {document_id} is not a document of lot {lot_id}")
    if user.has(Role.REGULATOR) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id):
        return doc
    if doc.version > lot.version or lot.tender_status == "draft":
        raise DocumentNotFound(f"document {document_id} not found")
    await obtain_documents(conn, clock, tender_id, lot_id, user=user, addr=addr)
    return doc


async def list_downloads(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, lot_id: UUID, *,
                         user: User) -> list[Download]:
    # 招标投标法 第二十二条, 电子招标投标办法 第二十一条: before the deadline the names and number of those who
    # obtained the documents are secret — only regulators may list them.
    lot = await _lot_of(conn, tender_id, lot_id)
    if user.has(Role.REGULATOR):
        return await repo.list_downloads(conn, lot_id)
    if clock.now() < lot.bid_deadline:
        raise DownloadersConfidential("潜在投标人的名称、数量在投标截止前保密 (who obtained the documents is"
                                      " confidential until the bid deadline: 招标投标法 第二十二条)")
    if user.org_id in (lot.agency_org_id, lot.tenderer_org_id):
        return await repo.list_downloads(conn, lot_id)
    raise DownloadersConfidential("only the agency, the tenderer and regulators list who obtained the documents")


# ---------------------------------------------------------------- objections (异议, 条例 第二十二条)

async def file_objection(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, data: ObjectionCreate, *,
                         user: User, addr: str | None = None) -> Objection:
    org = await _approved_bidder_org(conn, user)
    tender = await repo.lock_tender(conn, tender_id)
    if tender.status != "published":
        raise TenderNotPublished("objections are filed against a published tender")
    if data.lot_id is not None:
        await _lot_of(conn, tender_id, data.lot_id)
    obtained_at = await repo.first_obtained_at(conn, tender_id, org.id, data.lot_id)
    if obtained_at is None:
        raise DocumentsNotObtained("an objection to the documents is filed by a bidder who obtained them")
    rules = rules_for(tender.regime)
    now = clock.now()
    if now >= tender.bid_deadline:
        raise ObjectionTooLate("the bid deadline has passed")
    if rules.objection_from == "after_obtaining":
        # 政府采购法 第五十二条, 实施条例 第五十三条: 质疑 within 7 working days of receiving the documents.
        last_day = _add_days(local_date(obtained_at), rules.objection_days, rules.objection_unit)
        why = (f"对采购文件的质疑应在收到采购文件之日起{rules.objection_days}个工作日内提出 (a challenge to the"
               f" procurement documents is filed within {rules.objection_days} working days of receiving them, at the"
               f" latest on {last_day}: 政府采购法 第五十二条)")
    else:
        # 招标投标法实施条例 第二十二条: objections to the tender documents up to 10 days before the deadline.
        last_day = latest_start_for(tender.bid_deadline, rules.objection_days, rules.objection_unit)
        why = (f"对招标文件有异议的，应当在投标截止时间{rules.objection_days}日前提出 (objections to the documents"
               f" are filed at the latest on {last_day}: 招标投标法实施条例 第二十二条)")
    if local_date(now) > last_day:
        raise ObjectionTooLate(why, last_day=str(last_day))
    content = _text(data.content, "content", 20000)
    objection = await repo.insert_objection(conn, tender_id=tender_id, lot_id=data.lot_id, org_id=org.id,
                                            user_id=user.id, content=content, now=now,
                                            answer_due=answer_due(now, rules))
    await append_entry(conn, clock, Tag.TENDER_OBJECTION_FILE, actor=str(user.id), tender_id=tender_id,
                       lot_id=data.lot_id, addr=addr,
                       body={"objection": str(objection.id),
                             "content_sha256": hashlib.sha256(content.encode()).hexdigest()})
    if not tender.suspended:
        # 条例 第二十二条: 作出答复前，应当暂停招标投标活动.
        await repo.set_tender_suspended(conn, tender_id, True, now)
        await append_entry(conn, clock, Tag.TENDER_PROJECT_SUSPEND, actor=str(user.id), tender_id=tender_id,
                           addr=addr, body={"tender": str(tender_id), "objection": str(objection.id)})
    return objection


def answer_due(filed_at: datetime, rules: RegimeRules) -> datetime:
    """24:00 Asia/Shanghai of the last day to answer an objection received at `filed_at`, the day of receipt not
    counted (条例 第二十二条: 3 日; 政府采购法 第五十三条: 7 个工作日)."""
    return start_of_day(period_end(filed_at, rules.answer_days, rules.answer_unit) + timedelta(days=1))


async def flag_overdue_objections(conn: asyncpg.Connection, clock: Clock) -> int:
    """Log every objection still unanswered at its due time, once (`tender:objection:overdue`), so the regulator
    sees it in the record and in `list_overdue_objections`. The answer stays possible, and due: the tender stays
    suspended until it comes (条例 第二十二条)."""
    now = clock.now()
    rows = await repo.mark_overdue_objections(conn, now)
    for r in rows:
        await append_entry(conn, clock, Tag.TENDER_OBJECTION_OVERDUE, tender_id=r["tender_id"], lot_id=r["lot_id"],
                           body={"objection": str(r["id"]), "answer_due": r["answer_due"].isoformat()})
    return len(rows)


async def list_overdue_objections(conn: asyncpg.Connection, clock: Clock) -> list[OverdueObjection]:
    """Objections unanswered past their due time, by the clock (for regulators: the route's guard)."""
    return await repo.list_overdue_objections(conn, clock.now())


async def answer_objection(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, objection_id: UUID,
                           answer: str, *, user: User, addr: str | None = None) -> Objection:
    tender = await repo.lock_tender(conn, tender_id)
    _require_agency(user, tender)
    objection = await repo.lock_objection(conn, objection_id)
    if objection.tender_id != tender_id:
        from trading.tenders.errors import ObjectionNotFound

        raise ObjectionNotFound(f"objection {objection_id} is not about tender {tender_id}")
    if objection.answered_at is not None:
        raise ObjectionAlreadyAnswered("the objection is already answered")
    answer = _text(answer, "answer", 20000)
    now = clock.now()
    objection = await repo.answer_objection(conn, objection_id, answer, user.id, now)
    await append_entry(conn, clock, Tag.TENDER_OBJECTION_ANSWER, actor=str(user.id), tender_id=tender_id, addr=addr,
                       body={"objection": str(objection_id),
                             "answer_sha256": hashlib.sha256(answer.encode()).hexdigest(),
                             "late": now >= objection.answer_due})
    if await repo.count_unanswered_objections(conn, tender_id) == 0 and tender.suspended:
        await repo.set_tender_suspended(conn, tender_id, False, now)
        await append_entry(conn, clock, Tag.TENDER_PROJECT_RESUME, actor=str(user.id), tender_id=tender_id,
                           addr=addr, body={"tender": str(tender_id)})
    return objection


async def list_objections(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, *, user: User) -> list[Objection]:
    tender = await repo.get_tender(conn, tender_id)
    if user.has(Role.REGULATOR):
        return await repo.list_objections(conn, tender_id)
    if user.has(Role.AGENCY) and user.org_id == tender.agency_org_id:
        items = await repo.list_objections(conn, tender_id)
        if clock.now() < tender.bid_deadline:
            # The objector is a potential bidder; its identity stays secret before the deadline (法 第二十二条).
            for o in items:
                o.org_id = None
        return items
    if user.has(Role.BIDDER) and user.org_id is not None:
        return await repo.list_objections(conn, tender_id, org_id=user.org_id)
    raise NotTheAgency("only the agency, regulators and the objector read objections")


def effective_status(lot: Lot, now: datetime) -> str:
    return effective_lot_status(lot.status, lot.bid_deadline, now)


# ---------------------------------------------------------------- views (public announcement and listing)

PUBLIC_STATUSES = ("open", "closed", "cancelled")
MAX_PAGE_SIZE = 100


def public_status(tender_status: str, bid_deadline: datetime, now: datetime) -> str:
    if tender_status == "published":
        return "open" if now < bid_deadline else "closed"
    return tender_status


def lot_view(lot: Lot, now: datetime) -> LotView:
    from trading.money import to_chinese_capital

    return LotView(
        id=lot.id, number=lot.number, name=lot.name, estimated_price=fen_to_yuan(lot.estimated_price_fen),
        estimated_price_capital=to_chinese_capital(lot.estimated_price_fen),
        max_price=fen_to_yuan(lot.max_price_fen) if lot.max_price_fen is not None else None,
        max_price_capital=to_chinese_capital(lot.max_price_fen) if lot.max_price_fen is not None else None,
        deposit=fen_to_yuan(lot.deposit_fen), deposit_capital=to_chinese_capital(lot.deposit_fen),
        evaluation_method=lot.evaluation_method, bid_fields=lot.bid_fields, custodian_k=lot.custodian_k,
        custodian_n=lot.custodian_n, post_quantum=lot.post_quantum, status=effective_status(lot, now),
        status_reason=lot.status_reason, ceremony_hash=lot.ceremony_hash.hex() if lot.ceremony_hash else None,
    )


async def tender_view(conn: asyncpg.Connection, clock: Clock, tender_id: UUID, user: User | None) -> TenderView:
    """The announcement: lots, timeline, issued documents and the full amendment history. Nothing about who
    obtained the documents (招标投标法 第二十二条)."""

    tender = await visible_tender(conn, tender_id, user)
    now = clock.now()
    lots = await repo.list_lots_for_tender(conn, tender_id)
    # Staged documents (next version) are seen by the agency only.
    max_version = None if can_see_draft(user, tender) else tender.version
    docs = await repo.list_documents(conn, tender_id, max_version=max_version)
    versions = await repo.list_versions(conn, tender_id)
    names = await repo.org_names(conn, [tender.tenderer_org_id, tender.agency_org_id])
    return TenderView(
        id=tender.id, code=tender.code, title=tender.title, description=tender.description, regime=tender.regime,
        must_tender=tender.must_tender, procurement_type=tender.procurement_type, region=tender.region,
        tenderer_org_id=tender.tenderer_org_id, tenderer_name=names.get(tender.tenderer_org_id, ""),
        agency_org_id=tender.agency_org_id, agency_name=names.get(tender.agency_org_id, ""),
        status=public_status(tender.status, tender.bid_deadline, now), cancel_reason=tender.cancel_reason,
        suspended=tender.suspended, publish_at=tender.publish_at, docs_from=tender.docs_from,
        docs_until=tender.docs_until, clarification_deadline=tender.clarification_deadline,
        bid_deadline=tender.bid_deadline, version=tender.version, lots=[lot_view(lot, now) for lot in lots],
        documents=[DocumentView(id=d.id, lot_id=d.lot_id, version=d.version, filename=d.filename,
                                content_type=d.content_type, sha256=d.sha256, size=d.size) for d in docs],
        history=[VersionView(version=v.version, kind=v.kind, summary=v.summary,
                             bid_deadline=datetime.fromisoformat(v.snapshot["bid_deadline"])
                             if v.snapshot.get("bid_deadline") else None, created_at=v.created_at)
                 for v in versions],
    )


async def list_public_tenders(conn: asyncpg.Connection, clock: Clock, *, q: str | None = None,
                              region: str | None = None, procurement_type: str | None = None,
                              status: str | None = None, page: int = 1, page_size: int = 20) -> TenderPage:

    if status is not None and status not in PUBLIC_STATUSES:
        raise Invalid(f"status must be one of {', '.join(PUBLIC_STATUSES)}", field="status")
    if procurement_type is not None and procurement_type not in ("works", "goods", "services"):
        raise Invalid("type must be works, goods or services", field="type")
    if region is not None and (not region.isdigit() or len(region) > 12):
        raise Invalid("region must be a division code (or its prefix)", field="region")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}", field="page_size")
    q = unicodedata.normalize("NFC", q).strip()[:100] if q else None
    now = clock.now()
    rows, total = await repo.list_public_tenders(conn, now=now, q=q or None, region=region or None,
                                                 procurement_type=procurement_type, status=status,
                                                 limit=page_size, offset=(page - 1) * page_size)
    sums = await repo.lot_sums(conn, [r["id"] for r in rows]) if rows else {}
    items = [TenderSummary(id=r["id"], code=r["code"], title=r["title"], regime=r["regime"],
                           procurement_type=r["procurement_type"], region=r["region"],
                           status=public_status(r["status"], r["bid_deadline"], now), publish_at=r["publish_at"],
                           bid_deadline=r["bid_deadline"], lot_count=sums.get(r["id"], (0, 0))[0],
                           estimated_total=fen_to_yuan(sums.get(r["id"], (0, 0))[1])) for r in rows]
    return TenderPage(items=items, total=total, page=page, page_size=page_size,
                      pages=(total + page_size - 1) // page_size)


async def list_notices(conn: asyncpg.Connection, *, user: User, limit: int = 100) -> list[Notice]:
    # 电子招标投标办法 第二十二条: a clarification or amendment reaches every organisation that obtained the documents.

    org = await _approved_bidder_org(conn, user)
    rows = await repo.list_notices_for_org(conn, org.id, min(max(limit, 1), 500))
    return [msgspec.convert(dict(r), Notice) for r in rows]


async def list_agency_tenders(conn: asyncpg.Connection, clock: Clock, *, user: User, page: int = 1,
                              page_size: int = 50) -> list[AgencyTenderItem]:

    if user.org_id is None:
        raise NotTheAgency("the user belongs to no agency organisation")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}", field="page_size")
    now = clock.now()
    rows = await repo.list_agency_tenders(conn, user.org_id, page_size, (page - 1) * page_size)
    return [AgencyTenderItem(id=r["id"], code=r["code"], title=r["title"], procurement_type=r["procurement_type"],
                             region=r["region"], status=public_status(r["status"], r["bid_deadline"], now),
                             publish_at=r["publish_at"], bid_deadline=r["bid_deadline"]) for r in rows]
