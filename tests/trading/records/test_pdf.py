import subprocess

import pytest

from trading.records.certs import root_certificate_pem
from trading.records.pdf import check_pdf_signature_async, cjk_font_name, render_table_pdf, sign_pdf


@pytest.fixture
def signed_pdf(settings) -> bytes:
    pdf = render_table_pdf("开标记录 Opening record", [("项目编号", "TH-2026-001")], ["序号", "投标人"],
                           [[1, "福州建设工程有限公司"]], notes=["说明：平台生成。"])
    return sign_pdf(pdf, settings)


def test_cjk_font_is_embedded_truetype():
    assert cjk_font_name() != "STSong-Light"


async def test_signed_pdf_validates_with_pyhanko_and_pdfsig(settings, signed_pdf, tmp_path):
    check = await check_pdf_signature_async(signed_pdf, [root_certificate_pem(settings)])
    assert check.ok, check.problems
    path = tmp_path / "a.pdf"
    path.write_bytes(signed_pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "福州建设工程有限公司" in text and "开标记录" in text


async def test_signed_pdf_refused_when_one_byte_altered(settings, signed_pdf, tmp_path):
    bad = bytearray(signed_pdf)
    bad[len(bad) // 3] ^= 0x01
    check = await check_pdf_signature_async(bytes(bad), [root_certificate_pem(settings)])
    assert not check.ok
    path = tmp_path / "b.pdf"
    path.write_bytes(bytes(bad))
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" not in out


async def test_signed_pdf_refused_under_another_root(settings, signed_pdf, tmp_path):
    from trading.settings import Settings

    other = Settings(data_dir=tmp_path / "other")
    check = await check_pdf_signature_async(signed_pdf, [root_certificate_pem(other)])
    assert not check.ok and "not certified" in check.problems[0]
