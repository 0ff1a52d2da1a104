"""统一社会信用代码 (unified social credit code), GB 32100-2015.

18 characters: registration authority (1), organisation type (1), administrative division (6), subject
identifier (9), check character (1). The alphabet leaves out I, O, Z, S and V; the check character is
31 − (Σ value × weight mod 31), with weights 3^(i−1) mod 31, and 31 written as 0.
"""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None when valid, else a human reason (Chinese and English)."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位 (a unified social credit code has 18 characters, got {len(code)})"
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return f"统一社会信用代码含非法字符 (invalid character {bad[0]!r}; I, O, Z, S, V and lower case are not used)"
    if not code[2:8].isdigit():
        return "统一社会信用代码第3-8位应为行政区划码 (characters 3-8 must be a numeric division code)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误 (check character should be {expected!r}, got {code[17]!r})"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(code) is None


def make_credit_code(body17: str) -> str:
    """Append the check character (for fixtures and demos)."""
    return body17 + check_character(body17)
