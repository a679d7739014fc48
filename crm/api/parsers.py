"""The API's JSON parser: DRF's, plus the input guard (crm.input_guard) for bodies — nesting at most
MAX_DEPTH levels, no NUL bytes or unpaired surrogates in any key or string, errors keyed by the path
of the offending value (`rules.all.0.value`)."""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from ..input_guard import forbidden_characters_message, has_forbidden_characters

MAX_DEPTH = 32


def check_json(data) -> None:
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError({path or "body": [_("Nested too deeply (at most %(n)d levels).") % {"n": MAX_DEPTH}]})
        if isinstance(value, str):
            if has_forbidden_characters(value):
                raise ValidationError({path or "body": [forbidden_characters_message()]})
        elif isinstance(value, dict):
            for key, item in value.items():
                if has_forbidden_characters(key):
                    raise ValidationError({path or "body": [forbidden_characters_message()]})
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i), depth + 1) for i, item in enumerate(value))


class GuardedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("The JSON is nested too deeply.")) from exc
        check_json(data)
        return data
