import pytest

from trading.accounts.credit_code import check_character, credit_code_problem, is_valid_credit_code, make_credit_code

# Real codes published by their holders.
VALID = ["91350100M000100Y43", "91110000600037341L"]


@pytest.mark.parametrize("code", VALID)
def test_credit_code_valid_accepted(code):
    assert is_valid_credit_code(code)


def test_credit_code_wrong_check_character_refused():
    assert "校验位" in credit_code_problem("91110000600037341X")


@pytest.mark.parametrize("code,reason", [
    ("9111000060003734", "18位"),
    ("91110000600037341I", "非法字符"),
    ("91110000600037341l", "非法字符"),
    ("911A0000600037341L", "行政区划"),
])
def test_credit_code_malformed_refused(code, reason):
    assert reason in credit_code_problem(code)


def test_make_credit_code_roundtrips():
    code = make_credit_code("91350100M000100Y4")
    assert code == "91350100M000100Y43"
    assert check_character("91350100M000100Y4") == "3"
