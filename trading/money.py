"""Money is exact: integer fen (分) in the database, decimal strings in the API, never floats.

The API takes and gives amounts in yuan as strings with at most two decimals ("1200000.00"); documents
show them also in Chinese capitals (大写金额, e.g. 壹佰贰拾万元整).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from trading.errors import Invalid

_AMOUNT = re.compile(r"^\d{1,14}(\.\d{1,2})?$")
MAX_FEN = 10**16  # ten trillion yuan: beyond any tender


class AmountInvalid(Invalid):
    code = "amount_invalid"


def yuan_to_fen(text: str | int | Decimal, field: str = "amount") -> int:
    """Parse an exact amount in yuan ("1200000", "1200000.5", "1200000.50") into fen. Floats are refused."""
    if isinstance(text, bool) or isinstance(text, float):
        raise AmountInvalid(f"{field}: give the amount as a decimal string, not a float", field=field)
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, Decimal):
        text = format(text, "f")
    s = text.strip().replace(",", "")
    if not _AMOUNT.match(s):
        raise AmountInvalid(f"{field}: {text!r} is not an amount in yuan with at most two decimals", field=field)
    try:
        fen = int(Decimal(s) * 100)
    except InvalidOperation as exc:  # pragma: no cover - regex already guards
        raise AmountInvalid(f"{field}: {text!r} is not an amount", field=field) from exc
    if fen >= MAX_FEN:
        raise AmountInvalid(f"{field}: {text} is out of range", field=field)
    return fen


def fen_to_yuan(fen: int) -> str:
    """Exact decimal string in yuan: 120000050 → "1200000.50"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen_to_decimal(fen: int) -> Decimal:
    return Decimal(fen) / 100


def format_yuan(fen: int | None) -> str:
    """Display with thousands separators: 120000050 → "¥1,200,000.50"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ["", "拾", "佰", "仟"]
_BIG = ["", "万", "亿", "万亿"]


def _four(n: int) -> str:
    """0 < n < 10000 → capitals with zeros folded (e.g. 1005 → 壹仟零伍)."""
    out = []
    zero = False
    for pos in range(3, -1, -1):
        d = (n // 10**pos) % 10
        if d == 0:
            zero = bool(out)
        else:
            if zero:
                out.append("零")
                zero = False
            out.append(_DIGITS[d] + _SMALL[pos])
    return "".join(out)


def to_chinese_capital(fen: int) -> str:
    """Chinese financial capitals per common bank practice: 120000000 fen → 壹佰贰拾万元整."""
    if fen < 0:
        return "负" + to_chinese_capital(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, fen_ = divmod(rest, 10)
    parts = []
    if yuan:
        groups = []
        i = 0
        n = yuan
        while n:
            groups.append((n % 10000, i))
            n //= 10000
            i += 1
        text = ""
        need_zero = False
        for value, idx in reversed(groups):
            if value == 0:
                need_zero = bool(text)
                continue
            if text and (need_zero or value < 1000):
                text += "零"
            text += _four(value) + _BIG[idx]
            need_zero = False
        parts.append(text + "元")
    if not jiao and not fen_:
        return ("".join(parts) or "零元") + "整"
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif yuan:
        parts.append("零")
    if fen_:
        parts.append(_DIGITS[fen_] + "分")
    else:
        parts.append("整")
    return "".join(parts)
