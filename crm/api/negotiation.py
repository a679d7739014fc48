"""Content negotiation with a shortcut for what integrations send on every request."""

from rest_framework.negotiation import DefaultContentNegotiation

_JSON = "application/json"
_PLAIN_ACCEPTS = frozenset(("*/*", _JSON))


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once for a JSON-only view asked for JSON or anything (no
    Accept header, `*/*`, `application/json`): the answer DRF would give after parsing and ranking
    the Accept header, which was a tenth of a small request. Anything else (other media types, the
    schema's renderers, `?format=`) goes through DRF unchanged, 406 included."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and len(renderers) == 1
            and renderers[0].media_type == _JSON
            and request.META.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], _JSON
        return super().select_renderer(request, renderers, format_suffix)
