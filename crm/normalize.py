"""Normalisation of personal data, so that one person is found however staff type them.

- email: trimmed and lower-cased;
- phone: E.164 (``+81312345678``) from any format, default region JP;
- kana: NFKC (half-width ｶﾅ → full-width), hiragana → katakana, no spaces, so that
  ﾀﾅｶ, たなか and タナカ are the same string.
"""

import functools
import re
import unicodedata

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096
_KATAKANA_OFFSET = 0x60
_SPACES = re.compile(r"\s+")
_PHONE_CHARS = re.compile(r"^[+(\d][\d\-\s().]*$")


def normalize_kana(value: str | None) -> str:
    if not value:
        return ""
    value = unicodedata.normalize("NFKC", value)
    value = "".join(
        chr(ord(ch) + _KATAKANA_OFFSET) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch for ch in value
    )
    return _SPACES.sub("", value)


def normalize_name(value: str | None) -> str:
    """Names compare without spaces and in NFKC (full-width Ａ → A), case-folded."""
    if not value:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value)).casefold()


def normalize_email(value: str | None) -> str:
    """Lower-cased, trimmed; raises ValidationError for something that is not an address."""
    value = (value or "").strip().lower()
    if value:
        validate_email(value)
    return value


def normalize_phone(value: str | None) -> str:
    """E.164 for a valid number in any format; raises ValidationError otherwise."""
    value = (value or "").strip()
    if not value:
        return ""
    phone = parse_phone(value)
    if phone is None:
        raise ValidationError(_("Enter a valid phone number."), code="invalid_phone")
    return phone


def parse_phone(value: str) -> str | None:
    """E.164 for something that is a valid phone number, else None (never raises)."""
    return _parse_phone(value or "", settings.TSUNAGU_PHONE_REGION)


@functools.lru_cache(maxsize=4096)  # a search and its validation parse the same text: once
def _parse_phone(value: str, region: str) -> str | None:
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value or not _PHONE_CHARS.match(value):
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone_national(e164: str) -> str:
    """How staff read a number: 03-1234-5678 for Japanese numbers, +44 20 ... for others."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == settings.TSUNAGU_PHONE_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
