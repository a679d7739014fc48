"""Built-in filters of the campaign template engine, bounded: the ones whose output can be far
larger than their input (padding, number formats, joins, concatenation) refuse sizes no mail needs.
Loaded after Django's built-ins (campaigns.rendering), so these replace the originals of the same name."""

import re

from django.template import Library, defaultfilters

register = Library()

MAX_WIDTH = 1_000  # padding and number widths: columns in a text mail
MAX_DIGITS = 20  # decimal places
MAX_VALUE_CHARS = 100_000  # any one value built by add or join


class TemplateLimitExceeded(Exception):
    """A template reached a size or time limit while rendering (turned into a ValidationError)."""


def _bounded_int(arg, limit: int) -> int:
    number = int(arg)
    if abs(number) > limit:
        raise TemplateLimitExceeded(f"{number} is above the limit of {limit}.")
    return number


@register.filter(is_safe=True)
def ljust(value, arg):
    return defaultfilters.ljust(value, _bounded_int(arg, MAX_WIDTH))


@register.filter(is_safe=True)
def rjust(value, arg):
    return defaultfilters.rjust(value, _bounded_int(arg, MAX_WIDTH))


@register.filter(is_safe=True)
def center(value, arg):
    return defaultfilters.center(value, _bounded_int(arg, MAX_WIDTH))


@register.filter(is_safe=True)
def stringformat(value, arg):
    for number in re.findall(r"\d+", str(arg)):
        _bounded_int(number, MAX_WIDTH)
    return defaultfilters.stringformat(value, arg)


@register.filter(is_safe=True)
def floatformat(value, arg=-1):
    digits = re.sub(r"[gu]", "", str(arg)) or "0"
    _bounded_int(digits, MAX_DIGITS)
    return defaultfilters.floatformat(value, arg)


def _check_size(value):
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise TemplateLimitExceeded(f"A value of {len(value)} characters is above the limit of {MAX_VALUE_CHARS}.")
    return value


@register.filter(is_safe=False)
def add(value, arg):
    return _check_size(defaultfilters.add(value, arg))


@register.filter(is_safe=True, needs_autoescape=True)
def join(value, arg, autoescape=True):
    try:
        items = list(value)
        size = sum(len(str(item)) for item in items) + len(str(arg)) * max(len(items) - 1, 0)
    except TypeError:
        return value
    if size > MAX_VALUE_CHARS:
        raise TemplateLimitExceeded(f"A joined value of {size} characters is above the limit of {MAX_VALUE_CHARS}.")
    return defaultfilters.join(items, arg, autoescape=autoescape)
