"""PDF machinery shared by every package: a CJK font, simple table documents, PAdES signing, validation.

    from trading.records.pdf import render_table_pdf, sign_pdf
    pdf = render_table_pdf("开标记录 Opening record", [("项目编号", code), ...], ["序号", "投标人", "报价(元)"], rows)
    signed = sign_pdf(pdf, settings)          # PAdES B-B, platform document-signing certificate
    digest = await record_document(conn, clock, tender_id=..., lot_id=..., kind="opening_record",
                                   filename="opening.pdf", data=signed, actor=str(user.id), settings=settings)

The font is embedded (a TrueType subset), so Chinese renders anywhere and `pdftotext` extracts it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

# (path, subfont index) tried in order; Noto Sans CJK is CFF-flavoured, which reportlab may refuse.
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)
CID_FALLBACK = "STSong-Light"
_FONT_NAME = "TenderhallCJK"
_registered: str | None = None


def cjk_font_name() -> str:
    """Register a CJK font with reportlab once and return its name (an embedded TrueType font if any is
    installed, else reportlab's built-in STSong-Light CID font, which is not embedded)."""
    global _registered
    if _registered:
        return _registered
    for path, index in CJK_FONT_CANDIDATES:
        if not Path(path).exists():
            continue
        try:
            pdfmetrics.registerFont(TTFont(_FONT_NAME, path, subfontIndex=index))
        except Exception:  # noqa: BLE001 - unsupported outline flavour: try the next font
            continue
        _registered = _FONT_NAME
        return _registered
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    _registered = CID_FALLBACK
    return _registered


def _styles() -> dict[str, ParagraphStyle]:
    font = cjk_font_name()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=4 * mm),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=14, alignment=1,
                                   textColor=colors.grey, spaceAfter=4 * mm),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK"),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK"),
        "head": ParagraphStyle("head", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK",
                               textColor=colors.white),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), style)


def render_table_pdf(
    title: str,
    meta_rows: Sequence[tuple[str, object]],
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
    col_widths: Sequence[float] | None = None,
    wide: bool = False,
    footer: str | None = None,
) -> bytes:
    """A titled document: a key/value block (meta_rows), a table (header + rows) and closing notes.

    Cells may hold any text (wrapped, CJK aware); col_widths are fractions of the usable width.
    `wide=True` uses landscape A4. Returns the PDF bytes (sign them with `sign_pdf`).
    """
    st = _styles()
    buf = io.BytesIO()
    pagesize = landscape(A4) if wide else A4
    doc = SimpleDocTemplate(buf, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm, title=title, author="tenderhall",
                            creator="tenderhall")
    usable = pagesize[0] - 30 * mm
    story: list = [_p(title, st["title"])]
    if subtitle:
        story.append(_p(subtitle, st["subtitle"]))
    if meta_rows:
        meta = Table([[_p(k, st["body"]), _p(v, st["body"])] for k, v in meta_rows],
                     colWidths=[usable * 0.25, usable * 0.75])
        meta.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story += [meta, Spacer(1, 5 * mm)]
    if header:
        widths = [usable * f for f in col_widths] if col_widths else [usable / len(header)] * len(header)
        data = [[_p(h, st["head"]) for h in header]] + [[_p(c, st["cell"]) for c in row] for row in rows]
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#34495e")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f7")]),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story.append(table)
    for note in notes:
        story += [Spacer(1, 3 * mm), _p(note, st["body"])]

    font = cjk_font_name()

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        text = f"{footer + '  ·  ' if footer else ''}{title}  ·  第 {document.page} 页 / page {document.page}"
        canvas.drawString(15 * mm, 10 * mm, text)
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


# ---- signing ---------------------------------------------------------------------------------------------

def _signer(settings):
    from pyhanko.sign import signers

    from trading.records.certs import ensure_document_pki

    key, cert, root = ensure_document_pki(settings)
    signer = signers.SimpleSigner.load(str(key), str(cert), ca_chain_files=(str(root),))
    if signer is None:
        raise RuntimeError(f"cannot load the document-signing key/certificate from {key.parent}")
    return signer


async def sign_pdf_async(data: bytes, settings, *, reason: str = "tenderhall 平台签章 / platform seal",
                         field_name: str = "TenderhallPlatform") -> bytes:
    """Sign PAdES (B-B) with the platform's document-signing certificate."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = signers.PdfSignatureMetadata(field_name=field_name, reason=reason, location="tenderhall",
                                        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256")
    out = await signers.async_sign_pdf(writer, meta, signer=_signer(settings), output=io.BytesIO())
    return out.getvalue()


def _run(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code: pyHanko's own event-loop use must not collide with ours.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def sign_pdf(data: bytes, settings, **kw) -> bytes:
    """Synchronous `sign_pdf_async` (safe to call from inside a running event loop)."""
    return _run(sign_pdf_async(data, settings, **kw))


class PdfSignatureCheck:
    """The outcome of checking a PDF's signatures: ok, and the reasons when not."""

    def __init__(self, ok: bool, problems: list[str], signer: str | None = None) -> None:
        self.ok, self.problems, self.signer = ok, problems, signer

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"PdfSignatureCheck(ok={self.ok}, problems={self.problems}, signer={self.signer!r})"


async def check_pdf_signature_async(data: bytes, trust_root_pems: Sequence[bytes]) -> PdfSignatureCheck:
    """Validate every embedded signature against the given root certificates (offline: no revocation
    fetching). A PDF without a signature, an altered byte range or an untrusted signer is a problem."""
    from asn1crypto import pem, x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = []
    for blob in trust_root_pems:
        der = pem.unarmor(blob)[2] if pem.detect(blob) else blob
        roots.append(asn1_x509.Certificate.load(der))
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file is not a valid signed PDF
        return PdfSignatureCheck(False, [f"not a readable PDF: {exc}"])
    if not sigs:
        return PdfSignatureCheck(False, ["the PDF carries no signature"])
    problems: list[str] = []
    signer = None
    for sig in sigs:
        vc = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = await async_validate_pdf_signature(sig, vc)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"signature {sig.field_name}: cannot be validated ({exc})")
            continue
        signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
        if not status.intact or not status.valid:
            problems.append(f"signature {sig.field_name}: the signed bytes were altered")
        elif not status.trusted:
            problems.append(f"signature {sig.field_name}: the signer is not certified by the platform root")
        elif status.coverage is not None and status.coverage.name not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
            problems.append(f"signature {sig.field_name}: does not cover the document ({status.coverage.name})")
    return PdfSignatureCheck(not problems, problems, signer)


def check_pdf_signature(data: bytes, trust_root_pems: Sequence[bytes]) -> PdfSignatureCheck:
    return _run(check_pdf_signature_async(data, trust_root_pems))
