"""One guard in front of every view, so that no input makes a 500: NUL bytes and unpaired
surrogates (which PostgreSQL cannot store, and which nothing legitimate sends) are refused in the
path, the query string, headers and form fields here, and in JSON bodies by crm.api.parsers; values
a column cannot hold that slip past validation (an overflowing number, a date past the calendar)
become a 400 instead of a server error."""

import logging
import re

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_forbidden_characters(value: str) -> bool:
    return _FORBIDDEN.search(value) is not None


def forbidden_characters_message() -> str:
    return _("Null characters and unpaired surrogates are not allowed.")


def scrub(value: str) -> str:
    """Text from a source we must accept as it comes (a raw email): bytes that were not valid UTF-8
    (kept by Python as lone surrogates) become U+FFFD, NUL bytes are dropped."""
    if not _FORBIDDEN.search(value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _bad_part(request) -> str | None:
    """The name of the first part of the request holding a forbidden character, if any."""
    if has_forbidden_characters(request.path):
        return "path"
    for key, values in request.GET.lists():
        if has_forbidden_characters(key) or any(has_forbidden_characters(v) for v in values):
            return key if not has_forbidden_characters(key) else "query"
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return key[5:].replace("_", "-").title()
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        for key, values in request.POST.lists():
            if has_forbidden_characters(key) or any(has_forbidden_characters(v) for v in values):
                return key if not has_forbidden_characters(key) else "form"
    return None


def _refusal(request, field: str, message: str, status: int = 400) -> HttpResponse:
    if request.path.startswith("/api/"):
        from .api.errors import PROBLEM_CONTENT_TYPE, problem

        code = "request_too_large" if status == 413 else "validation_error"
        body = problem(status_code=status, code=code, detail=message, errors={field: [message]})
        return JsonResponse(
            body, status=status, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
        )
    return HttpResponseBadRequest(f"{field}: {message}", content_type="text/plain; charset=utf-8", status=status)


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            field = _bad_part(request)
        except RequestDataTooBig:
            return _refusal(request, "body", _("The request body is too large."), status=413)
        except (MultiPartParserError, SuspiciousOperation) as exc:
            return _refusal(request, "body", str(exc) or _("The request body could not be read."))
        if field is not None:
            return _refusal(request, field, forbidden_characters_message())
        return self.get_response(request)

    def process_exception(self, request, exception):
        """Pages: a value the database cannot hold is the request's fault, not the server's."""
        if isinstance(exception, DataError | OverflowError):
            logger.error("value out of range path=%s", request.path, exc_info=exception)
            return _refusal(request, "input", value_out_of_range_message())
        return None


def value_out_of_range_message() -> str:
    return _("A value is out of the range it can be stored in.")
