import pytest
from django.core.exceptions import ValidationError

from crm.ids import luhn_check_digit, new_member_number
from crm.normalize import format_phone_national, normalize_email, normalize_kana, normalize_phone, parse_phone


@pytest.mark.parametrize("typed", ["ﾀﾅｶ", "たなか", "タナカ", " タ ナ カ ", "ﾀ ﾅ ｶ", "た\u3000なか"])
def test_kana_typed_any_way_is_the_same_katakana(typed):
    assert normalize_kana(typed) == "タナカ"


def test_kana_keeps_voiced_marks_from_half_width():
    assert normalize_kana("ｶﾞｯｺｳ") == "ガッコウ"
    assert normalize_kana("ぱーく") == "パーク"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("(090) 1234 5678", "+819012345678"),
        ("+81 90-1234-5678", "+819012345678"),
        ("０９０－１２３４－５６７８", "+819012345678"),
        ("03-1234-5678", "+81312345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_in_any_format_becomes_e164(typed, e164):
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize("typed", ["12", "abc", "090-1234", "+81 0000", "phone: 090"])
def test_invalid_phone_is_refused(typed):
    assert parse_phone(typed) is None
    with pytest.raises(ValidationError):
        normalize_phone(typed)


def test_email_is_trimmed_and_lower_cased_and_validated():
    assert normalize_email("  Hanako@Example.JP ") == "hanako@example.jp"
    with pytest.raises(ValidationError):
        normalize_email("hanako@")


def test_phone_is_shown_nationally_for_japan():
    assert format_phone_national("+819012345678") == "090-1234-5678"


def test_generated_member_numbers_carry_a_luhn_check_digit():
    number = new_member_number()
    assert len(number) == 12 and number.isdigit()
    assert luhn_check_digit(number[:-1]) == number[-1]
    assert luhn_check_digit("7992739871") == "3"
