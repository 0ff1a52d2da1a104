"""The bid form is validated against the lot's declared fields before sealing."""
from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from trading.bids import package, pipeline
from trading.bids.package import BidFormInvalid

FIELDS = [
    {"name": "duration_days", "label": "工期", "type": "int", "required": True},
    {"name": "quality", "label": "质量标准", "type": "text", "required": True},
    {"name": "warranty_years", "type": "int"},
    {"name": "deposit_paid", "type": "bool"},
    {"name": "alt_price", "type": "yuan"},
]


def _form(**kw):
    args = dict(tender_id="t", lot_id="l", bidder_org_id="o", price_yuan="1000.5", bid_fields=FIELDS,
                values={"quality": "合格"}, duration_days="90")
    args.update(kw)
    return package.build_form(**args)


def test_build_form_converts_yuan_to_fen_and_types() -> None:
    f = _form(values={"quality": "合格", "warranty_years": "2", "deposit_paid": "是", "alt_price": "12.34"})
    assert f.price_fen == 100050 and f.duration_days == 90
    assert f.fields == {"quality": "合格", "warranty_years": 2, "deposit_paid": True, "alt_price": 1234}


@pytest.mark.parametrize("price", ["1.234", "-5", "abc", "0", ""])
def test_build_form_refuses_bad_price(price: str) -> None:
    with pytest.raises(BidFormInvalid):
        _form(price_yuan=price)


def test_build_form_refuses_float_price() -> None:
    with pytest.raises(BidFormInvalid):
        _form(price_yuan=1000.5)


def test_build_form_refuses_missing_required_field() -> None:
    with pytest.raises(BidFormInvalid) as exc:
        _form(values={})
    assert exc.value.field == "quality"


def test_build_form_refuses_missing_required_duration() -> None:
    with pytest.raises(BidFormInvalid):
        _form(duration_days=None)


def test_build_form_refuses_undeclared_field() -> None:
    with pytest.raises(BidFormInvalid) as exc:
        _form(values={"quality": "合格", "secret_note": "x"})
    assert exc.value.field == "secret_note"


def test_build_form_refuses_wrong_type() -> None:
    with pytest.raises(BidFormInvalid):
        _form(values={"quality": "合格", "warranty_years": "two"})


def test_build_form_refuses_price_above_maximum() -> None:
    with pytest.raises(BidFormInvalid):
        _form(max_price_fen=100000)


def test_read_form_refuses_non_zip() -> None:
    with pytest.raises(BidFormInvalid):
        package.read_form(b"not a zip")


_C = package.CHUNK


def test_write_package_pipelined_hashes_match_files_at_block_boundaries(tmp_path) -> None:
    """Attachment SHA-256s are computed on a worker thread from mapped windows of the file; sizes around the
    block size, an empty file and more blocks than the hasher lets wait must all hash and store exactly the
    file's bytes."""
    sizes = [0, 1, _C - 1, _C, _C + 1, (pipeline.HashingSink.RING + 2) * _C + 5]
    paths = []
    for i, size in enumerate(sizes):
        p = tmp_path / f"a{i}.bin"
        p.write_bytes(os.urandom(size))
        paths.append(p)
    buf = io.BytesIO()
    form = package.write_package(buf, _form(), paths)
    assert [(a.name, a.size) for a in form.attachments] == [(p.name, p.stat().st_size) for p in paths]
    for a, p in zip(form.attachments, paths):
        assert a.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
        out = io.BytesIO()
        package.extract_attachment(io.BytesIO(buf.getvalue()), a.name, out)
        assert out.getvalue() == p.read_bytes()
    assert package.read_form(buf.getvalue()) == form


def test_write_package_refuses_a_missing_attachment_and_stops_its_thread(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        package.write_package(io.BytesIO(), _form(), [tmp_path / "missing.pdf"])
    (tmp_path / "ok.bin").write_bytes(os.urandom(3 * _C))

    class Full(io.BytesIO):
        def write(self, data) -> int:
            if self.tell() > _C:
                raise OSError("disk full")
            return super().write(data)

    with pytest.raises(OSError, match="disk full"):
        package.write_package(Full(), _form(), [tmp_path / "ok.bin"])
    assert not [t for t in threading.enumerate() if t.name == "package-sha256"]


def test_build_form_takes_consortium_members_by_valid_credit_code() -> None:
    from trading.accounts.credit_code import make_credit_code

    a, b = make_credit_code("91350100111111111"), make_credit_code("91350100222222222")
    assert _form(consortium=[a.lower(), f" {b} "]).consortium == [a, b]
    assert _form().consortium == []
    with pytest.raises(BidFormInvalid, match="consortium member"):
        _form(consortium=[a[:-1] + ("0" if a[-1] != "0" else "1")])   # bad check character
    with pytest.raises(BidFormInvalid, match="twice"):
        _form(consortium=[a, a])


def test_a_consortium_bid_is_sealed_only_with_its_joint_bidding_agreement(tmp_path) -> None:
    """招标投标法实施条例 第五十一条(二): the committee must reject a consortium bid without its 共同投标协议, so the
    package refuses to be built without one; the form names which attachment it is."""
    from trading.accounts.credit_code import make_credit_code

    member = make_credit_code("91350100111111111")
    deal, other = tmp_path / "联合体协议.pdf", tmp_path / "方案.pdf"
    deal.write_bytes(b"%PDF agreement")
    other.write_bytes(b"%PDF plan")
    with pytest.raises(BidFormInvalid, match="共同投标协议") as exc:
        package.write_package(io.BytesIO(), _form(consortium=[member]), [other])
    assert exc.value.field == "consortium_agreement"
    with pytest.raises(BidFormInvalid, match="one of the attached files"):
        package.write_package(io.BytesIO(), _form(consortium=[member]), [other], consortium_agreement=deal)
    with pytest.raises(BidFormInvalid, match="only a consortium bid"):
        package.write_package(io.BytesIO(), _form(), [deal], consortium_agreement=deal)
    buf = io.BytesIO()
    form = package.write_package(buf, _form(consortium=[member]), [other, deal], consortium_agreement=deal)
    assert form.consortium_agreement == "联合体协议.pdf" and package.read_form(buf.getvalue()) == form
    assert package.write_package(io.BytesIO(), _form(), [other]).consortium_agreement is None
